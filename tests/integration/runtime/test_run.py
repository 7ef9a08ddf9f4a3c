"""berth-runtime run/create/start/state/kill/delete with real busybox containers."""
import json
import os
import signal
import subprocess
import time

import pytest

from berthtest import cgroup_mode


def run_ok(rt, bundle, cid=None, expect_rc=0):
    cid = cid or rt.new_id()
    r = rt("run", "--bundle", bundle.write(), cid)
    assert r.returncode == expect_rc, f"rc={r.returncode} stdout={r.stdout!r} stderr={r.stderr!r}"
    return r


def test_exit_code_propagates(rt, bundle):
    run_ok(rt, bundle.sh("exit 7"), expect_rc=7)


def test_killed_by_signal_is_128_plus_signal(rt, bundle):
    # pid 1 of a pid namespace ignores SIGKILL from inside: kill it through the runtime
    cid = rt.new_id()
    b = bundle.sh("echo ready; while :; do sleep 0.05; done").write()
    p = subprocess.Popen([rt.binary, "--root", rt.root, "run", "--bundle", b, cid],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    assert rt("kill", cid, "KILL").returncode == 0
    assert p.wait(timeout=10) == 137


def test_stdout_and_pid1(rt, bundle):
    r = run_ok(rt, bundle.sh("echo pid=$$; echo err >&2"))
    assert r.stdout == "pid=1\n"
    assert "err" in r.stderr


def test_namespaces_isolated(rt, bundle):
    names = ["pid", "mnt", "net", "ipc", "uts", "cgroup"]
    script = "; ".join(f"echo {n}=$(readlink /proc/self/ns/{n})" for n in names)
    r = run_ok(rt, bundle.sh(script))
    inside = dict(line.split("=", 1) for line in r.stdout.split())
    for n in names:
        assert inside[n] != os.readlink(f"/proc/self/ns/{n}"), f"{n} namespace shared with host"


def test_hostname_and_domainname(rt, bundle):
    bundle.config["hostname"] = "berthbox"
    bundle.config["domainname"] = "example.org"
    r = run_ok(rt, bundle.sh("hostname; cat /proc/sys/kernel/domainname"))
    assert r.stdout.split() == ["berthbox", "example.org"]


def test_user_namespace_mapping(rt, bundle):
    bundle.add_ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    r = run_ok(rt, bundle.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; "
                             "readlink /proc/self/ns/user; ls /dev/null"))
    lines = r.stdout.split("\n")
    assert lines[0].split() == ["0", "100000", "65536"]
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2] == "0"
    assert lines[3] != os.readlink("/proc/self/ns/user")
    assert lines[4] == "/dev/null"


def test_time_namespace_offsets(rt, bundle):
    bundle.add_ns("time")
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": 10_000_000, "nanosecs": 0}}
    r = run_ok(rt, bundle.sh("readlink /proc/self/ns/time; cut -d. -f1 /proc/uptime"))
    ns, uptime = r.stdout.split()
    assert ns != os.readlink("/proc/self/ns/time")
    host_uptime = float(open("/proc/uptime").read().split()[0])
    assert int(uptime) >= 10_000_000 + int(host_uptime) - 5


def test_readonly_rootfs(rt, bundle):
    r = run_ok(rt, bundle.sh("touch /x 2>&1; echo rc=$?; touch /dev/shm/ok && echo shm-ok"))
    assert "Read-only file system" in r.stdout
    assert "rc=1" in r.stdout
    assert "shm-ok" in r.stdout


