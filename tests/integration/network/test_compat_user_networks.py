"""User networks, run the same way against dockerd and berthd (each in its own network
namespace): containers resolve each other by name and network alias through the embedded DNS,
two user networks are isolated from each other, the docker CLI's `network` verbs (with connect
and disconnect on a running container) and the python SDK's network calls work."""
import json
import time

import docker
import pytest

from berthtest import TAG, poll

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/etc"]


def ok(r):
    assert r.returncode == 0, f"rc {r.returncode}: {r.stdout} {r.stderr}"
    return r.stdout


def ip_on(e, name, net):
    return json.loads(ok(e.docker("inspect", name)))[0]["NetworkSettings"]["Networks"][net][
        "IPAddress"]


def test_name_and_alias_resolution(engine):
    e = engine
    net, srv = e.name("un"), e.name("srv")
    ok(e.docker("network", "create", net))
    ok(e.docker("run", "-d", "--name", srv, "--network", net, "--network-alias", "web", TAG,
                *HTTPD))
    for who in (srv, "web"):
        ok(e.docker("run", "--rm", "--network", net, TAG, "ping", "-c1", "-W3", who))
        out = ok(e.docker("run", "--rm", "--network", net, TAG, "wget", "-qO-",
                          f"http://{who}/group"))
        assert out.startswith("root:x:0:")
    out = ok(e.docker("run", "--rm", "--network", net, TAG, "nslookup", srv))
    assert ip_on(e, srv, net) in out
    # unknown names are not made up
    r = e.docker("run", "--rm", "--network", net, TAG, "ping", "-c1", "-W2", "nosuchname")
    assert r.returncode != 0
    # the default bridge has no embedded DNS names
    r = e.docker("run", "--rm", TAG, "ping", "-c1", "-W2", srv)
    assert r.returncode != 0


def test_two_user_networks_are_isolated(engine):
    e = engine
    n1, n2, a = e.name("i1"), e.name("i2"), e.name("a")
    ok(e.docker("network", "create", n1))
    ok(e.docker("network", "create", n2))
    ok(e.docker("run", "-d", "--name", a, "--network", n1, TAG, *HTTPD))
    ip_a = ip_on(e, a, n1)
    ok(e.docker("run", "--rm", "--network", n1, TAG, "ping", "-c1", "-W3", ip_a))
    r = e.docker("run", "--rm", "--network", n2, TAG, "ping", "-c1", "-W2", ip_a)
    assert r.returncode != 0, "a container on another user network reached it"
    r = e.docker("run", "--rm", "--network", n2, TAG, "ping", "-c1", "-W2", a)
    assert r.returncode != 0, "a name of another user network resolved"
    r = e.docker("run", "--rm", TAG, "ping", "-c1", "-W2", ip_a)
    assert r.returncode != 0, "the default bridge reached a user network"


def test_network_verbs_and_connect_running_container(engine):
    e = engine
    net, c, srv = e.name("vn"), e.name("c"), e.name("s")
    nid = ok(e.docker("network", "create", "--subnet", "10.97.0.0/24", "--gateway", "10.97.0.1",
                      "--label", "who=test", net)).strip()
    assert len(nid) == 64
    assert net in ok(e.docker("network", "ls", "--format", "{{.Name}}")).split()
    assert ok(e.docker("network", "ls", "-q", "--filter", f"name={net}")).strip() == nid[:12]
    (ins,) = json.loads(ok(e.docker("network", "inspect", net)))
    assert ins["Id"] == nid and ins["Driver"] == "bridge" and ins["Scope"] == "local"
    assert ins["IPAM"]["Config"][0]["Subnet"] == "10.97.0.0/24"
    assert ins["IPAM"]["Config"][0]["Gateway"] == "10.97.0.1"
    assert ins["Labels"] == {"who": "test"} and ins["Containers"] == {}

    ok(e.docker("run", "-d", "--name", srv, "--network", net, TAG, *HTTPD))
    ok(e.docker("run", "-d", "--name", c, TAG, "sleep", "300"))
    r = e.docker("exec", c, "ping", "-c1", "-W2", ip_on(e, srv, net))
    assert r.returncode != 0
    ok(e.docker("network", "connect", "--alias", "cli", "--ip", "10.97.0.77", net, c))
    assert ip_on(e, c, net) == "10.97.0.77"
    (ins,) = json.loads(ok(e.docker("network", "inspect", net)))
    assert len(ins["Containers"]) == 2
    out = ok(e.docker("exec", c, "wget", "-qO-", f"http://{srv}/group"))
    assert out.startswith("root:x:0:")
    ok(e.docker("exec", srv, "ping", "-c1", "-W3", "cli"))
    r = e.docker("network", "rm", net)
    assert r.returncode != 0 and "active endpoints" in r.stderr
    ok(e.docker("network", "disconnect", net, c))
    nets = json.loads(ok(e.docker("inspect", c)))[0]["NetworkSettings"]["Networks"]
    assert net not in nets and "bridge" in nets
    r = e.docker("exec", c, "ping", "-c1", "-W2", ip_on(e, srv, net))
    assert r.returncode != 0
    ok(e.docker("rm", "-f", srv))
    assert ok(e.docker("network", "rm", net)).strip() == net
    r = e.docker("network", "inspect", net)
    assert r.returncode != 0 and f"network {net} not found" in r.stderr


