"""Fixtures for the engine tests: a real berthd on a private data root and socket, driven by the
docker CLI, the python docker SDK and (once built) the berth CLI.

    def test_x(berthd):            # the session's daemon, busybox (TAG) loaded
        r = berthd.docker("run", "--rm", TAG, "true")
        client = berthd.sdk()

    def test_y(berthd_factory):    # a daemon of its own (restart, kill -9, …)
        d = berthd_factory()
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from berthtest import (build_sanitizers, sanitized_clients_report_nothing,  # noqa: F401 fixture
                       sanitizer_env, sanitizer_logs, sanitizer_reports,
                       skip_dockerd_when_sanitized)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build"))
TAG = "berth-test/busybox:latest"  # the image tests/conftest.py's image_tar makes
# container ids for the session leak check of tests/conftest.py (its CREATED_IDS, bound once the
# session starts: this module shares its name `conftest`, so it cannot be imported by name)
CREATED_IDS = set()


def _bind_created_ids(config):
    global CREATED_IDS
    top = os.path.join(ROOT, "tests", "conftest.py")
    for plugin in config.pluginmanager.get_plugins():
        f = getattr(plugin, "__file__", None)
        if f and os.path.exists(f) and os.path.samefile(f, top):
            plugin.CREATED_IDS.update(CREATED_IDS)
            CREATED_IDS = plugin.CREATED_IDS


BERTHD = os.environ.get("BERTHD") or os.path.join(BUILD, "cmd", "berthd")
BERTH_CLI = os.environ.get("BERTH_CLI") or os.path.join(BUILD, "cmd", "berth")
SHIM = os.environ.get("BERTH_SHIM") or os.path.join(BUILD, "cmd", "berth-shim")
# a sanitized build: berthd stopped with SIGTERM and the shims it started must exit without an
# ASan/LSan/UBSan report (the shims' stderr is /dev/null: their reports go to log_path files)
SANITIZED = bool(build_sanitizers())


def _ping(sock):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Berthd:
    """One berthd process: start/stop/kill9/restart; clients bound to its socket."""

    def __init__(self, data_root, sock, log_path, launcher=None, netns=None):
        self.data_root = data_root
        # argv prefix berthd is started through, e.g. a shell that ignores signals first
        self.launcher = list(launcher or [])
        # a pinned network namespace berthd runs in (tests/integration/network); without one it
        # runs in the machine's and gets no default bridge (-b none), so no test run touches the
        # host's links or nftables
        self.netns = netns
        self.sock = sock
        self.log_path = log_path
        self.proc = None
        # the berthd arguments it was made with (the session's final start uses them again)
        self.extra = ()
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{sock}",
                        DOCKER_CONFIG=os.path.join(data_root, "..", "docker-config"))
        os.makedirs(self.env["DOCKER_CONFIG"], exist_ok=True)
        # berthd's (and so its shims') sanitizer reports: <log_path>.sanitizer.<pid>
        self.sanitizer_prefix = log_path + ".sanitizer"
        self._sanitizer_seen = set()
        self._log_offset = 0
        self._clients = []

    def start(self, *extra):
        assert os.access(BERTHD, os.X_OK), f"berthd not built at {BERTHD}"
        args = [BERTHD, "--data-root", self.data_root, "-H", f"unix://{self.sock}",
                "--log-level", "debug"]
        if os.access(SHIM, os.X_OK):
            args += ["--shim", SHIM]
        if self.netns:
            args = ["nsenter", f"--net={self.netns}", "--"] + args
        else:
            args += ["--bridge", "none"]
        env = sanitizer_env(os.environ, self.sanitizer_prefix) if SANITIZED else None
        with open(self.log_path, "a") as log:
            self._log_offset = log.tell()
            self.proc = subprocess.Popen(self.launcher + args + list(extra),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env)
        end = time.time() + 30
        while time.time() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"berthd exited with {self.proc.returncode}: {self.log()}")
            if _ping(self.sock):
                return self
            time.sleep(0.02)
        pytest.fail(f"berthd did not answer /_ping: {self.log()}")

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        """SIGTERM berthd; with a sanitized build, fail if it (or a shim that has exited)
        reported anything."""
        for c in self._clients:
            c.close()
        self._clients = []
        terminated = False
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
                terminated = True
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if terminated and SANITIZED:
            self.check_sanitizers()

    def check_sanitizers(self, log=True):
        """Fail on a sanitizer report in berthd's log since its last start or in a report file
        of berthd or a shim not seen before."""
        text = ""
        if log:
            try:
                with open(self.log_path, errors="replace") as f:
                    f.seek(self._log_offset)
                    text = f.read()
            except OSError:
                pass
        found = sanitizer_reports(text)
        reports = sanitizer_logs(self.sanitizer_prefix, self._sanitizer_seen)
        assert not found and not reports, (
            f"sanitizer report at berthd/shim exit: {found[:5]} "
            + "".join(f"\n--- {p}\n{t[:6000]}" for p, t in reports.items()))

    def kill9(self):
        """SIGKILL the daemon only (containers and shims must survive it)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def _run(self, cmd, input=None, timeout=60, check=False, **kw):
        # the sanitizer options of the test running now (sanitized_clients_report_nothing)
        env = dict(self.env, **{k: os.environ[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")
                                if k in os.environ})
        r = subprocess.run(cmd, env=env, input=input, capture_output=True,
                           text=isinstance(input, str) or input is None, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"{cmd} exited {r.returncode}: {r.stdout} {r.stderr}")
        return r

    def docker(self, *args, **kw):
        """The docker CLI against this daemon; CompletedProcess (text unless input is bytes)."""
        return self._run(["docker", *args], **kw)

    def cli(self, *args, **kw):
        """The berth CLI against this daemon."""
        assert os.access(BERTH_CLI, os.X_OK), f"{BERTH_CLI} not built"
        return self._run([BERTH_CLI, "-H", f"unix://{self.sock}", *args], **kw)

    def sdk(self):
        import docker
        c = docker.DockerClient(base_url=f"unix://{self.sock}", version="1.43", timeout=120)
        self._clients.append(c)
        return c

    def name(self, prefix="t"):
        """A fresh container name."""
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def container_ids(self):
        """Every container id this daemon knows (from the data root), recorded for leak checks."""
        d = os.path.join(self.data_root, "containers")
        ids = os.listdir(d) if os.path.isdir(d) else []
        CREATED_IDS.update(ids)
        return ids

    def load_image(self, tar):
        r = self.docker("load", "-i", tar)
        assert r.returncode == 0, f"docker load: {r.stderr} {self.log()}"

    def cleanup(self):
        """Remove every container left (force) so nothing outlives the daemon."""
        if self.proc is None or self.proc.poll() is not None:
            return
        r = self.docker("ps", "-aq", "--no-trunc")
        ids = r.stdout.split() if r.returncode == 0 else []
        CREATED_IDS.update(ids)
        if ids:
            self.docker("rm", "-f", "-v", *ids, timeout=120)


def _shims_of(data_root):
    """Pids of berth-shim processes serving containers of data_root."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"berth-shim" and \
                any(a.startswith(data_root.encode()) for a in argv):
            out.append(int(pid))
    return out


def _mounts_under(data_root):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if data_root in line]


def _leak_check(data_root):
    # shims of containers removed last may still be exiting: poll, then judge
    end = time.time() + 5
    while (_mounts_under(data_root) or _shims_of(data_root)) and time.time() < end:
        time.sleep(0.05)
    mounts = _mounts_under(data_root)
    shims = _shims_of(data_root)
    # clean up whatever leaked so the machine stays usable, then fail
    for m in mounts:
        subprocess.run(["umount", "-l", m], check=False)
    for pid in shims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not mounts, f"mounts leaked under {data_root}: {mounts}"
    assert not shims, f"shims left running: {shims}"


class _Factory:
    def __init__(self, tmp_path_factory, image):
        self.tmp = tmp_path_factory
        self.image = image
        self.daemons = []

    def __call__(self, load=True, launcher=None, extra=()):
        base = str(self.tmp.mktemp("berthd"))
        # unix socket paths are limited to 108 bytes: keep the socket short
        sockdir = tempfile.mkdtemp(prefix="berthd-")
        d = Berthd(os.path.join(base, "data"), os.path.join(sockdir, "berth.sock"),
                   os.path.join(base, "berthd.log"), launcher)
        d.sockdir = sockdir
        self.daemons.append(d)
        d.extra = tuple(extra)
        d.start(*extra)
        if load:
            d.load_image(self.image)
        return d

    def finish(self):
        errors = []
        for d in self.daemons:
            try:
                if d.proc is None:
                    # a test that killed its daemon: the new one re-adopts and cleans
                    d.start(*d.extra)
                d.container_ids()
                d.cleanup()
            except BaseException as e:  # noqa: B902 — every daemon is still stopped and checked
                errors.append(e)
            finally:
                try:
                    d.stop()
                except AssertionError as e:  # a sanitizer report: the others still stop
                    errors.append(e)
                shutil.rmtree(d.sockdir, ignore_errors=True)
            try:
                _leak_check(d.data_root)
            except AssertionError as e:
                errors.append(e)
            if SANITIZED:
                try:  # shims that exited after their daemon stopped
                    d.check_sanitizers(log=False)
                except AssertionError as e:
                    errors.append(e)
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def berthd_session_factory(request, tmp_path_factory, image_tar):
    _bind_created_ids(request.config)
    f = _Factory(tmp_path_factory, image_tar)
    yield f
    f.finish()


@pytest.fixture(scope="session")
def berthd(berthd_session_factory):
    """The session's daemon with TAG (busybox) loaded: .sock, .data_root, .docker(), .cli(),
    .sdk(). Tests remove the containers they make."""
    return berthd_session_factory()


@pytest.fixture
def berthd_factory(berthd_session_factory):
    """Make a daemon of your own (for restart / kill -9 tests; extra=(...) berthd arguments, kept
    as .extra for restarts); cleaned at session end."""
    return berthd_session_factory


# ---------------------------------------------------------------- dockerd as the oracle


class Dockerd:
    """A real dockerd (docker.io) in a network namespace of its own (`unshare -n`), with its own
    data root, exec root, pidfile and socket, and TAG loaded: the reference berthd is compared
    with. Same client helpers as Berthd (.docker(), .sdk(), .name())."""

    def __init__(self, base):
        self.base = base
        # unix socket paths are limited to 108 bytes, and dockerd's containerd puts its own
        # sockets under the exec root: keep both short
        self.short = tempfile.mkdtemp(prefix="dkd-")
        self.sock = os.path.join(self.short, "docker.sock")
        self.data_root = os.path.join(base, "root")
        self.exec_root = os.path.join(self.short, "exec")
        self.log_path = os.path.join(base, "dockerd.log")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=os.path.join(base, "docker-config"))
        os.makedirs(self.env["DOCKER_CONFIG"], exist_ok=True)
        self.proc = None
        self._clients = []

    def start(self):
        if not shutil.which("dockerd"):
            pytest.fail("dockerd is not installed (scripts/install-deps.sh installs docker.io)")
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                ["unshare", "-n", "dockerd", "--data-root", self.data_root,
                 "--exec-root", self.exec_root, "--pidfile", os.path.join(self.short, "pid"),
                 "-H", f"unix://{self.sock}", "--bridge=none", "--iptables=false",
                 "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        end = time.time() + 60
        while time.time() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"dockerd exited with {self.proc.returncode}: {self.log()}")
            if _ping(self.sock):
                return self
            time.sleep(0.1)
        pytest.fail(f"dockerd did not answer /_ping: {self.log()}")

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    docker = Berthd.docker
    _run = Berthd._run
    name = Berthd.name
    load_image = Berthd.load_image

    def sdk(self):
        import docker
        c = docker.DockerClient(base_url=f"unix://{self.sock}", version="1.41", timeout=120)
        self._clients.append(c)
        return c

    def stop(self):
        for c in self._clients:
            c.close()
        try:
            if self.proc and self.proc.poll() is None:
                try:
                    r = self.docker("ps", "-aq")
                    ids = r.stdout.split() if r.returncode == 0 else []
                    if ids:
                        self.docker("rm", "-f", "-v", *ids, timeout=120)
                finally:
                    self.proc.send_signal(signal.SIGTERM)
                    try:
                        self.proc.wait(60)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
                        self.proc.wait()
        finally:
            self.proc = None
            # dockerd's own mounts (its data root bound onto itself, overlays, the netns files),
            # also when it was killed; then once more for what a late unmount uncovered
            for _ in range(2):
                for root in (self.exec_root, self.data_root):
                    with open("/proc/self/mountinfo") as f:
                        mounts = [line.split()[4] for line in f if root in line]
                    for m in sorted(mounts, key=len, reverse=True):
                        subprocess.run(["umount", "-l", m], capture_output=True)
            shutil.rmtree(self.short, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd_oracle(tmp_path_factory, image_tar):
    """The oracle: a real dockerd with TAG loaded (session-wide; tests remove what they make).
    Compare berthd's answer with dockerd's on the same request."""
    skip_dockerd_when_sanitized()
    d = Dockerd(str(tmp_path_factory.mktemp("dockerd")))
    d.start()
    try:
        d.load_image(image_tar)
        yield d
    finally:
        d.stop()


@pytest.fixture(params=["berthd", "dockerd"])
def engine(request):
    """Each test using it runs twice: against berthd, and against dockerd (the oracle), so the
    behaviour it asserts is docker's. .kind says which."""
    d = request.getfixturevalue("berthd" if request.param == "berthd" else "dockerd_oracle")
    d.kind = request.param
    return d
