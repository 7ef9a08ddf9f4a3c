"""Shared fixtures for berth integration tests: real binaries, real containers, as root."""
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid

import pytest

from berthtest import BUILD, ROOT, TAG, cgroup_mode  # noqa: F401 (shared with every folder)


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError("integration tests run real containers: run them as root")


def _cgroup_children(parent):
    """Container cgroups left below a berth parent dir, in any hierarchy."""
    out = []
    base = "/sys/fs/cgroup"
    dirs = [base] if cgroup_mode() == "v2" else [os.path.join(base, d) for d in os.listdir(base)]
    for d in dirs:
        p = os.path.join(d, parent)
        if os.path.isdir(p):
            out += [os.path.join(p, c) for c in os.listdir(p) if os.path.isdir(os.path.join(p, c))]
    return out


# every container id this session made: the leak check looks at these only, so another test
# session running at the same time cannot make it fail
CREATED_IDS = set()


@pytest.fixture(scope="session", autouse=True)
def leak_check(tmp_path_factory):
    """After the session: no container cgroups, no mounts of test bundles, no test parents."""
    yield
    base = str(tmp_path_factory.getbasetemp())

    def leaked_cgroups():
        return [d for parent in ("berth", "berth-test") for d in _cgroup_children(parent)
                if os.path.basename(d) in CREATED_IDS]

    # the last containers' cgroups may still be on their way out: poll, then judge
    end = time.time() + 5
    while leaked_cgroups() and time.time() < end:
        time.sleep(0.05)
    leaked = leaked_cgroups()
    assert not leaked, f"container cgroups leaked: {sorted(leaked)}"
    for d in ["/sys/fs/cgroup/berth-test"] + [os.path.join("/sys/fs/cgroup", c, "berth-test")
                                              for c in os.listdir("/sys/fs/cgroup")]:
        try:
            os.rmdir(d)  # the tests' parent; still busy if another session uses it
        except OSError:
            pass
    with open("/proc/self/mountinfo") as f:
        mounts = [line for line in f if base in line]
    assert not mounts, f"mounts leaked: {mounts}"


@pytest.fixture(scope="session")
def runtime_bin():
    """The runtime under test; BERTH_RUNTIME=runc or crun runs the same tests as an oracle."""
    rt = os.environ.get("BERTH_RUNTIME") or os.path.join(BUILD, "cmd", "berth-runtime")
    path = shutil.which(rt) or rt
    assert os.access(path, os.X_OK), f"runtime {path} not built"
    return path


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rootfs") / "rootfs"
    subprocess.run([os.path.join(ROOT, "scripts", "make-busybox-rootfs.sh"), str(d)], check=True,
                   stdout=subprocess.DEVNULL)
    # user-namespace tests map root to an unprivileged host uid: it must reach the rootfs
    p = str(d)
    while p != "/":
        os.chmod(p, os.stat(p).st_mode | 0o111)
        p = os.path.dirname(p)
    return str(d)


class Runtime:
    """Drives the runtime binary with a private --root, tracking ids to clean up."""

    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.ids = set()

    def __call__(self, *args, cwd=None, check=False, timeout=60, **kw):
        """Run the runtime; output goes through files, not pipes, because a detached container
        inherits the runtime's stdio and would keep a pipe open for its whole life."""
        cmd = [self.binary, "--root", self.root, *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                               text=True, timeout=timeout, **kw)
            out.seek(0)
            err.seek(0)
            r = subprocess.CompletedProcess(cmd, p.returncode, out.read(), err.read())
        if check:
            r.check_returncode()
        return r

    def new_id(self, prefix="t"):
        cid = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.ids.add(cid)
        CREATED_IDS.add(cid)
        return cid

    def cleanup(self):
        for cid in self.ids:
            self("delete", "--force", cid)


@pytest.fixture
def rt(runtime_bin, tmp_path):
    r = Runtime(runtime_bin, str(tmp_path / "state"))
    yield r
    r.cleanup()


class Bundle:
    """A bundle directory whose config.json is the default spec, adjustable per test."""

    def __init__(self, path, rootfs):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.config = default_config(rootfs)

    def write(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)
        return self.path

    def args(self, *args):
        self.config["process"]["args"] = list(args)
        return self

    def sh(self, script):
        return self.args("/bin/sh", "-c", script)

    def resources(self):
        return self.config["linux"].setdefault("resources", {})

    def add_ns(self, typ, path=None):
        ns = self.config["linux"]["namespaces"]
        ns[:] = [n for n in ns if n["type"] != typ]
        ns.append({"type": typ, **({"path": path} if path else {})})
        return self


def default_config(rootfs):
    """runc's default spec (what `runc spec` writes), rootfs absolute, no terminal."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.2.0",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


@pytest.fixture
def bundle(busybox_rootfs, tmp_path):
    return Bundle(str(tmp_path / "bundle"), busybox_rootfs)


@pytest.fixture
def make_bundle(busybox_rootfs, tmp_path):
    n = [0]

    def make():
        n[0] += 1
        return Bundle(str(tmp_path / f"bundle{n[0]}"), busybox_rootfs)
    return make


# ---- real clients of berth-runtime: an image archive, containerd and dockerd ----


@pytest.fixture(scope="session")
def image_tar(busybox_rootfs, tmp_path_factory):
    """A `docker save` archive of the busybox rootfs, loadable by docker and containerd."""
    d = tmp_path_factory.mktemp("image")
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        t.add(busybox_rootfs, arcname=".")
    layer = layer.getvalue()
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"],
                         "Env": ["PATH=/bin"]}, "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    cname = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": cname, "RepoTags": [TAG], "Layers": ["layer/layer.tar"]}]).encode()
    out = d / "busybox.tar"
    with tarfile.open(out, "w") as t:
        for name, data in ((cname, config), ("layer/layer.tar", layer), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return str(out)


def wait_for(cond, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} did not come up")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def containerd(tmp_path_factory):
    if not shutil.which("containerd"):
        pytest.fail("containerd is not installed (scripts/install-deps.sh installs it)")
    d = tmp_path_factory.mktemp("containerd")
    sock = d / "containerd.sock"
    (d / "config.toml").write_text(
        f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
        f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "{sock}"\n')
    log = open(d / "containerd.log", "w")
    p = subprocess.Popen(["containerd", "-c", str(d / "config.toml")], stdout=log, stderr=log)
    wait_for(lambda: sock.exists(), "containerd")
    yield str(sock)
    stop(p)
    subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)


@pytest.fixture(scope="module")
def dockerd(runtime_bin, tmp_path_factory):
    if not shutil.which("dockerd"):
        pytest.fail("dockerd is not installed (scripts/install-deps.sh installs docker.io)")
    d = tmp_path_factory.mktemp("dockerd")
    sock = d / "docker.sock"
    log = open(d / "dockerd.log", "w")
    p = subprocess.Popen(["dockerd", "--data-root", str(d / "root"), "--exec-root", str(d / "exec"),
                          "--pidfile", str(d / "docker.pid"), "-H", f"unix://{sock}",
                          "--bridge=none", "--iptables=false", "--ip6tables=false",
                          "--add-runtime", f"berth={runtime_bin}"], stdout=log, stderr=log)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    wait_for(lambda: subprocess.run(["docker", "version"], env=env, capture_output=True).returncode == 0,
             "dockerd", 60)
    yield env
    subprocess.run(["docker", "rm", "-f", "-v"] + subprocess.run(
        ["docker", "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split(),
        env=env, capture_output=True)
    stop(p)
    subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)
    subprocess.run(["umount", "-R", str(d / "exec")], capture_output=True)
