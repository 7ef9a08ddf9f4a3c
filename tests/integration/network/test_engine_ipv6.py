"""IPv6 on user networks, against a berthd in a network namespace of its own (netns_berthd.py):
`network create --ipv6 --subnet fd00:…/64` gives the bridge its IPv6 gateway, each container an
address from IPAM and a default route, inspect shows them as dockerd does, containers reach each
other over IPv6 and resolve each other's names to AAAA records, and berth's `ip6 berth` table
masquerades what leaves the subnet. What is not implemented stays refused."""
import json

from berthtest import TAG
from netns_berthd import net_factory, netd, sanitized_clients_report_nothing  # noqa: F401 fixtures


def ok(r):
    assert r.returncode == 0, f"{r.args}: {r.stdout} {r.stderr}"
    return r.stdout.strip()


def inspect(d, name):
    return json.loads(ok(d.docker("inspect", name)))[0]


def test_ipv6_user_network(netd):
    n6, a, b = netd.name("v6"), netd.name("a"), netd.name("b")
    ok(netd.docker("network", "create", "--ipv6", "--subnet", "10.96.0.0/24", "--subnet",
                   "fd00:96::/64", n6))
    try:
        j = json.loads(ok(netd.docker("network", "inspect", n6)))[0]
        assert j["EnableIPv6"] is True
        assert j["IPAM"]["Config"] == [{"Subnet": "10.96.0.0/24", "Gateway": "10.96.0.1"},
                                       {"Subnet": "fd00:96::/64", "Gateway": "fd00:96::1"}]
        bridge = f"br-{j['Id'][:12]}"
        assert "fd00:96::1/64" in netd.sh(f"ip -6 -o addr show dev {bridge}").stdout

        ok(netd.docker("run", "-d", "--name", a, "--network", n6, "--network-alias", "six",
                       TAG, "sleep", "300"))
        ok(netd.docker("run", "-d", "--name", b, "--network", n6, "--ip6", "fd00:96::99", TAG,
                       "sleep", "300"))
        ea = inspect(netd, a)["NetworkSettings"]["Networks"][n6]
        assert ea["GlobalIPv6Address"] == "fd00:96::2"
        assert ea["GlobalIPv6PrefixLen"] == 64 and ea["IPv6Gateway"] == "fd00:96::1"
        assert ea["IPAddress"] == "10.96.0.2"
        eb = inspect(netd, b)["NetworkSettings"]["Networks"][n6]
        assert eb["GlobalIPv6Address"] == "fd00:96::99"
        # the address and the default route inside the container
        out = ok(netd.docker("exec", a, "ip", "-6", "-o", "addr", "show", "dev", "eth0"))
        assert "fd00:96::2/64" in out
        out = ok(netd.docker("exec", a, "ip", "-6", "route", "show", "default"))
        assert "via fd00:96::1 dev eth0" in out
        # network inspect lists both addresses
        cs = json.loads(ok(netd.docker("network", "inspect", n6)))[0]["Containers"]
        ca = [c for c in cs.values() if c["Name"] == a][0]
        assert ca["IPv6Address"] == "fd00:96::2/64" and ca["IPv4Address"] == "10.96.0.2/24"
        # container to container over IPv6, by address and by name (AAAA from the embedded DNS)
        ok(netd.docker("exec", b, "ping", "-6", "-c1", "-W3", "fd00:96::2"))
        ok(netd.docker("exec", b, "ping", "-6", "-c1", "-W3", a))
        out = ok(netd.docker("exec", b, "nslookup", "-type=aaaa", "six"))
        assert "fd00:96::2" in out
        # the gateway answers; what leaves the subnet is masqueraded in `ip6 berth`
        ok(netd.docker("exec", a, "ping", "-6", "-c1", "-W3", "fd00:96::1"))
        rules = netd.sh("nft list table ip6 berth").stdout
        assert f'ip6 saddr fd00:96::/64 oifname != "{bridge}" masquerade' in rules
        # an address taken, an address outside the subnet
        r = netd.docker("run", "--rm", "--network", n6, "--ip6", "fd00:96::99", TAG, "true")
        assert r.returncode != 0 and "Address already in use" in r.stderr
        r = netd.docker("run", "--rm", "--network", n6, "--ip6", "fd00:97::5", TAG, "true")
        assert r.returncode != 0 and "no configured subnet" in r.stderr
    finally:
        netd.docker("rm", "-f", a, b)
        ok(netd.docker("network", "rm", n6))
    # the last IPv6 network gone: no `ip6 berth` table, no bridge
    assert netd.sh("nft list table ip6 berth").returncode != 0
    assert not [line for line in netd.links().splitlines() if "br-" in line]


