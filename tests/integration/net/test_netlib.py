"""src/net end to end, without the daemon: pinned namespaces, a bridge and veth endpoints made by
the library (through tests/helpers/net-tool), checked with real traffic (busybox ping) inside a
throwaway host network namespace (see conftest.py)."""
import os

from berthtest import BUILD  # noqa: F401 (the build the tool comes from)


def _mounts_under(d):
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f if line.split()[4].startswith(d + "/"))


def _setup_two(netenv, bridge="br-test1", subnet="10.123.0"):
    netenv.tool("bridge", bridge, f"{subnet}.1/24")
    ends = {}
    for name, last in (("a", 2), ("b", 3)):
        netenv.tool("netns", netenv.path(name))
        out = netenv.tool("endpoint", netenv.path(name), bridge, f"{subnet}.{last}/24",
                          f"{subnet}.1").stdout.split()
        assert len(out) == 1 and out[0].startswith("bv"), out
        ends[name] = out[0]
    return ends


def _teardown_two(netenv, ends, bridge="br-test1"):
    for name, host_end in ends.items():
        netenv.tool("endpoint-rm", host_end)
        netenv.tool("endpoint-rm", host_end)  # missing is fine
        netenv.tool("netns-rm", netenv.path(name))
        netenv.tool("netns-rm", netenv.path(name))
    netenv.tool("bridge-rm", bridge)
    netenv.tool("bridge-rm", bridge)


def test_ping_across_the_bridge(netenv):
    ends = _setup_two(netenv)
    a, b = netenv.path("a"), netenv.path("b")
    # container to container over the bridge, both ways
    p = netenv.ping("10.123.0.3", netns=a)
    assert p.returncode == 0 and "1 packets received" in p.stdout, p.stdout + p.stderr
    p = netenv.ping("10.123.0.2", netns=b)
    assert p.returncode == 0, p.stdout + p.stderr
    # container to its gateway, and the bridge's host side to a container
    assert netenv.ping("10.123.0.1", netns=a).returncode == 0
    p = netenv.ping("10.123.0.3")
    assert p.returncode == 0, p.stdout + p.stderr
    # docker's MAC from the address, eth0 and lo up, the default route via the gateway
    link = netenv.run("busybox", "ip", "link", "show", "eth0", netns=a).stdout
    assert "02:42:0a:7b:00:02" in link and "UP" in link, link
    route = netenv.run("busybox", "ip", "route", netns=b).stdout
    assert "default via 10.123.0.1 dev eth0" in route, route
    assert netenv.ping("127.0.0.1", netns=b).returncode == 0
    # the host ends are what the library lists, and what it removes
    assert sorted(netenv.links("bv")) == sorted(ends.values())
    _teardown_two(netenv, ends)
    assert netenv.links("bv") == []
    assert netenv.links("br-") == []
    assert _mounts_under(netenv.dir) == [netenv.host]
    assert os.listdir(netenv.dir) == ["host"]


def test_traffic_stops_when_endpoint_removed(netenv):
    ends = _setup_two(netenv)
    a = netenv.path("a")
    assert netenv.ping("10.123.0.3", netns=a).returncode == 0
    netenv.tool("endpoint-rm", ends["b"])
    assert netenv.ping("10.123.0.3", netns=a).returncode != 0
    # b's namespace lost its eth0 with the pair; a new endpoint brings it back
    assert netenv.run("busybox", "ip", "link", "show", "eth0", netns=netenv.path("b"),
                      check=False).returncode != 0
    ends["b"] = netenv.tool("endpoint", netenv.path("b"), "br-test1", "10.123.0.3/24",
                            "10.123.0.1", "bvtestb").stdout.strip()
    assert ends["b"] == "bvtestb"
    assert netenv.ping("10.123.0.3", netns=a).returncode == 0
    _teardown_two(netenv, ends)
    assert netenv.links("bv") == [] and netenv.links("br-") == []
    assert _mounts_under(netenv.dir) == [netenv.host]


