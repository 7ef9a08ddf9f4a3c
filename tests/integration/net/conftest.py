"""Fixtures for src/net's integration tests: every test gets its own throwaway "host" network
namespace (pinned by util-linux unshare), and runs tests/helpers/net-tool and busybox inside it
through nsenter, so the machine's real links, routes and sysctls are never touched."""
import os
import subprocess

import pytest

from berthtest import BUILD

TOOL = os.path.join(BUILD, "tests", "helpers", "net-tool")


def _mounts_under(d):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(d + "/")]


class NetEnv:
    def __init__(self, d):
        self.dir = d
        self.host = os.path.join(d, "host")

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, *argv, netns=None, check=True, timeout=30):
        """Run argv inside netns (default: this test's host namespace)."""
        p = subprocess.run(["nsenter", f"--net={netns or self.host}", *argv],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: rc {p.returncode}: {p.stdout}{p.stderr}")
        return p

    def tool(self, *args, check=True):
        return self.run(TOOL, *args, check=check)

    def links(self, prefix):
        return self.tool("links", prefix).stdout.split()

    def ping(self, addr, netns=None):
        return self.run("busybox", "ping", "-c1", "-W2", addr, netns=netns, check=False)


@pytest.fixture
def netenv(tmp_path):
    assert os.access(TOOL, os.X_OK), f"{TOOL} not built"
    d = str(tmp_path / "netns")
    os.mkdir(d)
    # pins live on a private mount, as berthd's netns directory does (no propagation)
    subprocess.run(["mount", "--bind", d, d], check=True)
    subprocess.run(["mount", "--make-private", d], check=True)
    env = NetEnv(d)
    open(env.host, "w").close()
    subprocess.run(["unshare", f"--net={env.host}", "true"], check=True)
    try:
        yield env
    finally:
        # the library's own teardown is checked by the tests; this only drops the test's host
        for m in reversed(_mounts_under(d)):
            subprocess.run(["umount", "-l", m], check=False)
        subprocess.run(["umount", "-l", d], check=False)
        leftover = os.listdir(d)
        for f in leftover:
            os.unlink(os.path.join(d, f))
        os.rmdir(d)
