"""Container logs (json-file: tail, since, timestamps, follow) and stats (one-shot values matching
the container's cgroup files) through the docker CLI and the python SDK."""
import os
import subprocess
import time

import pytest

from berthtest import TAG


def _run_d(berthd, *args):
    name = berthd.name()
    r = berthd.docker("run", "-d", "--name", name, *args)
    if r.returncode != 0:
        pytest.fail(f"docker run -d failed: {r.stderr}")
    return name, r.stdout.strip()


def _wait(cond, what, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen")


def test_logs(berthd):
    name, cid = _run_d(berthd, TAG, "sh", "-c",
                       "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done")
    try:
        berthd.docker("wait", name, check=True)
        r = berthd.docker("logs", name, check=True)
        assert r.stdout.split() == [f"out{i}" for i in range(1, 6)]
        assert r.stderr.split() == [f"err{i}" for i in range(1, 6)]
        r = berthd.docker("logs", "--tail", "2", name, check=True)
        assert len(r.stdout.split()) + len(r.stderr.split()) == 2
        r = berthd.docker("logs", "--tail", "0", name, check=True)
        assert r.stdout == "" and r.stderr == ""
        r = berthd.docker("logs", "-t", name, check=True)
        first = r.stdout.splitlines()[0]
        ts, text = first.split(" ", 1)
        assert text == "out1" and ts.endswith("Z") and "T" in ts
        # since: everything is older than now
        r = berthd.docker("logs", "--since", f"{time.time() + 5:.3f}", name, check=True)
        assert r.stdout == "" and r.stderr == ""
        r = berthd.docker("logs", "--until", "1", name, check=True)
        assert r.stdout == ""
        # the SDK: stdout only, demultiplexed
        c = berthd.sdk().containers.get(name)
        assert c.logs(stdout=True, stderr=False).decode().split() == \
            [f"out{i}" for i in range(1, 6)]
        r = berthd.docker("logs", "no-such-container")
        assert r.returncode != 0
    finally:
        berthd.docker("rm", "-f", name)


def test_logs_follow(berthd):
    name, cid = _run_d(berthd, TAG, "sh", "-c",
                       "echo start; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo done")
    p = subprocess.Popen(["docker", "logs", "-f", name], env=berthd.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "start\n"
        berthd.docker("exec", name, "touch", "/tmp/go")
        if berthd.docker("exec", name, "true").returncode != 0:
            berthd.docker("kill", name)
        out, _ = p.communicate(timeout=30)
        # follow ended by itself once the container stopped
        assert p.returncode == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        berthd.docker("rm", "-f", name)


def _cgroup_file(pid, controller, name):
    """A cgroup file of the container whose init is pid, found through /proc/<pid>/cgroup
    (v2, or a v1 controller's hierarchy on v1/hybrid hosts)."""
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    if v2:
        base = "/sys/fs/cgroup" + next(p for h, c, p in lines if h == "0")
    else:
        base = f"/sys/fs/cgroup/{controller}" + next(p for h, c, p in lines
                                                      if controller in c.split(","))
    with open(os.path.join(base, name)) as f:
        return f.read().strip()


def test_stats_one_shot_matches_cgroups(berthd):
    name, cid = _run_d(berthd, "--memory", "64m", "--pids-limit", "50", TAG, "sh", "-c",
                       "sleep 1000 & sleep 1000 & wait")
    try:
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        api = berthd.sdk().api
        pid = api.inspect_container(name)["State"]["Pid"]
        _wait(lambda: api.stats(name, stream=False)["pids_stats"].get("current") == 3,
              "three processes")
        # Debian's SDK has no one_shot argument: the same request by hand
        s = api._result(api._get(api._url("/containers/{0}/stats", name),
                                 params={"stream": "false", "one-shot": "true"}), True)
        assert s["id"] == cid and s["name"] == f"/{name}"
        mem = s["memory_stats"]
        assert mem["limit"] == 64 * 1024 * 1024
        limit_file = "memory.max" if v2 else "memory.limit_in_bytes"
        assert int(_cgroup_file(pid, "memory", limit_file)) == mem["limit"]
        assert mem["usage"] > 0
        usage_file = "memory.current" if v2 else "memory.usage_in_bytes"
        # usage moves a little between two reads; it is the same counter
        assert abs(int(_cgroup_file(pid, "memory", usage_file)) - mem["usage"]) < 1024 * 1024
        assert int(_cgroup_file(pid, "pids", "pids.current")) == s["pids_stats"]["current"]
        assert s["pids_stats"]["current"] == 3
        assert s["pids_stats"]["limit"] == 50
        assert int(_cgroup_file(pid, "pids", "pids.max")) == 50
        cpu = s["cpu_stats"]
        assert cpu["online_cpus"] == os.cpu_count()
        assert cpu["system_cpu_usage"] > 0
        assert cpu["cpu_usage"]["total_usage"] > 0
        assert "blkio_stats" in s
        # a second request has the first (or the sampler's) sample as precpu
        s2 = api.stats(name, stream=False)
        assert s2["preread"] != "0001-01-01T00:00:00Z"
        assert s2["precpu_stats"]["system_cpu_usage"] > 0
        # the CLI's --no-stream table
        r = berthd.docker("stats", "--no-stream", "--format",
                          "{{.Name}} {{.MemUsage}} {{.PIDs}}", name, check=True)
        fields = r.stdout.split()
        assert fields[0] == name and fields[-1] == "3"
        assert "64MiB" in r.stdout
        # stream mode: frames a second apart, each with the previous as precpu
        gen = api.stats(name, stream=True, decode=True)
        a = next(gen)
        b = next(gen)
        assert b["preread"] == a["read"]
        gen.close()
    finally:
        berthd.docker("rm", "-f", name)
