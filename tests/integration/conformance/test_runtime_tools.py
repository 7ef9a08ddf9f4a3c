"""Checks ported from the OCI runtime-tools validation suite (validation/*.go), one test per
validation program that is not already covered elsewhere. Covered elsewhere: default devices and
symlinks, linux_devices, linux_masked_paths, linux_readonly_paths, linux_sysctl, linux_uid/
gid_mappings, process_capabilities, process_rlimits, process_oom_score_adj, hostname, mounts,
root_readonly_true, hooks (prestart/poststart/poststop, hooks_stdin), pidfile, linux_seccomp,
linux_cgroups_* (tests/integration/runtime, tests/qemu)."""
import json
import os
import time


def mountinfo_root(rt, bundle):
    r = rt("run", "--bundle", bundle.sh("awk '$5 == \"/\"' /proc/self/mountinfo").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_linux_rootfs_propagation_shared(rt, bundle):
    bundle.config["linux"]["rootfsPropagation"] = "shared"
    assert "shared:" in mountinfo_root(rt, bundle)


def test_linux_rootfs_propagation_unbindable(rt, bundle):
    bundle.config["linux"]["rootfsPropagation"] = "unbindable"
    assert "unbindable" in mountinfo_root(rt, bundle)


def test_linux_rootfs_propagation_private(rt, bundle):
    bundle.config["linux"]["rootfsPropagation"] = "private"
    line = mountinfo_root(rt, bundle)
    assert "shared:" not in line and "master:" not in line, line


def test_root_readonly_false(rt, bundle):
    bundle.config["root"]["readonly"] = False
    r = rt("run", "--bundle", bundle.sh("touch /rw-test && rm /rw-test && echo writable").write(), rt.new_id())
    assert r.returncode == 0 and r.stdout.strip() == "writable", r.stderr


def test_process_user_and_cwd(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1, "gid": 1, "additionalGids": [2]}
    bundle.config["process"]["cwd"] = "/tmp"
    r = rt("run", "--bundle", bundle.sh("id -u; id -g; id -G; pwd").write(), rt.new_id())
    assert r.stdout.split() == ["1", "1", "1", "2", "/tmp"], r.stdout


def test_linux_ns_itype_mismatch_refused(rt, make_bundle):
    a, b = make_bundle(), make_bundle()
    ca = rt.new_id()
    assert rt("run", "-d", "--bundle", a.sh("sleep 100").write(), ca).returncode == 0
    pid = json.loads(rt("state", ca).stdout)["pid"]
    b.add_ns("ipc", f"/proc/{pid}/ns/net")  # a network namespace given as ipc
    r = rt("run", "--bundle", b.args("/bin/true").write(), rt.new_id())
    assert r.returncode != 0 and "ipc" in r.stderr
    assert rt("delete", "-f", ca).returncode == 0


def test_linux_ns_nopath_is_new(rt, bundle):
    names = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
             "cgroup": "cgroup", "time": "time"}
    for t in names:
        bundle.add_ns(t)
    script = "; ".join(f"readlink /proc/self/ns/{n}" for n in names.values())
    r = rt("run", "--bundle", bundle.sh(script).write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    for got, n in zip(r.stdout.split(), names.values()):
        assert got != os.readlink(f"/proc/self/ns/{n}"), n


def test_lifecycle_state_kill_delete(rt, bundle):
    """create.go, start.go, state.go, kill.go, delete.go: statuses through the lifecycle and
    the errors the CLI spec asks for."""
    cid = rt.new_id()
    b = bundle.sh("sleep 100").write()
    assert rt("create", "--bundle", b, cid).returncode == 0
    st = json.loads(rt("state", cid).stdout)
    assert st["status"] == "created" and st["ociVersion"] and st["bundle"] == b and st["pid"] > 0
    assert rt("create", "--bundle", b, cid).returncode != 0  # same id twice
    assert rt("start", cid).returncode == 0
    assert json.loads(rt("state", cid).stdout)["status"] == "running"
    assert rt("delete", cid).returncode != 0  # running: not without --force
    assert rt("kill", cid, "KILL").returncode == 0
    for _ in range(100):
        if json.loads(rt("state", cid).stdout)["status"] == "stopped":
            break
        time.sleep(0.02)
    st = json.loads(rt("state", cid).stdout)
    assert st["status"] == "stopped"
    assert rt("kill", cid, "TERM").returncode != 0  # nothing to signal
    assert rt("start", cid).returncode != 0
    assert rt("delete", cid).returncode == 0
    assert rt("state", cid).returncode != 0
