"""CVE-2019-16884 / CVE-2023-27561: a rootfs whose /proc is a symlink (or a volume at /proc)
must not make the runtime mount procfs, and later write to it, somewhere else."""
import os
import shutil


def test_symlinked_proc_refused(rt, bundle, busybox_rootfs, tmp_path):
    rootfs = tmp_path / "evil-rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    os.rmdir(rootfs / "proc")
    (rootfs / "fake").mkdir()
    os.symlink("/fake", rootfs / "proc")
    bundle.config["root"]["path"] = str(rootfs)
    cid = rt.new_id()
    r = rt("run", "--bundle", bundle.args("/bin/true").write(), cid)
    assert r.returncode != 0
    assert "symlink" in r.stderr, r.stderr
    assert os.listdir(rootfs / "fake") == []
    assert rt("list", "-q").stdout == ""


def test_volume_at_proc_refused(rt, bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    bundle.config["mounts"].append({"destination": "/proc", "type": "bind", "source": str(vol),
                                    "options": ["bind"]})
    r = rt("run", "--bundle", bundle.args("/bin/true").write(), rt.new_id())
    assert r.returncode != 0
    assert "only procfs may be mounted" in r.stderr, r.stderr
    bundle.config["mounts"][-1]["destination"] = "/proc/sys/kernel"
    r = rt("run", "--bundle", bundle.write(), rt.new_id())
    assert r.returncode != 0 and "only procfs" in r.stderr
