"""A container's /etc/hosts, /etc/hostname and /etc/resolv.conf, as dockerd makes them: --add-host
entries in /etc/hosts after the localhost block (dockerd 20.10 with --network none writes exactly
this file), bad entries refused at create with docker's messages, and the generated files (bound
from outside the rootfs) absent from `docker diff`, `docker commit` and `docker export`."""
import io
import json
import tarfile

import docker
import pytest

from berthtest import TAG

LOCALHOST_BLOCK = ("127.0.0.1\tlocalhost\n"
                   "::1\tlocalhost ip6-localhost ip6-loopback\n"
                   "fe00::0\tip6-localnet\n"
                   "ff00::0\tip6-mcastprefix\n"
                   "ff02::1\tip6-allnodes\n"
                   "ff02::2\tip6-allrouters\n")


def test_add_host_written_like_docker(berthd):
    r = berthd.docker("run", "--rm", "--network=none", "--add-host", "foo:1.2.3.4",
                      "--add-host", "foo:5.6.7.8", "--add-host", "six:::1",
                      "--add-host", "eq=10.0.0.1", TAG, "cat", "/etc/hosts")
    assert r.returncode == 0, r.stderr
    assert r.stdout == LOCALHOST_BLOCK + ("1.2.3.4\tfoo\n5.6.7.8\tfoo\n::1\tsix\n"
                                          "10.0.0.1\teq\n")
    # the names resolve inside the container (busybox's ping resolves through /etc/hosts and
    # names the address before it fails to send in a namespace without routes)
    r = berthd.docker("run", "--rm", "--network=none", "--add-host", "db.local:10.1.2.3", TAG,
                      "ping", "-c1", "-W1", "db.local")
    assert "(10.1.2.3)" in r.stdout + r.stderr, (r.stdout, r.stderr)


def test_add_host_without_entries_is_the_plain_block(berthd):
    r = berthd.docker("run", "--rm", "--network=none", TAG, "cat", "/etc/hosts")
    assert r.returncode == 0, r.stderr
    assert r.stdout == LOCALHOST_BLOCK


def test_add_host_sdk_and_bad_entries(berthd):
    client = berthd.sdk()
    out = client.containers.run(TAG, ["cat", "/etc/hosts"], network_mode="none", remove=True,
                                extra_hosts={"api.example": "192.0.2.7"})
    assert out.decode().endswith("192.0.2.7\tapi.example\n")
    before = set(berthd.docker("ps", "-aq", "--no-trunc", check=True).stdout.split())
    # the API takes what the CLI would refuse: the daemon checks with docker's messages
    for entry, msg in [("bad", 'bad format for add-host: "bad"'),
                       ("x:notip", 'invalid IP address in add-host: "notip"'),
                       ("x:1.2.3.4:5", 'invalid IP address in add-host: "1.2.3.4:5"'),
                       ("gw:host-gateway", "host-gateway is not supported")]:
        with pytest.raises(docker.errors.APIError) as e:
            client.containers.create(TAG, "true", network_mode="none", extra_hosts=[entry])
        assert e.value.status_code == 400, entry
        assert msg in str(e.value), (entry, str(e.value))
    after = set(berthd.docker("ps", "-aq", "--no-trunc", check=True).stdout.split())
    assert after == before
    r = berthd.docker("run", "--rm", "--add-host", "gw:host-gateway", TAG, "true")
    assert r.returncode == 125 and "host-gateway is not supported" in r.stderr


def test_host_network_keeps_host_hosts_unless_extra(berthd):
    r = berthd.docker("run", "--rm", "--network=host", TAG, "cat", "/etc/hosts")
    assert r.returncode == 0, r.stderr
    with open("/etc/hosts") as f:
        assert r.stdout == f.read()
    # dockerd builds the file for extra hosts even on the host network
    r = berthd.docker("run", "--rm", "--network=host", "--add-host", "foo:1.2.3.4", TAG, "cat",
                      "/etc/hosts")
    assert r.stdout == LOCALHOST_BLOCK + "1.2.3.4\tfoo\n"


@pytest.fixture
def finished(berthd):
    """A container that ran with a hostname and an extra host and wrote one file; removed after."""
    name = berthd.name("etc")
    r = berthd.docker("run", "--name", name, "--network=none", "-h", "genhost-xyz",
                      "--add-host", "marker-host:10.9.8.7", TAG, "sh", "-c",
                      "echo hi > /tmp/mine")
    assert r.returncode == 0, r.stderr
    images = []
    yield name, images
    berthd.docker("rm", "-f", name)
    for i in images:
        berthd.docker("rmi", "-f", i)


