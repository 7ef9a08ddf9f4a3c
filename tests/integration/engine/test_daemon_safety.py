"""The daemon survives what real clients do to it: repeated exports and every other streaming
endpoint leave its fd table as it was (0, 1 and 2 never closed, nothing leaked)."""
import os
import time

import pytest

from berthtest import TAG


def _fds(d):
    return {int(n) for n in os.listdir(f"/proc/{d.proc.pid}/fd")}


def _settled(d, baseline, what, timeout=15):
    """Wait until the daemon's stream threads are done: its fd table is back to at most the
    baseline's size, with 0, 1 and 2 still open."""
    end = time.time() + timeout
    while True:
        assert d.proc.poll() is None, f"berthd died during {what}: {d.log()}"
        fds = _fds(d)
        assert {0, 1, 2} <= fds, f"berthd closed a standard fd during {what}: {sorted(fds)}"
        if len(fds) <= len(baseline):
            return
        if time.time() > end:
            pytest.fail(f"berthd's fds grew during {what}: {sorted(baseline)} -> {sorted(fds)}")
        time.sleep(0.1)


def test_streaming_endpoints_keep_the_fd_table(berthd_factory, tmp_path):
    d = berthd_factory()
    cid = d.docker("create", "--network", "none", TAG, "true", check=True).stdout.strip()
    run = d.name("fds")
    d.docker("run", "-d", "--name", run, "--network", "none", TAG, "sh", "-c",
             "echo hello; exec sleep 1000", check=True)
    try:
        time.sleep(0.3)
        baseline = _fds(d)
        assert {0, 1, 2} <= baseline
        for i in range(20):
            r = d.docker("export", cid, input=b"")
            assert r.returncode == 0 and len(r.stdout) > 100000, f"export #{i}: {r.stderr}"
            assert d.proc.poll() is None, f"berthd died after export #{i + 1}: {d.log()}"
        _settled(d, baseline, "exports")

        for i in range(20):
            r = d.docker("save", TAG, input=b"")
            assert r.returncode == 0 and len(r.stdout) > 100000, r.stderr
        _settled(d, baseline, "saves")

        # the SDK keeps its connections open: each phase closes its client before the count
        client = d.sdk()
        c = client.containers.get(run)
        for i in range(20):
            stream = c.logs(stream=True, follow=True)
            assert next(stream).strip() == b"hello"
            stream.close()
        client.close()
        _settled(d, baseline, "logs --follow")

        client = d.sdk()
        c = client.containers.get(run)

        for i in range(20):
            stream = c.stats(stream=True, decode=True)
            assert "memory_stats" in next(stream)
            stream.close()
        client.close()
        _settled(d, baseline, "stats streams")

        client = d.sdk()

        for i in range(20):
            since = time.time()
            d.docker("pause", run, check=True)
            d.docker("unpause", run, check=True)
            ev = client.events(since=since, decode=True, filters={"container": run})
            assert next(ev)["status"] == "pause"
            ev.close()
        client.close()
        _settled(d, baseline, "events")

        for i in range(20):
            dest = tmp_path / f"cp{i}"
            r = d.docker("cp", f"{run}:/etc/passwd", str(dest))
            assert r.returncode == 0, r.stderr
            assert "root" in dest.read_text()
        _settled(d, baseline, "cp out")

        client = d.sdk()
        c = client.containers.get(run)
        for i in range(20):
            bits, st = c.get_archive("/bin")
            assert st["name"] == "bin"
            assert sum(len(b) for b in bits) > 10000
        client.close()
        _settled(d, baseline, "get archive")
    finally:
        d.docker("rm", "-f", cid, run)
