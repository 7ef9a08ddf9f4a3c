"""IPv6 on user networks, against a berthd in a network namespace of its own (netns_berthd.py):
`network create --ipv6 --subnet fd00:…/64` gives the bridge its IPv6 gateway, each container an
address from IPAM and a default route, inspect shows them as dockerd does, containers reach each
other over IPv6 and resolve each other's names to AAAA records, and berth's `ip6 berth` table
masquerades what leaves the subnet. What is not implemented stays refused."""
import hashlib
import ipaddress
import itertools
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
        # /etc/hosts names the container by both addresses (as dockerd does), after docker's
        # default block with its ip6 names
        hid = inspect(netd, a)["Config"]["Hostname"]
        hosts = ok(netd.docker("exec", a, "cat", "/etc/hosts")).splitlines()
        assert hosts[:6] == ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                             "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix",
                             "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]
        assert hosts[6:] == [f"10.96.0.2\t{hid}", f"fd00:96::2\t{hid}"]
        hosts = ok(netd.docker("exec", b, "cat", "/etc/hosts")).splitlines()
        assert hosts[-1].startswith("fd00:96::99\t") and hosts[-2].startswith("10.96.0.3\t")
        # the container's own name resolves to its IPv6 address through /etc/hosts
        out = ok(netd.docker("exec", a, "ping", "-6", "-c1", "-W3", hid))
        assert "fd00:96::2" in out
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


def test_ipv6_published_on_one_host_address(netd):
    """-p [fd00:…]:p:c (the docker CLI sends HostIp without the brackets) and -p [::]:p:c on an
    IPv6 network: reserved on that address only, DNAT'd by `ip6 berth` to the container's IPv6
    address, reached from the namespace's host side; other addresses of the host do not answer
    on that port."""
    n6, web, web2 = netd.name("ov6"), netd.name("web"), netd.name("web2")
    ok(netd.docker("network", "create", "--ipv6", "--subnet", "10.93.0.0/24", "--subnet",
                   "fd00:93::/64", n6))
    ok(netd.sh("ip addr add fd00:1236::1/128 dev lo nodad; "
               "ip addr add fd00:1236::2/128 dev lo nodad"))
    try:
        ok(netd.docker("run", "-d", "--name", web, "--network", n6, "-p",
                       "[fd00:1236::1]:18093:80", "-p", "[::]:18094:80/tcp", TAG, "httpd", "-f",
                       "-p", "80", "-h", "/etc"))
        ports = inspect(netd, web)["NetworkSettings"]["Ports"]["80/tcp"]
        assert sorted((p["HostIp"], p["HostPort"]) for p in ports) == [
            ("::", "18094"), ("fd00:1236::1", "18093")]
        assert sorted(ok(netd.docker("port", web, "80")).splitlines()) == [
            "[::]:18094", "[fd00:1236::1]:18093"]
        got = ""
        for _ in range(30):
            got = netd.sh("timeout 3 busybox wget -qO- http://[fd00:1236::1]:18093/group").stdout
            if got:
                break
        assert got.startswith("root:x:0:")
        # [::] is every IPv6 address of the host, and no IPv4 one
        got = netd.sh("timeout 3 busybox wget -qO- http://[fd00:1236::2]:18094/group").stdout
        assert got.startswith("root:x:0:")
        assert netd.sh("timeout 3 busybox wget -qO- http://[fd00:1236::2]:18093/group"
                       ).returncode != 0
        assert netd.sh("timeout 3 busybox wget -qO- http://127.0.0.1:18094/group"
                       ).returncode != 0
        rules = netd.sh("nft list table ip6 berth").stdout
        assert "fd00:1236::1 . 18093 : fd00:93::2 . 80" in rules
        assert "18094 : fd00:93::2 . 80" in rules
        v4 = netd.sh("nft list table ip berth").stdout
        assert "18093" not in v4 and "18094" not in v4
        # the address and port are held: a second container cannot take them
        r = netd.docker("run", "--rm", "--network", n6, "-p", "[fd00:1236::1]:18093:80", TAG,
                        "true")
        assert r.returncode != 0 and "port is already allocated" in r.stderr
        # the python SDK's spelling of the same binding
        c = netd.sdk().containers.run(TAG, ["httpd", "-f", "-p", "80", "-h", "/etc"],
                                      name=web2, network=n6, detach=True,
                                      ports={"80/tcp": ("fd00:1236::2", 18095)})
        c.reload()
        assert c.attrs["NetworkSettings"]["Ports"]["80/tcp"] == [
            {"HostIp": "fd00:1236::2", "HostPort": "18095"}]
        got = ""
        for _ in range(30):
            got = netd.sh("timeout 3 busybox wget -qO- http://[fd00:1236::2]:18095/group").stdout
            if got:
                break
        assert got.startswith("root:x:0:")
    finally:
        netd.docker("rm", "-f", web, web2)
        netd.sh("ip addr del fd00:1236::1/128 dev lo; ip addr del fd00:1236::2/128 dev lo")
        ok(netd.docker("network", "rm", n6))
    assert "18093" not in netd.sh("nft list table ip6 berth").stdout


