"""A flag or API field berth does not implement is refused with a clear error, never accepted
and ignored (issue 15's audit). Where dockerd refuses the same value, the `engine` fixture runs
the test against both daemons and the message is docker's; where dockerd implements (or silently
drops) a field berth has nothing behind, berthd alone is checked and DIFFERENCES.md says why."""
import json
import os
import time

import pytest

from berthtest import TAG

N = "--network=none"


def create_raw(engine, body, name=None):
    """POST /containers/create with body as given (no client-side defaults): (status, json)."""
    api = engine.sdk().api
    params = {"name": name} if name else None
    r = api._post(api._url("/containers/create"), data=json.dumps(body), params=params,
                  headers={"Content-Type": "application/json"})
    try:
        doc = r.json()
    except ValueError:
        doc = {"message": r.text}
    if r.status_code == 201:
        api.remove_container(doc["Id"], force=True)
    return r.status_code, doc


def body(hc=None, **cfg):
    return {"Image": TAG, "Cmd": ["true"], **cfg,
            "HostConfig": {"NetworkMode": "none", **(hc or {})}}


# ---------------------------------------------------------------- both daemons refuse


@pytest.mark.parametrize("b, message", [
    (body({"Isolation": "hyperv"}), "Invalid isolation: \"hyperv\" - linux only supports "
                                    "'default'"),
    (body({"StorageOpt": {"size": "1G"}}),
     "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"),
    (body(Healthcheck={"Test": ["CMD", "true"], "Interval": 1}),
     "Interval in Healthcheck cannot be less than 1ms"),
    (body(Healthcheck={"Test": ["CMD", "true"], "StartPeriod": 5}),
     "StartPeriod in Healthcheck cannot be less than 1ms"),
    (body(Healthcheck={"Test": ["CMD", "true"], "Retries": -1}),
     "Retries in Healthcheck cannot be negative"),
], ids=["isolation", "storage-opt", "health-interval", "health-start-period", "health-retries"])
def test_create_refuses_what_dockerd_refuses(engine, b, message):
    status, doc = create_raw(engine, b)
    # dockerd 20.10 answers 500 to the first two (DIFFERENCES.md): a bad parameter is a 400
    assert status == 400 or (engine.kind == "dockerd" and status == 500), (status, doc)
    assert message in doc["message"], doc


def test_device_requests_are_refused_at_create(berthd):
    """dockerd refuses them at start (no device driver registered), berthd at create, in
    dockerd's words."""
    b = body({"DeviceRequests": [{"Driver": "", "Count": -1,
                                  "Capabilities": [["gpu", "compute"], ["nvidia"]]}]})
    status, doc = create_raw(berthd, b)
    assert status == 400, (status, doc)
    assert doc["message"] == ("could not select device driver \"\" with capabilities: "
                              "[[gpu compute] [nvidia]]"), doc


