"""Fixtures for the image store's integration tests: image-tool over a fresh data root per test,
the embedded default image, podman with its own isolated storage."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build"))

TOOL = os.path.join(BUILD, "tests", "helpers", "image-tool")


class Store:
    def __init__(self, root):
        self.root = str(root)
        self.tool = TOOL

    def run(self, *args, check=True, stdin=None):
        p = subprocess.run([TOOL, "--root", self.root, *args], capture_output=True, text=True,
                           stdin=stdin, timeout=300)
        if check and p.returncode != 0:
            raise AssertionError(f"image-tool {' '.join(args)}: rc {p.returncode}: {p.stderr}")
        return p

    def json(self, *args):
        import json
        return json.loads(self.run(*args).stdout)


@pytest.fixture
def store(tmp_path):
    assert os.access(TOOL, os.X_OK), f"{TOOL} not built"
    return Store(tmp_path / "root")


@pytest.fixture(scope="session")
def default_image(tmp_path_factory):
    """The docker-archive scripts/make-default-image.sh builds (busybox:latest)."""
    out = tmp_path_factory.mktemp("default") / "busybox.tar"
    p = subprocess.run([os.path.join(ROOT, "scripts", "make-default-image.sh"), str(out)],
                       capture_output=True, text=True, check=True)
    return str(out), p.stdout.strip()


@pytest.fixture
def podman():
    """podman with storage of its own (vfs), removed after the test."""
    import shutil
    import tempfile
    # podman refuses a runroot longer than 50 characters: a short dir under /tmp
    top = tempfile.mkdtemp(prefix="berth-pod-", dir="/tmp")
    base = ["podman", "--root", os.path.join(top, "root"), "--runroot", os.path.join(top, "run"),
            "--storage-driver", "vfs"]

    def run(*args, check=True):
        p = subprocess.run(base + list(args), capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {p.stderr}")
        return p
    yield run
    subprocess.run(base + ["system", "reset", "-f"], capture_output=True)
    shutil.rmtree(top, ignore_errors=True)