def ula48(engine_id):
    """dockerd's IPv6 pool for an engine ID (deriveULABaseNetwork): fd + the 40 low bits of the
    first 8 bytes of sha256(id), a /48."""
    gid = int.from_bytes(hashlib.sha256(engine_id.encode()).digest()[:8], "big") & (2**40 - 1)
    return ipaddress.IPv6Network(((0xfd << 120) | (gid << 80), 48))


def subnet64(pool, i):
    return str(list(itertools.islice(pool.subnets(new_prefix=64), i + 1))[i])


def ipam6(d, net):
    cfg = json.loads(ok(d.docker("network", "inspect", net)))[0]["IPAM"]["Config"]
    return [c for c in cfg if ":" in c["Subnet"]]


def test_ipv6_default_pool(net_factory):
    """network create --ipv6 without a subnet (dockerd >= 27): a /64 of a ULA /48 derived from
    the engine ID, the first that no network (nor a host route) uses; kept in the db across a
    restart, never handed out twice."""
    d = net_factory()
    pool = ula48(ok(d.docker("info", "--format", "{{.ID}}")))
    a, b, c, e, x = (d.name(p) for p in ("a", "b", "c", "e", "x"))
    ok(d.docker("network", "create", "--ipv6", a))
    assert ipam6(d, a) == [{"Subnet": subnet64(pool, 0),
                            "Gateway": str(pool.network_address + 1)}]
    # one given explicitly is skipped by the next pick
    ok(d.docker("network", "create", "--ipv6", "--subnet", subnet64(pool, 1), c))
    ok(d.docker("network", "create", "--ipv6", b))
    assert ipam6(d, b)[0]["Subnet"] == subnet64(pool, 2)
    # a route of the host over the next one: skipped too
    third = ipaddress.IPv6Network(subnet64(pool, 3))
    ok(d.sh(f"ip -6 route add {third} dev lo"))
    try:
        ok(d.docker("network", "create", "--ipv6", e))
        assert ipam6(d, e)[0]["Subnet"] == subnet64(pool, 4)
    finally:
        d.sh(f"ip -6 route del {third} dev lo")
    try:
        ok(d.docker("run", "-d", "--name", x, "--network", a, TAG, "sleep", "300"))
        ea = inspect(d, x)["NetworkSettings"]["Networks"][a]
        assert ea["GlobalIPv6Address"] == str(pool.network_address + 2)
        assert ea["IPv6Gateway"] == str(pool.network_address + 1)
        ok(d.docker("exec", x, "ping", "-6", "-c1", "-W3", str(pool.network_address + 1)))
        # the same subnets after a restart (the db), and the next pick goes on past them
        d.stop()
        d.start()
        assert ipam6(d, a)[0]["Subnet"] == subnet64(pool, 0)
        assert ipam6(d, b)[0]["Subnet"] == subnet64(pool, 2)
        assert ok(d.docker("info", "--format", "{{.ID}}")) and ula48(
            ok(d.docker("info", "--format", "{{.ID}}"))) == pool
        f = d.name("f")
        ok(d.docker("network", "create", "--ipv6", f))
        assert ipam6(d, f)[0]["Subnet"] == subnet64(pool, 3)
        # a removed network's subnet is free again
        ok(d.docker("network", "rm", f, b))
        ok(d.docker("network", "create", "--ipv6", f))
        assert ipam6(d, f)[0]["Subnet"] == subnet64(pool, 2)
    finally:
        d.docker("rm", "-f", x)


