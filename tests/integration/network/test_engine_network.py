"""The engine's networking through the docker CLI and the python SDK, against a berthd running in a
network namespace of its own (conftest.py): the default bridge with addresses from IPAM, published
ports (DNAT from the namespace's host side, 127.0.0.1, hairpin, UDP, ranges, -P, "port is already
allocated"), user networks with the embedded DNS, isolation, connect/disconnect, none/host/
container: modes, resolv.conf and hosts, clear errors, and the state kept across a kill -9."""
import json
import os
import signal
import subprocess
import time

import pytest

from berthtest import TAG
from netns_berthd import net_factory, netd, sanitized_clients_report_nothing  # noqa: F401 fixtures


def ok(r):
    assert r.returncode == 0, f"{r.args}: {r.stdout} {r.stderr}"
    return r.stdout.strip()


def inspect(d, name):
    return json.loads(ok(d.docker("inspect", name)))[0]


def wait_http(d, url, want, tries=50):
    got = ""
    for _ in range(tries):
        got = d.sh(f"timeout 3 busybox wget -qO- {url}").stdout
        if want in got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{url}: got {got!r}")


def test_default_bridge_published_port(netd):
    web, peer = netd.name("web"), netd.name("peer")
    ok(netd.docker("run", "-d", "--name", web, "-p", "8080:80", TAG,
                   "httpd", "-f", "-p", "80", "-h", "/etc"))
    try:
        # from the host side: 127.0.0.1 and the bridge's own address
        wait_http(netd, "http://127.0.0.1:8080/group", "root:x:0:")
        wait_http(netd, "http://172.17.0.1:8080/group", "root:x:0:")
        j = inspect(netd, web)
        ns = j["NetworkSettings"]
        assert ns["IPAddress"].startswith("172.17.0.")
        assert ns["Gateway"] == "172.17.0.1" and ns["IPPrefixLen"] == 16
        octets = [int(x) for x in ns["IPAddress"].split(".")]
        assert ns["MacAddress"] == "02:42:" + ":".join(f"{o:02x}" for o in octets)
        assert ns["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
        b = ns["Networks"]["bridge"]
        bridge = json.loads(ok(netd.docker("network", "inspect", "bridge")))[0]
        assert b["NetworkID"] == bridge["Id"] and b["EndpointID"] == ns["EndpointID"]
        assert b["IPAddress"] == ns["IPAddress"] and b["Aliases"] is None
        assert j["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
        assert bridge["Containers"][j["Id"]]["IPv4Address"] == ns["IPAddress"] + "/16"
        assert "berth0" in netd.links()
        # ps PORTS and the list API
        assert "0.0.0.0:8080->80/tcp" in ok(netd.docker("ps", "--filter", f"name={web}"))
        # the container's own line in /etc/hosts
        hosts = ok(netd.docker("exec", web, "cat", "/etc/hosts"))
        assert f"{ns['IPAddress']}\t{j['Config']['Hostname']}" in hosts
        # container to container on the bridge, and hairpin through the published port
        ok(netd.docker("run", "--rm", "--name", peer, TAG, "ping", "-c1", "-W2", ns["IPAddress"]))
        out = ok(netd.docker("exec", web, "timeout", "3", "wget", "-qO-",
                             "http://172.17.0.1:8080/group"))
        assert "root:x:0:" in out
    finally:
        ok(netd.docker("rm", "-f", web))
    assert not netd.veths_settled() and not netd.pins()
    assert "8080" not in netd.sh("nft list table ip berth").stdout
    assert "Connection refused" in netd.sh("timeout 3 busybox wget -qO- http://127.0.0.1:8080/").stderr


def test_published_port_from_outside(netd):
    """A client in another namespace, linked to the daemon's by a veth, reaches the published
    port on the daemon namespace's address (DNAT in prerouting)."""
    outside = os.path.join(netd.nsdir, "outside")
    open(outside, "w").close()
    subprocess.run(["unshare", f"--net={outside}", "true"], check=True)
    holder = subprocess.Popen(["nsenter", f"--net={outside}", "sleep", "120"])
    c = netd.name("out")
    try:
        r = netd.sh(f"ip link add vout0 type veth peer name vin0 && "
                    f"ip link set vin0 netns {holder.pid} && "
                    f"ip addr add 192.0.2.1/24 dev vout0 && ip link set vout0 up")
        assert r.returncode == 0, r.stderr
        subprocess.run(["nsenter", f"--net={outside}", "sh", "-c",
                        "ip link set lo up && ip addr add 192.0.2.2/24 dev vin0 && "
                        "ip link set vin0 up"], check=True)
        assert len(netd.veths()) == 1
        ok(netd.docker("run", "-d", "--name", c, "-p", "8083:80", TAG, "httpd", "-f", "-p",
                       "80", "-h", "/etc"))
        assert len(netd.veths()) == 2
        got = ""
        for _ in range(30):
            got = subprocess.run(["nsenter", f"--net={outside}", "timeout", "3", "busybox",
                                  "wget", "-qO-", "http://192.0.2.1:8083/group"],
                                 capture_output=True, text=True).stdout
            if "root:x:0:" in got:
                break
            time.sleep(0.1)
        assert "root:x:0:" in got
    finally:
        netd.docker("rm", "-f", c)
        netd.sh("ip link del vout0")
        holder.kill()
        holder.wait()
        subprocess.run(["umount", "-l", outside], check=False)
        os.unlink(outside)
    assert not netd.veths_settled()


def test_publish_on_one_address(netd):
    c = netd.name("lo")
    ok(netd.docker("run", "-d", "--name", c, "-p", "127.0.0.1:8082:80", TAG, "httpd", "-f",
                   "-p", "80", "-h", "/etc"))
    try:
        wait_http(netd, "http://127.0.0.1:8082/group", "root:x:0:")
        r = netd.sh("timeout 3 busybox wget -qO- http://172.17.0.1:8082/group")
        assert "root:x:0:" not in r.stdout
        assert inspect(netd, c)["NetworkSettings"]["Ports"]["80/tcp"] == [
            {"HostIp": "127.0.0.1", "HostPort": "8082"}]
        assert "127.0.0.1:8082->80/tcp" in ok(netd.docker("ps", "--filter", f"name={c}"))
    finally:
        ok(netd.docker("rm", "-f", c))


def test_port_already_allocated_and_nothing_left(netd):
    a, b = netd.name("a"), netd.name("b")
    ok(netd.docker("run", "-d", "--name", a, "-p", "8081:80", TAG, "sleep", "300"))
    try:
        veths = netd.veths()
        r = netd.docker("run", "-d", "--name", b, "-p", "8081:80", TAG, "sleep", "300")
        assert r.returncode != 0
        assert "Bind for 0.0.0.0:8081 failed: port is already allocated" in r.stderr
        assert netd.veths_settled(veths) == veths and len(netd.pins()) == 1
        assert inspect(netd, b)["State"]["Running"] is False
        # a port held by something else on the host side is refused the same way
        ok(netd.docker("rm", "-f", b))
    finally:
        ok(netd.docker("rm", "-f", a))


def udp_in(d, c):
    """Datagrams that reached c's network namespace (delivered or refused: no listener needed;
    Debian's busybox nc has no UDP)."""
    lines = [line.split() for line in ok(d.docker("exec", c, "cat", "/proc/net/snmp"))
             .splitlines() if line.startswith("Udp:")]
    row = dict(zip(lines[0][1:], lines[1][1:]))
    return int(row["InDatagrams"]) + int(row["NoPorts"])


def test_publish_all_ranges_udp(netd):
    c = netd.name("p")
    ok(netd.docker("run", "-d", "--name", c, "--expose", "7000", "-P",
                   "-p", "9000-9001:9000-9001/udp", TAG, "httpd", "-f", "-p", "7000", "-h",
                   "/etc"))
    try:
        ports = inspect(netd, c)["NetworkSettings"]["Ports"]
        assert ports["9000/udp"] == [{"HostIp": "0.0.0.0", "HostPort": "9000"}]
        assert ports["9001/udp"] == [{"HostIp": "0.0.0.0", "HostPort": "9001"}]
        hp = int(ports["7000/tcp"][0]["HostPort"])
        assert hp > 1024
        wait_http(netd, f"http://127.0.0.1:{hp}/group", "root:x:0:")
        before = udp_in(netd, c)
        netd.sh("python3 -c \"import socket; s = socket.socket(socket.AF_INET, "
                "socket.SOCK_DGRAM); [s.sendto(b'x', ('127.0.0.1', p)) for p in (9000, 9001)]\"")
        assert udp_in(netd, c) >= before + 2
        summary = netd.sdk().api.containers(filters={"name": c})[0]["Ports"]
        assert {"IP": "0.0.0.0", "PrivatePort": 9001, "PublicPort": 9001, "Type": "udp"} in summary
    finally:
        ok(netd.docker("rm", "-f", c))


def test_user_network_dns_isolation(netd):
    n1, n2 = netd.name("n1"), netd.name("n2")
    a, b, c = netd.name("a"), netd.name("b"), netd.name("c")
    ok(netd.docker("network", "create", "--subnet", "10.77.0.0/24", "--label", "k=v", n1))
    ok(netd.docker("network", "create", n2))
    try:
        ok(netd.docker("run", "-d", "--name", a, "--network", n1, "--network-alias", "db",
                       "--ip", "10.77.0.50", TAG, "sleep", "300"))
        ja = inspect(netd, a)
        ea = ja["NetworkSettings"]["Networks"][n1]
        assert ea["IPAddress"] == "10.77.0.50" and ea["Gateway"] == "10.77.0.1"
        assert ea["MacAddress"] == "02:42:0a:4d:00:32"
        assert "db" in ea["Aliases"] and ja["Id"][:12] in ea["Aliases"]
        assert ja["NetworkSettings"]["IPAddress"] == ""  # docker: top level is bridge's only
        # names, aliases and short ids resolve on the network; resolv.conf names the gateway
        for target in (a, "db", ja["Id"][:12]):
            ok(netd.docker("run", "--rm", "--network", n1, TAG, "ping", "-c1", "-W2", target))
        # a rename is seen by DNS
        a2 = netd.name("a2")
        ok(netd.docker("rename", a, a2))
        ok(netd.docker("run", "--rm", "--network", n1, TAG, "ping", "-c1", "-W2", a2))
        ok(netd.docker("rename", a2, a))
        resolv = ok(netd.docker("run", "--rm", "--network", n1, TAG, "cat", "/etc/resolv.conf"))
        assert "nameserver 10.77.0.1" in resolv
        # another network neither resolves nor reaches it
        r = netd.docker("run", "--rm", "--network", n2, TAG, "ping", "-c1", "-W1", "10.77.0.50")
        assert r.returncode != 0
        r = netd.docker("run", "--rm", "--network", n2, TAG, "nslookup", a)
        assert r.returncode != 0 or "10.77.0.50" not in r.stdout
        # inspect, list filters
        j1 = json.loads(ok(netd.docker("network", "inspect", n1)))[0]
        assert j1["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.1"}]
        assert j1["Labels"] == {"k": "v"} and ja["Id"] in j1["Containers"]
        assert f"br-{j1['Id'][:12]}" in netd.links()
        assert ok(netd.docker("network", "ls", "-q", "--filter", "label=k=v")) == j1["Id"][:12]
        # in use: 409 and nothing changes; an address taken: refused
        r = netd.docker("network", "rm", n1)
        assert r.returncode != 0 and "has active endpoints" in r.stderr
        r = netd.docker("run", "-d", "--name", b, "--network", n1, "--ip", "10.77.0.50", TAG,
                        "sleep", "5")
        assert r.returncode != 0 and "Address already in use" in r.stderr
        ok(netd.docker("rm", "-f", b))
        ok(netd.docker("run", "-d", "--name", c, "--network", n2, TAG, "sleep", "300"))
        # ps --filter network=
        assert ok(netd.docker("ps", "--format", "{{.Names}}", "--filter",
                              f"network={n2}")) == c
        # a user network's Options are what was asked (compose compares them)
        assert j1["Options"] == {}
    finally:
        netd.docker("rm", "-f", a, b, c)
        ok(netd.docker("network", "rm", n1, n2))
    assert not netd.veths_settled()
    assert not [line for line in netd.links().splitlines() if "br-" in line]


def test_network_errors(netd):
    d = netd
    r = d.docker("network", "create", "--subnet", "10.1.0/24", d.name("bad"))
    assert r.returncode != 0 and "invalid CIDR address" in r.stderr
    r = d.docker("network", "create", "--subnet", "172.17.5.0/24", d.name("ovl"))
    assert r.returncode != 0 and "overlaps" in r.stderr
    r = d.docker("network", "create", "--subnet", "10.2.0.0/24", "--gateway", "10.3.0.1",
                 d.name("gw"))
    assert r.returncode != 0 and "no matching subnet for gateway" in r.stderr
    r = d.docker("network", "create", "--ipv6", "--subnet", "fd00:77::/127", d.name("v6"))
    assert r.returncode != 0 and "too small" in r.stderr
    r = d.docker("network", "create", "--ipv6", "--subnet", "fd00:77::/64", "--gateway",
                 "fd00:78::1", d.name("v6"))
    assert r.returncode != 0 and "no matching subnet for gateway" in r.stderr
    r = d.docker("network", "create", "-d", "macvlan", d.name("mv"))
    assert r.returncode != 0 and "not supported" in r.stderr
    # like dockerd: created, then start finds no such network (404); the docker CLI shows it
    import docker
    c = d.sdk().containers.create(TAG, ["true"], network="nosuchnet")
    try:
        with pytest.raises(docker.errors.NotFound) as e:
            c.start()
        assert "network nosuchnet not found" in str(e.value)
    finally:
        c.remove(force=True)
    r = d.docker("run", "--rm", "--network", "nosuchnet", TAG, "true")
    assert r.returncode != 0 and "network nosuchnet not found" in r.stderr
    r = d.docker("run", "--rm", "--network", "container:nosuchctr", TAG, "true")
    assert r.returncode != 0 and "No such container: nosuchctr" in r.stderr
    assert d.docker("ps", "-aq").stdout.strip() == ""
    r = d.docker("run", "--rm", "--ip", "172.17.0.9", TAG, "true")
    assert r.returncode != 0 and "user defined networks only" in r.stderr
    r = d.docker("network", "rm", "bridge")
    assert r.returncode != 0 and "pre-defined" in r.stderr
    n = d.name("dup")
    ok(d.docker("network", "create", n))
    r = d.docker("network", "create", n)
    assert r.returncode != 0 and "already exists" in r.stderr
    ok(d.docker("network", "rm", n))
    # nothing half-made
    assert ok(d.docker("network", "ls", "-q", "--filter", "type=custom")) == ""
    assert not [line for line in d.links().splitlines() if "br-" in line]


def test_none_host_container_modes(netd):
    out = ok(netd.docker("run", "--rm", "--network", "none", TAG, "ip", "-o", "link"))
    assert "lo:" in out and "eth0" not in out
    r = netd.docker("run", "--rm", "--network", "host", "-p", "8084:80", TAG, "true")
    assert r.returncode == 0
    assert "Published ports are discarded when using host network mode" in r.stderr
    netd.sh("ip link add berthtest0 type bridge")
    try:
        out = ok(netd.docker("run", "--rm", "--network", "host", TAG, "ip", "-o", "link"))
        assert "berthtest0" in out
    finally:
        netd.sh("ip link del berthtest0")
    a = netd.name("a")
    ok(netd.docker("run", "-d", "--name", a, TAG, "sleep", "300"))
    try:
        ip = inspect(netd, a)["NetworkSettings"]["IPAddress"]
        out = ok(netd.docker("run", "--rm", "--network", f"container:{a}", TAG, "ip", "-o", "-4",
                             "addr"))
        assert ip in out
        ns = inspect(netd, a)["NetworkSettings"]
        assert list(ns["Networks"]) == ["bridge"]
    finally:
        ok(netd.docker("rm", "-f", a))
    c = netd.name("n")
    ok(netd.docker("create", "--name", c, "--network", "none", TAG, "true"))
    try:
        assert list(inspect(netd, c)["NetworkSettings"]["Networks"]) == ["none"]
    finally:
        ok(netd.docker("rm", c))


def test_connect_disconnect_running(netd):
    net, a, b = netd.name("cn"), netd.name("a"), netd.name("b")
    ok(netd.docker("network", "create", net))
    try:
        ok(netd.docker("run", "-d", "--name", a, TAG, "sleep", "300"))
        ok(netd.docker("run", "-d", "--name", b, "--network", net, TAG, "sleep", "300"))
        r = netd.docker("run", "--rm", "--network", net, TAG, "ping", "-c1", "-W1", "web1")
        assert r.returncode != 0
        ok(netd.docker("network", "connect", "--alias", "web1", net, a))
        assert "eth1" in ok(netd.docker("exec", a, "ip", "-o", "link"))
        # the connected container now resolves through the network's DNS
        ok(netd.docker("exec", a, "ping", "-c1", "-W2", b))
        ok(netd.docker("exec", b, "ping", "-c1", "-W2", "web1"))
        ok(netd.docker("exec", b, "ping", "-c1", "-W2", a))
        assert set(inspect(netd, a)["NetworkSettings"]["Networks"]) == {"bridge", net}
        r = netd.docker("network", "connect", net, a)
        assert r.returncode != 0 and "already exists" in r.stderr
        ok(netd.docker("network", "disconnect", net, a))
        assert "eth1" not in ok(netd.docker("exec", a, "ip", "-o", "link"))
        assert set(inspect(netd, a)["NetworkSettings"]["Networks"]) == {"bridge"}
        r = netd.docker("exec", b, "ping", "-c1", "-W1", "web1")
        assert r.returncode != 0
        ev = ok(netd.docker("events", "--since", "0", "--until", str(int(time.time()) + 1),
                            "--filter", "type=network", "--filter", f"network={net}",
                            "--format", "{{.Action}}")).split()
        assert ev[:1] == ["create"] and "connect" in ev and "disconnect" in ev
    finally:
        netd.docker("rm", "-f", a, b)
        ok(netd.docker("network", "rm", net))


def test_resolv_conf_dns_flags(netd):
    out = ok(netd.docker("run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.test",
                         "--dns-option", "ndots:2", "--hostname", "box", TAG, "sh", "-c",
                         "cat /etc/resolv.conf; hostname; cat /etc/hosts"))
    assert "nameserver 192.0.2.53" in out and "search example.test" in out
    assert "options ndots:2" in out and "\nbox\n" in out
    assert out.endswith("\tbox")
    # host-gateway: the default bridge's address, as dockerd writes it
    out = ok(netd.docker("run", "--rm", "--add-host", "gw:host-gateway", TAG, "cat",
                         "/etc/hosts"))
    assert "172.17.0.1\tgw" in out
    # --mac-address (Config.MacAddress: the docker CLI sends it per network from API 1.44 only)
    out = netd.sdk().containers.run(TAG, ["ip", "link", "show", "eth0"], remove=True,
                                    mac_address="02:42:ac:11:00:99")
    assert b"02:42:ac:11:00:99" in out


FAKE_DNS = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    end = q.index(b"\0", 12) + 5  # the question: name, type, class
    # one A record, 10.1.2.3, for whatever was asked
    ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([10, 1, 2, 3])
    s.sendto(q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00" + q[12:end] + ans,
             peer)
"""


def test_dns_flag_forwarders_on_a_user_network(netd):
    # docker: on a user network the container keeps the embedded DNS as its only nameserver and
    # its --dns servers answer the names the network does not know
    n, a = netd.name("n"), netd.name("a")
    srv = subprocess.Popen(["nsenter", f"--net={netd.netns}", "python3", "-c", FAKE_DNS,
                            "127.0.0.2"], stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready"
        ok(netd.docker("network", "create", n))
        ok(netd.docker("run", "-d", "--name", a, "--network", n, TAG, "sleep", "300"))
        gw = inspect(netd, a)["NetworkSettings"]["Networks"][n]["Gateway"]
        out = ok(netd.docker("run", "--rm", "--network", n, "--dns", "127.0.0.2", TAG, "sh",
                             "-c", f"cat /etc/resolv.conf; nslookup ext.test {gw}; "
                             f"nslookup {a} {gw}"))
        assert f"nameserver {gw}" in out and "127.0.0.2" not in out.split("Server:")[0]
        assert "10.1.2.3" in out  # forwarded to its --dns
        assert inspect(netd, a)["NetworkSettings"]["Networks"][n]["IPAddress"] in out
        # a container without --dns on the same network keeps the daemon's upstream
        r = netd.docker("run", "--rm", "--network", n, TAG, "nslookup", "ext.test", gw)
        assert "10.1.2.3" not in r.stdout
    finally:
        srv.kill()
        srv.wait()
        netd.docker("rm", "-f", a)
        netd.docker("network", "rm", n)


def test_sdk_networks(netd):
    client = netd.sdk()
    import docker
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.88.0.0/24",
                                                                        gateway="10.88.0.254")])
    net = client.networks.create(netd.name("sdk"), driver="bridge", ipam=ipam, internal=True,
                                 labels={"l": "1"})
    try:
        net.reload()
        assert net.attrs["Internal"] is True
        assert net.attrs["IPAM"]["Config"][0]["Gateway"] == "10.88.0.254"
        assert [n.id for n in client.networks.list(filters={"label": "l=1"})] == [net.id]
        c = client.containers.run(TAG, ["sleep", "300"], detach=True, network=net.name,
                                  name=netd.name("s"))
        try:
            net.reload()
            assert c.id in net.attrs["Containers"]
            c.reload()
            assert c.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"] == "10.88.0.1"
            with pytest.raises(docker.errors.APIError) as e:
                net.remove()
            assert e.value.status_code == 409
            # internal: no way out of the subnet (no default route, forwarding dropped)
            assert "default" not in ok(netd.docker("exec", c.id, "ip", "route"))
            assert "10.88.0.0/24" in ok(netd.docker("exec", c.id, "ip", "route"))
        finally:
            c.remove(force=True)
    finally:
        pruned = client.networks.prune()
    assert net.name in (pruned.get("NetworksDeleted") or [])


def test_kill9_keeps_addresses_and_ports(net_factory):
    d = net_factory()
    a = d.name("a")
    ok(d.docker("run", "-d", "--name", a, "-p", "8090:80", TAG, "httpd", "-f", "-p", "80",
                "-h", "/etc"))
    ip_a = inspect(d, a)["NetworkSettings"]["IPAddress"]
    wait_http(d, "http://127.0.0.1:8090/group", "root:x:0:")
    d.kill9()
    d.start()
    # live-restore: still published and reachable, its address not handed out again
    wait_http(d, "http://127.0.0.1:8090/group", "root:x:0:")
    b = d.name("b")
    ok(d.docker("run", "-d", "--name", b, TAG, "sleep", "300"))
    assert inspect(d, b)["NetworkSettings"]["IPAddress"] != ip_a
    r = d.docker("run", "-d", "-p", "8090:80", TAG, "sleep", "5")
    assert r.returncode != 0 and "port is already allocated" in r.stderr
    ok(d.docker("rm", "-f", b))
    # a container that dies while the daemon is away: released at the next start
    pid = inspect(d, a)["State"]["Pid"]
    d.kill9()
    os.kill(pid, signal.SIGKILL)
    end = time.time() + 30  # reaped by its shim
    while os.path.exists(f"/proc/{pid}") and time.time() < end:
        time.sleep(0.05)
    d.start()
    # its shim may still be finishing: re-adopted, then its exit recorded
    for _ in range(100):
        if inspect(d, a)["State"]["Running"] is False:
            break
        time.sleep(0.1)
    assert inspect(d, a)["State"]["Running"] is False
    assert not d.veths_settled() and not d.pins()
    assert "8090" not in d.sh("nft list table ip berth").stdout
    ok(d.docker("rm", "-f", a))


def test_default_bridge_options(net_factory):
    d = net_factory(args=["--bridge", "berthx", "--bip", "10.99.0.1/24"])
    c = d.name("o")
    ok(d.docker("run", "-d", "--name", c, TAG, "sleep", "300"))
    try:
        assert inspect(d, c)["NetworkSettings"]["IPAddress"] == "10.99.0.2"
        assert "berthx" in d.links()
        br = json.loads(ok(d.docker("network", "inspect", "bridge")))[0]
        assert br["IPAM"]["Config"] == [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1"}]
        assert br["Options"]["com.docker.network.bridge.name"] == "berthx"
    finally:
        ok(d.docker("rm", "-f", c))
    # -b none: no default network, containers keep loopback only
    d.stop()
    d.start("--bridge", "none")
    assert "bridge" not in ok(d.docker("network", "ls", "--format", "{{.Name}}")).split()
    out = ok(d.docker("run", "--rm", TAG, "ip", "-o", "addr"))
    assert "127.0.0.1" in out and "eth0" not in out
    r = d.docker("run", "--rm", "--network", "bridge", TAG, "true")
    assert r.returncode != 0
