"""berthd's system routes: /_ping, /version, /info, /system/df, /events, through the docker CLI and
the python SDK."""
import json
import os
import platform
import threading
import time

import pytest

from berthtest import TAG, poll, settled


def test_ping_version(berthd):
    client = berthd.sdk()
    assert client.ping() is True
    v = client.version()
    assert v["ApiVersion"] == "1.43"
    assert v["MinAPIVersion"] == "1.24"
    assert v["Os"] == "linux"
    assert v["KernelVersion"] == platform.release()
    assert any(c["Name"] == "Engine" for c in v["Components"])
    r = berthd.docker("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}", check=True)
    assert r.stdout.split() == ["1.43", "linux"]


def test_info(berthd):
    info = berthd.sdk().info()
    assert info["Driver"] == "overlay2"
    assert info["OSType"] == "linux"
    assert info["CgroupDriver"] == "cgroupfs"
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert info["CgroupVersion"] == ("2" if v2 else "1")
    assert info["NCPU"] == os.cpu_count()
    with open("/proc/meminfo") as f:
        kb = int(f.readline().split()[1])
    assert info["MemTotal"] == kb * 1024
    assert info["DockerRootDir"] == berthd.data_root
    assert info["KernelVersion"] == platform.release()
    assert "name=seccomp,profile=builtin" in info["SecurityOptions"]
    assert info["Images"] >= 1
    assert info["Containers"] == info["ContainersRunning"] + info["ContainersPaused"] + \
        info["ContainersStopped"]
    # the id is stable across calls (and restarts: it lives in the data root)
    assert berthd.sdk().info()["ID"] == info["ID"]
    r = berthd.docker("info", "--format", "{{.Driver}} {{.OSType}} {{.CgroupVersion}}",
                      check=True)
    assert r.stdout.split() == ["overlay2", "linux", "2" if v2 else "1"]
    # the plain `docker info` renders without errors
    r = berthd.docker("info")
    assert r.returncode == 0, r.stderr
    assert "Storage Driver: overlay2" in r.stdout


def test_info_counts_containers(berthd_factory):
    d = berthd_factory()
    info = d.sdk().info()
    assert (info["Containers"], info["ContainersRunning"]) == (0, 0)
    name = d.name()
    r = d.docker("create", "--name", name, TAG, "true")
    if r.returncode != 0:
        pytest.fail(f"container create failed: {r.stderr}")
    try:
        info = d.sdk().info()
        assert info["Containers"] == 1
        assert info["ContainersStopped"] == 1
    finally:
        d.docker("rm", "-f", name)


def test_system_df(berthd_factory):
    d = berthd_factory()
    vol = d.sdk().volumes.create("dfvol")
    with open(os.path.join(vol.attrs["Mountpoint"], "blob"), "wb") as f:
        f.write(b"\0" * 123456)
    df = d.sdk().df()
    assert df["LayersSize"] > 0
    assert any(TAG in (i.get("RepoTags") or []) for i in df["Images"])
    assert df["BuildCache"] == []
    v = next(v for v in df["Volumes"] if v["Name"] == "dfvol")
    assert v["UsageData"]["Size"] == 123456
    assert v["UsageData"]["RefCount"] == 0
    r = d.docker("system", "df", "--format", "{{json .}}", check=True)
    rows = {json.loads(x)["Type"]: json.loads(x) for x in r.stdout.splitlines()}
    assert set(rows) >= {"Images", "Containers", "Local Volumes", "Build Cache"}
    assert rows["Local Volumes"]["TotalCount"] == "1"
    r = d.docker("system", "df", "-v", check=True)
    assert "dfvol" in r.stdout


def test_events_stream_and_filters(berthd):
    client = berthd.sdk()
    got = []
    since = time.time()

    def listen():
        for ev in client.events(decode=True, filters={"type": "volume"},
                                until=int(time.time()) + 4):
            got.append(ev)

    tasks = lambda: len(os.listdir(f"/proc/{berthd.proc.pid}/task"))  # noqa: E731
    base = settled(tasks, "berthd's thread count")
    t = threading.Thread(target=listen)
    t.start()
    poll(lambda: tasks() > base, "the events request's thread in berthd")
    name = berthd.name("ev")
    berthd.docker("volume", "create", name, check=True)
    berthd.docker("volume", "rm", name, check=True)
    t.join(15)
    assert not t.is_alive()
    mine = [e for e in got if e["Actor"]["ID"] == name]
    assert [e["Action"] for e in mine] == ["create", "destroy"]
    for e in mine:
        assert e["Type"] == "volume" and e["scope"] == "local"
        assert e["time"] >= int(since) and e["timeNano"] // 10**9 == e["time"]
    # replay with since/until and the event filter through the CLI
    r = berthd.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                      "--filter", "event=destroy", "--filter", "type=volume",
                      "--format", "{{.Actor.ID}}", check=True, timeout=30)
    assert name in r.stdout.split()
    assert len([x for x in r.stdout.split() if x == name]) == 1
    r = berthd.docker("events", "--since", "1", "--until", "2", "--filter", "bogus=1")
    assert r.returncode != 0 and "invalid filter" in r.stderr


def test_system_prune_and_df_counts(berthd_factory):
    d = berthd_factory()
    vol = d.sdk().volumes.create("gone-with-prune")
    name = d.name()
    r = d.docker("create", "--name", name, TAG, "true")
    if r.returncode != 0:
        pytest.fail(f"container create failed: {r.stderr}")
    df = d.sdk().df()
    img = next(i for i in df["Images"] if TAG in (i.get("RepoTags") or []))
    assert img["Containers"] == 1
    assert [c["Names"] for c in df["Containers"]] == [[f"/{name}"]]
    # everything unused goes: the stopped container, then its image; --volumes only takes
    # anonymous volumes (docker >= 23), a named one needs `volume prune -a`
    r = d.docker("system", "prune", "-a", "-f", "--volumes")
    assert r.returncode == 0, r.stderr
    assert "Total reclaimed space" in r.stdout
    df = d.sdk().df()
    assert df["Images"] == [] and df["Containers"] == []
    assert df["LayersSize"] == 0
    assert [v["Name"] for v in df["Volumes"]] == ["gone-with-prune"]
    d.docker("volume", "prune", "-a", "-f", check=True)
    assert d.sdk().df()["Volumes"] == []
    assert not os.path.exists(vol.attrs["Mountpoint"])


def test_idle_streams_end_when_clients_leave(berthd_factory):
    """/events and logs -f with nothing to send still notice a client that went away."""
    import subprocess
    d = berthd_factory()
    tasks = lambda: len(os.listdir(f"/proc/{d.proc.pid}/task"))  # noqa: E731
    name = d.name()
    r = d.docker("run", "-d", "--name", name, TAG, "sleep", "1000")
    if r.returncode != 0:
        pytest.fail(f"docker run -d failed: {r.stderr}")
    try:
        base = settled(tasks, "berthd's thread count after run")  # its requests' threads gone
        clients = [subprocess.Popen(["docker", *args], env=d.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
                   for args in (["events"], ["events"], ["logs", "-f", name])]
        end = time.time() + 10
        while tasks() < base + 3 and time.time() < end:
            time.sleep(0.1)
        assert tasks() >= base + 3
        for c in clients:
            c.kill()
            c.wait()
        end = time.time() + 15
        while tasks() > base and time.time() < end:
            time.sleep(0.1)
        assert tasks() <= base
    finally:
        d.docker("rm", "-f", name)