def test_default_address_pools_option(net_factory):
    """berthd --default-address-pool base=CIDR,size=N (dockerd's option): IPv6 pools replace the
    ULA one, IPv4 pools docker's built-in list; --ipv6 without --fixed-cidr-v6 gives the default
    bridge the first IPv6 subnet, kept across restarts."""
    args = ["--default-address-pool", "base=fd00:ab::/56,size=64",
            "--default-address-pool", "size=24,base=10.123.0.0/16", "--ipv6"]
    d = net_factory(args=args)
    assert ipam6(d, "bridge") == [{"Subnet": "fd00:ab::/64", "Gateway": "fd00:ab::1"}]
    n = d.name("p")
    ok(d.docker("network", "create", "--ipv6", n))
    cfg = json.loads(ok(d.docker("network", "inspect", n)))[0]["IPAM"]["Config"]
    assert cfg == [{"Subnet": "10.123.0.0/24", "Gateway": "10.123.0.1"},
                   {"Subnet": "fd00:ab:0:1::/64", "Gateway": "fd00:ab:0:1::1"}]
    c = d.name("c")
    ok(d.docker("run", "-d", "--name", c, TAG, "sleep", "300"))
    try:
        assert inspect(d, c)["NetworkSettings"]["GlobalIPv6Address"] == "fd00:ab::2"
        assert "fd00:ab::1/64" in d.sh("ip -6 -o addr show dev berth0").stdout
    finally:
        ok(d.docker("rm", "-f", c))
    # restarted with the ULA pool only: the bridge keeps the subnet it was given
    d.stop()
    d.start("--ipv6")
    assert ipam6(d, "bridge") == [{"Subnet": "fd00:ab::/64", "Gateway": "fd00:ab::1"}]
    ok(d.docker("network", "rm", n))


def test_ipv6_refused_clearly(netd):
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
        # ::1 cannot be DNAT'd (the kernel drops the reply arriving on the bridge) and berth
        # has no userland proxy: refused, as are link-local addresses
        r = netd.docker("run", "--rm", "--network", n, "-p", "[::1]:18081:80", TAG, "true")
        assert r.returncode != 0 and "IPv6 loopback" in r.stderr and "127.0.0.1" in r.stderr
        r = netd.docker("run", "--rm", "--network", n, "-p", "[fe80::1]:18081:80", TAG, "true")
        assert r.returncode != 0 and "link-local" in r.stderr
        # an IPv6 host address needs the container's network to have IPv6
        r = netd.docker("run", "--rm", "-p", "[fd00:99::5]:18081:80", TAG, "true")
        assert r.returncode != 0 and "needs an IPv6 network" in r.stderr
        assert netd.docker("ps", "-aq", "--filter", "status=running").stdout.strip() == ""
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
    """--fixed-cidr-v6 alone or not IPv6, bad address pools: berthd says why and exits."""
    import subprocess
    from netns_berthd import _engine  # the engine tests' berthd path
    for args, want in ((["--fixed-cidr-v6", "fd00::/64"], "needs --ipv6"),
                       (["--ipv6", "--fixed-cidr-v6", "10.0.0.0/8"], "an IPv6 subnet"),
                       (["--default-address-pool", "base=fd00::/56"], "base=CIDR and size=N"),
                       (["--default-address-pool", "base=fd00::/56,size=127"], "at most /126"),
                       (["--default-address-pool", "base=fd00::1/56,size=64"], "host bits"),
                       (["--default-address-pool", "base=10.0.0.0/8,size=4"], "not between"),
                       (["--default-address-pool", "bass=fd00::/56,size=64"], "unexpected")):
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
