"""The networking part of a container's start and exit kept off the request's path: the warm pool
of network namespaces (made ahead, moved to the container's pin at start, emptied at stop, swept
after a crash), the `ip berth` table left alone by a container that publishes nothing, and the
released endpoints' links deleted behind the request (an address stays taken until its link is
gone). berthd runs in a network namespace of its own (netns_berthd)."""
import json
import os
import re
import time

from berthtest import TAG
from netns_berthd import net_factory, netd, sanitized_clients_report_nothing  # noqa: F401 fixtures


def ok(r):
    assert r.returncode == 0, f"{r.args}: {r.stdout} {r.stderr}"
    return r.stdout.strip()


def pool(d):
    p = os.path.join(d.data_root, "runtime", "netns-pool")
    return sorted(os.listdir(p)) if os.path.isdir(p) else []


def pool_filled(d, n=1, timeout=20):
    end = time.time() + timeout
    while len(pool(d)) < n and time.time() < end:
        time.sleep(0.05)
    return pool(d)


def table_handle(d):
    """The handle of berth's nftables table: a new one each time the table is loaded again."""
    out = d.sh("nft -a list table ip berth").stdout
    m = re.search(r"table ip berth \{ # handle (\d+)", out)
    assert m, out
    return m.group(1)


def test_warm_pool_claimed_by_run_and_made_again(netd):
    before = pool_filled(netd)
    assert before, "berthd keeps network namespaces ready"
    c = netd.name("p")
    ok(netd.docker("run", "-d", "--name", c, TAG, "sleep", "300"))
    try:
        # the container took one of them (its pin is under its own name) and a new one is made
        assert c and len(netd.pins()) == 1
        end = time.time() + 20
        after = pool(netd)
        while (not set(before) - set(after) or len(after) < len(before)) and time.time() < end:
            time.sleep(0.05)
            after = pool(netd)
        assert set(before) - set(after) and len(after) == len(before), (before, after)
        j = json.loads(ok(netd.docker("inspect", c)))[0]["NetworkSettings"]
        assert j["IPAddress"].startswith("172.17.") and j["Gateway"] == "172.17.0.1"
        # the namespace's first endpoint: address, mac, default route, loopback, hairpin port
        out = ok(netd.docker("exec", c, "ip", "-o", "addr", "show", "eth0"))
        assert f"inet {j['IPAddress']}/16" in out
        assert ok(netd.docker("exec", c, "cat", "/sys/class/net/eth0/address")) == j["MacAddress"]
        assert "default via 172.17.0.1 dev eth0" in ok(netd.docker("exec", c, "ip", "route"))
        assert "UP" in ok(netd.docker("exec", c, "ip", "-o", "link", "show", "lo"))
        assert "hairpin on" in netd.sh("ip -d link show master berth0").stdout
        ok(netd.docker("exec", c, "ping", "-c1", "-W3", "172.17.0.1"))
        # --network none takes one too: loopback up, nothing else
        out = ok(netd.docker("run", "--rm", "--network", "none", TAG, "ip", "-o", "link"))
        assert len(out.splitlines()) == 1 and "lo:" in out and "UP" in out
    finally:
        ok(netd.docker("rm", "-f", c))
    assert not netd.veths_settled() and not netd.pins()


def test_warm_pool_emptied_at_stop_and_swept_after_kill9(net_factory):
    d = net_factory()
    assert pool_filled(d, 3)
    d.kill9()
    # what the killed daemon made ready is still pinned: the next start sweeps it
    left = pool(d)
    assert left
    d.start()
    now = pool_filled(d, 3)
    assert not set(left) & set(now), (left, now)
    ok(d.docker("run", "--rm", TAG, "true"))
    d.stop()
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if os.path.join(d.data_root, "runtime") in line]
    assert not pool(d)
    d.start()


def test_rules_kept_for_a_container_without_ports(netd):
    ok(netd.docker("run", "--rm", TAG, "true"))
    h = table_handle(netd)
    ok(netd.docker("run", "--rm", TAG, "true"))
    assert table_handle(netd) == h, "a container publishing nothing loads no new table"
    c = netd.name("r")
    ok(netd.docker("run", "-d", "--name", c, "-p", "8097:80", TAG, "sleep", "300"))
    try:
        h2 = table_handle(netd)
        assert h2 != h and "8097" in netd.sh("nft list table ip berth").stdout
    finally:
        ok(netd.docker("rm", "-f", c))
    assert table_handle(netd) != h2
    assert "8097" not in netd.sh("nft list table ip berth").stdout


def test_released_address_not_reused_while_its_link_lives(netd):
    # a /30 holds one address for containers: each run gets it again once the previous one's
    # link is gone, never while it lives (the reaper deletes it behind the request)
    n = netd.name("n")
    ok(netd.docker("network", "create", "--subnet", "10.123.0.0/30", n))
    try:
        for _ in range(5):
            ok(netd.docker("run", "--rm", "--network", n, TAG, "true"))
        out = ok(netd.docker("run", "--rm", "--network", n, TAG, "ip", "-o", "-4", "addr"))
        assert "10.123.0.2/30" in out
    finally:
        ok(netd.docker("network", "rm", n))
    assert not netd.veths()


def test_sweep_at_start_of_bridges_and_links_left_by_a_crash(net_factory):
    import sqlite3
    d = net_factory()
    n = d.name("n")
    nid = ok(d.docker("network", "create", n))
    bridge = f"br-{nid[:12]}"
    assert f"alias berth {d.data_root}" in d.sh(f"ip -d link show {bridge}").stdout
    ok(d.docker("run", "--rm", TAG, "true"))  # berth0 exists
    d.kill9()
    # what a crash in the middle of `network rm` leaves: the row gone, the bridge still there
    db = sqlite3.connect(os.path.join(d.data_root, "berth.db"))
    db.execute("DELETE FROM networks WHERE id = ?", (nid,))
    db.commit()
    db.close()
    # a host end on berth0 no endpoint owns (its deletion was queued when the daemon died), and
    # links that are not this daemon's: a bridge named like one, a veth on no berth bridge
    d.sh("ip link add bvdead0 type veth peer name bvdead1 && ip link set bvdead0 master berth0")
    d.sh("ip link add br-0123456789ab type bridge && ip link add xv0 type veth peer name xv1")
    try:
        d.start()
        links = d.links()
        assert bridge not in links and "bvdead0" not in links
        assert "br-0123456789ab" in links and "xv0" in links
        assert n not in ok(d.docker("network", "ls"))
        assert "stale bridge" in open(d.log_path).read()
    finally:
        d.sh("ip link del br-0123456789ab; ip link del xv0; ip link del bvdead0")
