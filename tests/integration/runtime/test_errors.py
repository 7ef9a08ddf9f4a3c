"""Bad input gets a clear message, a non-zero exit, and leaves nothing behind."""
import json
import os

from berthtest import cgroup_mode


def assert_clean(rt, cid):
    assert rt("list", "-q").stdout.strip() == ""
    assert not os.path.exists(os.path.join(rt.root, cid))
    base = "/sys/fs/cgroup"
    for c in os.listdir(base) if cgroup_mode() != "v2" else ["."]:
        assert not os.path.exists(os.path.join(base, c, "berth", cid)), c


def test_missing_binary(rt, bundle):
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.args("/nope").write(), cid)
    assert r.returncode != 0
    # runc's wording
    assert ('unable to start container process: exec: "/nope": stat /nope: '
            'no such file or directory') in r.stderr, r.stderr
    assert_clean(rt, cid)


def test_binary_not_in_path(rt, bundle):
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.args("nope-cmd").write(), cid)
    assert r.returncode != 0
    assert "nope-cmd" in r.stderr and "not found" in r.stderr
    assert_clean(rt, cid)


def test_missing_bundle(rt, tmp_path):
    cid = rt.new_id()
    r = rt("run", "--bundle", str(tmp_path / "nowhere"), cid)
    assert r.returncode != 0 and "nowhere" in r.stderr
    assert_clean(rt, cid)


def test_missing_rootfs(rt, bundle, tmp_path):
    cid = rt.new_id()
    bundle.config["root"]["path"] = str(tmp_path / "no-rootfs")
    r = rt("run", "--bundle", bundle.write(), cid)
    assert r.returncode != 0 and "no-rootfs" in r.stderr
    assert_clean(rt, cid)


def test_bad_config(rt, bundle):
    cid = rt.new_id()
    bundle.config["process"]["args"] = "sh"
    r = rt("run", "--bundle", bundle.write(), cid)
    assert r.returncode != 0
    assert "config.json: process.args: expected array of strings" in r.stderr
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write("{not json")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.returncode != 0 and "invalid JSON" in r.stderr
    assert_clean(rt, cid)


def test_bad_ids(rt, bundle):
    b = bundle.args("/bin/true").write()
    for bad in ("../x", "a/b", "", ".."):
        r = rt("run", "--bundle", b, bad)
        assert r.returncode != 0, bad
        assert "container id" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(rt.root, "x"))


def test_duplicate_id(rt, bundle):
    cid = rt.new_id()
    b = bundle.sh("sleep 100").write()
    assert rt("run", "-d", "--bundle", b, cid).returncode == 0
    pid = json.loads(rt("state", cid).stdout)["pid"]
    r = rt("run", "--bundle", b, cid)
    assert r.returncode != 0 and "already exists" in r.stderr
    # the running one is untouched
    st = json.loads(rt("state", cid).stdout)
    assert st["status"] == "running" and st["pid"] == pid
    assert rt("delete", "-f", cid).returncode == 0


def test_unknown_container(rt):
    for verb in (["state"], ["start"], ["kill"], ["delete"]):
        r = rt(*verb, "ghost")
        assert r.returncode != 0 and "ghost" in r.stderr and "does not exist" in r.stderr
    assert rt("delete", "--force", "ghost").returncode == 0


def test_bad_mount_is_reported_and_cleaned(rt, bundle, tmp_path):
    cid = rt.new_id()
    bundle.config["mounts"].append({"destination": "/x", "type": "bind",
                                    "source": str(tmp_path / "missing-src"), "options": ["bind"]})
    r = rt("run", "--bundle", bundle.args("/bin/true").write(), cid)
    assert r.returncode != 0 and "missing-src" in r.stderr
    assert_clean(rt, cid)


def test_usage_errors(rt):
    assert rt("bogus-verb").returncode != 0
    r = rt("kill", "x", "NOSIG")
    assert r.returncode != 0 and "unknown signal" in r.stderr
    r = rt("list", "--format", "yaml")
    assert r.returncode != 0


def test_spec_and_features(rt, tmp_path):
    r = rt("spec", "--bundle", str(tmp_path))
    assert r.returncode == 0, r.stderr
    spec = json.load(open(tmp_path / "config.json"))
    assert spec["process"]["args"] == ["sh"]
    assert spec["root"]["path"] == "rootfs"
    r = rt("spec", "--bundle", str(tmp_path))
    assert r.returncode != 0 and "exists" in r.stderr
    rl = tmp_path / "rl"
    rl.mkdir()
    assert rt("spec", "--rootless", "--bundle", str(rl)).returncode == 0
    spec = json.load(open(rl / "config.json"))
    assert {"type": "user"} in spec["linux"]["namespaces"]
    assert spec["linux"]["uidMappings"][0]["hostID"] == os.geteuid()
    f = json.loads(rt("features").stdout)
    assert "time" in f["linux"]["namespaces"] and f["linux"]["cgroup"]["v2"] is True
    assert set(f["hooks"]) == {"prestart", "createRuntime", "createContainer", "startContainer",
                               "poststart", "poststop"}