def test_idempotent_and_errors(netenv):
    netenv.tool("bridge", "br-test2", "10.124.0.1/24")
    netenv.tool("bridge", "br-test2", "10.124.0.1/24")
    addrs = netenv.run("busybox", "ip", "-4", "addr", "show", "br-test2").stdout
    assert addrs.count("inet 10.124.0.1/24") == 1, addrs
    assert netenv.run("cat", "/proc/sys/net/ipv4/conf/br-test2/route_localnet").stdout == "1\n"
    assert netenv.run("cat", "/proc/sys/net/ipv4/ip_forward").stdout == "1\n"

    ns = netenv.path("c")
    netenv.tool("netns", ns)
    p = netenv.tool("netns", ns, check=False)
    assert p.returncode == 1 and f"netns `{ns}` already exists" in p.stderr, p.stderr
    # the kernel's extended ack reaches the message, and the failed endpoint is rolled back
    p = netenv.tool("endpoint", ns, "br-test2", "10.124.0.5/24", "10.200.0.1", "bvtestc",
                    check=False)
    assert p.returncode == 1, p.stdout
    assert "endpoint `bvtestc`" in p.stderr and "default route" in p.stderr, p.stderr
    assert "(nexthop has invalid gateway)" in p.stderr.lower(), p.stderr
    assert netenv.links("bv") == []
    p = netenv.tool("endpoint", ns, "br-none", "10.124.0.5/24", check=False)
    assert p.returncode == 1 and "bridge `br-none` not found" in p.stderr, p.stderr
    p = netenv.tool("endpoint", ns, "br-test2", "10.124.0.300/24", check=False)
    assert p.returncode == 1 and "invalid address `10.124.0.300/24`" in p.stderr, p.stderr
    p = netenv.tool("bridge", "lo", "10.125.0.1/24", check=False)
    assert p.returncode == 1 and "bridge `lo`" in p.stderr, p.stderr
    # an endpoint without a gateway: no default route, address still there
    host = netenv.tool("endpoint", ns, "br-test2", "10.124.0.6/24", "-").stdout.strip()
    assert "default" not in netenv.run("busybox", "ip", "route", netns=ns).stdout
    assert netenv.ping("10.124.0.6").returncode == 0
    netenv.tool("endpoint-rm", host)
    netenv.tool("netns-rm", ns)
    netenv.tool("bridge-rm", "br-test2")
    assert netenv.links("bv") == [] and netenv.links("br-") == []
    assert _mounts_under(netenv.dir) == [netenv.host]


def test_ipam_skips_host_routes(netenv):
    # the throwaway host has no routes yet: docker's first pool
    assert netenv.tool("pick-subnet").stdout.strip() == "172.17.0.0/16"
    # a bridge on 172.17.0.0/16 puts a route there; a used 172.18.0.0/16 is skipped as well
    netenv.tool("bridge", "br-test3", "172.17.0.1/16")
    assert netenv.tool("pick-subnet").stdout.strip() == "172.18.0.0/16"
    assert netenv.tool("pick-subnet", "172.18.0.0/16").stdout.strip() == "172.19.0.0/16"
    netenv.tool("bridge-rm", "br-test3")
    assert netenv.tool("pick-subnet").stdout.strip() == "172.17.0.0/16"
    p = netenv.tool("pick-subnet", "172.16.0.0/12", "192.168.0.0/16", check=False)
    assert p.returncode == 1
    assert "all predefined address pools have been fully subnetted" in p.stderr
    # round robin with wrap and exhaustion
    assert netenv.tool("next-address", "10.9.0.0/30").stdout.strip() == "10.9.0.2/30"
    p = netenv.tool("next-address", "10.9.0.0/30", "-", "10.9.0.2", check=False)
    assert p.returncode == 1
    assert "no available IPv4 addresses on this network's address pools" in p.stderr
