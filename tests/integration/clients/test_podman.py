"""podman drives berth-runtime as its OCI runtime (create/start/state/kill/delete, exec, tty)."""
import os
import shutil
import subprocess
import tarfile
import uuid

import pytest

IMAGE = "localhost/berth-test-busybox:latest"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


@pytest.fixture(scope="module")
def podman(runtime_bin, busybox_rootfs, tmp_path_factory):
    if not shutil.which("podman"):
        pytest.fail("podman is not installed (scripts/install-deps.sh installs it)")
    d = tmp_path_factory.mktemp("podman")
    base = ["podman", "--root", str(d / "storage"), "--runroot", str(d / "run"),
            "--runtime", runtime_bin, "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    tar = d / "rootfs.tar"
    with tarfile.open(tar, "w") as t:
        t.add(busybox_rootfs, arcname=".")
    subprocess.run(base + ["import", str(tar), IMAGE], check=True, capture_output=True)

    def run(*args, **kw):
        return subprocess.run(base + list(args), capture_output=True, text=True, timeout=120, **kw)
    yield run
    run("rm", "-af")
    subprocess.run(["umount", "-R", str(d / "storage")], capture_output=True)


def test_podman_run_rm(podman):
    r = podman("run", "--rm", "--network=none", *ULIMITS, IMAGE, "echo", "hi")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hi"


def test_podman_exit_code_memory_and_exec(podman):
    r = podman("run", "--rm", "--network=none", *ULIMITS, IMAGE, "sh", "-c", "exit 3")
    assert r.returncode == 3
    name = f"b{uuid.uuid4().hex[:8]}"
    r = podman("run", "-d", "--name", name, "--network=none", "--memory", "64m", *ULIMITS, IMAGE,
               "sleep", "100")
    assert r.returncode == 0, r.stderr
    r = podman("exec", name, "sh", "-c", "echo in-exec; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
               "/sys/fs/cgroup/memory.max 2>/dev/null; true")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "in-exec" and str(64 << 20) in r.stdout.split()
    r = podman("stop", "-t", "1", name)
    assert r.returncode == 0, r.stderr
    assert podman("rm", name).returncode == 0


def test_podman_tty(podman):
    r = podman("run", "--rm", "-t", "--network=none", *ULIMITS, IMAGE, "sh", "-c", "tty; [ -t 0 ] && echo is-tty")
    assert r.returncode == 0, r.stderr
    assert "/dev/pts/0" in r.stdout and "is-tty" in r.stdout


def test_podman_stdin(podman):
    r = podman("run", "--rm", "-i", "--network=none", *ULIMITS, IMAGE, "sh", "-c", "read x; echo got-$x",
               input="piped\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "got-piped"
