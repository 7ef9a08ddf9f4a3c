"""CVE-2025-31133: masked paths were bind-mounted from the container's /dev/null, which an image
could make a symlink to a proc file. The runtime must use the real null device or refuse."""
import os
import shutil


def test_symlinked_dev_null_is_not_used_for_masks(rt, bundle, busybox_rootfs, tmp_path):
    rootfs = tmp_path / "evil-rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    os.symlink("/proc/sysrq-trigger", rootfs / "dev" / "null")
    bundle.config["root"]["path"] = str(rootfs)
    # no /dev tmpfs: the image's /dev is what the container sees
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
    bundle.config["linux"]["maskedPaths"] = ["/proc/kcore", "/proc/timer_list"]
    bundle.resources().clear()
    r = rt("run", "--bundle", bundle.sh("cat /proc/timer_list | head -c 64").write(), rt.new_id())
    if r.returncode == 0:
        # the mask must be inert (empty), never a bind of sysrq-trigger
        assert r.stdout == ""
    else:
        assert "null" in r.stderr, r.stderr
    assert rt("list", "-q").stdout == ""
