"""exec, pause/resume and ps on running containers."""
import json
import os
import time


def start(rt, bundle, script="sleep 100"):
    cid = rt.new_id()
    r = rt("run", "-d", "--bundle", bundle.sh(script).write(), cid)
    assert r.returncode == 0, r.stderr
    return cid, json.loads(rt("state", cid).stdout)["pid"]


def test_exec_joins_every_namespace_and_cgroup(rt, bundle):
    bundle.config["hostname"] = "execbox"
    cid, pid = start(rt, bundle)
    names = ["pid", "mnt", "net", "ipc", "uts", "cgroup"]
    script = "; ".join(f"readlink /proc/self/ns/{n}" for n in names) + "; hostname; cat /proc/self/cgroup | tail -1"
    r = rt("exec", cid, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    for n, got in zip(names, out):
        assert got == os.readlink(f"/proc/{pid}/ns/{n}"), n
    assert out[len(names)] == "execbox"
    # the exec'd process is in the container's cgroup
    with open(f"/proc/{pid}/cgroup") as f:
        init_cg = f.read().splitlines()[-1]
    assert out[-1].split(":")[-1] == init_cg.split(":")[-1] or out[-1].endswith(":/")


def test_exec_exit_code_env_cwd_user(rt, bundle):
    cid, _ = start(rt, bundle)
    assert rt("exec", cid, "sh", "-c", "exit 5").returncode == 5
    r = rt("exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", cid,
           "sh", "-c", "echo $FOO; pwd; id -u; id -g")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["bar", "/tmp", "1000", "1000"]
    r = rt("exec", cid, "/nope")
    assert r.returncode != 0 and 'exec: "/nope"' in r.stderr


def test_exec_process_json(rt, bundle, tmp_path):
    cid, _ = start(rt, bundle)
    proc = {"args": ["sh", "-c", "echo $A; grep CapEff /proc/self/status"], "cwd": "/",
            "env": ["A=from-json", "PATH=/bin"], "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}}
    p = tmp_path / "process.json"
    p.write_text(json.dumps(proc))
    r = rt("exec", "--process", str(p), cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "from-json"
    assert int(lines[1].split()[1], 16) == 1 << 5
    p.write_text('{"args": "sh"}')
    r = rt("exec", "--process", str(p), cid)
    assert r.returncode != 0 and "process.args" in r.stderr


def test_exec_detach_and_pid_file(rt, bundle, tmp_path):
    cid, _ = start(rt, bundle)
    pf = tmp_path / "exec.pid"
    r = rt("exec", "-d", "--pid-file", str(pf), cid, "sleep", "50")
    assert r.returncode == 0, r.stderr
    epid = int(pf.read_text())
    assert "sleep" in open(f"/proc/{epid}/cmdline").read()
    pids = json.loads(rt("ps", "--format", "json", cid).stdout)
    assert epid in pids and len(pids) == 2


def test_exec_in_user_namespace_container(rt, bundle):
    bundle.add_ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cid, pid = start(rt, bundle)
    r = rt("exec", cid, "sh", "-c", "readlink /proc/self/ns/user; id -u; head -1 /proc/self/uid_map")
    assert r.returncode == 0, r.stderr
    user, uid, umap = r.stdout.splitlines()
    assert user == os.readlink(f"/proc/{pid}/ns/user") and uid == "0"
    assert umap.split() == ["0", "100000", "65536"]


def test_exec_refused_in_stopped_container(rt, bundle):
    cid, _ = start(rt, bundle, "exit 0")
    for _ in range(100):
        if json.loads(rt("state", cid).stdout)["status"] == "stopped":
            break
        time.sleep(0.02)
    r = rt("exec", cid, "true")
    assert r.returncode != 0 and "stopped" in r.stderr


def test_pause_resume(rt, bundle):
    cid, pid = start(rt, bundle, "while :; do echo x > /dev/null; done")
    assert rt("pause", cid).returncode == 0
    assert json.loads(rt("state", cid).stdout)["status"] == "paused"
    with open(f"/proc/{pid}/stat") as f:
        t1 = sum(int(x) for x in f.read().split()[13:15])
    # not a wait for a condition: a paused container must not run during this window
    time.sleep(0.3)
    with open(f"/proc/{pid}/stat") as f:
        t2 = sum(int(x) for x in f.read().split()[13:15])
    assert t1 == t2, "a paused container kept using CPU"
    r = rt("pause", cid)
    assert r.returncode != 0 and "paused" in r.stderr
    r = rt("exec", cid, "true")
    assert r.returncode != 0 and "paused" in r.stderr
    assert rt("resume", cid).returncode == 0
    assert json.loads(rt("state", cid).stdout)["status"] == "running"
    assert rt("resume", cid).returncode != 0


def test_ps_table(rt, bundle):
    cid, pid = start(rt, bundle)
    r = rt("ps", cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "PID" in lines[0]
    assert any(str(pid) in line.split() for line in lines[1:])


def test_ps_options_reach_ps_unquoted(rt, bundle):
    # ps runs without a shell: a quote (or `$`) in an option is ps's, not a shell's syntax
    cid, pid = start(rt, bundle)
    r = rt("ps", cid, "-o", "pid", "-o", "comm=it's$HOME")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["PID", "it's$HOME"]
    assert any(str(pid) == line.split()[0] for line in lines[1:])


def _cg_file(cid_path, v1, v2):
    from berthtest import cgroup_mode
    if cgroup_mode() == "v2":
        return f"/sys/fs/cgroup/{cid_path}/{v2}"
    ctrl, f = v1.split("/")
    return f"/sys/fs/cgroup/{ctrl}/{cid_path}/{f}"


def test_update_resources_live(rt, bundle, tmp_path):
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    bundle.resources()["pids"] = {"limit": 50}
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    r = rt("update", "--memory", "64m", "--pids-limit", "20", "--cpu-quota", "30000",
           "--cpu-period", "100000", cid)
    assert r.returncode == 0, r.stderr
    path = f"berth-test/{cid}"
    assert open(_cg_file(path, "memory/memory.limit_in_bytes", "memory.max")).read().strip() == str(64 << 20)
    assert open(_cg_file(path, "pids/pids.max", "pids.max")).read().strip() == "20"
    # the container's processes moved into the controllers it did not have before
    pid = json.loads(rt("state", cid).stdout)["pid"]
    assert str(pid) in open(_cg_file(path, "memory/cgroup.procs", "cgroup.procs")).read().split()
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"pids": {"limit": 7}}))
    assert rt("update", "-r", str(res), cid).returncode == 0
    assert open(_cg_file(path, "pids/pids.max", "pids.max")).read().strip() == "7"
    r = rt("update", "--memory", "lots", cid)
    assert r.returncode != 0 and "invalid value" in r.stderr
    res.write_text('{"memory": {"limit": "big"}}')
    r = rt("update", "-r", str(res), cid)
    assert r.returncode != 0 and "linux.resources.memory.limit" in r.stderr
    assert rt("delete", "-f", cid).returncode == 0


def test_checkpoint_not_supported(rt, bundle):
    r = rt("checkpoint", "x")
    assert r.returncode != 0 and "not supported" in r.stderr


def test_events_stats(rt, bundle):
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    bundle.resources().update({"memory": {"limit": 64 << 20}, "pids": {"limit": 30}})
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100 & sleep 100").write(), cid).returncode == 0
    for _ in range(100):  # until both sleeps have started
        r = rt("events", "--stats", cid)
        assert r.returncode == 0, r.stderr
        ev = json.loads(r.stdout)
        if ev["data"]["pids"].get("current") == 2:
            break
        time.sleep(0.02)
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert data["memory"]["usage"]["limit"] == 64 << 20
    assert 0 < data["memory"]["usage"]["usage"] < 64 << 20
    assert data["pids"] == {"current": 2, "limit": 30}  # sh execs the last sleep itself
    assert data["cpu"]["usage"]["total"] > 0
    assert rt("delete", "-f", cid).returncode == 0


def test_events_stream_reports_oom_and_ends(rt, bundle):
    import subprocess
    import time as _t
    cid = rt.new_id()
    bundle.resources()["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    script = 'sleep 0.5; sh -c \'x=$(head -c 100000000 /dev/zero | tr "\\0" a)\'; sleep 0.5'
    assert rt("run", "-d", "--bundle", bundle.sh(script).write(), cid).returncode == 0
    p = subprocess.run([rt.binary, "--root", rt.root, "events", "--interval", "100ms", cid],
                       capture_output=True, text=True, timeout=20)
    types = [json.loads(line)["type"] for line in p.stdout.splitlines()]
    assert "oom" in types and types.count("stats") >= 2, p.stdout[:500]
