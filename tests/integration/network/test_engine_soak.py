"""Soak of the networking start/exit path: many `run --rm -p 80 --network <user network>` at a
time against a berthd in a network namespace of its own, then nothing may be left: no veth, no
published-port element in the `ip berth` table, no endpoint or sandbox row (IPAM), no netns pin
outside the warm pool, no fd more in berthd than before.

The default run is short (SOAK_CYCLES=64 at SOAK_CONCURRENCY=16); tests/soak/network.sh runs it
by hand with 1,000 cycles (too long for the default test command)."""
import concurrent.futures
import os
import sqlite3
import time

from berthtest import TAG
from netns_berthd import net_factory, sanitized_clients_report_nothing  # noqa: F401 fixtures

CYCLES = int(os.environ.get("SOAK_CYCLES", "64"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "16"))


def ok(r):
    assert r.returncode == 0, f"{r.args}: {r.stdout} {r.stderr}"
    return r.stdout.strip()


def pool(d):
    p = os.path.join(d.data_root, "runtime", "netns-pool")
    return os.listdir(p) if os.path.isdir(p) else []


def fds(d):
    return sorted(os.listdir(f"/proc/{d.proc.pid}/fd"))


def rows(d, table):
    db = sqlite3.connect(f"file:{os.path.join(d.data_root, 'berth.db')}?mode=ro", uri=True)
    try:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


def settled(d, want_fds, timeout=30):
    """The state once the reaper and the pool are idle: (veths, pool size, fd count)."""
    end = time.time() + timeout
    while True:
        v, p, f = d.veths(), pool(d), fds(d)
        if (not v and len(p) == 3 and len(f) == want_fds) or time.time() > end:
            return v, p, f
        time.sleep(0.1)


def test_soak_run_rm_published_user_network_leaves_nothing(net_factory):
    d = net_factory()
    n = d.name("soak")
    ok(d.docker("network", "create", n))
    argv = ("run", "--rm", "--network", n, "-p", "80", TAG, "true")
    for _ in range(3):
        ok(d.docker(*argv))
    _, _, before = settled(d, None, timeout=5)
    before_fds = fds(d)
    pins_before = d.pins()

    def one(i):
        r = d.docker(*argv, timeout=300)
        return i, r.returncode, r.stderr

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as ex:
        failed = [(i, rc, err) for i, rc, err in ex.map(one, range(CYCLES)) if rc != 0]
    took = time.time() - t0
    assert not failed, f"{len(failed)} of {CYCLES} runs failed, first: {failed[0]}"

    veths, left_pool, after_fds = settled(d, len(before_fds))
    assert not veths, f"veths left: {veths}"
    assert d.pins() == pins_before == [], f"netns pins left: {d.pins()}"
    assert len(left_pool) == 3, f"warm pool: {left_pool}"
    table = d.sh("nft list table ip berth").stdout
    assert "elements" not in table, f"published ports left in the table: {table}"
    assert rows(d, "endpoints") == 0 and rows(d, "sandboxes") == 0
    assert len(after_fds) == len(before_fds), (
        f"berthd fds: {len(before_fds)} before, {len(after_fds)} after "
        f"({[os.readlink(f'/proc/{d.proc.pid}/fd/{f}') for f in after_fds if f not in before_fds]})")
    assert ok(d.docker("ps", "-aq")) == ""
    ok(d.docker("network", "rm", n))
    print(f"soak: {CYCLES} cycles at concurrency {CONCURRENCY} in {took:.1f} s, nothing left")
