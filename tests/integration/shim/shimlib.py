"""Helpers for berth-shim tests: the test plays berthd's side of the protocol in src/shim/shim.h."""
import json
import os
import signal
import socket
import struct
import subprocess
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build"))
SHIM = os.path.join(BUILD, "cmd", "berth-shim")


def recv_json(sock, timeout=30):
    sock.settimeout(timeout)
    data = sock.recv(65536)
    assert data, "control channel closed"
    return json.loads(data)


def wait_file(path, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        time.sleep(0.02)
    pytest.fail(f"{path} did not appear")


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if not pid_alive(pid):
            return
        time.sleep(0.02)
    pytest.fail(f"process {pid} still alive")


def read_frames(sock, timeout=30):
    """Docker's multiplexed stream until EOF: {1: stdout bytes, 2: stderr bytes}."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    out = {1: b"", 2: b""}
    while data:
        assert len(data) >= 8, f"truncated frame header {data!r}"
        stream, size = data[0], struct.unpack(">I", data[4:8])[0]
        assert data[1:4] == b"\0\0\0" and stream in (1, 2)
        assert len(data) >= 8 + size, "truncated frame"
        out[stream] += data[8:8 + size]
        data = data[8 + size:]
    return out


def read_all(sock, timeout=30):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


class Shim:
    """One berth-shim process and the daemon's end of its control channel."""

    def __init__(self, tmp_path, rtroot, mode="create", bundle=None, process=None, cid=None,
                 stdin=False, stdin_once=False, tty=False, log=True, log_max_size=None,
                 log_max_files=None, name="shim", env=None):
        self.id = cid or f"shim-{uuid.uuid4().hex[:10]}"
        self.rtroot = rtroot
        self.state = str(tmp_path / f"{name}-state")
        self.log = str(tmp_path / f"{name}-json.log") if log else None
        args = [SHIM, mode, "--id", self.id, "--state", self.state, "--runtime-root", rtroot]
        if bundle:
            args += ["--bundle", bundle]
        if process:
            args += ["--process", process]
        if stdin:
            args.append("--stdin")
        if stdin_once:
            args.append("--stdin-once")
        if tty:
            args.append("--tty")
        if self.log:
            args += ["--log", self.log]
        if log_max_size is not None:
            args += ["--log-max-size", str(log_max_size)]
        if log_max_files is not None:
            args += ["--log-max-files", str(log_max_files)]
        self.ctl, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cfd = child.fileno()
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, preexec_fn=lambda: os.dup2(cfd, 3), env=env,
                             pass_fds=(cfd, 3))
        child.close()
        # the daemon's direct child exits at once: the shim detached itself
        self.stderr = b""
        if env and "BERTH_SHIM_STDERR" in env:
            # the shim keeps the pipe for its messages: read it only once it is gone
            p.wait(30)
            self.stderr_pipe = p.stderr
        else:
            _, self.stderr = p.communicate(timeout=30)
        assert p.returncode == 0, self.stderr
        self.shim_pid = None
        self.pid = None

    def created(self):
        m = recv_json(self.ctl)
        assert "created" in m, m
        self.pid = m["created"]["pid"]
        self.shim_pid = m["created"]["shim_pid"]
        with open(os.path.join(self.state, "shim.pid")) as f:
            assert int(f.read()) == self.shim_pid
        return m

    def send(self, msg, fds=()):
        socket.send_fds(self.ctl, [json.dumps(msg).encode()], list(fds))

    def attach(self, stdin=False, stdout=True, stderr=True, raw=False, via=None):
        """A hijacked connection stand-in: the test keeps one end, the shim gets the other."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        req = {"attach": {"stdin": stdin, "stdout": stdout, "stderr": stderr, "raw": raw}}
        if via is None:
            self.send(req, [theirs.fileno()])
        else:
            socket.send_fds(via, [json.dumps(req).encode()], [theirs.fileno()])
            assert recv_json(via) == {"ok": True}
        theirs.close()
        return mine

    def attach_sock(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(os.path.join(self.state, "attach.sock"))
        return s

    def start(self):
        self.send({"start": True})
        m = recv_json(self.ctl)
        assert m.get("started") is True, m
        return m

    def exit(self, timeout=60):
        path = os.path.join(self.state, "exit.json")
        wait_file(path, timeout)
        wait_gone(self.shim_pid, timeout)
        with open(path) as f:
            return json.load(f)

    def log_entries(self, path=None):
        with open(path or self.log) as f:
            return [json.loads(line) for line in f]

    def kill(self):
        for pid in (self.pid, self.shim_pid):
            if pid and pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def container_cgroups(cid):
    base = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(base, "cgroup.controllers")):
        return [os.path.join(base, "berth", cid)]
    return [os.path.join(base, d, "berth", cid) for d in os.listdir(base)]


def fds_of(pid):
    return sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
