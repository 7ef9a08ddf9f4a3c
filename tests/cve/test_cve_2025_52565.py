"""CVE-2025-52565: the /dev/console bind target could be raced or planted onto procfs. The
target is a file berth creates in its own /dev tmpfs (never following a symlink), the source
the pty slave it opened itself."""
import os
import shutil
import socket
import threading


def test_console_target_is_ours(rt, bundle, busybox_rootfs, tmp_path):
    rootfs = tmp_path / "evil-rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    os.symlink("/proc/sysrq-trigger", rootfs / "dev" / "console")
    bundle.config["root"]["path"] = str(rootfs)
    bundle.config["process"]["terminal"] = True
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    def accept():
        conn, _ = srv.accept()
        _, fds, _, _ = socket.recv_fds(conn, 16, 1)
        got["fd"] = fds[0]
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    cid = rt.new_id()
    b = bundle.sh("stat -c '%F %t:%T' /dev/console; readlink /dev/console || echo not-a-link").write()
    r = rt("create", "--console-socket", path, "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    t.join(10)
    assert rt("start", cid).returncode == 0
    out = b""
    import select
    while b"not-a-link" not in out:
        if not select.select([got["fd"]], [], [], 5)[0]:
            break
        try:
            data = os.read(got["fd"], 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    text = out.decode(errors="replace")
    # the container's /dev is a fresh tmpfs: /dev/console is the pty, not the planted link
    assert "character special file 88:0" in text or "character special file" in text, text
    assert "not-a-link" in text, text
    os.close(got["fd"])
    # the planted link in the image is untouched
    assert os.readlink(rootfs / "dev" / "console") == "/proc/sysrq-trigger"