def test_ipv6_published_port(netd):
    """-p on an IPv6 network: reserved on 0.0.0.0 and [::] (docker's two bindings), DNAT'd over
    IPv6 to the container's IPv6 address from the namespace's host side and from another
    container (hairpin through a host address)."""
    n6, web = netd.name("pv6"), netd.name("web")
    ok(netd.docker("network", "create", "--ipv6", "--subnet", "10.95.0.0/24", "--subnet",
                   "fd00:95::/64", n6))
    # a host-side IPv6 address in the test's namespace to publish on
    ok(netd.sh("ip addr add fd00:1234::1/128 dev lo nodad"))
    try:
        ok(netd.docker("run", "-d", "--name", web, "--network", n6, "-p", "18090:80", TAG,
                       "httpd", "-f", "-p", "80", "-h", "/etc"))
        ports = inspect(netd, web)["NetworkSettings"]["Ports"]["80/tcp"]
        assert {(p["HostIp"], p["HostPort"]) for p in ports} == {("0.0.0.0", "18090"),
                                                                 ("::", "18090")}
        assert sorted(ok(netd.docker("port", web, "80")).splitlines()) == [
            "0.0.0.0:18090", "[::]:18090"]
        got = ""
        for _ in range(30):
            got = netd.sh("timeout 3 busybox wget -qO- http://[fd00:1234::1]:18090/group").stdout
            if got:
                break
        assert got.startswith("root:x:0:")
        # IPv4 as before
        got = netd.sh("timeout 3 busybox wget -qO- http://127.0.0.1:18090/group").stdout
        assert got.startswith("root:x:0:")
        # from a container on the network, through the host's IPv6 address
        out = ok(netd.docker("run", "--rm", "--network", n6, TAG, "wget", "-qO-",
                             "http://[fd00:1234::1]:18090/group"))
        assert out.startswith("root:x:0:")
        rules = netd.sh("nft list table ip6 berth").stdout
        assert "18090 : fd00:95::2 . 80" in rules
        # [::]:18090 is held: nothing else binds it
        bind6 = ("/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET6); "
                 "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); "
                 "s.bind((\"::\", {}))'")
        r = netd.sh(bind6.format(18090))
        assert r.returncode != 0 and "Address already in use" in r.stderr
        ok(netd.sh(bind6.format(18091)))  # the check itself binds a free port
    finally:
        netd.docker("rm", "-f", web)
        netd.sh("ip addr del fd00:1234::1/128 dev lo")
        ok(netd.docker("network", "rm", n6))


def test_ipv6_refused_clearly(netd):
    r = netd.docker("network", "create", "--ipv6", netd.name("nosub"))
    assert r.returncode != 0 and "IPv6 networks need an IPv6 subnet" in r.stderr
    r = netd.docker("network", "create", "--subnet", "fd00:98::/64", netd.name("no6"))
    assert r.returncode != 0 and "needs an IPv6 network" in r.stderr
    n = netd.name("v6b")
    ok(netd.docker("network", "create", "--ipv6", "--subnet", "fd00:99::/64", n))
    try:
        r = netd.docker("network", "create", "--ipv6", "--subnet", "fd00:99::/80",
                        netd.name("ovl"))
        assert r.returncode != 0 and "overlaps" in r.stderr
        # the IPv4 subnet came from the default pools
        cfg = json.loads(ok(netd.docker("network", "inspect", n)))[0]["IPAM"]["Config"]
        assert cfg[0]["Subnet"].startswith("172.") and cfg[1]["Subnet"] == "fd00:99::/64"
        # published ports are IPv4 only for now: an IPv6 host address is refused
        r = netd.docker("run", "--rm", "--network", n, "-p", "[::1]:18081:80", TAG, "true")
        assert r.returncode != 0 and "IPv6" in r.stderr
        # the default bridge has no IPv6: --ip6 there is refused
        r = netd.docker("run", "--rm", "--ip6", "fd00:99::7", TAG, "true")
        assert r.returncode != 0
    finally:
        ok(netd.docker("network", "rm", n))
    assert netd.docker("network", "ls", "-q", "--filter", "type=custom").stdout.strip() == ""


