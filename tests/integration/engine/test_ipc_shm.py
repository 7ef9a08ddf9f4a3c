"""IpcMode and /dev/shm with docker's semantics, through the docker CLI and the python SDK:
shareable gives the container a /dev/shm tmpfs of its own on the host that container:<id> joiners
bind (same IPC namespace, same files); a private donor is refused; host binds the host's
/dev/shm, none has no /dev/shm; the donor's tmpfs is unmounted when it stops or is removed."""
import os
import uuid

import pytest

from berthtest import TAG


def _mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


@pytest.fixture
def names(berthd):
    made = []
    yield made
    for n in reversed(made):
        berthd.docker("rm", "-f", n)


def _run_d(d, names, *args):
    name = d.name("ipc")
    names.append(name)
    r = d.docker("run", "-d", "--name", name, "--network=none", *args, TAG, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    return name


def test_shareable_donor_and_joiner_share_dev_shm(berthd, names):
    donor = _run_d(berthd, names, "--ipc", "shareable", "--shm-size", "8m")
    did = berthd.docker("inspect", "-f", "{{.Id}}", donor, check=True).stdout.strip()
    shm = os.path.join(berthd.data_root, "containers", did, "mounts", "shm")
    # the donor's /dev/shm is a tmpfs on the host, of --shm-size
    assert _mounts_under(shm) == [shm]
    st = os.statvfs(shm)
    assert st.f_blocks * st.f_frsize == 8 * 1024 * 1024
    r = berthd.docker("exec", donor, "sh", "-c", "echo from-donor > /dev/shm/d && "
                      "grep ' /dev/shm ' /proc/mounts")
    assert r.returncode == 0, r.stderr
    assert "size=8192k" in r.stdout
    with open(os.path.join(shm, "d")) as f:
        assert f.read() == "from-donor\n"

    joiner = _run_d(berthd, names, "--ipc", f"container:{donor}")
    r = berthd.docker("exec", joiner, "sh", "-c", "cat /dev/shm/d && echo from-joiner > "
                      "/dev/shm/j && readlink /proc/self/ns/ipc")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == "from-donor"
    donor_ns = berthd.docker("exec", donor, "readlink", "/proc/self/ns/ipc").stdout.strip()
    assert lines[1] == donor_ns
    assert berthd.docker("exec", donor, "cat", "/dev/shm/j").stdout == "from-joiner\n"
    # a joiner by id, through the SDK, sees the same
    client = berthd.sdk()
    out = client.containers.run(TAG, ["cat", "/dev/shm/j"], ipc_mode=f"container:{did}",
                                network_mode="none", remove=True)
    assert out == b"from-joiner\n"

    # the donor's tmpfs goes with it: stop unmounts, rm leaves nothing
    berthd.docker("rm", "-f", joiner, check=True)
    berthd.docker("stop", "-t", "0", donor, check=True)
    assert _mounts_under(shm) == []
    berthd.docker("start", donor, check=True)
    assert _mounts_under(shm) == [shm]
    berthd.docker("rm", "-f", donor, check=True)
    assert _mounts_under(shm) == []
    assert _mounts_under(os.path.join(berthd.data_root, "containers", did)) == []
    assert not os.path.exists(shm)


def test_joining_a_private_or_stopped_donor_is_refused(berthd, names):
    private = _run_d(berthd, names)  # the daemon default: private
    r = berthd.docker("inspect", "-f", "{{.HostConfig.IpcMode}} {{.HostConfig.ShmSize}}", private,
                      check=True)
    assert r.stdout.split() == ["private", str(64 * 1024 * 1024)]
    r = berthd.docker("run", "--rm", "--network=none", "--ipc", f"container:{private}", TAG,
                      "true")
    assert r.returncode == 125
    assert (f"failed to join IPC namespace: container {private}: non-shareable IPC (hint: use "
            "IpcMode:shareable for the donor container)") in r.stderr
    explicit = _run_d(berthd, names, "--ipc", "private")
    r = berthd.docker("run", "--rm", "--network=none", "--ipc", f"container:{explicit}", TAG,
                      "true")
    assert r.returncode == 125 and "non-shareable IPC" in r.stderr
    stopped = _run_d(berthd, names, "--ipc", "shareable")
    berthd.docker("stop", "-t", "0", stopped, check=True)
    r = berthd.docker("run", "--rm", "--network=none", "--ipc", f"container:{stopped}", TAG,
                      "true")
    assert r.returncode == 125 and f"container {stopped} is not running" in r.stderr
    r = berthd.docker("run", "--rm", "--network=none", "--ipc", "container:no-such-ipc-donor",
                      TAG, "true")
    assert r.returncode == 125 and "no-such-ipc-donor" in r.stderr


def test_private_host_and_none(berthd, names):
    # private: a tmpfs of the spec, sized by --shm-size, nothing on the host
    r = berthd.docker("run", "--rm", "--network=none", "--shm-size", "2m", TAG, "sh", "-c",
                      "grep ' /dev/shm ' /proc/mounts")
    assert r.returncode == 0 and "tmpfs" in r.stdout and "size=2048k" in r.stdout, r.stderr
    # none: no /dev/shm mount at all
    r = berthd.docker("run", "--rm", "--network=none", "--ipc", "none", TAG, "sh", "-c",
                      "grep ' /dev/shm ' /proc/mounts || echo no-shm")
    assert r.stdout.strip() == "no-shm", r.stderr
    # host: the host's /dev/shm and IPC namespace
    marker = f"berth-ipc-host-{uuid.uuid4().hex[:8]}"
    try:
        r = berthd.docker("run", "--rm", "--network=none", "--ipc", "host", TAG, "sh", "-c",
                          f"echo host > /dev/shm/{marker} && readlink /proc/self/ns/ipc")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == os.readlink("/proc/self/ns/ipc")
        with open(f"/dev/shm/{marker}") as f:
            assert f.read() == "host\n"
    finally:
        if os.path.exists(f"/dev/shm/{marker}"):
            os.unlink(f"/dev/shm/{marker}")
    # a joiner of a host-IPC donor gets the host's /dev/shm too (moby: ShmPath /dev/shm)
    donor = _run_d(berthd, names, "--ipc", "host")
    r = berthd.docker("run", "--rm", "--network=none", "--ipc", f"container:{donor}", TAG,
                      "readlink", "/proc/self/ns/ipc")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.readlink("/proc/self/ns/ipc")


def test_shareable_shm_across_daemon_restart(berthd_factory):
    """The donor's tmpfs outlives a kill -9 of the daemon (joiners still find it) and is
    unmounted when the restarted daemon learns the donor exited while it was away."""
    d = berthd_factory()
    donor = d.name("ipc")
    d.docker("run", "-d", "--name", donor, "--network=none", "--ipc", "shareable", TAG,
             "sh", "-c", "echo kept > /dev/shm/k && sleep 1000", check=True)
    info = d.docker("inspect", "-f", "{{.Id}} {{.State.Pid}}", donor, check=True).stdout.split()
    shm = os.path.join(d.data_root, "containers", info[0], "mounts", "shm")
    d.kill9()
    d.start()
    r = d.docker("run", "--rm", "--network=none", "--ipc", f"container:{donor}", TAG,
                 "cat", "/dev/shm/k")
    assert r.returncode == 0 and r.stdout == "kept\n", r.stderr
    d.kill9()
    os.kill(int(info[1]), 9)
    d.start()
    d.docker("wait", donor, check=True, timeout=30)
    assert _mounts_under(shm) == []
    d.docker("rm", "-f", donor, check=True)
