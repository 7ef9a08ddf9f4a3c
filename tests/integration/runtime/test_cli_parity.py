"""berth-runtime's command line and spec validation where runc's users look: run --keep, per-verb
--help, --version lines, and sysctls checked against the container's namespaces."""
import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from berthtest import cgroup_mode


def is_runc(rt):
    return os.path.basename(rt.binary) == "runc"


def test_run_keep_leaves_a_stopped_container(rt, bundle):
    if is_runc(rt):
        pytest.skip("Debian's runc 1.1.5 has no run --keep")
    cid = rt.new_id()
    r = rt("run", "--keep", "--bundle", bundle.sh("exit 3").write(), cid)
    assert r.returncode == 3, r.stderr
    st = rt("state", cid)
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["status"] == "stopped"
    assert cid in rt("list", "-q").stdout.split()
    assert rt("delete", cid).returncode == 0
    assert rt("state", cid).returncode != 0


def test_run_without_keep_deletes(rt, bundle):
    cid = rt.new_id()
    assert rt("run", "--bundle", bundle.sh("true").write(), cid).returncode == 0
    assert rt("state", cid).returncode != 0


@pytest.mark.parametrize("verb", ["create", "run", "exec", "delete", "kill", "list", "state",
                                  "update", "events", "ps", "spec", "pause", "resume"])
def test_every_verb_has_help(rt, verb):
    for flag in ("--help", "-h"):
        r = rt(verb, flag)
        assert r.returncode == 0, (verb, flag, r.stderr)
        assert verb in r.stdout
        assert "usage" in r.stdout.lower()


def test_exec_help_lists_its_options(rt):
    out = rt("exec", "--help").stdout
    for opt in ("--process", "--tty", "--detach", "--env", "--cwd", "--user", "--cap",
                "--preserve-fds", "--pid-file", "--console-socket"):
        assert opt in out, opt


def test_version_lines_like_runc(rt):
    lines = rt("--version").stdout.splitlines()
    assert lines[0].split()[1] == "version"
    assert any(line.startswith("spec: 1.") for line in lines)
    assert any(line.startswith("libseccomp: 2.") for line in lines)


def without_ns(bundle, typ):
    ns = bundle.config["linux"]["namespaces"]
    ns[:] = [n for n in ns if n["type"] != typ]


@pytest.mark.parametrize("drop,key,want", [
    ("uts", "kernel.domainname", "separate kernel namespace"),
    ("ipc", "kernel.shmmax", "ipc namespace"),
    ("ipc", "fs.mqueue.msg_max", "ipc namespace"),
    ("network", "net.ipv4.ip_forward", "network namespace"),
    ("network", "net/ipv4/ip_forward", "network namespace"),
    (None, "vm.swappiness", "separate kernel namespace"),
    (None, "kernel.hostname", "hostname"),
])
def test_sysctl_needs_its_namespace(rt, bundle, drop, key, want):
    if drop:
        without_ns(bundle, drop)
    if drop == "uts":
        bundle.config.pop("hostname", None)
    bundle.config["linux"]["sysctl"] = {key: "1"}
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.sh("echo started").write(), cid)
    assert r.returncode != 0
    assert "started" not in r.stdout
    if not is_runc(rt):
        assert want in r.stderr, r.stderr
        assert key.replace("/", ".") in r.stderr or key in r.stderr


