"""Rootless: berth-runtime run by an unprivileged user with a user namespace (spec --rootless)."""
import json
import os
import subprocess
import tempfile

NOBODY = 65534


def as_nobody(rt_bin, *args, cwd=None):
    """Run the runtime as nobody; output through files since a detached container keeps
    the runtime's stdio open."""
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", rt_bin, *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, text=True,
                           cwd=cwd, timeout=60)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, p.returncode, out.read(), err.read())


def test_rootless_spec_run_exec_delete(runtime_bin, busybox_rootfs, tmp_path):
    for p in (tmp_path, tmp_path.parent):
        os.chmod(p, 0o755)
    b = tmp_path / "rl-bundle"
    state = tmp_path / "rl-state"
    b.mkdir()
    state.mkdir()
    os.chown(b, NOBODY, NOBODY)
    os.chown(state, NOBODY, NOBODY)
    r = as_nobody(runtime_bin, "spec", "--rootless", cwd=b)
    assert r.returncode == 0, r.stderr
    spec = json.loads((b / "config.json").read_text())
    assert spec["linux"]["uidMappings"][0]["hostID"] == NOBODY
    spec["root"]["path"] = busybox_rootfs
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", "id -u; head -1 /proc/self/uid_map; echo pid=$$; exit 4"]
    (b / "config.json").write_text(json.dumps(spec))
    r = as_nobody(runtime_bin, "--root", str(state), "run", "--bundle", str(b), "rl1")
    assert r.returncode == 4, r.stderr
    out = r.stdout.split("\n")
    assert out[0] == "0" and out[1].split() == ["0", str(NOBODY), "1"] and out[2] == "pid=1"
    spec["process"]["args"] = ["sleep", "100"]
    (b / "config.json").write_text(json.dumps(spec))
    r = as_nobody(runtime_bin, "--root", str(state), "run", "-d", "--bundle", str(b), "rl2")
    assert r.returncode == 0, r.stderr
    try:
        r = as_nobody(runtime_bin, "--root", str(state), "exec", "rl2", "sh", "-c", "id -u; echo in")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["0", "in"]
        st = json.loads(as_nobody(runtime_bin, "--root", str(state), "state", "rl2").stdout)
        assert st["status"] == "running"
    finally:
        r = as_nobody(runtime_bin, "--root", str(state), "delete", "-f", "rl2")
    assert r.returncode == 0, r.stderr
    assert as_nobody(runtime_bin, "--root", str(state), "list", "-q").stdout == ""


def test_rootless_limits_need_a_cgroup(runtime_bin, busybox_rootfs, tmp_path):
    for p in (tmp_path, tmp_path.parent):
        os.chmod(p, 0o755)
    b = tmp_path / "b"
    b.mkdir()
    os.chown(b, NOBODY, NOBODY)
    assert as_nobody(runtime_bin, "spec", "--rootless", cwd=b).returncode == 0
    spec = json.loads((b / "config.json").read_text())
    spec["root"]["path"] = busybox_rootfs
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    spec["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    (b / "config.json").write_text(json.dumps(spec))
    state = tmp_path / "s"
    state.mkdir()
    os.chown(state, NOBODY, NOBODY)
    r = as_nobody(runtime_bin, "--root", str(state), "run", "--bundle", str(b), "rl3")
    assert r.returncode != 0 and "cgroup" in r.stderr and "permission denied" in r.stderr, r.stderr
