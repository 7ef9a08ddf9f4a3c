"""Fixtures for the networking tests: a container engine — dockerd (docker.io, the reference) or
berthd — running inside a network namespace the fixture makes, so its bridges, veths, packet rules
(dockerd's iptables, berth's nftables table) and published ports live there and the machine's own
interfaces, routes and rules are never touched. No test sends a packet out of that namespace.

    def test_x(engine):              # parametrized: runs against dockerd and against berthd
        engine.docker("run", "--rm", TAG, "true")     # the docker CLI
        engine.berth("network", "ls")                 # the berth CLI
        engine.sdk()                                  # the python docker SDK
        engine.host("busybox", "wget", "-qO-", "http://127.0.0.1:8080/")  # the netns' host side

    def test_y(dockerd_netns):       # dockerd only (the berth CLI compared with the docker CLI)

Both engines are session-wide and have TAG (busybox) loaded; after each test every container is
removed and unused networks are pruned (engine_clean does it for the fixtures above).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from berthtest import (BERTH_CLI, BUILD, TAG,  # noqa: F401 (TAG for the test files)
                       sanitized_clients_report_nothing,  # noqa: F401 (autouse fixture)
                       skip_dockerd_when_sanitized)

BERTHD = os.environ.get("BERTHD") or os.path.join(BUILD, "cmd", "berthd")
SHIM = os.environ.get("BERTH_SHIM") or os.path.join(BUILD, "cmd", "berth-shim")
# dockerd 20.10 (Debian's docker.io) speaks API 1.41; berthd 1.43
API = {"dockerd": "1.41", "berthd": "1.43"}


def _mounts_under(d):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(d + "/")]


class NetNs:
    """A network namespace pinned at <dir>/ns (on a private mount, like berthd's netns
    directory), loopback up; commands run in it through nsenter."""

    def __init__(self, d):
        self.dir = d
        self.path = os.path.join(d, "ns")
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "--bind", d, d], check=True)
        subprocess.run(["mount", "--make-private", d], check=True)
        open(self.path, "w").close()
        subprocess.run(["unshare", f"--net={self.path}", "true"], check=True)
        self.run("ip", "link", "set", "lo", "up", check=True)

    def argv(self, *argv):
        return ["nsenter", f"--net={self.path}", *argv]

    def run(self, *argv, check=False, timeout=60, input=None):
        p = subprocess.run(self.argv(*argv), capture_output=True, text=True, timeout=timeout,
                           input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: rc {p.returncode}: {p.stdout}{p.stderr}")
        return p

    def close(self):
        for m in reversed(_mounts_under(self.dir)):
            subprocess.run(["umount", "-l", m], check=False)
        subprocess.run(["umount", "-l", self.dir], check=False)
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _ping(sock):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Engine:
    """dockerd or berthd in its own network namespace, with the clients bound to it."""

    def __init__(self, kind, base, image_tar):
        self.kind = kind
        self.base = base
        self.api = API[kind]
        self.sockdir = tempfile.mkdtemp(prefix=f"n{kind[0]}-")  # unix socket paths are short
        self.sock = os.path.join(self.sockdir, "engine.sock")
        self.log_path = os.path.join(base, f"{kind}.log")
        self.ns = NetNs(os.path.join(base, "netns"))
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=os.path.join(base, "docker-config"))
        os.makedirs(self.env["DOCKER_CONFIG"], exist_ok=True)
        self._clients = []
        self.proc = None
        self.start()
        r = self.docker("load", "-i", image_tar, timeout=300)
        assert r.returncode == 0, f"docker load: {r.stderr} {self.log()}"

    def start(self):
        root = os.path.join(self.base, "root")
        if self.kind == "dockerd":
            assert shutil.which("dockerd"), "dockerd is not installed (scripts/install-deps.sh)"
            args = ["dockerd", "--data-root", root, "--exec-root",
                    os.path.join(self.base, "exec"), "--pidfile",
                    os.path.join(self.base, "docker.pid"), "-H", f"unix://{self.sock}",
                    "--iptables=true", "--ip6tables=false"]
        else:
            assert os.access(BERTHD, os.X_OK), f"berthd not built at {BERTHD}"
            args = [BERTHD, "--data-root", root, "-H", f"unix://{self.sock}", "--log-level",
                    "debug"]
            if os.access(SHIM, os.X_OK):
                args += ["--shim", SHIM]
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.ns.argv(*args), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        end = time.time() + 120
        while time.time() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.kind} exited with {self.proc.returncode}: {self.log()}")
            if _ping(self.sock):
                return
            time.sleep(0.05)
        pytest.fail(f"{self.kind} did not answer /_ping: {self.log()}")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def _run(self, cmd, timeout=120, input=None, env=None):
        env = dict(env or self.env, **{k: os.environ[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")
                                        if k in os.environ})
        return subprocess.run(cmd, env=env, input=input, capture_output=True, text=True,
                              timeout=timeout)

    def docker(self, *args, **kw):
        """The docker CLI against this engine."""
        return self._run(["docker", *args], **kw)

    def berth(self, *args, **kw):
        """The berth CLI against this engine (at the engine's API version)."""
        assert os.access(BERTH_CLI, os.X_OK), f"{BERTH_CLI} not built"
        env = dict(self.env, DOCKER_API_VERSION=self.api)
        return self._run([BERTH_CLI, "-H", f"unix://{self.sock}", *args], env=env, **kw)

    def sdk(self):
        import docker
        c = docker.DockerClient(base_url=f"unix://{self.sock}", version=self.api, timeout=120)
        self._clients.append(c)
        return c

    def host(self, *argv, **kw):
        """A command on the host side of the engine's network namespace."""
        return self.ns.run(*argv, **kw)

    def host_popen(self, *argv, **kw):
        return subprocess.Popen(self.ns.argv(*argv), **kw)

    @staticmethod
    def name(prefix="t"):
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def clean(self):
        """Remove every container and every network that is not predefined."""
        for c in self._clients:
            c.close()
        self._clients = []
        if self.proc is None or self.proc.poll() is not None:
            return
        ids = self.docker("ps", "-aq").stdout.split()
        if ids:
            self.docker("rm", "-f", "-v", *ids)
        nets = self.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        extra = [n for n in nets if n not in ("bridge", "host", "none")]
        if extra:
            self.docker("network", "rm", *extra)

    def stop(self):
        self.clean()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        # what the engine left mounted (dockerd's exec-root/netns/default, overlay mounts)
        for m in reversed(_mounts_under(self.base)):
            if not m.startswith(self.ns.dir):
                subprocess.run(["umount", "-l", m], capture_output=True)
        self.ns.close()
        shutil.rmtree(self.sockdir, ignore_errors=True)


def _engine(kind, tmp_path_factory, image_tar):
    e = Engine(kind, str(tmp_path_factory.mktemp(kind)), image_tar)
    return e


@pytest.fixture(scope="session")
def dockerd_netns_session(tmp_path_factory, image_tar):
    skip_dockerd_when_sanitized()
    e = _engine("dockerd", tmp_path_factory, image_tar)
    yield e
    e.stop()


@pytest.fixture(scope="session")
def berthd_netns_session(tmp_path_factory, image_tar):
    e = _engine("berthd", tmp_path_factory, image_tar)
    yield e
    e.stop()


@pytest.fixture
def dockerd_netns(dockerd_netns_session):
    """dockerd (iptables on) in its own network namespace; cleaned after the test."""
    yield dockerd_netns_session
    dockerd_netns_session.clean()


@pytest.fixture
def berthd_netns(berthd_netns_session):
    """berthd in its own network namespace; cleaned after the test."""
    yield berthd_netns_session
    berthd_netns_session.clean()


@pytest.fixture(params=["dockerd", "berthd"])
def engine(request):
    """The same test against dockerd and against berthd."""
    e = request.getfixturevalue(f"{request.param}_netns_session")
    yield e
    e.clean()

