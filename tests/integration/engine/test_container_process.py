"""What a container's processes start with through the engine, as with dockerd: default signal
dispositions whatever berthd's launcher ignored, HOME, lo up, supplementary groups."""
import re
import shutil
import tarfile

import pytest

from berthtest import TAG


def _sig(text):
    return [(k, int(v, 16)) for k, v in re.findall(r"(SigIgn|SigBlk):\s*([0-9a-f]+)", text)]


@pytest.fixture(scope="module")
def ignoring_berthd(berthd_session_factory):
    """A berthd started the way people start daemons by hand: INT, QUIT and HUP ignored."""
    return berthd_session_factory(launcher=["sh", "-c", "trap '' INT QUIT HUP; exec \"$@\"", "sh"])


def test_signals_of_the_daemons_launcher_do_not_reach_containers(ignoring_berthd):
    d = ignoring_berthd
    name = d.name()
    r = d.docker("run", "-d", "--name", name, "--network", "none", TAG, "sleep", "100")
    assert r.returncode == 0, r.stderr
    try:
        r = d.docker("exec", name, "grep", "-E", "^Sig(Ign|Blk)", "/proc/1/status",
                     "/proc/self/status")
        assert r.returncode == 0, r.stderr
        assert _sig(r.stdout) == [("SigBlk", 0), ("SigIgn", 0)] * 2, r.stdout
        r = d.docker("exec", name, "sh", "-c",
                     "trap 'echo trapped' INT; kill -INT $$; (yes; echo yes=$? >&2) | head -1")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["trapped", "y"]
        assert "yes=141" in r.stderr and "Broken pipe" not in r.stderr, r.stderr
    finally:
        d.docker("rm", "-f", name)
    r = d.docker("run", "--rm", "--network", "none", TAG, "grep", "-E", "^Sig(Ign|Blk)",
                 "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert _sig(r.stdout) == [("SigBlk", 0), ("SigIgn", 0)], r.stdout


PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
HOME = ["sh", "-c", 'echo "[${HOME-unset}]"']


def test_home_from_the_containers_passwd(berthd, tmp_path):
    d = berthd
    assert d.docker("run", "--rm", "--network", "none", TAG, *HOME).stdout.strip() == "[/root]"
    assert d.docker("run", "--rm", "--network", "none", "-u", "4242", TAG,
                    *HOME).stdout.strip() == "[/]"
    assert d.docker("run", "--rm", "--network", "none", "-e", "HOME=/x", TAG,
                    *HOME).stdout.strip() == "[/x]"
    # read inside the container, after its mounts, as dockerd's runc does
    pw = tmp_path / "passwd"
    pw.write_text(PASSWD)
    name = d.name()
    r = d.docker("run", "-d", "--name", name, "--network", "none", "-u", "1000",
                 "-v", f"{pw}:/etc/passwd:ro", TAG, "sleep", "100")
    assert r.returncode == 0, r.stderr
    try:
        assert d.docker("exec", name, *HOME).stdout.strip() == "[/home/app]"
        assert d.docker("exec", "-u", "0", name, *HOME).stdout.strip() == "[/root]"
        assert d.docker("exec", "-u", "4242", name, *HOME).stdout.strip() == "[/]"
        assert d.docker("exec", "-e", "HOME=/y", name, *HOME).stdout.strip() == "[/y]"
        r = d.docker("exec", name, "sh", "-c", "cat /proc/1/environ | tr '\\0' '\\n' | grep ^HOME")
        assert r.stdout.strip() == "HOME=/home/app", r.stdout + r.stderr
    finally:
        d.docker("rm", "-f", name)


def test_loopback_is_up(berthd):
    script = "ip -o addr show lo; echo hi | nc -l -p 7000 & sleep 0.3; nc 127.0.0.1 7000 </dev/null"
    for net in (["--network", "none"], []):
        r = berthd.docker("run", "--rm", *net, TAG, "sh", "-c", script)
        assert r.returncode == 0, r.stderr
        assert "inet 127.0.0.1/8" in r.stdout and r.stdout.rstrip().endswith("hi"), (net, r.stdout)


# ---- supplementary groups, as dockerd: the primary gid, /etc/group membership when no group is
# given (CVE-2022-36109: a process cannot shed a group that denies it), then --group-add

GROUP = "root:x:0:\napp:x:1000:\ng1:x:2000:app\ng2:x:2001:other,app\nstaff:x:3000:\n"


@pytest.fixture(scope="module")
def users_image(berthd, busybox_rootfs, tmp_path_factory):
    d = tmp_path_factory.mktemp("users")
    root = d / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    with tarfile.open(d / "img.tar", "w") as t:
        t.add(root, arcname=".")
    tag = "berth-test/users:latest"
    r = berthd.docker("import", str(d / "img.tar"), tag)
    assert r.returncode == 0, r.stderr
    yield tag
    berthd.docker("rmi", tag)


def _groups(r):
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[1:]


def test_supplementary_groups_of_run(berthd, users_image):
    def groups(*args):
        return _groups(berthd.docker("run", "--rm", "--network", "none", *args, users_image,
                                     "grep", "^Groups:", "/proc/self/status"))
    assert groups("-u", "app") == ["1000", "2000", "2001"]
    assert groups("-u", "1000") == ["1000", "2000", "2001"]
    assert groups("-u", "1000:1000") == ["1000"]
    assert groups("-u", "app:g2") == ["2001"]
    assert groups("-u", "4242") == ["0"]
    assert groups("-u", "app", "--group-add", "staff") == ["1000", "2000", "2001", "3000"]
    # the kernel sorts them
    assert groups("-u", "1000:1000", "--group-add", "staff", "--group-add", "77") == \
        ["77", "1000", "3000"]


def test_supplementary_groups_of_exec(berthd, users_image):
    name = berthd.name()
    r = berthd.docker("run", "-d", "--name", name, "--network", "none", "-u", "1000:1000",
                      "--group-add", "staff", users_image, "sleep", "100")
    assert r.returncode == 0, r.stderr
    try:
        def groups(*args):
            return _groups(berthd.docker("exec", *args, name, "grep", "^Groups:",
                                         "/proc/self/status"))
        assert groups() == ["1000", "3000"]
        assert groups("-u", "app") == ["1000", "2000", "2001", "3000"]
        assert groups("-u", "1000:1000") == ["1000", "3000"]
        assert groups("-u", "0") == ["0", "3000"]
        assert groups("-u", "4242") == ["0", "3000"]
    finally:
        berthd.docker("rm", "-f", name)
