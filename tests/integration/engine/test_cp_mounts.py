"""docker cp sees the container's mounts: named volumes, binds and tmpfs, on a running and on a
stopped container, through the docker CLI and the berth CLI; read-only mounts refuse a copy in;
symlinks inside a volume cannot lead out of it."""
import io
import json
import os
import tarfile
import uuid

import docker
import pytest

from berthtest import TAG


def _volume_dir(d, name):
    info = json.loads(d.docker("volume", "inspect", name, check=True).stdout)[0]
    return info["Mountpoint"]


@pytest.fixture
def vol_and_bind(berthd, tmp_path):
    """A named volume and a host dir to bind, removed after the test."""
    vol = berthd.name("cpvol")
    berthd.docker("volume", "create", vol, check=True)
    bind = tmp_path / "bind"
    bind.mkdir()
    names = []
    yield vol, bind, names
    for n in names:
        berthd.docker("rm", "-f", n)
    berthd.docker("volume", "rm", "-f", vol)


def _run(d, names, *args):
    name = d.name("cp")
    names.append(name)
    r = d.docker("run", "-d", "--name", name, "--network=none", *args, TAG, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    return name


@pytest.mark.parametrize("client", ["docker", "berth"])
@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_cp_into_and_out_of_volume_and_bind(berthd, vol_and_bind, tmp_path, client, running):
    vol, bind, names = vol_and_bind
    cli = berthd.docker if client == "docker" else berthd.cli
    name = _run(berthd, names, "-v", f"{vol}:/data", "-v", f"{bind}:/host")
    if not running:
        berthd.docker("stop", "-t", "0", name, check=True)
    voldir = _volume_dir(berthd, vol)
    src = tmp_path / "in.txt"
    src.write_text(f"into the volume {client}\n")
    r = cli("cp", str(src), f"{name}:/data/")
    assert r.returncode == 0, r.stderr
    # it lands in the volume's host dir, not in the container's rootfs under /data
    assert open(os.path.join(voldir, "in.txt")).read() == f"into the volume {client}\n"
    r = cli("cp", str(src), f"{name}:/host/sub.txt")
    assert r.returncode == 0, r.stderr
    assert (bind / "sub.txt").read_text() == f"into the volume {client}\n"

    # out: files the host put there
    os.makedirs(os.path.join(voldir, "dir", "deep"), exist_ok=True)
    with open(os.path.join(voldir, "dir", "deep", "f"), "w") as f:
        f.write("from the volume\n")
    (bind / "hostfile").write_text("from the bind\n")
    out = tmp_path / "out"
    out.mkdir()
    r = cli("cp", f"{name}:/data/dir", str(out / "dir"))
    assert r.returncode == 0, r.stderr
    assert (out / "dir" / "deep" / "f").read_text() == "from the volume\n"
    r = cli("cp", f"{name}:/host/hostfile", str(out / "hf"))
    assert r.returncode == 0, r.stderr
    assert (out / "hf").read_text() == "from the bind\n"
    # the mount point itself, copied out whole
    r = cli("cp", f"{name}:/host", str(out / "wholebind"))
    assert r.returncode == 0, r.stderr
    assert (out / "wholebind" / "hostfile").read_text() == "from the bind\n"
    # the rootfs still answers outside the mounts
    r = cli("cp", f"{name}:/etc/passwd", str(out / "passwd"))
    assert r.returncode == 0, r.stderr
    assert "root:" in (out / "passwd").read_text()
    r = cli("cp", f"{name}:/data/nothing-here", str(out / "x"))
    assert r.returncode != 0 and "Could not find the file" in r.stderr

    if running:
        # the container sees what cp put into its volume
        r = berthd.docker("exec", name, "cat", "/data/in.txt", "/host/sub.txt")
        assert r.stdout == f"into the volume {client}\n" * 2, r.stderr
    else:
        # nothing went into the rootfs under the mount points
        berthd.docker("start", name, check=True)
        r = berthd.docker("exec", name, "cat", "/data/in.txt")
        assert r.stdout == f"into the volume {client}\n", r.stderr


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_cp_into_read_only_bind_refused(berthd, vol_and_bind, tmp_path, running):
    vol, bind, names = vol_and_bind
    name = _run(berthd, names, "-v", f"{bind}:/ro:ro", "-v", f"{vol}:/data:ro")
    if not running:
        berthd.docker("stop", "-t", "0", name, check=True)
    src = tmp_path / "f"
    src.write_text("x")
    for dest in ("/ro/", "/ro/f", "/data/"):
        r = berthd.docker("cp", str(src), f"{name}:{dest}")
        assert r.returncode != 0
        assert "mounted volume is marked read-only" in r.stderr, r.stderr
    assert os.listdir(bind) == []
    assert os.listdir(_volume_dir(berthd, vol)) == []
    # reading from a read-only mount is fine
    (bind / "r").write_text("readable\n")
    r = berthd.docker("cp", f"{name}:/ro/r", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r").read_text() == "readable\n"


def test_cp_into_volume_of_read_only_rootfs(berthd, vol_and_bind, tmp_path):
    """--read-only refuses copies into the rootfs, not into a writable volume (docker's rule)."""
    vol, bind, names = vol_and_bind
    name = _run(berthd, names, "--read-only", "-v", f"{vol}:/data")
    src = tmp_path / "f"
    src.write_text("x")
    r = berthd.docker("cp", str(src), f"{name}:/data/")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(_volume_dir(berthd, vol), "f"))
    r = berthd.docker("cp", str(src), f"{name}:/tmp/")
    assert r.returncode != 0 and "read-only" in r.stderr


def test_cp_into_tmpfs_of_running_container(berthd, vol_and_bind, tmp_path):
    _, _, names = vol_and_bind
    name = _run(berthd, names, "--tmpfs", "/scratch")
    src = tmp_path / "t.txt"
    src.write_text("in tmpfs\n")
    r = berthd.docker("cp", str(src), f"{name}:/scratch/")
    assert r.returncode == 0, r.stderr
    r = berthd.docker("exec", name, "cat", "/scratch/t.txt")
    assert r.stdout == "in tmpfs\n", r.stderr
    r = berthd.docker("exec", name, "sh", "-c", "grep ' /scratch ' /proc/mounts")
    assert "tmpfs" in r.stdout
    r = berthd.docker("cp", f"{name}:/scratch/t.txt", str(tmp_path / "back"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back").read_text() == "in tmpfs\n"
    # the rootfs' own /scratch stays empty: the file went to the tmpfs
    upper = os.path.join(berthd.data_root, "containers",
                         berthd.docker("inspect", "-f", "{{.Id}}", name).stdout.strip(), "upper")
    assert not os.path.exists(os.path.join(upper, "scratch", "t.txt"))


def _tar_of(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_cp_symlinks_in_volume_cannot_escape(berthd, vol_and_bind, tmp_path, running):
    """Symlinks in a volume or bind to / or ../../..: the docker CLI (which follows a link it is
    told about) and raw PUT/GET through the SDK (the daemon resolves the link) stay inside the
    container: a running one's root, a stopped one's mount source."""
    vol, bind, names = vol_and_bind
    name = _run(berthd, names, "-v", f"{vol}:/data", "-v", f"{bind}:/host")
    if not running:
        berthd.docker("stop", "-t", "0", name, check=True)
    cid = berthd.docker("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
    upper = os.path.join(berthd.data_root, "containers", cid, "upper")
    voldir = _volume_dir(berthd, vol)
    marker = f"berth-cp-vol-escape-{uuid.uuid4().hex[:8]}"
    for d in (voldir, str(bind)):
        os.symlink("/", os.path.join(d, "root"))
        os.symlink("../../../../../../../..", os.path.join(d, "up"))
    (tmp_path / "src").mkdir()
    src = tmp_path / "src" / marker
    src.write_text("x")
    watched = ["/", "/tmp", os.path.dirname(voldir), os.path.dirname(os.path.dirname(voldir)),
               berthd.data_root, str(tmp_path), "/etc"]

    def escaped():
        return [w for w in watched if os.path.exists(os.path.join(w, marker))]

    for dest in ("/data/root/", "/data/up/", "/host/root/", "/host/up/", "/data/up/tmp/"):
        berthd.docker("cp", str(src), f"{name}:{dest}")
        assert not escaped(), f"docker cp to {dest} escaped"
    client = berthd.sdk()
    ctr = client.containers.get(cid)
    for dest in ("/data/root", "/data/up", "/host/root", "/host/up"):
        assert ctr.put_archive(dest, _tar_of(marker, b"sdk")) is True
        assert not escaped(), f"put_archive to {dest} escaped"
    if running:
        # resolved in the container's root: the links lead to its rootfs
        assert os.path.exists(os.path.join(upper, marker))
    else:
        # resolved in the mount's source: the links lead to its top
        assert open(os.path.join(voldir, marker)).read() == "sdk"
        assert (bind / marker).read_text() == "sdk"
    # reading through them never reaches the host's files
    for p in ("/data/root/etc/hostname", "/data/up/etc/hostname", "/host/up/etc/hostname"):
        if running:
            stream, _ = ctr.get_archive(p)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
                got = t.extractfile("hostname").read().decode()
            assert got.strip() == cid[:12], p
        else:
            with pytest.raises(docker.errors.NotFound):
                ctr.get_archive(p)


def test_cp_whole_root_of_running_container(berthd, vol_and_bind):
    """cp of / from a running container includes its volumes, and does not walk /proc or /sys
    (endless kernel trees)."""
    vol, bind, names = vol_and_bind
    name = _run(berthd, names, "-v", f"{vol}:/data")
    with open(os.path.join(_volume_dir(berthd, vol), "v"), "w") as f:
        f.write("in volume\n")
    ctr = berthd.sdk().containers.get(name)
    stream, stat = ctr.get_archive("/")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
        names_in = t.getnames()
        assert t.extractfile(next(n for n in names_in if n.endswith("data/v"))).read() == \
            b"in volume\n"
    assert any(n.endswith("bin/busybox") for n in names_in)
    assert any(n.rstrip("/").endswith("proc") for n in names_in)
    assert not [n for n in names_in if "/proc/" in f"/{n}" or "/sys/" in f"/{n}"]


def test_cp_over_a_mount_point_is_busy(berthd, vol_and_bind, tmp_path):
    """The copy is applied in the running container's mount namespace: a file bound over a path
    is busy (docker's EBUSY), never unlinked from under the container."""
    _, bind, names = vol_and_bind
    (bind / "f").write_text("orig\n")
    name = _run(berthd, names, "-v", f"{bind / 'f'}:/etc/bound")
    src = tmp_path / "bound"
    src.write_text("new\n")
    r = berthd.docker("cp", str(src), f"{name}:/etc/bound")
    assert r.returncode != 0 and "device or resource busy" in r.stderr, r.stderr
    r = berthd.docker("exec", name, "sh", "-c", "cat /etc/bound; grep -c ' /etc/bound ' "
                      "/proc/mounts")
    assert r.stdout.split() == ["orig", "1"], r.stderr
    assert (bind / "f").read_text() == "orig\n"
    r = berthd.docker("exec", name, "grep", "-c", " /etc/hosts ", "/proc/mounts")
    assert r.stdout.strip() == "1"
