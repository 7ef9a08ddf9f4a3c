"""berthd's /volumes routes (local driver) through the docker CLI and the python SDK."""
import json
import os
import time

import pytest

from berthtest import TAG


def test_create_inspect_ls_rm(berthd):
    name = berthd.name("vol")
    r = berthd.docker("volume", "create", "--label", "team=blue", name, check=True)
    assert r.stdout.strip() == name
    info = json.loads(berthd.docker("volume", "inspect", name, check=True).stdout)[0]
    assert info["Name"] == name
    assert info["Driver"] == "local"
    assert info["Scope"] == "local"
    assert info["Labels"] == {"team": "blue"}
    assert info["Mountpoint"] == os.path.join(berthd.data_root, "volumes", name, "_data")
    assert os.path.isdir(info["Mountpoint"])
    assert info["CreatedAt"].endswith("Z")
    # the same name again is the same volume
    berthd.docker("volume", "create", name, check=True)
    r = berthd.docker("volume", "ls", "--format", "{{.Name}}", check=True)
    assert name in r.stdout.split()
    r = berthd.docker("volume", "ls", "-q", "--filter", "label=team=blue", check=True)
    assert r.stdout.split() == [name]
    r = berthd.docker("volume", "ls", "-q", "--filter", "label=team=red", check=True)
    assert name not in r.stdout.split()
    r = berthd.docker("volume", "ls", "-q", "--filter", f"name={name[:8]}", check=True)
    assert name in r.stdout.split()
    r = berthd.docker("volume", "ls", "-q", "--filter", "dangling=true", check=True)
    assert name in r.stdout.split()
    berthd.docker("volume", "rm", name, check=True)
    assert not os.path.exists(info["Mountpoint"])
    r = berthd.docker("volume", "inspect", name)
    assert r.returncode != 0 and "no such volume" in r.stderr.lower()
    r = berthd.docker("volume", "rm", name)
    assert r.returncode != 0
    berthd.docker("volume", "rm", "-f", name, check=True)


def test_bad_requests(berthd):
    r = berthd.docker("volume", "create", "a/b")
    assert r.returncode != 0 and "invalid characters" in r.stderr
    r = berthd.docker("volume", "create", "-d", "nfs-plugin", "x-vol")
    assert r.returncode != 0
    r = berthd.docker("volume", "ls", "--filter", "bogus=1")
    assert r.returncode != 0 and "invalid filter" in r.stderr


def test_sdk_anonymous_and_prune(berthd_factory):
    d = berthd_factory(load=False)
    client = d.sdk()
    v = client.volumes.create()  # no name: 64 hex
    assert len(v.name) == 64 and all(c in "0123456789abcdef" for c in v.name)
    named = client.volumes.create("keep-me", labels={"a": "b"})
    with open(os.path.join(named.attrs["Mountpoint"], "f"), "w") as f:
        f.write("x" * 1000)
    # default prune: anonymous volumes only — a volume created by the API with no name is not
    # anonymous (docker labels only containers' `-v /path` ones), so nothing goes
    r = client.volumes.prune()
    assert not r["VolumesDeleted"]
    r = client.volumes.prune(filters={"all": "true"})
    assert sorted(r["VolumesDeleted"]) == sorted([v.name, "keep-me"])
    assert r["SpaceReclaimed"] >= 1000
    assert client.volumes.list() == []


def test_volume_in_use_by_container(berthd):
    name = berthd.name("vol")
    cname = berthd.name()
    r = berthd.docker("run", "--name", cname, "-v", f"{name}:/data", TAG, "sh", "-c",
                      "echo hi > /data/f")
    if r.returncode != 0:
        pytest.fail(f"containers with volumes failed: {r.stderr}")
    try:
        info = json.loads(berthd.docker("volume", "inspect", name, check=True).stdout)[0]
        with open(os.path.join(info["Mountpoint"], "f")) as f:
            assert f.read() == "hi\n"
        r = berthd.docker("volume", "rm", name)
        assert r.returncode != 0 and "in use" in r.stderr
        r = berthd.docker("volume", "ls", "-q", "--filter", "dangling=false", check=True)
        assert name in r.stdout.split()
        r = berthd.docker("volume", "prune", "-a", "-f", check=True)
        assert name not in r.stdout
    finally:
        berthd.docker("rm", "-f", cname)
    berthd.docker("volume", "rm", name, check=True)


def test_volume_events(berthd):
    name = berthd.name("vol")
    since = time.time()
    berthd.docker("volume", "create", name, check=True)
    berthd.docker("volume", "rm", name, check=True)
    r = berthd.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 0.3:.3f}",
                      "--filter", f"volume={name}", "--format", "{{.Action}}", check=True,
                      timeout=30)
    assert r.stdout.split() == ["create", "destroy"]


def _mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def test_tmpfs_volume_options(berthd):
    name = berthd.name("tmpvol")
    berthd.docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                  "--opt", "o=size=1m,mode=0700", name, check=True)
    info = json.loads(berthd.docker("volume", "inspect", name, check=True).stdout)[0]
    assert info["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0700"}
    assert not _mounted(info["Mountpoint"])  # mounted only while a container uses it
    cname = berthd.name()
    r = berthd.docker("run", "--name", cname, "-v", f"{name}:/data", TAG, "sh", "-c",
                      "grep ' /data ' /proc/mounts")
    if r.returncode != 0 and "tmpfs" not in r.stdout:
        berthd.docker("rm", "-f", cname)
        berthd.docker("volume", "rm", name)
        pytest.fail(f"containers with volumes failed: {r.stderr}")
    try:
        assert "tmpfs" in r.stdout and "size=1024k" in r.stdout
        assert _mounted(info["Mountpoint"])
    finally:
        berthd.docker("rm", "-f", cname)
    assert not _mounted(info["Mountpoint"])
    berthd.docker("volume", "rm", name, check=True)
    r = berthd.docker("volume", "create", "--opt", "color=red", berthd.name("bad"))
    assert r.returncode != 0 and "invalid option key" in r.stderr