def test_masked_and_readonly_paths(rt, bundle):
    masked = [p for p in bundle.config["linux"]["maskedPaths"] if os.path.exists(p)]
    assert "/proc/timer_list" in masked and "/sys/firmware" in masked
    script = "; ".join(f"echo {p}=$(cat {p} 2>/dev/null | wc -c)$(ls {p} 2>/dev/null | wc -l)"
                       for p in masked)
    r = run_ok(rt, bundle.sh(script + "; echo 1 > /proc/sys/kernel/panic 2>/dev/null; echo sys=$?"))
    lines = r.stdout.split()
    for line in lines[:-1]:
        path, counts = line.split("=")
        assert counts in ("00", "01") if os.path.isfile(path) else counts == "00", line
    assert lines[-1] in ("sys=1", "sys=2"), "/proc/sys writable"


def test_devices(rt, bundle):
    bundle.config["linux"]["devices"] = [
        {"type": "c", "path": "/dev/myfull", "major": 1, "minor": 7, "fileMode": 0o640, "uid": 0, "gid": 0}]
    bundle.resources()["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"})
    r = run_ok(rt, bundle.sh(
        "for d in null zero full random urandom tty myfull; do stat -c '%n %F %t:%T %a' /dev/$d; done; "
        "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; "
        "head -c 4 /dev/zero | wc -c; echo hi > /dev/null && echo null-ok"))
    lines = r.stdout.splitlines()
    expect = {"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8", "urandom": "1:9",
              "tty": "5:0", "myfull": "1:7"}
    for line, (name, num) in zip(lines, expect.items()):
        path, kind, nums, mode = line.split(" ", 1)[0], line, line.split()[-2], line.split()[-1]
        assert path == f"/dev/{name}" and "character special file" in kind, line
        assert nums == num, line
        assert mode == ("640" if name == "myfull" else "666"), line
    assert lines[7:12] == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2", "pts/ptmx"]
    assert lines[12] == "4"
    assert lines[13] == "null-ok"


def test_device_cgroup_denies_unlisted_nodes(rt, bundle):
    # /dev/kmsg exists in the container but is not in the allow list: writing it is refused
    bundle.config["linux"]["devices"] = [
        {"type": "c", "path": "/dev/kmsg", "major": 1, "minor": 11, "fileMode": 0o600}]
    bundle.config["process"]["capabilities"] = None
    r = run_ok(rt, bundle.sh("echo berth-test > /dev/kmsg; echo rc=$?"))
    assert "Operation not permitted" in r.stderr and "rc=1" in r.stdout, r.stderr
    bundle.resources()["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"})
    r = run_ok(rt, bundle.sh("echo berth-test > /dev/kmsg && echo written"))
    assert r.stdout.strip() == "written"


def test_process_identity_and_limits(rt, bundle):
    p = bundle.config["process"]
    p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027}
    p["cwd"] = "/work/dir"
    p["env"].append("FOO=bar baz")
    p["oomScoreAdj"] = 500
    p["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256},
                    {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}]
    bundle.config["root"]["readonly"] = False
    r = run_ok(rt, bundle.sh(
        "id -u; id -g; id -G; pwd; echo $FOO; cat /proc/self/oom_score_adj; ulimit -n; ulimit -Hn; "
        "ulimit -c; umask; grep -E '^(NoNewPrivs|CapInh|CapAmb|CapEff)' /proc/self/status"))
    out = r.stdout.splitlines()
    assert out[0] == "1000" and out[1] == "1000"
    assert set(out[2].split()) == {"1000", "10", "20"}
    assert out[3] == "/work/dir"
    assert out[4] == "bar baz"
    assert out[5] == "500"
    assert out[6:9] == ["256", "512", "0"]
    assert out[9] == "0027"
    status = dict(line.split(":\t") for line in out[10:])
    assert status["NoNewPrivs"] == "1"
    assert int(status["CapInh"], 16) == 0
    assert int(status["CapAmb"], 16) == 0
    # uid 1000 without ambient caps keeps no effective capabilities
    assert int(status["CapEff"], 16) == 0


