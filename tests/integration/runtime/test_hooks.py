"""OCI hooks: where each runs, the state it reads on stdin, timeouts and failures."""
import json
import os

ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]


def host_hook(tmp_path, name, script, timeout=None):
    """A hook running /bin/sh on the host; its stdin (the state) is saved as <name>.json."""
    out = tmp_path / name
    h = {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}.json; {script}"], "env": ENV}
    if timeout:
        h["timeout"] = timeout
    return h, out


def test_hooks_run_in_order_with_state(rt, bundle, tmp_path):
    pre, pre_out = host_hook(tmp_path, "prestart", 'readlink /proc/$(jq -r .pid < {0}.json)/ns/net > {0}.net'.format(tmp_path / "prestart"))
    cr, cr_out = host_hook(tmp_path, "createRuntime", "echo ok > " + str(tmp_path / "createRuntime.ok"))
    cc, cc_out = host_hook(tmp_path, "createContainer", "readlink /proc/self/ns/mnt > " + str(tmp_path / "cc.mnt"))
    ps, ps_out = host_hook(tmp_path, "poststart", "true")
    pst, pst_out = host_hook(tmp_path, "poststop", "true")
    # startContainer runs inside the container: its path is resolved in the container's root
    sc = {"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/shm/start-state"], "env": ENV}
    bundle.config["hooks"] = {"prestart": [pre], "createRuntime": [cr], "createContainer": [cc],
                              "startContainer": [sc], "poststart": [ps], "poststop": [pst]}
    bundle.config["annotations"] = {"org.example": "yes"}
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.sh("cat /dev/shm/start-state").write(), cid)
    assert r.returncode == 0, r.stderr
    start_state = json.loads(r.stdout)
    assert start_state["id"] == cid and start_state["status"] == "created"
    pre_state = json.loads(open(f"{pre_out}.json").read())
    assert pre_state["id"] == cid and pre_state["status"] == "creating"
    assert pre_state["bundle"] == bundle.path and pre_state["annotations"] == {"org.example": "yes"}
    assert open(f"{pre_out}.net").read().strip() != os.readlink("/proc/self/ns/net")
    assert (tmp_path / "createRuntime.ok").exists()
    assert open(tmp_path / "cc.mnt").read().strip() != os.readlink("/proc/self/ns/mnt")
    assert json.loads(open(f"{ps_out}.json").read())["status"] == "running"
    assert json.loads(open(f"{pst_out}.json").read())["status"] == "stopped"


def test_failing_prestart_hook_fails_create(rt, bundle, tmp_path):
    h, _ = host_hook(tmp_path, "bad", "echo broken >&2; exit 3")
    bundle.config["hooks"] = {"prestart": [h]}
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.args("/bin/true").write(), cid)
    assert r.returncode != 0
    assert "error running prestart hook #0" in r.stderr and "exit status 3" in r.stderr
    assert "broken" in r.stderr
    assert rt("list", "-q").stdout == ""


def test_hook_timeout(rt, bundle, tmp_path):
    h, _ = host_hook(tmp_path, "slow", "sleep 10", timeout=1)
    bundle.config["hooks"] = {"createRuntime": [h]}
    r = rt("run", "--bundle", bundle.args("/bin/true").write(), rt.new_id())
    assert r.returncode != 0 and "timed out" in r.stderr
    assert rt("list", "-q").stdout == ""


def test_failing_poststart_kills_container_and_poststop_only_warns(rt, bundle, tmp_path):
    bad, _ = host_hook(tmp_path, "bad", "exit 1")
    bundle.config["hooks"] = {"poststart": [bad]}
    r = rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), rt.new_id())
    assert r.returncode != 0 and "poststart hook" in r.stderr
    assert rt("list", "-q").stdout == ""
    bundle.config["hooks"] = {"poststop": [bad]}
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.args("/bin/true").write(), cid)
    assert r.returncode == 0 and "poststop hook" in r.stderr


def test_create_start_delete_hooks(rt, bundle, tmp_path):
    ps, ps_out = host_hook(tmp_path, "poststart", "true")
    pst, pst_out = host_hook(tmp_path, "poststop", "true")
    bundle.config["hooks"] = {"poststart": [ps], "poststop": [pst]}
    cid = rt.new_id()
    assert rt("create", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    assert not os.path.exists(f"{ps_out}.json")
    assert rt("start", cid).returncode == 0
    assert json.loads(open(f"{ps_out}.json").read())["status"] == "running"
    assert rt("delete", "-f", cid).returncode == 0
    assert json.loads(open(f"{pst_out}.json").read())["status"] == "stopped"


def test_start_container_hook_inherits_the_process_env(rt, bundle):
    """Without an env of its own, startContainer runs with the container process's (runc)."""
    sc = {"path": "/bin/sh", "args": ["sh", "-c", "echo \"$MARK:$PATH\" > /dev/shm/hook-env"]}
    bundle.config["hooks"] = {"startContainer": [sc]}
    bundle.config["process"]["env"].append("MARK=from-process")
    r = rt("run", "--bundle", bundle.sh("cat /dev/shm/hook-env").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("from-process:/usr/local/sbin")
