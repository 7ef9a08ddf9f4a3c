"""A new, empty volume mounted over a non-empty image directory gets the image's content when the
container is created, as dockerd does (moby's copyExistingContents): `-v vol:/dir`, `-v /dir`, `--mount
type=volume`, the SDK; owners, modes, times, symlinks (copied, never followed), hard links and
fifos kept; the volume's root takes the directory's owner and mode. A volume that already holds
data is not touched, `nocopy` / `volume-nocopy` skip the copy, binds are never filled,."""
import json
import os
import stat
import uuid

import pytest

from berthtest import TAG

SETUP = (
    "mkdir -p /data/sub/deep && echo hello > /data/file && echo deep > /data/sub/deep/f && "
    "chown 1000:2000 /data/file && chmod 0640 /data/file && "
    "chown 123:456 /data/sub && chmod 0711 /data/sub && "
    "chmod 4755 /data/sub/deep/f && "
    "ln -s /etc/passwd /data/abs-link && ln -s ../../../../../../etc /data/up-link && "
    "ln /data/file /data/hard && mkfifo /data/fifo && touch -d '2001-02-03 04:05:06' /data/file && "
    "chown 1000:1000 /data && chmod 0750 /data"
)


@pytest.fixture(scope="module")
def image(berthd):
    """An image with /data full of owners, modes, links (pointing out of the volume) and a
    fifo."""
    name = "popsrc-" + uuid.uuid4().hex[:8]
    ref = "berth-test/populate:" + name
    r = berthd.docker("run", "--name", name, "--network=none", TAG, "sh", "-c", SETUP)
    assert r.returncode == 0, r.stderr
    berthd.docker("commit", name, ref, check=True)
    berthd.docker("rm", name, check=True)
    yield ref
    berthd.docker("rmi", "-f", ref)


def _mountpoint(d, vol):
    return json.loads(d.docker("volume", "inspect", vol, check=True).stdout)[0]["Mountpoint"]


def _vol(d, prefix="pop"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _check_copied(root):
    st = os.lstat(root)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o750)
    f = os.lstat(os.path.join(root, "file"))
    assert (f.st_uid, f.st_gid, stat.S_IMODE(f.st_mode)) == (1000, 2000, 0o640)
    assert int(f.st_mtime) == int(os.lstat(os.path.join(root, "hard")).st_mtime)
    with open(os.path.join(root, "file")) as fh:
        assert fh.read() == "hello\n"
    # the hard link stays one inode
    assert os.lstat(os.path.join(root, "hard")).st_ino == f.st_ino
    sub = os.lstat(os.path.join(root, "sub"))
    assert (sub.st_uid, sub.st_gid, stat.S_IMODE(sub.st_mode)) == (123, 456, 0o711)
    deep = os.lstat(os.path.join(root, "sub", "deep", "f"))
    assert stat.S_IMODE(deep.st_mode) == 0o4755
    # symlinks are copied as links, never followed out of the image
    assert os.readlink(os.path.join(root, "abs-link")) == "/etc/passwd"
    assert os.readlink(os.path.join(root, "up-link")) == "../../../../../../etc"
    assert stat.S_ISFIFO(os.lstat(os.path.join(root, "fifo")).st_mode)


def test_named_volume_filled_on_first_use(berthd, image):
    vol = _vol(berthd)
    try:
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{vol}:/data", image, "sh",
                          "-c", "cat /data/file /data/sub/deep/f; stat -c '%u:%g %a' /data")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "hello\ndeep\n1000:1000 750\n"
        _check_copied(_mountpoint(berthd, vol))
    finally:
        berthd.docker("volume", "rm", "-f", vol)


def test_mount_flag_and_anonymous_volume_filled(berthd, image):
    vol = _vol(berthd)
    name = berthd.name("popanon")
    try:
        r = berthd.docker("run", "--rm", "--network=none", "--mount",
                          f"type=volume,src={vol},dst=/data", image, "cat", "/data/file")
        assert r.stdout == "hello\n", r.stderr
        _check_copied(_mountpoint(berthd, vol))
        r = berthd.docker("run", "--name", name, "--network=none", "-v", "/data", image, "cat",
                          "/data/sub/deep/f")
        assert r.stdout == "deep\n", r.stderr
        mounts = json.loads(berthd.docker("inspect", name, check=True).stdout)[0]["Mounts"]
        assert len(mounts) == 1 and mounts[0]["Type"] == "volume"
        _check_copied(mounts[0]["Source"])
    finally:
        berthd.docker("rm", "-f", "-v", name)
        berthd.docker("volume", "rm", "-f", vol)


def test_sdk_volume_filled(berthd, image):
    client = berthd.sdk()
    vol = _vol(berthd)
    try:
        out = client.containers.run(image, ["ls", "/data"], network_mode="none", remove=True,
                                    volumes={vol: {"bind": "/data", "mode": "rw"}})
        assert out.decode().split() == ["abs-link", "fifo", "file", "hard", "sub", "up-link"]
    finally:
        berthd.docker("volume", "rm", "-f", vol)


def test_volume_with_data_is_not_overwritten(berthd, image):
    vol = _vol(berthd)
    try:
        berthd.docker("volume", "create", vol, check=True)
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{vol}:/v", TAG, "sh", "-c",
                          "echo mine > /v/own")
        assert r.returncode == 0, r.stderr
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{vol}:/data", image, "ls",
                          "/data")
        assert r.stdout.split() == ["own"], r.stderr
        # once filled, a volume keeps its content for every later user and image directory
        vol2 = _vol(berthd)
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{vol2}:/data", image, "sh",
                          "-c", "rm /data/file; echo changed > /data/sub/deep/f")
        assert r.returncode == 0, r.stderr
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{vol2}:/data", image, "sh",
                          "-c", "ls /data; cat /data/sub/deep/f")
        assert "file\n" not in r.stdout and r.stdout.endswith("changed\n"), r.stdout
        berthd.docker("volume", "rm", "-f", vol2)
    finally:
        berthd.docker("volume", "rm", "-f", vol)


