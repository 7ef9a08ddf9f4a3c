"""Container networking that users rely on, run the same way against dockerd and berthd (each in
its own network namespace, see conftest.py): containers on the default bridge reach each other
(busybox ping, wget, nc), published ports (-p TCP and UDP, -P) answer on the namespace's host side,
and the host, none and container:<name> network modes behave like docker's."""
import json
import os
import time

from berthtest import BUILD, TAG

UDP_ECHO = os.path.join(BUILD, "tests", "helpers", "udp-echo")

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/etc"]


def ok(r):
    assert r.returncode == 0, f"rc {r.returncode}: {r.stdout} {r.stderr}"
    return r.stdout


def ip_of(e, name, net=None):
    ins = json.loads(ok(e.docker("inspect", name)))[0]["NetworkSettings"]
    return ins["Networks"][net]["IPAddress"] if net else ins["IPAddress"]


def link_names(ip_o_link):
    """The link names of `ip -o link` output ("2: eth0@if5: <...>")."""
    return sorted(line.split(":")[1].strip().split("@")[0] for line in ip_o_link.splitlines())


def host_get(e, url, tries=50):
    """GET url from the host side of the engine's namespace (busybox 1.35's wget -T segfaults:
    timeout(1) bounds it)."""
    out = ""
    for _ in range(tries):
        r = e.host("timeout", "5", "busybox", "wget", "-qO-", url)
        out = r.stdout
        if r.returncode == 0 and out:
            return out
        time.sleep(0.2)
    return out


def test_containers_reach_each_other_on_the_default_bridge(engine):
    e = engine
    a, n = e.name("a"), e.name("n")
    ok(e.docker("run", "-d", "--name", a, TAG, *HTTPD))
    ok(e.docker("run", "-d", "--name", n, TAG, "sh", "-c", "echo over-nc | nc -l -p 7000"))
    ip_a, ip_n = ip_of(e, a), ip_of(e, n)
    assert ip_a and ip_n and ip_a != ip_n
    ok(e.docker("run", "--rm", TAG, "ping", "-c1", "-W3", ip_a))
    assert ok(e.docker("run", "--rm", TAG, "wget", "-qO-", f"http://{ip_a}/group")).startswith(
        "root:x:0:")
    got = ""
    for _ in range(20):
        got = e.docker("run", "--rm", TAG, "nc", ip_n, "7000").stdout
        if got:
            break
        time.sleep(0.2)
    assert got.strip() == "over-nc"
    # the container's own view: eth0 with that address, a default route, /etc/hosts names it
    out = ok(e.docker("exec", a, "sh", "-c", "ip -o -4 addr show eth0; ip route; cat /etc/hosts"))
    assert f"inet {ip_a}/" in out and "default via " in out
    assert ip_a in out


def test_published_tcp_port_reached_from_the_host_side(engine):
    e = engine
    c = e.name("web")
    ok(e.docker("run", "-d", "--name", c, "-p", "18080:80", TAG, *HTTPD))
    assert host_get(e, "http://127.0.0.1:18080/group").startswith("root:x:0:")
    assert ok(e.docker("port", c, "80")).splitlines()[0] == "0.0.0.0:18080"
    # a second container cannot take the same host port
    r = e.docker("run", "-d", "-p", "18080:80", TAG, *HTTPD)
    assert r.returncode != 0 and "port is already allocated" in r.stderr
    ok(e.docker("rm", "-f", c))
    # released with the container
    c2 = e.name("web")
    ok(e.docker("run", "-d", "--name", c2, "-p", "127.0.0.1:18080:80", TAG, *HTTPD))
    assert host_get(e, "http://127.0.0.1:18080/group").startswith("root:x:0:")


def test_published_udp_port(engine):
    e = engine
    c = e.name("udp")
    assert os.access(UDP_ECHO, os.X_OK), f"{UDP_ECHO} not built"
    ok(e.docker("run", "-d", "--name", c, "-p", "15353:5353/udp", "-v",
                f"{UDP_ECHO}:/udp-echo:ro", TAG, "/udp-echo", "5353"))
    send = ("import socket\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(0.5)\n"
            "for i in range(40):\n"
            "    s.sendto(b'over-udp',('127.0.0.1',15353))\n"
            "    try:\n"
            "        print(s.recvfrom(100)[0].decode()); break\n"
            "    except OSError:\n"
            "        pass\n")
    assert ok(e.host("python3", "-c", send, timeout=60)).strip() == "echo:over-udp"
    assert "got over-udp" in e.docker("logs", c).stdout
    assert ok(e.docker("port", c, "5353/udp")).splitlines()[0] == "0.0.0.0:15353"


def test_publish_all(engine):
    e = engine
    c = e.name("pa")
    ok(e.docker("run", "-d", "--name", c, "--expose", "80", "-P", TAG, *HTTPD))
    hp = ok(e.docker("port", c, "80")).splitlines()[0]
    port = hp.rsplit(":", 1)[1]
    assert int(port) >= 1024
    assert host_get(e, f"http://127.0.0.1:{port}/group").startswith("root:x:0:")
    ports = json.loads(ok(e.docker("inspect", c)))[0]["NetworkSettings"]["Ports"]
    assert ports["80/tcp"][0]["HostPort"] == port


def test_host_network_mode(engine):
    e = engine
    c = e.name("hostnet")
    ok(e.docker("run", "-d", "--name", c, "--network", "host", TAG, "httpd", "-f", "-p", "18090",
                "-h", "/etc"))
    # the server listens in the engine's namespace itself
    assert host_get(e, "http://127.0.0.1:18090/group").startswith("root:x:0:")
    inside = ok(e.docker("run", "--rm", "--network", "host", TAG, "ip", "-o", "link"))
    assert link_names(inside) == link_names(ok(e.host("ip", "-o", "link")))


def test_none_network_mode(engine):
    e = engine
    out = ok(e.docker("run", "--rm", "--network", "none", TAG, "ls", "/sys/class/net"))
    assert out.split() == ["lo"]
    c = e.name("none")
    ok(e.docker("create", "--name", c, "--network", "none", TAG, "true"))
    nets = json.loads(ok(e.docker("inspect", c)))[0]["NetworkSettings"]["Networks"]
    assert list(nets) == ["none"]


def test_container_network_mode(engine):
    e = engine
    a = e.name("owner")
    ok(e.docker("run", "-d", "--name", a, TAG, *HTTPD))
    out = ok(e.docker("run", "--rm", "--network", f"container:{a}", TAG, "wget", "-qO-",
                      "http://127.0.0.1/group"))
    assert out.startswith("root:x:0:")
    ip_a = ip_of(e, a)
    out = ok(e.docker("run", "--rm", "--network", f"container:{a}", TAG, "ip", "-o", "-4", "addr"))
    assert f"inet {ip_a}/" in out
    r = e.docker("run", "--rm", "--network", "container:nosuchcontainer", TAG, "true")
    assert r.returncode != 0 and "nosuchcontainer" in r.stderr