def test_overlapping_subnet_and_bad_input(engine):
    e = engine
    net = e.name("ov")
    ok(e.docker("network", "create", "--subnet", "10.98.0.0/16", net))
    r = e.docker("network", "create", "--subnet", "10.98.1.0/24", e.name("ov"))
    assert r.returncode != 0 and "overlap" in r.stderr
    r = e.docker("network", "create", "--subnet", "10.98.0.0/33", e.name("bad"))
    assert r.returncode != 0
    r = e.docker("run", "--rm", "--network", "nosuchnetwork", TAG, "true")
    assert r.returncode != 0 and "nosuchnetwork" in r.stderr
    r = e.docker("network", "create", net)
    assert r.returncode != 0 and "already exists" in r.stderr
    names = ok(e.docker("network", "ls", "--format", "{{.Name}}")).split()
    assert names.count(net) == 1


def test_sdk_network_calls(engine):
    e = engine
    client = e.sdk()
    name = e.name("sdk")
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.99.0.0/24",
                                                                       gateway="10.99.0.1")])
    net = client.networks.create(name, driver="bridge", ipam=ipam, labels={"sdk": "yes"})
    assert [n.id for n in client.networks.list(names=[name])] == [net.id]
    assert client.networks.get(name).attrs["Labels"] == {"sdk": "yes"}
    c = client.containers.run(TAG, ["sleep", "300"], detach=True, name=e.name("sc"))
    net.connect(c, aliases=["sdkalias"], ipv4_address="10.99.0.10")
    net.reload()
    assert [x.id for x in net.containers] == [c.id]
    c.reload()
    ep = c.attrs["NetworkSettings"]["Networks"][name]
    assert ep["IPAddress"] == "10.99.0.10" and "sdkalias" in ep["Aliases"]
    out = client.containers.run(TAG, ["ping", "-c1", "-W3", "sdkalias"], network=name,
                                remove=True)
    assert b"1 packets received" in out
    net.disconnect(c)
    net.reload()
    assert net.containers == []
    c.remove(force=True)
    net.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get(name)
    pruned = client.networks.prune()
    assert pruned.get("NetworksDeleted") in (None, [])
    # a container's network settings through the SDK
    c = client.containers.run(TAG, ["sleep", "300"], detach=True, ports={"80/tcp": 18089})
    for _ in range(20):
        c.reload()
        if c.ports:
            break
        time.sleep(0.1)
    assert c.ports["80/tcp"][0]["HostPort"] == "18089"
    c.remove(force=True)


def test_ipv6_user_network(engine):
    """--ipv6 with an IPv6 subnet: addresses, gateway and prefix in inspect, the default route,
    ping and wget over IPv6 by address and by name (the embedded DNS's AAAA), another IPv6
    network isolated."""
    e = engine
    n6, other, a, b = e.name("six"), e.name("six2"), e.name("a"), e.name("b")
    ok(e.docker("network", "create", "--ipv6", "--subnet", "10.97.0.0/24", "--subnet",
                "fd00:97::/64", n6))
    ok(e.docker("network", "create", "--ipv6", "--subnet", "10.98.0.0/24", "--subnet",
                "fd00:98::/64", other))
    j = json.loads(ok(e.docker("network", "inspect", n6)))[0]
    assert j["EnableIPv6"] is True
    assert [c["Subnet"] for c in j["IPAM"]["Config"]] == ["10.97.0.0/24", "fd00:97::/64"]
    ok(e.docker("run", "-d", "--name", a, "--network", n6, TAG, *HTTPD))
    ok(e.docker("run", "-d", "--name", b, "--network", n6, "--ip6", "fd00:97::99", TAG,
                "sleep", "300"))
    ea = json.loads(ok(e.docker("inspect", a)))[0]["NetworkSettings"]["Networks"][n6]
    assert (ea["GlobalIPv6Address"], ea["GlobalIPv6PrefixLen"], ea["IPv6Gateway"]) == (
        "fd00:97::2", 64, "fd00:97::1")
    eb = json.loads(ok(e.docker("inspect", b)))[0]["NetworkSettings"]["Networks"][n6]
    assert eb["GlobalIPv6Address"] == "fd00:97::99"
    cs = json.loads(ok(e.docker("network", "inspect", n6)))[0]["Containers"]
    assert sorted(c["IPv6Address"] for c in cs.values()) == ["fd00:97::2/64", "fd00:97::99/64"]
    out = ok(e.docker("exec", a, "ip", "-6", "route", "show", "default"))
    assert "via fd00:97::1 dev eth0" in out
    ok(e.docker("exec", b, "ping", "-6", "-c1", "-W3", "fd00:97::2"))
    ok(e.docker("exec", b, "ping", "-6", "-c1", "-W3", a))
    out = ok(e.docker("exec", b, "wget", "-qO-", "http://[fd00:97::2]/group"))
    assert out.startswith("root:x:0:")
    # /etc/hosts: docker's default block with the ip6 names, then the container's IPv4 line
    # and its IPv6 line
    hn = json.loads(ok(e.docker("inspect", a)))[0]["Config"]["Hostname"]
    hosts = ok(e.docker("exec", a, "cat", "/etc/hosts")).splitlines()
    assert hosts == ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                     "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix",
                     "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters", f"10.97.0.2\t{hn}",
                     f"fd00:97::2\t{hn}"]
    # docker isolates IPv6 networks only with ip6tables (experimental in Debian's 20.10, the
    # default since 27); berth's `ip6 berth` table always does
    if e.kind == "berthd":
        r = e.docker("run", "--rm", "--network", other, TAG, "ping", "-6", "-c1", "-W2",
                     "fd00:97::2")
        assert r.returncode != 0, "a container on another IPv6 network reached it"


