"""process.terminal: the pty master over --console-socket (as podman/containerd use it), and
the runtime relaying the pty itself in the foreground."""
import array
import json
import os
import pty
import select
import socket
import subprocess
import threading
import time


class ConsoleSocket:
    """A unix socket that receives the pty master like conmon does."""

    def __init__(self, path):
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.master = None
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        conn, _ = self.srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 16, 1)
        self.master = fds[0]
        conn.close()

    def wait(self):
        self.t.join(10)
        assert self.master is not None, "no pty master received"
        return self.master


def read_until(fd, want, timeout=10):
    out = b""
    end = time.time() + timeout
    while want.encode() not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    return out.decode(errors="replace")


def test_create_with_console_socket(rt, bundle, tmp_path):
    cs = ConsoleSocket(str(tmp_path / "console.sock"))
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": 30, "width": 100}
    b = bundle.sh("tty; stty size; ls -l /dev/console | cut -c1; [ -t 0 ] && echo stdin-is-tty; "
                  "read line; echo got-$line").write()
    cid = rt.new_id()
    r = rt("create", "--console-socket", cs.path, "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    master = cs.wait()
    assert rt("start", cid).returncode == 0
    out = read_until(master, "stdin-is-tty")
    assert "/dev/pts/0" in out and "30 100" in out and "stdin-is-tty" in out, out
    assert "\nc" in out.replace("\r", ""), out
    os.write(master, b"ping\n")
    out = read_until(master, "got-ping")
    assert "got-ping" in out, out
    os.close(master)


def test_terminal_needs_a_socket_when_detached(rt, bundle):
    bundle.config["process"]["terminal"] = True
    r = rt("run", "-d", "--bundle", bundle.args("/bin/true").write(), rt.new_id())
    assert r.returncode != 0 and "console-socket" in r.stderr
    r = rt("create", "--bundle", bundle.path, rt.new_id())
    assert r.returncode != 0 and "console-socket" in r.stderr
    assert rt("list", "-q").stdout == ""


def run_on_pty(argv, send=None, want="", timeout=10):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out = read_until(fd, want, timeout) if want else ""
    if send:
        os.write(fd, send)
        out += read_until(fd, "\x00", 2)
    _, status = os.waitpid(pid, 0)
    try:
        out += read_until(fd, "\x00", 0.5)
    except OSError:
        pass
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def test_foreground_run_relays_the_terminal(rt, bundle):
    bundle.config["process"]["terminal"] = True
    b = bundle.sh("tty; [ -t 1 ] && echo out-is-tty; read x; echo read-$x; exit 3").write()
    cid = rt.new_id()
    rc, out = run_on_pty([rt.binary, "--root", rt.root, "run", "--bundle", b, cid],
                         send=b"abc\n", want="out-is-tty")
    assert "/dev/pts/0" in out and "out-is-tty" in out and "read-abc" in out, out
    assert rc == 3
    assert rt("list", "-q").stdout == ""


def test_exec_tty(rt, bundle, tmp_path):
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    rc, out = run_on_pty([rt.binary, "--root", rt.root, "exec", "-t", cid, "sh", "-c",
                          "tty; echo exec-tty-ok; exit 4"], want="exec-tty-ok")
    assert "/dev/pts/" in out and "exec-tty-ok" in out, out
    assert rc == 4
    cs = ConsoleSocket(str(tmp_path / "exec.sock"))
    r = rt("exec", "-t", "-d", "--console-socket", cs.path, cid, "sh", "-c", "echo via-socket; sleep 1")
    assert r.returncode == 0, r.stderr
    master = cs.wait()
    assert "via-socket" in read_until(master, "via-socket")
    os.close(master)


def test_terminal_is_owned_by_the_process_user(rt, bundle):
    # runc hands the pty to the process's uid: a non-root user can use its own terminal
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b = bundle.sh("echo owner=$(stat -c %u $(tty)); echo x > $(tty) && echo reopened").write()
    rc, out = run_on_pty([rt.binary, "--root", rt.root, "run", "--bundle", b, rt.new_id()],
                         want="reopened")
    assert "owner=1000" in out and "reopened" in out, out
    assert rc == 0
