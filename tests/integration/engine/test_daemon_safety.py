"""The daemon survives what real clients do to it: repeated exports and every other streaming
endpoint leave its fd table as it was (0, 1 and 2 never closed, nothing leaked)."""
import os
import subprocess
import time

import pytest

from berthtest import BUILD, TAG, settled

BERTHD = os.environ.get("BERTHD") or os.path.join(BUILD, "cmd", "berthd")


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
        end = time.time() + 30  # the container up and its first output logged
        while "hello" not in d.docker("logs", run).stdout and time.time() < end:
            time.sleep(0.05)
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


def _second_daemon(data_root, sock):
    """Start a berthd expected to exit at once; one still running after 10 s is killed and
    reported as exit code None."""
    p = subprocess.Popen([BERTHD, "--data-root", data_root, "-H", f"unix://{sock}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    try:
        out, err = p.communicate(timeout=10)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)
    except subprocess.TimeoutExpired:
        p.terminate()
        out, err = p.communicate()
        return subprocess.CompletedProcess(p.args, None, out, err)


def test_second_daemon_on_the_same_data_root_is_refused(berthd_factory, tmp_path):
    d = berthd_factory(load=False)
    other = str(tmp_path / "other.sock")
    r = _second_daemon(d.data_root, other)
    assert r.returncode not in (0, None), f"a second berthd ran on {d.data_root}: {r.stderr}"
    assert f"pid {d.proc.pid}" in r.stderr and "data root" in r.stderr, r.stderr
    assert not os.path.exists(other)
    # the first one is untouched and still serving
    assert d.proc.poll() is None
    assert d.docker("version").returncode == 0
    # its lock goes with it: a daemon started after it stopped runs
    d.restart()
    assert d.docker("version").returncode == 0


def test_second_daemon_on_the_same_socket_is_refused(berthd_factory, tmp_path):
    d = berthd_factory(load=False)
    ino = os.stat(d.sock).st_ino
    r = _second_daemon(str(tmp_path / "data"), d.sock)
    assert r.returncode not in (0, None), f"a second berthd took {d.sock}: {r.stderr}"
    assert f"pid {d.proc.pid}" in r.stderr and d.sock in r.stderr, r.stderr
    assert os.stat(d.sock).st_ino == ino
    assert d.docker("version").returncode == 0


def test_stopping_a_daemon_leaves_a_newer_daemons_socket(berthd_factory, tmp_path):
    d = berthd_factory(load=False)
    # the socket file went away (removed by hand) and a newer daemon bound that path since
    os.unlink(d.sock)
    newer = subprocess.Popen([BERTHD, "--data-root", str(tmp_path / "data"), "-H",
                              f"unix://{d.sock}"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        end = time.time() + 30
        while not os.path.exists(d.sock):
            assert newer.poll() is None and time.time() < end, "the newer berthd did not start"
            time.sleep(0.05)
        ino = os.stat(d.sock).st_ino
        d.stop()
        assert os.path.exists(d.sock) and os.stat(d.sock).st_ino == ino, \
            "stopping the older berthd removed the newer one's socket"
        assert d.docker("version").returncode == 0
    finally:
        newer.terminate()
        newer.wait(20)
    assert not os.path.exists(d.sock), "the newer berthd left its own socket behind"


def _pids_cgroup_of(pid):
    """(hierarchy mount, cgroup path) of pid's pids controller, v1 or v2."""
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if (v2 and ctrls == "") or (not v2 and "pids" in ctrls.split(",")):
                return ("/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/pids"), path
    pytest.skip("no pids cgroup controller")


def test_out_of_threads_fails_the_request_not_the_daemon(berthd_factory):
    """A pids limit reached: a request needing a thread fails with a 500 naming why, berthd
    stays up and serves again once threads are available."""
    import docker
    d = berthd_factory()
    cid = d.docker("create", "--network", "none", TAG, "true", check=True).stdout.strip()
    mnt, orig = _pids_cgroup_of(d.proc.pid)
    if not os.path.exists(os.path.join(mnt, orig.lstrip("/"), "cgroup.procs")):
        pytest.skip("the pids hierarchy is not mounted")
    cg = os.path.join(mnt, f"berth-test-pids-{os.getpid()}-{d.proc.pid}")
    os.mkdir(cg)
    try:
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(d.proc.pid))

        def pids():
            with open(os.path.join(cg, "pids.current")) as f:
                return int(f.read())
        # the threads of earlier connections are gone
        current = settled(pids, "berthd's thread count")
        # room for the connection's own thread only
        with open(os.path.join(cg, "pids.max"), "w") as f:
            f.write(str(current + 1))

        def idle():
            """the previous connection's thread is gone (else the next gets none)"""
            end = time.time() + 10
            while True:
                with open(os.path.join(cg, "pids.current")) as f:
                    if int(f.read()) <= current:
                        return
                assert time.time() < end, "berthd's thread count did not come back"
                time.sleep(0.05)

        for i in range(3):
            idle()
            r = d.docker("export", cid, input=b"")
            assert r.returncode != 0, "export succeeded without a thread for it"
            assert b"cannot start a thread" in r.stderr, r.stderr
            assert d.proc.poll() is None, f"berthd died: {d.log()}"
        idle()
        client = d.sdk()
        # (the SDK's events() turns any error into the end of the stream: look at the reply)
        res = client.api._get(client.api._url("/events"), stream=True)
        assert res.status_code == 500 and "cannot start a thread" in res.json()["message"]
        res.close()
        client.close()
        idle()
        with pytest.raises(docker.errors.APIError) as e:
            d.sdk().images.load(b"x")  # a streamed request body needs a thread too
        assert e.value.status_code == 500
        with open(os.path.join(cg, "pids.max"), "w") as f:
            f.write("max")
        r = d.docker("export", cid, input=b"")
        assert r.returncode == 0 and len(r.stdout) > 100000, r.stderr
    finally:
        with open(os.path.join(mnt, orig.lstrip("/"), "cgroup.procs"), "w") as f:
            f.write(str(d.proc.pid))
        os.rmdir(cg)
        d.docker("rm", "-f", cid)