def test_pre_created_empty_volume_is_filled(berthd, image):
    # dockerd fills any empty volume (docker volume create first, as compose does)
    vol = _vol(berthd)
    try:
        berthd.docker("volume", "create", vol, check=True)
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{vol}:/data", image, "cat",
                          "/data/file")
        assert r.stdout == "hello\n", r.stderr
    finally:
        berthd.docker("volume", "rm", "-f", vol)


def test_nocopy_and_binds_stay_empty(berthd, image, tmp_path):
    v1, v2 = _vol(berthd), _vol(berthd)
    try:
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{v1}:/data:nocopy", image,
                          "ls", "-A", "/data")
        assert r.returncode == 0 and r.stdout == "", (r.stdout, r.stderr)
        r = berthd.docker("run", "--rm", "--network=none", "--mount",
                          f"type=volume,src={v2},dst=/data,volume-nocopy", image, "ls", "-A",
                          "/data")
        assert r.returncode == 0 and r.stdout == "", (r.stdout, r.stderr)
        assert os.listdir(_mountpoint(berthd, v1)) == []
        assert os.listdir(_mountpoint(berthd, v2)) == []
        bind = tmp_path / "bind"
        bind.mkdir()
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{bind}:/data", image, "ls",
                          "-A", "/data")
        assert r.returncode == 0 and r.stdout == "", r.stdout
        assert os.listdir(bind) == []
    finally:
        berthd.docker("volume", "rm", "-f", v1, v2)


def test_volume_at_etc_keeps_the_generated_files(berthd):
    # dockerd mounts /etc/hosts, /etc/hostname and /etc/resolv.conf over a volume at /etc (its
    # mounts are sorted parents first), filled or not
    for opt in ("", ":nocopy"):
        vol = _vol(berthd)
        try:
            r = berthd.docker("run", "--rm", "--network=none", "-h", "etchost", "--add-host",
                              "a.b:10.0.0.9", "-v", f"{vol}:/etc{opt}", TAG, "sh", "-c",
                              "cat /etc/hostname; tail -1 /etc/hosts; ls /etc")
            assert r.returncode == 0, r.stderr
            lines = r.stdout.split()
            assert lines[:3] == ["etchost", "10.0.0.9", "a.b"], r.stdout
            assert ("passwd" in lines) == (opt == ""), r.stdout
        finally:
            berthd.docker("volume", "rm", "-f", vol)


def test_image_volume_filled(berthd, image):
    # an image's VOLUME gets an anonymous volume holding the image's content, as with dockerd
    ref = image + "-vol"
    src = berthd.name("popvolsrc")
    name = berthd.name("popvol")
    try:
        berthd.docker("run", "--name", src, "--network=none", image, "true", check=True)
        berthd.docker("commit", "--change", "VOLUME /data", src, ref, check=True)
        r = berthd.docker("run", "--name", name, "--network=none", ref, "cat", "/data/file")
        assert r.stdout == "hello\n", r.stderr
        mounts = json.loads(berthd.docker("inspect", name, check=True).stdout)[0]["Mounts"]
        assert [m["Destination"] for m in mounts] == ["/data"]
        _check_copied(mounts[0]["Source"])
    finally:
        berthd.docker("rm", "-f", "-v", name, src)
        berthd.docker("rmi", "-f", ref)


def test_filled_at_create(berthd, image):
    # dockerd copies at create: the volume is full before the container ever starts
    vol = _vol(berthd)
    name = berthd.name("popcreate")
    try:
        berthd.docker("create", "--name", name, "--network=none", "-v", f"{vol}:/data", image,
                      "true", check=True)
        _check_copied(_mountpoint(berthd, vol))
        r = berthd.docker("run", "--rm", "--network=none", "-v", f"{vol}:/x", TAG, "cat",
                          "/x/file")
        assert r.stdout == "hello\n", r.stderr
        # the container's own rootfs is not left mounted by the copy
        with open("/proc/self/mountinfo") as f:
            assert name not in f.read()
        cid = berthd.docker("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
        with open("/proc/self/mountinfo") as f:
            assert cid not in f.read()
        berthd.docker("start", "-a", name, check=True)
    finally:
        berthd.docker("rm", "-f", name)
        berthd.docker("volume", "rm", "-f", vol)


def test_failed_copy_creates_nothing(berthd):
    # a volume too small for the image's /bin: create fails with the copy's error (as dockerd's)
    # and leaves no container, no container dir and no mount behind
    vol = _vol(berthd)
    berthd.docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt",
                  "o=size=64k", vol, check=True)
    before = set(os.listdir(os.path.join(berthd.data_root, "containers")))
    try:
        r = berthd.docker("create", "--network=none", "-v", f"{vol}:/bin", TAG, "true")
        assert r.returncode != 0 and "no space left on device" in r.stderr, r.stderr
        assert berthd.docker("ps", "-aq", "--filter", f"volume={vol}").stdout == ""
        assert set(os.listdir(os.path.join(berthd.data_root, "containers"))) == before
        with open("/proc/self/mountinfo") as f:
            assert _mountpoint(berthd, vol) not in f.read()
        # the volume is free again
        berthd.docker("volume", "rm", vol, check=True)
    finally:
        berthd.docker("volume", "rm", "-f", vol)