def test_diff_leaves_out_generated_files(berthd, finished):
    name, _ = finished
    r = berthd.docker("diff", name)
    assert r.returncode == 0, r.stderr
    # dockerd shows exactly this (busybox has no /etc/hostname: its mount point is in the
    # container's init layer, not its changes)
    assert r.stdout.splitlines() == ["C /tmp", "A /tmp/mine"]
    changes = berthd.sdk().api.diff(name)
    assert sorted(c["Path"] for c in changes) == ["/tmp", "/tmp/mine"]


def test_commit_does_not_carry_generated_files(berthd, finished):
    name, images = finished
    ref = "berth-test/etc-commit:" + name
    r = berthd.docker("commit", name, ref)
    assert r.returncode == 0, r.stderr
    images.append(ref)
    saved = berthd.docker("save", ref, check=True, input=b"").stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        top = manifest[0]["Layers"][-1]
        with tarfile.open(fileobj=t.extractfile(top)) as layer:
            names = sorted(n.rstrip("/") for n in layer.getnames())
    assert names == ["tmp", "tmp/mine"]
    # a container of the committed image gets its own generated files
    r = berthd.docker("run", "--rm", "--network=none", ref, "sh", "-c",
                      "cat /tmp/mine /etc/hostname; grep -c marker-host /etc/hosts")
    assert r.stdout.split("\n")[0] == "hi"
    assert "genhost-xyz" not in r.stdout
    assert r.stdout.split("\n")[2] == "0"


def test_export_has_empty_mount_points_only(berthd, finished):
    name, _ = finished
    data = berthd.docker("export", name, check=True, input=b"").stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        members = {m.name.lstrip("./"): m for m in t.getmembers()}
        # dockerd exports the init layer's empty mount points, never the generated content
        for f in ("etc/hosts", "etc/hostname", "etc/resolv.conf"):
            assert f in members, f
            assert members[f].isfile() and members[f].size == 0, (f, members[f].size)
        assert t.extractfile("tmp/mine").read() == b"hi\n"
    assert b"genhost-xyz" not in data
    assert b"marker-host" not in data


def test_same_as_dockerd(berthd, dockerd, image_tar):
    """The same commands against dockerd (its own runc) and berthd give the same output."""
    import subprocess

    def both(*args):
        out = []
        for env in (dockerd, berthd.env):
            r = subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                               timeout=120)
            out.append((r.returncode, r.stdout))
        return out

    subprocess.run(["docker", "load", "-i", image_tar], env=dockerd, check=True,
                   capture_output=True)
    # /etc/hosts with extra hosts in a private network namespace
    d, b = both("run", "--rm", "--network=none", "--add-host", "foo:1.2.3.4", "--add-host",
                "six:::1", TAG, "cat", "/etc/hosts")
    assert d == b
    # diff of a container that wrote one file: nothing of the generated files
    name = "same-" + berthd.name()
    try:
        both("run", "--name", name, "--network=none", "-h", "hh", TAG, "touch", "/tmp/x")
        d, b = both("diff", name)
        assert d == b and b[1] == "C /tmp\nA /tmp/x\n"
    finally:
        both("rm", "-f", name)
    # a new volume at /etc: the image's /etc plus the mount points, the generated files on top
    vol = "same-" + berthd.name()
    try:
        cmd = ("cat /etc/hostname; tail -1 /etc/hosts; "
               "for f in /etc/*; do stat -c '%n %u %g %a %F %s' $f; done")
        d, b = both("run", "--rm", "--network=none", "-h", "hh", "--add-host", "a:10.0.0.1",
                    "-v", f"{vol}:/etc", TAG, "sh", "-c", cmd)
        # the sizes of the bound files are the generated ones: hosts/resolv.conf are the host's
        # resolver config on both daemons, so compare everything but resolv.conf's size
        strip = [ln.rsplit(" ", 1)[0] if ln.startswith("/etc/resolv.conf ") else ln
                 for ln in d[1].splitlines()], [
            ln.rsplit(" ", 1)[0] if ln.startswith("/etc/resolv.conf ") else ln
            for ln in b[1].splitlines()]
        assert d[0] == b[0] == 0 and strip[0] == strip[1], (d, b)
    finally:
        both("volume", "rm", "-f", vol)
