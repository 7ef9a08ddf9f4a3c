"""State.Health survives a kill -9 of berthd: the re-adopted container comes back with the same
status, streak and probe log, and its probes go on (it turns unhealthy once they fail)."""
import json
import os
import re
import time

from berthtest import TAG


def _health(d, name):
    r = d.docker("inspect", "-f", "{{json .State.Health}}", name)
    assert r.returncode == 0, r.stderr + d.log()
    return json.loads(r.stdout)


def _wait(d, name, cond, what, timeout=60):
    end = time.time() + timeout
    h = None
    while time.time() < end:
        h = _health(d, name)
        if h and cond(h):
            return h
        time.sleep(0.2)
    raise AssertionError(f"{name}: {what} never came: {h} {d.log()}")


def test_health_survives_kill9(berthd_factory):
    d = berthd_factory()
    name = d.name("hr")
    r = d.docker("run", "-d", "--name", name, "--network=none",
                 "--health-cmd", "test -e /tmp/ok && echo fine", "--health-interval", "1s",
                 "--health-retries", "2", TAG, "sh", "-c", "touch /tmp/ok; exec sleep 600")
    assert r.returncode == 0, r.stderr + d.log()
    try:
        before = _wait(d, name, lambda h: h["Status"] == "healthy" and len(h["Log"]) >= 3,
                       "healthy with 3 probes")
        # the SDK sees the same
        assert d.sdk().containers.get(name).attrs["State"]["Health"]["Status"] == "healthy"
        pid = d.sdk().containers.get(name).attrs["State"]["Pid"]
        before = _health(d, name)
        d.kill9()
        d.start()
        after = _health(d, name)
        # the same entries (one more probe may have ended between that inspect and the kill,
        # pushing the oldest out)
        assert before["Log"][1:] == after["Log"][:len(before["Log"]) - 1] or \
            before["Log"][1:] == after["Log"][1:len(before["Log"])], (before, after)
        st = d.sdk().containers.get(name).attrs["State"]
        assert st["Running"] and st["Pid"] == pid, st
        assert after["Status"] == "healthy", after
        assert after["FailingStreak"] == 0
        assert len(after["Log"]) >= 3, after
        for e in after["Log"]:
            assert e["ExitCode"] == 0 and e["Output"] == "fine\n", e
            # Go's RFC3339Nano, as docker marshals the times: no trailing zeros
            for t in (e["Start"], e["End"]):
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z", t), t
        assert "(healthy)" in d.docker("ps", "--filter", f"name={name}",
                                       "--format", "{{.Status}}").stdout
        assert d.docker("ps", "-q", "--filter", "health=healthy",
                        "--filter", f"name={name}").stdout.strip()

        # the probes resume: new entries after the restored ones, which keep their order
        last = after["Log"][-1]["Start"]
        later = _wait(d, name, lambda h: h["Log"][-1]["Start"] > last, "a new probe")
        restored = [e for e in later["Log"] if e["Start"] <= last]
        assert restored == after["Log"][len(after["Log"]) - len(restored):]

        # and they count: failing probes turn it unhealthy
        assert d.docker("exec", name, "rm", "/tmp/ok").returncode == 0
        bad = _wait(d, name, lambda h: h["Status"] == "unhealthy", "unhealthy")
        assert bad["FailingStreak"] >= 2 and bad["Log"][-1]["ExitCode"] == 1, bad

        # unhealthy survives a restart as well
        d.kill9()
        d.start()
        h = _health(d, name)
        assert h["Status"] == "unhealthy" and h["FailingStreak"] >= 2, h
        assert d.docker("exec", name, "touch", "/tmp/ok").returncode == 0
        _wait(d, name, lambda h: h["Status"] == "healthy", "healthy again")
    finally:
        d.docker("rm", "-f", name)


def test_health_starting_restart_runs_probes(berthd_factory):
    """A daemon restarted while the container is still `starting` probes it afterwards."""
    d = berthd_factory()
    name = d.name("hs")
    r = d.docker("run", "-d", "--name", name, "--network=none", "--health-cmd", "true",
                 "--health-interval", "2s", TAG, "sleep", "600")
    assert r.returncode == 0, r.stderr + d.log()
    try:
        h = _health(d, name)
        assert h["Status"] == "starting" and h["Log"] == [], h
        d.kill9()
        d.start()
        assert _health(d, name)["Status"] == "starting"
        _wait(d, name, lambda h: h["Status"] == "healthy", "healthy after restart")
        assert os.path.exists(os.path.join(d.data_root, "berth.db"))
    finally:
        d.docker("rm", "-f", name)