def test_root_capabilities_follow_spec(rt, bundle):
    r = run_ok(rt, bundle.sh("grep -E '^Cap(Bnd|Eff|Prm|Inh)' /proc/self/status"))
    caps = dict(line.split(":\t") for line in r.stdout.splitlines())
    want = (1 << 29) | (1 << 5) | (1 << 10)   # AUDIT_WRITE, KILL, NET_BIND_SERVICE
    for k in ("CapBnd", "CapEff", "CapPrm"):
        assert int(caps[k], 16) == want, k
    assert int(caps["CapInh"], 16) == 0


def test_rlimit_above_own_hard_limit_is_clamped(rt, bundle):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard * 4 if hard != resource.RLIM_INFINITY else None
    if want is None:
        pytest.skip("unlimited RLIMIT_NOFILE: nothing to clamp")
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": want, "soft": want}]
    r = run_ok(rt, bundle.sh("ulimit -Hn"))
    got = int(r.stdout)
    if os.environ.get("BERTH_RUNTIME") is None:
        assert "clamped" in r.stderr
    assert got <= hard


def test_sysctl(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
    r = run_ok(rt, bundle.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax"))
    assert r.stdout.split() == ["1", "4096"]
    assert open("/proc/sys/kernel/msgmax").read().strip() != "4096" or True


def test_extra_mounts(rt, bundle, tmp_path):
    src = tmp_path / "vol"
    src.mkdir()
    (src / "hello").write_text("from host\n")
    f = tmp_path / "file.txt"
    f.write_text("single file\n")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
        {"destination": "/rw", "type": "bind", "source": str(src), "options": ["bind"]},
        {"destination": "/etc/one.txt", "type": "bind", "source": str(f), "options": ["bind", "ro"]},
        {"destination": "/scratch/deep", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700"]},
    ]
    r = run_ok(rt, bundle.sh("cat /data/hello /etc/one.txt; touch /data/x 2>/dev/null || echo ro-ok; "
                             "echo w > /rw/new && echo rw-ok; stat -c %a /scratch/deep; "
                             "grep -c ' /scratch/deep ' /proc/self/mountinfo"))
    assert r.stdout.splitlines() == ["from host", "single file", "ro-ok", "rw-ok", "700", "1"]
    assert (src / "new").read_text() == "w\n"


def test_cgroup_resources_visible(rt, bundle):
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    bundle.resources().update({
        "memory": {"limit": 64 << 20},
        "cpu": {"quota": 50000, "period": 100000, "shares": 512},
        "pids": {"limit": 20},
    })
    mode = cgroup_mode()
    if mode == "v2":
        script = "cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.weight"
        want = ["50000", "100000", str(64 << 20), "20", "20"]
    else:
        script = ("cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
                  "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                  "/sys/fs/cgroup/cpu/cpu.shares")
        want = ["50000", "100000", str(64 << 20), "20", "512"]
    r = run_ok(rt, bundle.sh(script), cid=cid)
    assert r.stdout.split() == want
    # and it is gone afterwards
    leftovers = [d for d in _cgroup_dirs(f"berth-test/{cid}") if os.path.exists(d)]
    assert leftovers == []


def _cgroup_dirs(rel):
    base = "/sys/fs/cgroup"
    if cgroup_mode() == "v2":
        return [f"{base}/{rel}"]
    out = [f"{base}/{c}/{rel}" for c in os.listdir(base) if os.path.isdir(f"{base}/{c}")]
    return out


def test_memory_limit_oom_kills(rt, bundle):
    bundle.resources()["memory"] = {"limit": 32 << 20, "swap": 32 << 20}
    r = run_ok(rt, bundle.sh('x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived ${#x}'),
               expect_rc=137)
    assert "survived" not in r.stdout


def test_pids_limit_enforced(rt, bundle):
    bundle.resources()["pids"] = {"limit": 8}
    r = rt("run", "--bundle", bundle.sh("for i in $(seq 20); do sleep 3 & done; echo all-started").write(),
           rt.new_id())
    assert "all-started" not in r.stdout
    assert "can't fork" in r.stderr


def test_create_start_state_kill_delete(rt, bundle):
    cid = rt.new_id()
    b = bundle.sh("trap 'exit 3' TERM; while :; do sleep 0.05; done").write()
    r = rt("create", "--bundle", b, "--pid-file", os.path.join(b, "pid"), cid)
    assert r.returncode == 0, r.stderr
    st = json.loads(rt("state", cid).stdout)
    assert st["status"] == "created" and st["id"] == cid and st["bundle"] == b
    pid = int(open(os.path.join(b, "pid")).read())
    assert st["pid"] == pid
    # the created process has not exec'd the user program yet
    assert "sh" not in open(f"/proc/{pid}/cmdline").read()
    lst = json.loads(rt("list", "--format", "json").stdout)
    assert [c["id"] for c in lst] == [cid]
    assert rt("start", cid).returncode == 0
    assert json.loads(rt("state", cid).stdout)["status"] == "running"
    r = rt("start", cid)
    assert r.returncode != 0 and "running" in r.stderr
    r = rt("delete", cid)
    assert r.returncode != 0 and "not stopped" in r.stderr
    assert rt("kill", cid, "TERM").returncode == 0
    for _ in range(100):
        if json.loads(rt("state", cid).stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    assert json.loads(rt("state", cid).stdout)["status"] == "stopped"
    assert rt("delete", cid).returncode == 0
    assert rt("list", "-q").stdout == ""
    r = rt("state", cid)
    assert r.returncode != 0 and "does not exist" in r.stderr


def test_delete_created_and_force_running(rt, bundle):
    b = bundle.sh("sleep 100").write()
    c1, c2 = rt.new_id(), rt.new_id()
    assert rt("create", "--bundle", b, c1).returncode == 0
    assert rt("delete", c1).returncode == 0
    assert rt("run", "--detach", "--bundle", b, c2).returncode == 0
    pid = json.loads(rt("state", c2).stdout)["pid"]
    assert rt("delete", "--force", c2).returncode == 0
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
    assert rt("list", "-q").stdout == ""


def test_signals_forwarded_in_foreground(rt, bundle):
    cid = rt.new_id()
    b = bundle.sh("trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done").write()
    p = subprocess.Popen([rt.binary, "--root", rt.root, "run", "--bundle", b, cid],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 42


def test_kill_all_and_exit(rt, bundle):
    cid = rt.new_id()
    b = bundle.sh("sleep 100 & sleep 100 & wait").write()
    assert rt("run", "-d", "--bundle", b, cid).returncode == 0
    assert rt("kill", "--all", cid, "KILL").returncode == 0
    for _ in range(100):
        if json.loads(rt("state", cid).stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    assert rt("delete", cid).returncode == 0


def test_shared_namespace_join(rt, make_bundle):
    a, b = make_bundle(), make_bundle()
    ca, cb = rt.new_id(), rt.new_id()
    assert rt("run", "-d", "--bundle", a.sh("sleep 100").write(), ca).returncode == 0
    pid = json.loads(rt("state", ca).stdout)["pid"]
    b.add_ns("ipc", f"/proc/{pid}/ns/ipc").add_ns("network", f"/proc/{pid}/ns/net")
    r = rt("run", "--bundle", b.sh("for n in ipc net pid; do readlink /proc/self/ns/$n; done").write(), cb)
    assert r.returncode == 0, r.stderr
    ipc, net, pidns = r.stdout.split()
    assert ipc == os.readlink(f"/proc/{pid}/ns/ipc")
    assert net == os.readlink(f"/proc/{pid}/ns/net")
    assert pidns != os.readlink(f"/proc/{pid}/ns/pid")
    assert rt("delete", "-f", ca).returncode == 0


def test_nothing_left_behind(rt, bundle):
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    bundle.resources()["memory"] = {"limit": 64 << 20}
    b = bundle.sh("sleep 100").write()
    assert rt("run", "-d", "--bundle", b, cid).returncode == 0
    assert any(os.path.exists(d) for d in _cgroup_dirs(f"berth-test/{cid}"))
    assert rt("delete", "-f", cid).returncode == 0
    assert [d for d in _cgroup_dirs(f"berth-test/{cid}") if os.path.exists(d)] == []
    assert not os.path.exists(os.path.join(rt.root, cid))
    rootfs = bundle.config["root"]["path"]
    assert rootfs not in open("/proc/self/mountinfo").read()


def test_no_pivot_and_json_log(rt, bundle, tmp_path):
    log = tmp_path / "rt.log"
    b = bundle.sh("cat /proc/self/mountinfo | wc -l; ls /").write()
    r = rt("--log", str(log), "--log-format", "json", "run", "--no-pivot", "--bundle", b, rt.new_id())
    assert r.returncode == 0, r.stderr
    assert "bin" in r.stdout
    bad = bundle.args("/nope").write()
    r = rt("--log", str(log), "--log-format", "json", "run", "--bundle", bad, rt.new_id())
    assert r.returncode != 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries and entries[-1]["level"] == "error" and "/nope" in entries[-1]["msg"]


def _userns(b, host=100000):
    b.add_ns("user")
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
    b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host, "size": 65536}]
    return b


def test_join_user_and_network_namespaces_by_path(rt, make_bundle):
    a, b = _userns(make_bundle()), make_bundle()
    ca, cb = rt.new_id(), rt.new_id()
    assert rt("run", "-d", "--bundle", a.sh("sleep 100").write(), ca).returncode == 0
    pid = json.loads(rt("state", ca).stdout)["pid"]
    b.add_ns("user", f"/proc/{pid}/ns/user").add_ns("network", f"/proc/{pid}/ns/net")
    r = rt("run", "--bundle", b.sh("for n in user net pid mnt; do readlink /proc/self/ns/$n; done; "
                                   "head -1 /proc/self/uid_map; echo pid=$$").write(), cb)
    assert r.returncode == 0, r.stderr
    user, net, pidns, mnt, umap, me = r.stdout.splitlines()
    assert user == os.readlink(f"/proc/{pid}/ns/user")
    assert net == os.readlink(f"/proc/{pid}/ns/net")
    assert pidns != os.readlink(f"/proc/{pid}/ns/pid") and mnt != os.readlink(f"/proc/{pid}/ns/mnt")
    assert umap.split() == ["0", "100000", "65536"]
    assert me == "pid=1"
    assert rt("delete", "-f", ca).returncode == 0


def test_new_user_namespace_joining_an_ipc_namespace(rt, make_bundle):
    a, b = make_bundle(), _userns(make_bundle(), 200000)
    # mqueue belongs to the ipc namespace's owner, which is not the new user namespace
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "mqueue"]
    ca, cb = rt.new_id(), rt.new_id()
    assert rt("run", "-d", "--bundle", a.sh("sleep 100").write(), ca).returncode == 0
    pid = json.loads(rt("state", ca).stdout)["pid"]
    b.add_ns("ipc", f"/proc/{pid}/ns/ipc")
    r = rt("run", "--bundle", b.sh("readlink /proc/self/ns/ipc; head -1 /proc/self/uid_map; echo pid=$$").write(), cb)
    assert r.returncode == 0, r.stderr
    ipc, umap, me = r.stdout.splitlines()
    assert ipc == os.readlink(f"/proc/{pid}/ns/ipc")
    assert umap.split() == ["0", "200000", "65536"]
    assert me == "pid=1"
    assert rt("delete", "-f", ca).returncode == 0


def _fds_to_3_and_4(fa, fb):
    # in the child, before exec: fds 3 and 4 are the two files, nothing beyond
    ta, tb = os.dup(fa), os.dup(fb)
    os.dup2(ta, 3)
    os.dup2(tb, 4)
    os.closerange(5, 1024)


def test_listen_fds_and_preserve_fds_pass_through(rt, bundle, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("socket-activated\n")
    b.write_text("preserved\n")
    fa, fb = os.open(a, os.O_RDONLY), os.open(b, os.O_RDONLY)
    script = "echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4; ls /proc/self/fd | sort -n | tr '\\n' ' '"
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    bundle.sh(script).write()
    p = subprocess.run([rt.binary, "--root", rt.root, "run", "--preserve-fds", "1", "--bundle",
                        bundle.path, rt.new_id()], env=env, capture_output=True, text=True,
                       close_fds=False, timeout=30, preexec_fn=lambda: _fds_to_3_and_4(fa, fb))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "1 1"
    assert lines[1:3] == ["socket-activated", "preserved"]
    assert lines[3].split() == ["0", "1", "2", "3", "4", "5"]


def _notify_server(tmp_path):
    import socket
    path = str(tmp_path / "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(10)
    return srv, path


def _with_sdnotify(bundle):
    from berthtest import BUILD
    bundle.config["mounts"].append({"destination": "/usr/bin/sdnotify", "type": "bind", "options": ["bind", "ro"],
                                    "source": os.path.join(BUILD, "tests", "helpers", "sdnotify")})


def test_notify_socket_reaches_the_caller(rt, bundle, tmp_path):
    srv, path = _notify_server(tmp_path)
    _with_sdnotify(bundle)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    b = bundle.sh('echo $NOTIFY_SOCKET; /usr/bin/sdnotify "READY=1"').write()
    p = subprocess.run([rt.binary, "--root", rt.root, "run", "--bundle", b, rt.new_id()], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "/run/notify/notify.sock"
    msg = srv.recv(128).decode()
    assert msg.startswith("READY=1\nMAINPID=")
    srv.close()


def test_notify_socket_detached_run_waits_for_ready(rt, bundle, tmp_path):
    srv, path = _notify_server(tmp_path)
    _with_sdnotify(bundle)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    cid = rt.new_id()
    b = bundle.sh('sleep 0.5; /usr/bin/sdnotify "STATUS=starting"; /usr/bin/sdnotify "READY=1"; '
                  'sleep 100').write()
    t0 = time.time()
    errf = tmp_path / "err"
    with open(errf, "w") as ef:  # not a pipe: the detached container keeps it open
        p = subprocess.run([rt.binary, "--root", rt.root, "run", "-d", "--bundle", b, cid], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=ef, timeout=30)
    assert p.returncode == 0, errf.read_text()
    assert time.time() - t0 >= 0.5, "run -d returned before READY=1"
    pid = json.loads(rt("state", cid).stdout)["pid"]
    assert srv.recv(128) == b"STATUS=starting"
    assert srv.recv(128).decode() == f"READY=1\nMAINPID={pid}"
    srv.close()
    assert rt("delete", "-f", cid).returncode == 0


def test_notify_socket_start_waits_for_ready(rt, bundle, tmp_path):
    srv, path = _notify_server(tmp_path)
    _with_sdnotify(bundle)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    cid = rt.new_id()
    b = bundle.sh('sleep 0.4; /usr/bin/sdnotify "READY=1"; sleep 100').write()
    errf = tmp_path / "err"
    with open(errf, "w") as ef:
        p = subprocess.run([rt.binary, "--root", rt.root, "create", "--bundle", b, cid], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=ef, timeout=30)
    assert p.returncode == 0, errf.read_text()
    t0 = time.time()
    p = subprocess.run([rt.binary, "--root", rt.root, "start", cid], env=env, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert time.time() - t0 >= 0.4, "start returned before READY=1"
    pid = json.loads(rt("state", cid).stdout)["pid"]
    assert srv.recv(128).decode() == f"READY=1\nMAINPID={pid}"
    srv.close()
    assert rt("delete", "-f", cid).returncode == 0
