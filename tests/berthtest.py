"""Values and helpers shared by every test folder. Import them from here (`from berthtest import
X`): every folder has its own conftest.py, and `from conftest import X` would pick whichever of
them pytest imported last."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build"))
BERTH_CLI = os.environ.get("BERTH_CLI") or os.path.join(BUILD, "cmd", "berth")
# the image tests/conftest.py's image_tar fixture makes
TAG = "berth-test/busybox:latest"


def cgroup_mode():
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    if os.path.ismount("/sys/fs/cgroup/unified"):
        return "hybrid"
    return "v1"


def shim_is_static():
    """The release berth-shim is static, so it can also run inside any rootfs as docker-init;
    a sanitizer build's is dynamically linked (and ASan's shadow memory makes it big)."""
    with open(os.path.join(BUILD, "cmd", "berth-shim"), "rb") as f:
        return b"ld-linux" not in f.read(4096)
