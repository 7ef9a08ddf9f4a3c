"""berth-shim driven directly: the test plays berthd's side of the protocol in src/shim/shim.h."""
import os
import subprocess

import pytest

from berthtest import sanitized_clients_report_nothing  # noqa: F401 (autouse fixture)
from shimlib import Shim, container_cgroups, wait_gone


@pytest.fixture
def shims(tmp_path, runtime_bin):
    """A factory of shims sharing one runtime root; everything is gone after the test."""
    rtroot = str(tmp_path / "rt")
    made = []

    def make(**kw):
        s = Shim(tmp_path, rtroot, name=f"shim{len(made)}", **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.kill()
    for s in made:
        if s.shim_pid:
            wait_gone(s.shim_pid)
        subprocess.run([runtime_bin, "--root", rtroot, "delete", "--force", s.id],
                       capture_output=True)
    if os.path.isdir(rtroot):
        assert os.listdir(rtroot) == [], "runtime state left"
    for s in made:
        left = [d for d in container_cgroups(s.id) if os.path.isdir(d)]
        assert not left, f"cgroups left: {left}"


