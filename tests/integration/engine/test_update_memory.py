"""docker update of memory and swap on a running container: memory+swap stays docker's (twice the
first memory) when only the memory changes, a memory above it is a conflict (409, not the kernel's
EINVAL on v1 or a silently larger swap on v2), and the kernel's files follow each accepted update.
The same checks run on pure v1 and pure v2 under qemu (tests/qemu/engine-guest.sh)."""
import os

import docker
import pytest

from berthtest import TAG

MIB = 1 << 20


def _memory_files(pid):
    """(memory limit, memory+swap limit) as the kernel has them for the container's init."""
    lines = open(f"/proc/{pid}/cgroup").read().splitlines()
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            d = f"/sys/fs/cgroup/memory{path}"
            return (int(open(f"{d}/memory.limit_in_bytes").read()),
                    int(open(f"{d}/memory.memsw.limit_in_bytes").read()))
    path = next(line[3:] for line in lines if line.startswith("0::"))
    d = f"/sys/fs/cgroup{path}"
    if not os.path.exists(f"{d}/memory.max"):
        d = f"/sys/fs/cgroup/unified{path}"
    mem = int(open(f"{d}/memory.max").read())
    return mem, mem + int(open(f"{d}/memory.swap.max").read())


def test_update_memory_keeps_swap_and_refuses_above_it(berthd):
    name = berthd.name()
    r = berthd.docker("run", "-d", "--name", name, "-m", "64m", TAG, "sleep", "100")
    assert r.returncode == 0, r.stderr
    try:
        pid = int(berthd.docker("inspect", "-f", "{{.State.Pid}}", name, check=True).stdout)
        # docker stores its default: memory+swap twice the memory
        r = berthd.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
                          name, check=True)
        assert r.stdout.split() == [str(64 * MIB), str(128 * MIB)]
        try:
            assert _memory_files(pid) == (64 * MIB, 128 * MIB)
        except FileNotFoundError:
            pytest.skip("no swap accounting on this host")
        assert berthd.docker("update", "-m", "128m", name).returncode == 0
        assert _memory_files(pid) == (128 * MIB, 128 * MIB)

        r = berthd.docker("update", "-m", "256m", name)
        assert r.returncode != 0
        assert "update the memoryswap at the same time" in r.stderr
        assert _memory_files(pid) == (128 * MIB, 128 * MIB)
        with pytest.raises(docker.errors.APIError) as e:
            berthd.sdk().containers.get(name).update(mem_limit=256 * MIB)
        assert e.value.status_code == 409

        r = berthd.docker("update", "-m", "256m", "--memory-swap", "512m", name)
        assert r.returncode == 0, r.stderr
        assert _memory_files(pid) == (256 * MIB, 512 * MIB)
        r = berthd.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
                          name, check=True)
        assert r.stdout.split() == [str(256 * MIB), str(512 * MIB)]

        # lowering the memory alone keeps memory+swap
        assert berthd.docker("update", "-m", "32m", name).returncode == 0
        assert _memory_files(pid) == (32 * MIB, 512 * MIB)

        r = berthd.docker("update", "--memory-swap", "16m", name)
        assert r.returncode != 0 and "memoryswap limit should be larger" in r.stderr
        assert _memory_files(pid) == (32 * MIB, 512 * MIB)
    finally:
        berthd.docker("rm", "-f", name)