def _events(e, since, names):
    """(Type, Action, network name) of the container and network events since `since` that
    concern the containers named in names (network events name them by id)."""
    until = f"{time.time() + 1:.3f}"
    out = ok(e.docker("events", "--since", since, "--until", until, "--format",
                      "{{json .}}"))
    ids, got = set(), []
    for line in out.splitlines():
        ev = json.loads(line)
        attrs = ev.get("Actor", {}).get("Attributes", {})
        if ev["Type"] == "container" and attrs.get("name") in names:
            ids.add(ev["Actor"]["ID"])
            got.append(("container", ev["Action"], ""))
        elif ev["Type"] == "network" and attrs.get("container") in ids:
            got.append(("network", ev["Action"], attrs.get("name")))
    return got


def test_network_events_at_start_and_stop(engine):
    # dockerd: network connect before the container's start, disconnect after its die; none
    # for connecting a container that does not run
    e = engine
    net, a, b = e.name("un"), e.name("a"), e.name("b")
    ok(e.docker("network", "create", net))
    since = f"{time.time() - 0.5:.3f}"
    ok(e.docker("run", "--rm", "--name", a, "--network", net, TAG, "true"))
    ok(e.docker("create", "--name", b, TAG, "true"))
    ok(e.docker("network", "connect", net, b))
    ok(e.docker("rm", b))
    want = [("container", "create", ""), ("container", "attach", ""),
            ("network", "connect", net), ("container", "start", ""),
            ("container", "die", ""), ("network", "disconnect", net),
            ("container", "destroy", ""),
            ("container", "create", ""), ("container", "destroy", "")]
    # the last events may be stored a moment after the requests answered: until b's destroy
    got = poll(lambda: (lambda g: g if g[-1:] == [("container", "destroy", "")] and
                        len(g) >= len(want) else None)(_events(e, since, {a, b})),
               "the events up to the last destroy", timeout=10, interval=0.2)
    assert got == want, got


def test_disconnect_force(engine):
    # dockerd: --force on a container it does not know deletes that name's endpoint left on the
    # network (404 "endpoint x not found" when there is none); a container that is not
    # connected is refused with or without it (500, worded apart for a running one); a
    # connected one is disconnected
    e = engine
    net, a, b, gone = e.name("un"), e.name("a"), e.name("b"), e.name("gone")
    ok(e.docker("network", "create", net))
    ok(e.docker("run", "-d", "--name", a, TAG, "sleep", "300"))
    ok(e.docker("create", "--name", b, TAG, "true"))
    c = e.sdk()
    api = c.api

    def disconnect(name, force):
        r = api.post(api._url("/networks/{0}/disconnect", net),
                     data=json.dumps({"Container": name, "Force": force}),
                     headers={"Content-Type": "application/json"})
        return r.status_code, (r.json().get("message") if r.content else "")

    assert disconnect(gone, True) == (404, f"endpoint {gone} not found")
    code, msg = disconnect(gone, False)
    assert code == 404 and gone in msg
    ida = json.loads(ok(e.docker("inspect", a)))[0]["Id"]
    idb = json.loads(ok(e.docker("inspect", b)))[0]["Id"]
    for force in (True, False):
        assert disconnect(a, force) == (500, f"container {ida} is not connected to network {net}")
        assert disconnect(b, force) == (500,
                                        f"container {idb} is not connected to the network {net}")
    ok(e.docker("network", "connect", net, a))
    ok(e.docker("network", "disconnect", "--force", net, a))
    assert net not in json.loads(ok(e.docker("inspect", a)))[0]["NetworkSettings"]["Networks"]
    ok(e.docker("rm", "-f", a, b))
    ok(e.docker("network", "rm", net))
