"""berthd on SIGTERM: stops serving, removes its socket, exits 0 within seconds (also with a client
still following events), leaves its containers running for the next daemon, and (sanitized
build) exits without a LeakSanitizer/ASan/UBSan report: Berthd.stop checks that."""
import os
import subprocess
import time

from berthtest import TAG, poll, settled


def test_sigterm_exits_cleanly_and_containers_survive(berthd_factory):
    d = berthd_factory()
    name = d.name("shut")
    d.docker("run", "-d", "--name", name, TAG, "sleep", "300", check=True)
    try:
        d.docker("inspect", name, check=True)
        d.docker("ps", "-a", check=True)
        r = d.docker("exec", name, "echo", "hi", check=True)
        assert r.stdout.strip() == "hi"
        proc = d.proc
        start = time.monotonic()
        d.stop()  # SIGTERM; fails here on a sanitizer report
        assert proc.returncode == 0, d.log()
        assert time.monotonic() - start < 10
        assert not os.path.exists(d.sock)
        d.start()
        r = d.docker("inspect", "-f", "{{.State.Running}}", name, check=True)
        assert r.stdout.strip() == "true"
    finally:
        d.docker("rm", "-f", name)


def test_sigterm_with_a_client_following_events(berthd_factory):
    d = berthd_factory(load=False)
    tasks = lambda: len(os.listdir(f"/proc/{d.proc.pid}/task"))  # noqa: E731
    base = settled(tasks, "berthd's thread count")
    follow = subprocess.Popen(["docker", "events"], env=d.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        # the stream is open: its connection's thread runs in berthd
        poll(lambda: tasks() > base or follow.poll() is not None, "docker events connected")
        assert follow.poll() is None
        proc = d.proc
        start = time.monotonic()
        d.stop()
        assert proc.returncode == 0, d.log()
        assert time.monotonic() - start < 10
        # the daemon's end closes the stream
        follow.wait(10)
    finally:
        if follow.poll() is None:
            follow.kill()
        follow.wait()