def test_default_bridge_ipv6(net_factory):
    """dockerd's --ipv6 --fixed-cidr-v6: the default bridge gets the subnet's first address, the
    containers on it an IPv6 address and route; the top-level inspect fields show them."""
    d = net_factory(args=["--ipv6", "--fixed-cidr-v6", "fd00:db8:1::/64"])
    a, b = d.name("a"), d.name("b")
    try:
        br = json.loads(ok(d.docker("network", "inspect", "bridge")))[0]
        assert br["EnableIPv6"] is True
        assert br["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"},
                                        {"Subnet": "fd00:db8:1::/64",
                                         "Gateway": "fd00:db8:1::1"}]
        ok(d.docker("run", "-d", "--name", a, TAG, "sleep", "300"))
        ok(d.docker("run", "-d", "--name", b, TAG, "sleep", "300"))
        ns = inspect(d, a)["NetworkSettings"]
        assert ns["GlobalIPv6Address"] == "fd00:db8:1::2" and ns["GlobalIPv6PrefixLen"] == 64
        assert ns["IPv6Gateway"] == "fd00:db8:1::1"
        assert ns["Networks"]["bridge"]["GlobalIPv6Address"] == "fd00:db8:1::2"
        assert "fd00:db8:1::1/64" in d.sh("ip -6 -o addr show dev berth0").stdout
        ok(d.docker("exec", b, "ping", "-6", "-c1", "-W3", "fd00:db8:1::2"))
        out = ok(d.docker("exec", a, "ip", "-6", "route", "show", "default"))
        assert "via fd00:db8:1::1 dev eth0" in out
    finally:
        d.docker("rm", "-f", a, b)
    # without the option again: the default bridge has no IPv6
    d.stop()
    d.start()
    br = json.loads(ok(d.docker("network", "inspect", "bridge")))[0]
    assert br["EnableIPv6"] is False and len(br["IPAM"]["Config"]) == 1
    c = d.name("c")
    ok(d.docker("run", "-d", "--name", c, TAG, "sleep", "300"))
    try:
        assert inspect(d, c)["NetworkSettings"]["GlobalIPv6Address"] == ""
    finally:
        ok(d.docker("rm", "-f", c))


def test_daemon_ipv6_options_refused(tmp_path):
    """--ipv6 without a subnet, --fixed-cidr-v6 alone or not IPv6: berthd says why and exits."""
    import subprocess
    from netns_berthd import _engine  # the engine tests' berthd path
    for args, want in ((["--ipv6"], "needs --fixed-cidr-v6"),
                       (["--fixed-cidr-v6", "fd00::/64"], "needs --ipv6"),
                       (["--ipv6", "--fixed-cidr-v6", "10.0.0.0/8"], "an IPv6 subnet")):
        p = subprocess.run(["unshare", "-n", _engine.BERTHD, "--data-root", str(tmp_path / "d"),
                            "-H", f"unix://{tmp_path}/s.sock", *args],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and want in p.stderr, (args, p.stderr)


def test_ipv6_connect_and_kill9(net_factory):
    """A running container connected to an IPv6 network gets its address there (no second
    default route); after a kill -9 of berthd the IPv6 addresses and the [::] port stay, and an
    address is not handed out twice."""
    d = net_factory()
    n6, web, c = d.name("k6"), d.name("web"), d.name("c")
    ok(d.docker("network", "create", "--ipv6", "--subnet", "10.94.0.0/24", "--subnet",
                "fd00:94::/64", n6))
    ok(d.sh("ip addr add fd00:1235::1/128 dev lo nodad"))
    try:
        ok(d.docker("run", "-d", "--name", web, "--network", n6, "-p", "18092:80", TAG, "httpd",
                    "-f", "-p", "80", "-h", "/etc"))
        ok(d.docker("run", "-d", "--name", c, TAG, "sleep", "300"))
        ok(d.docker("network", "connect", n6, c))
        ec = inspect(d, c)["NetworkSettings"]["Networks"][n6]
        assert ec["GlobalIPv6Address"] == "fd00:94::3"
        assert "fd00:94::3/64" in ok(d.docker("exec", c, "ip", "-6", "-o", "addr"))
        assert "default" not in ok(d.docker("exec", c, "ip", "-6", "route"))
        ok(d.docker("exec", c, "ping", "-6", "-c1", "-W3", web))

        d.kill9()
        d.start()
        assert inspect(d, web)["NetworkSettings"]["Networks"][n6]["GlobalIPv6Address"] == \
            "fd00:94::2"
        got = ""
        for _ in range(30):
            got = d.sh("timeout 3 busybox wget -qO- http://[fd00:1235::1]:18092/group").stdout
            if got:
                break
        assert got.startswith("root:x:0:")
        x = d.name("x")
        ok(d.docker("run", "-d", "--name", x, "--network", n6, TAG, "sleep", "300"))
        assert inspect(d, x)["NetworkSettings"]["Networks"][n6]["GlobalIPv6Address"] not in (
            "fd00:94::2", "fd00:94::3")
        ok(d.docker("network", "disconnect", n6, c))
        assert "fd00:94" not in ok(d.docker("exec", c, "ip", "-6", "-o", "addr"))
        ok(d.docker("rm", "-f", x))
    finally:
        d.docker("rm", "-f", web, c)
        d.sh("ip addr del fd00:1235::1/128 dev lo")
        ok(d.docker("network", "rm", n6))