@pytest.mark.parametrize("args, message", [
    (["--isolation", "hyperv"], "Invalid isolation: \"hyperv\" - linux only supports 'default'"),
    (["--gpus", "all"], "could not select device driver \"\" with capabilities: [[gpu]]"),
    (["--storage-opt", "size=1G"],
     "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"),
], ids=["isolation", "gpus", "storage-opt"])
def test_docker_cli_flags_refused_as_dockerd_does(engine, args, message):
    name = engine.name("unsup")
    r = engine.docker("run", "--rm", "--name", name, N, *args, TAG, "true")
    assert r.returncode == 125, (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr
    if engine.kind == "berthd":  # dockerd refuses --gpus at start, after the create
        assert engine.docker("inspect", name).returncode != 0
    else:
        engine.docker("rm", "-f", name)


def test_isolation_default_is_taken(engine):
    name = engine.name("iso")
    engine.docker("create", "--name", name, N, "--isolation", "default", TAG, "true", check=True)
    try:
        r = engine.docker("inspect", "-f", "{{.HostConfig.Isolation}}", name, check=True)
        assert r.stdout.strip() == "default"
    finally:
        engine.docker("rm", "-f", name)


# ---------------------------------------------------------------- berthd refuses, dockerd does not


@pytest.mark.parametrize("hc, message", [
    ({"CpuRealtimeRuntime": 950000}, "HostConfig.CpuRealtimeRuntime (--cpu-rt-runtime) is not "
                                     "supported by berth"),
    ({"CpuRealtimePeriod": 1000000}, "HostConfig.CpuRealtimePeriod (--cpu-rt-period) is not "
                                     "supported by berth"),
    ({"KernelMemory": 64 << 20}, "HostConfig.KernelMemory is not supported"),
    ({"KernelMemoryTCP": 64 << 20}, "HostConfig.KernelMemoryTCP is not supported"),
    ({"CpuCount": 2}, "HostConfig.CpuCount is not supported on Linux"),
    ({"CpuPercent": 50}, "HostConfig.CpuPercent is not supported on Linux"),
    ({"IOMaximumIOps": 100}, "HostConfig.IOMaximumIOps is not supported on Linux"),
    ({"IOMaximumBandwidth": 1 << 20}, "HostConfig.IOMaximumBandwidth is not supported on Linux"),
    ({"VolumeDriver": "nosuch"}, "error looking up volume plugin nosuch: plugin \"nosuch\" not "
                                 "found"),
    ({"Cgroup": "container:other"}, "HostConfig.Cgroup is not supported by berth"),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else None)
def test_berthd_refuses_host_config_it_cannot_honour(berthd, hc, message):
    before = set(berthd.container_ids())
    status, doc = create_raw(berthd, body(hc), name=berthd.name("unsup"))
    assert status == 400, (status, doc)
    assert message in doc["message"], doc
    assert set(berthd.container_ids()) == before


def test_berthd_refuses_network_disabled(berthd):
    status, doc = create_raw(berthd, body(NetworkDisabled=True))
    assert status == 400 and "NetworkDisabled is not supported" in doc["message"], doc


def test_zero_values_are_not_refused(berthd):
    """What clients send for "unset" (the SDK and docker CLI fill every field) is taken."""
    hc = {"CpuRealtimeRuntime": 0, "CpuRealtimePeriod": 0, "KernelMemory": 0,
          "KernelMemoryTCP": 0, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
          "IOMaximumBandwidth": 0, "VolumesFrom": None, "VolumeDriver": "", "Cgroup": "",
          "StorageOpt": {}, "DeviceRequests": [], "Isolation": "", "Annotations": None}
    status, doc = create_raw(berthd, body(hc, NetworkDisabled=False))
    assert status == 201, doc
    status, doc = create_raw(berthd, body({"VolumeDriver": "local", "Isolation": "default"}))
    assert status == 201, doc


# ---------------------------------------------------------------- the berth CLI


@pytest.mark.parametrize("args, flag", [
    (["run", "--rm", N, "--gpus", "all", TAG, "true"], "--gpus"),
    (["run", "--rm", N, "--kernel-memory", "64m", TAG, "true"], "--kernel-memory"),
    (["run", "--rm", N, "--platform", "linux/arm64", TAG, "true"], "--platform"),
    (["create", N, "--disable-content-trust=false", TAG, "true"],
     "--disable-content-trust=false"),
    (["images", "--tree"], "--tree"),
    (["history", "--human=false", TAG], "--human=false"),
    (["load", "--platform", "linux/amd64", "-i", "/dev/null"], "--platform"),
    (["volume", "ls", "--cluster"], "--cluster"),
    (["pull", "--disable-content-trust=false", TAG], "--disable-content-trust=false"),
    (["push", "--disable-content-trust=false", TAG], "--disable-content-trust=false"),
], ids=lambda v: " ".join(v[:1]) if isinstance(v, list) else v)
def test_berth_cli_refuses_flags_it_does_not_implement(berthd, args, flag):
    before = set(berthd.container_ids())
    r = berthd.cli(*args)
    assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
    assert f"berth: {flag} is not supported" in r.stderr, r.stderr
    assert set(berthd.container_ids()) == before


def test_berth_cli_refuses_flags_of_a_container(berthd, tmp_path):
    name = berthd.name("cli")
    berthd.cli("create", "--name", name, N, TAG, "sleep", "60", check=True)
    try:
        # docker's rm --link removes a link, not the container: the container must survive
        r = berthd.cli("rm", "--link", name)
        assert r.returncode == 125 and "berth: --link is not supported" in r.stderr, r.stderr
        berthd.cli("inspect", name, check=True)
        r = berthd.cli("start", "--checkpoint", "cp1", name)
        assert r.returncode == 125 and "berth: --checkpoint is not supported" in r.stderr
        assert berthd.cli("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "false"
        for flag in ("-a", "-L"):
            r = berthd.cli("cp", flag, f"{name}:/etc/passwd", str(tmp_path / "x"))
            assert r.returncode == 125 and "is not supported" in r.stderr, r.stderr
            assert not (tmp_path / "x").exists()
        # -q has nothing to quieten: taken
        berthd.cli("cp", "-q", f"{name}:/etc/passwd", str(tmp_path / "x"), check=True)
        assert (tmp_path / "x").exists()
    finally:
        berthd.cli("rm", "-f", name)


def test_berth_cli_flags_reach_the_body(berthd):
    """--isolation, --storage-opt and --volume-driver go to the daemon, which takes or refuses
    them (they used to be parsed and dropped)."""
    name = berthd.name("cli")
    r = berthd.cli("run", "--rm", N, "--storage-opt", "size=1G", TAG, "true")
    assert r.returncode == 125 and "--storage-opt is supported only" in r.stderr, r.stderr
    r = berthd.cli("run", "--rm", N, "--isolation", "hyperv", TAG, "true")
    assert r.returncode == 125 and "Invalid isolation" in r.stderr, r.stderr
    r = berthd.cli("run", "--rm", N, "--volume-driver", "nosuch", TAG, "true")
    assert r.returncode == 125 and "plugin \"nosuch\" not found" in r.stderr, r.stderr
    berthd.cli("create", "--name", name, N, "--isolation", "default", "--volume-driver", "local",
               TAG, "true", check=True)
    try:
        r = berthd.cli("inspect", "-f", "{{.HostConfig.Isolation}} {{.HostConfig.VolumeDriver}}",
                       name, check=True)
        assert r.stdout.split() == ["default", "local"]
    finally:
        berthd.cli("rm", "-f", name)


def test_stats_no_trunc_shows_the_full_id(berthd):
    name = berthd.name("stats")
    cid = berthd.cli("run", "-d", "--name", name, N, TAG, "sleep", "60",
                     check=True).stdout.strip()
    try:
        r = berthd.cli("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}", name,
                       check=True)
        assert r.stdout.strip() == cid
        r = berthd.cli("stats", "--no-stream", "--format", "{{.ID}}", name, check=True)
        assert r.stdout.strip() == cid[:12]
    finally:
        berthd.cli("rm", "-f", name)


# ---------------------------------------------------------------- Healthcheck.StartInterval


def test_health_start_interval_probes_during_the_start_period(berthd):
    """--health-start-interval (docker 25): within the start period the probe runs every
    StartInterval; with a one-hour Interval the container is healthy only through it."""
    name = berthd.name("hsi")
    berthd.cli("run", "-d", "--name", name, N, "--health-cmd", "true", "--health-interval", "1h",
               "--health-start-period", "1h", "--health-start-interval", "100ms", TAG,
               "sleep", "600", check=True)
    try:
        r = berthd.cli("inspect", "-f", "{{.Config.Healthcheck.StartInterval}}", name, check=True)
        assert r.stdout.strip() == "100ms"
        status = ""
        for _ in range(600):  # no timing asserted: waits until the probe has run
            status = berthd.cli("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()
            if status == "healthy":
                break
            time.sleep(0.1)
        assert status == "healthy"
    finally:
        berthd.cli("rm", "-f", name)


# ---------------------------------------------------------------- HostConfig.Annotations


@pytest.mark.parametrize("client", ["docker", "berth"])
def test_annotations_reach_the_runtime(berthd, client):
    """HostConfig.Annotations (API 1.43, docker's --annotation) go into the OCI spec the runtime
    gets; they used to be stored and dropped."""
    run = berthd.docker if client == "docker" else berthd.cli
    name = berthd.name("ann")
    cid = run("run", "-d", "--name", name, N, "--annotation", "org.example.k=v 1",
              "--annotation", "io.berth.x=", TAG, "sleep", "60", check=True).stdout.strip()
    try:
        r = run("inspect", "-f", "{{json .HostConfig.Annotations}}", name, check=True)
        assert json.loads(r.stdout) == {"org.example.k": "v 1", "io.berth.x": ""}
        with open(os.path.join(berthd.data_root, "containers", cid, "config.json")) as f:
            spec = json.load(f)
        assert spec["annotations"] == {"org.example.k": "v 1", "io.berth.x": ""}
    finally:
        berthd.cli("rm", "-f", name)


def test_bad_annotations_are_refused(berthd):
    status, doc = create_raw(berthd, body({"Annotations": {"": "x"}}))
    assert status == 400 and "the empty string is not permitted as an annotation key" in \
        doc["message"], doc
    status, doc = create_raw(berthd, body({"Annotations": {"k": 1}}))
    assert status == 400 and "Annotations" in doc["message"], doc
    r = berthd.cli("run", "--rm", N, "--annotation", "novalue", TAG, "true")
    assert r.returncode == 125 and "bad format for annotation" in r.stderr, r.stderr


# ---------------------------------------------------------------- HostConfig.VolumesFrom


def test_volumes_from(engine, tmp_path):
    """--volumes-from mounts another container's volumes and binds at the same places, read-only
    with :ro; an anonymous -v at the same place does not replace them (it used to be stored
    and dropped)."""
    donor, ro, rw = engine.name("vf"), engine.name("vf"), engine.name("vf")
    vol = engine.name("vfvol")
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "f").write_text("from the host\n")
    try:
        engine.docker("run", "--name", donor, N, "-v", f"{vol}:/data", "-v", "/anon",
                      "-v", f"{bind}:/b:ro", TAG, "sh", "-c",
                      "echo named > /data/f; echo anon > /anon/f", check=True)
        r = engine.docker("run", "--name", ro, N, "--volumes-from", f"{donor}:ro", TAG, "sh", "-c",
                          "cat /data/f /anon/f /b/f; touch /data/g 2>/dev/null && echo wrote; true")
        assert r.returncode == 0 and r.stdout == "named\nanon\nfrom the host\n", (r.stdout,
                                                                                   r.stderr)
        r = engine.docker("run", "--name", rw, N, "--volumes-from", donor, "-v", "/data", TAG,
                          "sh", "-c", "ls /data; echo x > /anon/g && cat /anon/g; "
                          "touch /b/g 2>/dev/null || echo ro")
        assert r.returncode == 0 and r.stdout == "f\nx\nro\n", (r.stdout, r.stderr)
        mounts = {m["Destination"]: m for m in inspect_json(engine, ro)["Mounts"]}
        assert set(mounts) == {"/data", "/anon", "/b"}
        assert not any(m["RW"] for m in mounts.values())
        assert mounts["/data"]["Name"] == vol
        r = engine.docker("run", "--rm", N, "--volumes-from", "nosuchcontainer", TAG, "true")
        assert r.returncode == 125 and "No such container: nosuchcontainer" in r.stderr, r.stderr
    finally:
        engine.docker("rm", "-f", "-v", ro, rw, donor)
        engine.docker("volume", "rm", vol)


def inspect_json(engine, name):
    return json.loads(engine.docker("inspect", name, check=True).stdout)[0]


# ---------------------------------------------------------------- block I/O device limits


def test_blkio_device_limits(engine):
    """--device-read-bps & co. reach HostConfig.BlkioDevice* and the container's blkio cgroup
    (the berth CLI had no such flags; berthd applied the fields already)."""
    name = engine.name("blkio")
    args = ["--device-read-bps", "/dev/loop0:1mb", "--device-write-iops", "/dev/loop0:300"]
    script = ("cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device "
              "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device")
    clients = [engine.docker] + ([engine.cli] if engine.kind == "berthd" else [])
    for run in clients:
        try:
            r = run("run", "--name", name, N, *args, TAG, "sh", "-c", script)
            assert r.returncode == 0, r.stderr
            assert r.stdout.split() == ["7:0", "1048576", "7:0", "300"], r.stdout
            hc = inspect_json(engine, name)["HostConfig"]
            assert hc["BlkioDeviceReadBps"] == [{"Path": "/dev/loop0", "Rate": 1048576}]
            assert hc["BlkioDeviceWriteIOps"] == [{"Path": "/dev/loop0", "Rate": 300}]
        finally:
            engine.docker("rm", "-f", name)


def test_berth_cli_refuses_bad_blkio_device_values(berthd):
    for args, message in ((["--device-read-bps", "/dev/loop0:fast"], "invalid rate for device"),
                          (["--blkio-weight-device", "/dev/loop0:5"], "invalid weight for device"),
                          (["--device-write-iops", "loop0:5"], "bad format for device path")):
        r = berthd.cli("run", "--rm", N, *args, TAG, "true")
        assert r.returncode == 125 and message in r.stderr, (args, r.stderr)


# ---------------------------------------------------------------- --detach-keys


def test_invalid_detach_keys_are_refused(berthd):
    """berth matches the detach keys in the client: a sequence naming no key is refused as the
    daemon refuses it for the docker CLI, not run without any detach keys."""
    name = berthd.name("dk")
    before = set(berthd.docker("ps", "-aq").stdout.split())
    berthd.cli("run", "-d", "--name", name, N, TAG, "sleep", "60", check=True)
    try:
        for args, word in ((["exec", "--detach-keys", "ctrl-1", name, "true"], "escape"),
                           (["attach", "--detach-keys", "ctrl-1", name], "detach"),
                           (["run", "--rm", N, "--detach-keys", "ctrl-1", TAG, "true"],
                            "detach")):
            codes = []
            for run in (berthd.docker, berthd.cli):
                r = run(*args, input="")
                codes.append(r.returncode)
                # (the docker CLI's attach and run say only "unable to upgrade to tcp, received
                # 400", run after creating the container; berth's run refuses before, exit 125)
                if run == berthd.cli or args[0] == "exec":
                    assert f"Invalid {word} keys (ctrl-1) provided" in r.stderr, (args, r.stderr)
            assert codes[0] != 0 and codes[1] == (125 if args[0] == "run" else codes[0]), \
                (args, codes)
        # valid keys are taken (and the exec's output comes through)
        r = berthd.cli("exec", "--detach-keys", "ctrl-x,x", name, "echo", "ok")
        assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    finally:
        # the docker CLI's run creates its container before the attach is refused
        left = set(berthd.docker("ps", "-aq").stdout.split()) - before
        berthd.cli("rm", "-f", name, *left)


# ---------------------------------------------------------------- update


def test_update_refuses_what_it_cannot_change(berthd):
    """POST /containers/X/update took any field into the stored HostConfig (Privileged, Devices,
    … applied at the next start) and ignored the Resources it does not apply: both refused."""
    name = berthd.name("upd")
    berthd.cli("run", "-d", "--name", name, N, TAG, "sleep", "60", check=True)
    api = berthd.sdk().api
    try:
        for field, value in (("Privileged", True), ("KernelMemory", 64 << 20),
                             ("BlkioDeviceReadBps", [{"Path": "/dev/loop0", "Rate": 1}]),
                             ("CpuRealtimeRuntime", 1000), ("Ulimits", [{"Name": "nofile",
                                                                          "Soft": 1, "Hard": 1}])):
            r = api._post_json(api._url("/containers/{0}/update", name), data={field: value})
            assert r.status_code == 400, (field, r.status_code, r.text)
            assert f"`{field}` cannot be changed by an update in berth" in r.json()["message"]
        hc = api.inspect_container(name)["HostConfig"]
        assert hc["Privileged"] is False and not hc.get("KernelMemory")
        # what the docker CLI sends (every other field unset) is taken, and cpuset mems reach the
        # running container's cgroup
        berthd.docker("update", "--cpuset-mems", "0", "--memory", "64m", "--memory-swap", "128m",
                      name, check=True)
        r = berthd.cli("exec", name, "cat", "/sys/fs/cgroup/cpuset/cpuset.mems", check=True)
        assert r.stdout.strip() == "0"
        hc = api.inspect_container(name)["HostConfig"]
        assert hc["CpusetMems"] == "0" and hc["Memory"] == 64 << 20
    finally:
        berthd.cli("rm", "-f", name)


# ---------------------------------------------------------------- Mounts options


def test_mount_volume_driver_is_refused(berthd):
    """In dockerd's words, but a 400: dockerd's 404 makes the docker CLI try to pull the image
    (DIFFERENCES.md)."""
    r = berthd.docker("run", "--rm", N, "--mount",
                      "type=volume,source=vd1,target=/d,volume-driver=nosuch", TAG, "true")
    assert r.returncode == 125, r.stderr
    assert "error looking up volume plugin nosuch: plugin \"nosuch\" not found" in r.stderr


@pytest.mark.parametrize("spec, field", [
    ("type=volume,source=vl1,target=/d,volume-label=a=b", "VolumeOptions.Labels"),
    ("type=volume,source=vl1,target=/d,volume-opt=type=tmpfs", "VolumeOptions.DriverConfig.Options"),
    ("type=tmpfs,target=/d,tmpfs-size=1m", None),
], ids=["volume-label", "volume-opt", "tmpfs-ok"])
def test_mount_options_berth_cannot_honour_are_refused(berthd, spec, field):
    """The docker CLI's --mount volume-label= and volume-opt= were dropped by berthd."""
    r = berthd.docker("run", "--rm", N, "--mount", spec, TAG, "true")
    if field is None:
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 125, r.stderr
    assert f"field {field} is not supported by berth" in r.stderr, r.stderr
    assert berthd.docker("volume", "inspect", "vl1").returncode != 0



# ---------------------------------------------------------------- ps filters


def test_ps_volume_and_is_task_filters(engine, tmp_path):
    """`ps --filter volume=` and `is-task=` were accepted and matched every container."""
    a, b = engine.name("psv"), engine.name("psv")
    vol = engine.name("psvol")
    try:
        engine.docker("create", "--name", a, N, "-v", f"{vol}:/data", "-v", f"{tmp_path}:/h",
                      TAG, "true", check=True)
        engine.docker("create", "--name", b, N, TAG, "true", check=True)

        def ps(*filters):
            args = [x for f in filters for x in ("--filter", f)]
            r = engine.docker("ps", "-a", "--format", "{{.Names}}", *args, check=True)
            return sorted(n for n in r.stdout.split() if n in (a, b))
        assert ps(f"volume={vol}") == [a]
        assert ps("volume=/data") == [a]
        assert ps(f"volume={tmp_path}") == [a]
        assert ps("volume=nosuchvolume") == []
        assert ps("is-task=true") == []
        assert ps("is-task=false") == sorted([a, b])
    finally:
        engine.docker("rm", "-f", "-v", a, b)
        engine.docker("volume", "rm", vol)


def test_ps_publish_and_expose_filters_are_refused(berthd):
    for f in ("publish=80", "expose=80/tcp"):
        r = berthd.docker("ps", "-a", "--filter", f)
        assert r.returncode != 0 and "is not supported by berth" in r.stderr, r.stderr