def test_sysctl_in_own_namespaces_applies(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"kernel.domainname": "in.example", "kernel.shmmax": "4096",
                                        "net.ipv4.ip_forward": "1"}
    r = rt("run", "--bundle", bundle.sh(
        "cat /proc/sys/kernel/domainname /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward"
    ).write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["in.example", "4096", "1"]


def test_domainname_conflicting_with_sysctl_refused(rt, bundle):
    if is_runc(rt):
        pytest.skip("runc 1.1.5 lets the sysctl win")
    bundle.config["domainname"] = "a.example"
    bundle.config["linux"]["sysctl"] = {"kernel.domainname": "b.example"}
    r = rt("run", "--bundle", bundle.sh("true").write(), rt.new_id())
    assert r.returncode != 0
    assert "domainname" in r.stderr


def test_hostname_without_uts_namespace_never_renames_the_host(rt, bundle):
    if is_runc(rt):
        pytest.skip("runc refuses a hostname without a uts namespace")
    without_ns(bundle, "uts")
    bundle.config["hostname"] = "not-the-host"
    before = socket.gethostname()
    r = rt("run", "--bundle", bundle.sh("hostname").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == before
    assert "not set" in r.stderr
    assert socket.gethostname() == before


def test_v1_hierarchies_joined_without_limits(rt, bundle):
    """runc joins every v1 hierarchy: usage is accounted and visible without any limit set."""
    if cgroup_mode() == "v2":
        pytest.skip("a pure cgroup v2 host has no v1 hierarchies")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    without_ns(bundle, "cgroup")  # /proc/self/cgroup then names the host's paths
    b = bundle.sh("cat /proc/self/cgroup; echo mem=$(cat /sys/fs/cgroup/memory/memory.usage_in_bytes);"
                  " echo dev=$(head -1 /sys/fs/cgroup/devices/devices.list)").write()
    r = rt("run", "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    joined = {line.split(":")[1] for line in r.stdout.splitlines()
              if line.count(":") == 2 and line.endswith(f"/berth-test/{cid}")}
    for c in ("memory", "pids", "freezer", "devices", "blkio", "cpuset"):
        assert any(c in j.split(",") for j in joined), (c, r.stdout)
    mem = [line for line in r.stdout.splitlines() if line.startswith("mem=")][0]
    assert int(mem[4:]) > 0
    # the default spec denies every device first: the v1 list is not "a *:* rwm"
    assert "dev=a *:* rwm" not in r.stdout and "dev=" in r.stdout


def test_pids_limit_zero_is_a_limit(rt, bundle):
    """runc: pids.limit 0 is not "unlimited" (that is -1): the container may hold its init only."""
    bundle.resources()["pids"] = {"limit": 0}
    f = "/sys/fs/cgroup/pids.max" if cgroup_mode() == "v2" else "/sys/fs/cgroup/pids/pids.max"
    # builtins only: every fork fails with one pid allowed
    r = rt("run", "--bundle", bundle.sh(f"read v < {f}; echo max=$v; /bin/true || echo fork-failed")
           .write(), rt.new_id())
    assert "max=1" in r.stdout, (r.stdout, r.stderr)
    assert "can't fork" in r.stderr and r.returncode != 0, (r.returncode, r.stderr)


def _tracking_dir(cid):
    mode = cgroup_mode()
    base = {"v2": "/sys/fs/cgroup", "hybrid": "/sys/fs/cgroup/unified"}.get(mode,
                                                                       "/sys/fs/cgroup/pids")
    return os.path.join(base, "berth-test", cid)


def test_preexisting_cgroup_used_only_when_empty_and_thawed(rt, bundle):
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    b = bundle.sh("echo ran").write()
    d = _tracking_dir(cid)
    os.makedirs(d)
    sleeper = subprocess.Popen(["sleep", "100"])
    try:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(sleeper.pid))
        r = rt("run", "--bundle", b, cid)
        assert r.returncode != 0 and "not empty" in r.stderr, r.stderr
        assert "ran" not in r.stdout
    finally:
        sleeper.kill()
        sleeper.wait()
    if cgroup_mode() != "v1":
        for _ in range(100):  # the kernel drops the dead task from cgroup.procs shortly
            if not open(os.path.join(d, "cgroup.procs")).read().strip():
                break
            time.sleep(0.02)
        with open(os.path.join(d, "cgroup.freeze"), "w") as f:
            f.write("1")
        r = rt("run", "--bundle", b, cid)
        assert r.returncode != 0 and "frozen" in r.stderr, r.stderr
        with open(os.path.join(d, "cgroup.freeze"), "w") as f:
            f.write("0")
    r = rt("run", "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ran\n"
    assert not os.path.exists(d)  # like runc, delete removes the cgroup it used


def test_bind_source_only_host_root_can_reach_mounts_in_userns(rt, bundle, tmp_path):
    """runc opens bind sources before the user namespace exists: a source below a directory
    only the host's root may enter still mounts for a container whose root is mapped."""
    secret = tmp_path / "secret"
    (secret / "sub").mkdir(parents=True)
    (secret / "sub" / "f").write_text("reachable\n")
    os.chmod(secret, 0o700)
    os.chmod(tmp_path, 0o755)
    bundle.add_ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["mounts"].append({"destination": "/tmp", "type": "bind",
                                    "source": str(secret / "sub"), "options": ["rbind", "ro"]})
    r = rt("run", "--bundle", bundle.sh("cat /tmp/f").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "reachable\n"


def test_mount_edge_cases_like_runc(rt, bundle, tmp_path):
    """A destination through a dangling symlink (made inside the rootfs, as runc's
    MkdirAllInRoot), a source that is an earlier mount of the same container (order kept), and
    tmpfs modes (1777 unless given)."""
    rootfs = tmp_path / "rootfs"
    shutil.copytree(bundle.config["root"]["path"], rootfs, symlinks=True)
    os.symlink("/made/by/link", rootfs / "lnk")
    bundle.config["root"] = {"path": str(rootfs), "readonly": False}
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("hi\n")
    bundle.config["mounts"] += [
        {"destination": "/lnk/sub", "type": "bind", "source": str(src), "options": ["rbind"]},
        {"destination": "/again", "type": "bind", "source": str(rootfs / "made/by/link/sub"),
         "options": ["rbind"]},
        {"destination": "/t1", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/t2", "type": "tmpfs", "source": "tmpfs", "options": ["mode=700"]},
    ]
    r = rt("run", "--bundle", bundle.sh("cat /lnk/sub/f /again/f; stat -c %a /t1 /t2").write(),
           rt.new_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hi", "hi", "1777", "700"]
    assert (rootfs / "made/by/link/sub").is_dir()  # inside the rootfs, never on the host
    assert not os.path.exists("/made")


def test_scheduler_ioprio_affinity_applied(rt, bundle):
    """process.scheduler, process.ioPriority, process.execCPUAffinity reach the process."""
    p = bundle.config["process"]
    p["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    p["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    p["execCPUAffinity"] = {"initial": "0", "final": "0"}
    r = rt("run", "--bundle", bundle.sh(
        "grep -E '^(Cpus_allowed_list)' /proc/self/status; cut -d' ' -f19,41 /proc/self/stat"
    ).write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].split() == ["Cpus_allowed_list:", "0"]
    nice, policy = lines[1].split()
    assert nice == "5" and policy == "3"  # SCHED_BATCH


@pytest.mark.parametrize("field,value,want", [
    ("scheduler", {"policy": "SCHED_DEADLINE", "runtime": 0}, "non-zero"),
    ("scheduler", {"policy": "SCHED_DEADLINE", "runtime": 20, "deadline": 10, "period": 30},
     "runtime <= deadline <= period"),
    ("scheduler", {"policy": "SCHED_OTHER", "priority": 3}, "SCHED_FIFO or SCHED_RR"),
    ("scheduler", {"policy": "SCHED_BOGUS"}, "unknown value"),
    ("scheduler", {"nice": 3}, "policy"),
    ("ioPriority", {"class": "IOPRIO_CLASS_NOPE"}, "unknown value"),
    ("ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 9}, "out of range"),
    ("execCPUAffinity", {"initial": "3-1"}, "invalid list"),
])
def test_process_attrs_refused_clearly(rt, bundle, field, value, want):
    if is_runc(rt):
        pytest.skip("Debian's runc 1.1.5 predates these OCI 1.2 fields")
    bundle.config["process"][field] = value
    r = rt("run", "--bundle", bundle.sh("echo started").write(), rt.new_id())
    assert r.returncode != 0 and "started" not in r.stdout
    assert want in r.stderr, r.stderr


@pytest.mark.parametrize("policy,want", [
    ({"mode": "MPOL_BIND"}, "needs nodes"),
    ({"mode": "MPOL_LOCAL", "nodes": "0"}, "takes no nodes"),
    ({"mode": "MPOL_WRONG", "nodes": "0"}, "unknown value"),
    ({"mode": "MPOL_BIND", "nodes": "0-x"}, "invalid list"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]},
     "exclude each other"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]},
     "MPOL_F_NUMA_BALANCING"),
])
def test_memory_policy_refused_clearly(rt, bundle, policy, want):
    if is_runc(rt):
        pytest.skip("Debian's runc 1.1.5 predates linux.memoryPolicy")
    bundle.config["linux"]["memoryPolicy"] = policy
    r = rt("run", "--bundle", bundle.sh("echo started").write(), rt.new_id())
    assert r.returncode != 0 and want in r.stderr, r.stderr


def test_memory_policy_applied(rt, bundle):
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    r = rt("run", "--bundle", bundle.sh("grep -c bind /proc/self/numa_maps").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 0


def test_bind_onto_a_symlinked_destination(rt, bundle, tmp_path):
    """A destination that is a symlink in the image: the mount lands where it points, inside
    the rootfs, and its flags and propagation apply there."""
    rootfs = tmp_path / "rootfs"
    shutil.copytree(bundle.config["root"]["path"], rootfs, symlinks=True)
    (rootfs / "data").mkdir()
    os.symlink("/data", rootfs / "link")
    bundle.config["root"] = {"path": str(rootfs), "readonly": True}
    src = tmp_path / "vol"
    src.mkdir()
    (src / "f").write_text("in-volume\n")
    bundle.config["mounts"].append({"destination": "/link", "type": "bind", "source": str(src),
                                    "options": ["rbind", "ro", "rprivate"]})
    r = rt("run", "--bundle", bundle.sh("cat /data/f; touch /data/x 2>/dev/null || echo ro").write(),
           rt.new_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["in-volume", "ro"]


def test_log_records_like_runc(rt, tmp_path):
    log = tmp_path / "rt.log"
    assert rt("--log", str(log), "state", "no-such-container").returncode != 0
    assert rt("--log", str(log), "--log-format", "json", "state", "no-such-container").returncode != 0
    text, js = log.read_text().splitlines()
    assert re.match(r'^time="[0-9T:.\-]+Z" level=error msg=".*no-such-container.*"$', text), text
    rec = json.loads(js)
    assert rec["level"] == "error" and "no-such-container" in rec["msg"] and rec["time"]


def test_create_leaks_no_fd_into_the_container(rt, bundle, tmp_path):
    """Only 0-2 and the preserved fds reach the process, through create + start as with run."""
    out = tmp_path / "out"
    out.mkdir()
    bundle.config["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                    "options": ["rbind"]})
    b = bundle.sh("ls /proc/self/fd > /out/fds").write()
    cid = rt.new_id()
    r = rt("create", "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    assert rt("start", cid).returncode == 0
    for _ in range(200):
        if (out / "fds").exists() and json.loads(rt("state", cid).stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    fds = sorted(int(x) for x in (out / "fds").read_text().split())
    # 0-2, plus the one ls reads /proc/self/fd through
    assert fds[:3] == [0, 1, 2] and len(fds) == 4, fds
    assert rt("delete", "-f", cid).returncode == 0


def test_read_only_dev(rt, bundle):
    """A read-only /dev tmpfs still gets its nodes and mount points, then is read-only (runc)."""
    for m in bundle.config["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    r = rt("run", "--bundle", bundle.sh(
        "ls /dev/null /dev/pts/ptmx >/dev/null && echo nodes; touch /dev/x 2>/dev/null || echo ro;"
        " grep ' /dev ' /proc/mounts").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["nodes", "ro"]
    opts = lines[2].split()[3].split(",")
    assert "ro" in opts and "nosuid" in opts


def _cg_read(cid, v1ctrl, v1file, v2file):
    if cgroup_mode() == "v2":
        p = f"/sys/fs/cgroup/berth-test/{cid}/{v2file}"
    else:
        p = f"/sys/fs/cgroup/{v1ctrl}/berth-test/{cid}/{v1file}"
    with open(p) as f:
        return f.read().strip()


def test_update_every_resource_read_back(rt, bundle):
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    r = rt("update", "--memory", "67108864", "--memory-reservation", "33554432",
           "--memory-swap", "134217728", "--cpu-shares", "512", "--cpu-period", "100000",
           "--cpu-quota", "50000", "--cpuset-cpus", "0", "--pids-limit", "50", cid)
    assert r.returncode == 0, r.stderr
    v2 = cgroup_mode() == "v2"
    assert _cg_read(cid, "memory", "memory.limit_in_bytes", "memory.max") == "67108864"
    assert _cg_read(cid, "memory", "memory.soft_limit_in_bytes", "memory.low") == "33554432"
    swap = _cg_read(cid, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max")
    assert swap == ("67108864" if v2 else "134217728")  # v2 counts swap alone
    shares = _cg_read(cid, "cpu", "cpu.shares", "cpu.weight")
    assert shares == ("20" if v2 else "512")
    if v2:
        assert _cg_read(cid, "", "", "cpu.max") == "50000 100000"
    else:
        assert _cg_read(cid, "cpu", "cpu.cfs_quota_us", "") == "50000"
        assert _cg_read(cid, "cpu", "cpu.cfs_period_us", "") == "100000"
    assert _cg_read(cid, "cpuset", "cpuset.cpus", "cpuset.cpus") == "0"
    assert _cg_read(cid, "pids", "pids.max", "pids.max") == "50"
    # -1 lifts a limit again
    assert rt("update", "--pids-limit", "-1", cid).returncode == 0
    assert _cg_read(cid, "pids", "pids.max", "pids.max") == "max"
    assert rt("delete", "-f", cid).returncode == 0


def test_list_like_runc(rt, bundle, tmp_path):
    empty = rt("list").stdout
    assert empty == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    [entry] = json.loads(rt("list", "--format", "json").stdout)
    assert entry["id"] == cid and entry["status"] == "running" and entry["owner"] == "root"
    header, row = rt("list").stdout.splitlines()
    assert row.split() == [cid, str(entry["pid"]), "running", bundle.path, entry["created"], "root"]
    assert header.index("PID") == row.index(str(entry["pid"]))
    assert rt("delete", "-f", cid).returncode == 0


def test_exec_into_a_sub_cgroup(rt, bundle):
    """runc's exec --cgroup: a sub-cgroup of the container's, in every hierarchy or some."""
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"/berth-test/{cid}"
    without_ns(bundle, "cgroup")  # /proc/self/cgroup then names the host's paths
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    mode = cgroup_mode()
    # every hierarchy the container is in: the plain form names a sub-cgroup in each
    hier = ["/sys/fs/cgroup"] if mode == "v2" else sorted(
        {os.path.realpath(f"/sys/fs/cgroup/{h}") for h in os.listdir("/sys/fs/cgroup")
         if os.path.isdir(f"/sys/fs/cgroup/{h}/berth-test/{cid}")})
    for h in hier:
        os.mkdir(f"{h}/berth-test/{cid}/sub")
        for f in ("cpuset.cpus", "cpuset.mems"):  # a v1 cpuset takes no task without them
            if mode != "v2" and os.path.exists(f"{h}/berth-test/{cid}/{f}"):
                with open(f"{h}/berth-test/{cid}/{f}") as src:
                    v = src.read()
                with open(f"{h}/berth-test/{cid}/sub/{f}", "w") as dst:
                    dst.write(v)
    try:
        r = rt("exec", "--cgroup", "sub", cid, "cat", "/proc/self/cgroup")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        mine = [line for line in lines if line.endswith(f"/berth-test/{cid}/sub")]
        assert len(mine) == len(hier), r.stdout
        if mode != "v2":
            r = rt("exec", "--cgroup", "memory:sub", cid, "cat", "/proc/self/cgroup")
            assert r.returncode == 0, r.stderr
            sub = [line.split(":")[1] for line in r.stdout.splitlines()
                   if line.endswith(f"/berth-test/{cid}/sub")]
            assert sub == ["memory"], r.stdout
        for bad, want in (("nope", "does not exist"), ("../x", "without `..`")):
            r = rt("exec", "--cgroup", bad, cid, "true")
            assert r.returncode != 0 and want in r.stderr, r.stderr
    finally:
        assert rt("delete", "-f", cid).returncode == 0
    for h in hier:
        assert not os.path.exists(f"{h}/berth-test/{cid}")


def test_process_is_a_session_leader(rt, bundle):
    """runc makes the container's process (init and exec) a session leader, tty or not."""
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.sh("cut -d' ' -f1,6 /proc/$$/stat").write(), cid)
    pid, sid = r.stdout.split()
    assert pid == sid == "1", r.stdout
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    r = rt("exec", cid, "sh", "-c", "cut -d' ' -f1,6 /proc/$$/stat")
    pid, sid = r.stdout.split()
    assert pid == sid, r.stdout
    assert rt("delete", "-f", cid).returncode == 0


def test_pivot_leaves_no_host_proc_for_a_fresh_mount(rt, bundle):
    """In a user namespace the kernel allows a new procfs (sysfs) mount only while a fully
    visible one, at least as writable, exists in the mount namespace: after pivot_root the
    host's are gone, so a container whose own /proc is read-only (and which has no /sys) cannot
    mount a writable, unmasked one. (With --no-pivot the host's locked /proc stays reachable;
    runc 1.1.5 mounts the fresh one there too: see the issue note.)"""
    bundle.add_ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    for m in bundle.config["mounts"]:
        if m["destination"] == "/proc":
            m["options"] = ["ro", "nosuid", "nodev", "noexec"]
    bundle.config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["nosuid", "nodev"]})
    bundle.config["linux"]["maskedPaths"] = []
    bundle.config["linux"]["readonlyPaths"] = []
    caps = bundle.config["process"]["capabilities"]
    for k in ("bounding", "effective", "permitted"):
        caps[k] = caps[k] + ["CAP_SYS_ADMIN"]
    script = ("mkdir /tmp/p /tmp/s; mount -t proc proc /tmp/p && echo proc-mounted;"
              " mount -t sysfs sysfs /tmp/s && echo sysfs-mounted; true")
    r = rt("run", "--bundle", bundle.sh(script).write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert "proc-mounted" not in r.stdout and "sysfs-mounted" not in r.stdout, r.stdout + r.stderr


def test_delete_after_the_init_in_the_host_pid_namespace_is_gone(rt, bundle, tmp_path):
    """Without a pid namespace the init's death leaves its children running: runc's delete of
    the stopped container kills what is left in its cgroup and removes it, without --force."""
    without_ns(bundle, "pid")
    cid = rt.new_id()
    pidfile = tmp_path / "kid"
    bundle.config["mounts"].append({"destination": "/out", "type": "bind",
                                    "source": str(tmp_path), "options": ["rbind"]})
    r = rt("run", "-d", "--bundle",
           bundle.sh("sleep 1000 & echo $! > /out/kid; exec sleep 1000").write(), cid)
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    kid = int(pidfile.read_text())
    init = json.loads(rt("state", cid, check=True).stdout)["pid"]
    os.kill(init, 9)
    deadline = time.time() + 10
    while json.loads(rt("state", cid, check=True).stdout)["status"] != "stopped":
        assert time.time() < deadline, "the container did not stop"
        time.sleep(0.05)
    assert os.path.exists(f"/proc/{kid}")
    r = rt("delete", cid)
    assert r.returncode == 0, r.stderr
    assert rt("state", cid).returncode != 0
    deadline = time.time() + 5
    while os.path.exists(f"/proc/{kid}") and time.time() < deadline:
        try:
            with open(f"/proc/{kid}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    break
        except OSError:
            break
        time.sleep(0.05)
    else:
        assert not os.path.exists(f"/proc/{kid}"), "the init's child outlived delete"


def test_exec_into_a_userns_container_whose_bind_source_is_unreachable(rt, bundle, tmp_path):
    """The bind source sits below a directory only the host's root may enter, and is then
    renamed away on the host: exec (also with its cwd in that mount) still works, as in runc."""
    secret = tmp_path / "secret"
    (secret / "sub").mkdir(parents=True)
    (secret / "sub" / "f").write_text("reachable\n")
    os.chmod(secret, 0o700)
    os.chmod(tmp_path, 0o755)
    bundle.add_ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["mounts"].append({"destination": "/tmp", "type": "bind",
                                    "source": str(secret / "sub"), "options": ["rbind", "ro"]})
    bundle.config["process"]["cwd"] = "/tmp"
    cid = rt.new_id()
    r = rt("run", "-d", "--bundle", bundle.sh("exec sleep 100").write(), cid)
    assert r.returncode == 0, r.stderr
    os.rename(secret / "sub", secret / "moved")
    for extra in ([], ["--cwd", "/tmp"], ["--user", "1000:1000"]):
        r = rt("exec", *extra, cid, "cat", "/tmp/f")
        assert (r.returncode, r.stdout) == (0, "reachable\n"), (extra, r.stderr)
    r = rt("exec", cid, "sh", "-c", "pwd")
    assert (r.returncode, r.stdout) == (0, "/tmp\n"), r.stderr


def test_no_pivot_leaves_no_host_proc_for_a_fresh_mount(rt, bundle):
    """--no-pivot moves the rootfs over / and chroots: the host's procfs and sysfs mounts stay in
    the container's mount namespace, out of reach but "fully visible" to the kernel, which then
    lets a user namespace made inside the container mount a fresh, unmasked procfs. runc's
    msMoveRoot unmounts them first; its own test does this with `unshare -mrpf` (CAP_SETFCAP:
    mapping uid 0 in a new user namespace needs it)."""
    if is_runc(rt):
        pytest.skip("Debian's runc 1.1.5 predates msMoveRoot's unmounting of the host's procfs")
    bundle.config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["nosuid", "nodev"]})
    caps = bundle.config["process"]["capabilities"]
    for k in ("bounding", "effective", "permitted"):
        caps[k] = caps[k] + ["CAP_SETFCAP"]
    script = ("mkdir /tmp/p; unshare -U -r -m -p -f sh -c"
              " 'echo in-userns; mount -t proc proc /tmp/p && echo proc-mounted'; echo done")
    for args in (["--no-pivot"], []):
        r = rt("run", *args, "--bundle", bundle.sh(script).write(), rt.new_id())
        assert r.returncode == 0, r.stderr
        assert "in-userns" in r.stdout and "done" in r.stdout, (args, r.stdout + r.stderr)
        assert "proc-mounted" not in r.stdout, (args, r.stdout + r.stderr)
