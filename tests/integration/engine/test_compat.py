"""berthd answers like dockerd. Each test takes the `engine` fixture, so it runs once
against berthd and once against a real dockerd (the oracle): what it asserts is docker's
behaviour. Known, intended differences are in DIFFERENCES.md beside this file."""
import json
import os
import re
import socket
import time
import uuid

import docker
import pytest

from berthtest import next_second, poll

TAG = "berth-test/busybox:latest"  # what tests/conftest.py image_tar makes
N = "--network=none"


@pytest.fixture
def names(engine):
    """Fresh container names (one prefix per test); every container so named is removed."""
    prefix = f"c-{uuid.uuid4().hex[:8]}"
    made = []

    def make(suffix=""):
        made.append(f"{prefix}{suffix}")
        return made[-1]
    make.prefix = prefix
    yield make
    if made:
        engine.docker("rm", "-f", *made)


def fmt(engine, template, name):
    return engine.docker("inspect", "-f", template, name, check=True).stdout.strip()


# ---------------------------------------------------------------- lifecycle and waiting


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_kill_returns_after_the_exit_is_recorded(engine, names, paused):
    for _ in range(3):
        name = names(f"-{uuid.uuid4().hex[:4]}")
        engine.docker("run", "-d", "--name", name, N, TAG, "sleep", "100", check=True)
        if paused:
            engine.docker("pause", name, check=True)
        engine.docker("kill", name, check=True)
        assert fmt(engine, "{{.State.Running}} {{.State.Paused}} {{.State.ExitCode}}",
                   name) == "false false 137"


def test_stop_returns_after_the_exit_is_recorded(engine, names):
    name = names()
    # sh as pid 1 ignores SIGTERM: stop ends with SIGKILL after the timeout
    engine.docker("run", "-d", "--name", name, N, TAG, "sh", "-c", "sleep 100 & wait",
                  check=True)
    engine.docker("stop", "-t", "1", name, check=True)
    assert fmt(engine, "{{.State.Running}} {{.State.ExitCode}}", name) == "false 137"


def test_wait_with_a_restart_policy_returns_at_the_first_exit(engine, names):
    name = names()
    engine.docker("run", "-d", "--name", name, N, "--restart", "always", TAG,
                  "sh", "-c", "sleep 1; exit 3", check=True)
    r = engine.docker("wait", name, timeout=20)
    assert (r.returncode, r.stdout.strip()) == (0, "3"), r.stderr


def test_wait_on_a_restarting_container_waits_for_its_next_exit(engine, names):
    name = names()
    engine.docker("run", "-d", "--name", name, N, "--restart", "on-failure", TAG,
                  "sh", "-c", "exit 5", check=True)
    r = engine.docker("wait", name, timeout=30)
    assert (r.returncode, r.stdout.strip()) == (0, "5"), r.stderr


def test_commit_of_a_stopped_container(engine, names):
    name = names()
    image = f"compat/committed-{uuid.uuid4().hex[:8]}:1"
    engine.docker("run", "--name", name, N, TAG, "sh", "-c", "echo made > /made", check=True)
    r = engine.docker("commit", "--change", "ENV FROM_COMMIT=1", name, image)
    assert r.returncode == 0, r.stderr
    try:
        r = engine.docker("run", "--rm", N, image, "sh", "-c", "cat /made; echo $FROM_COMMIT")
        assert r.stdout == "made\n1\n", r.stderr
    finally:
        engine.docker("rmi", image)


def test_sdk_exec_with_a_tty_is_a_raw_stream(engine, names):
    api = engine.sdk().api
    cid = api.create_container(TAG, ["sleep", "60"], name=names(),
                               host_config=api.create_host_config(network_mode="none"))["Id"]
    api.start(cid)
    # demux: a multiplexed reader would take "tty-ok\r\n" for an 8-byte header
    e = api.exec_create(cid, ["echo", "tty-ok"], tty=True)
    out = b"".join(o or b"" for o, _ in api.exec_start(e["Id"], tty=True, stream=True,
                                                         demux=True))
    assert out == b"tty-ok\r\n"
    # socket mode: the raw socket carries the terminal's bytes, no header
    e = api.exec_create(cid, ["echo", "tty-raw"], tty=True)
    sock = api.exec_start(e["Id"], tty=True, socket=True)
    s = getattr(sock, "_sock", sock)
    s.settimeout(20)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert data == b"tty-raw\r\n"
    # no tty: the same SDK call demultiplexes stdout and stderr
    e = api.exec_create(cid, ["sh", "-c", "echo out; echo err >&2"])
    out, err = api.exec_start(e["Id"], demux=True)
    assert (out, err) == (b"out\n", b"err\n")


def raw_attach(engine, cid, query):
    """POST /containers/{cid}/attach?query with Upgrade: tcp on a raw socket: (the response's
    head, what followed it until the server closed)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(engine.sock)
        s.sendall(f"POST /v1.41/containers/{cid}/attach?{query} HTTP/1.1\r\nHost: x\r\n"
                  "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode())
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    return head, body


def test_attach_without_stream_returns_the_logs_and_ends(engine, names):
    api = engine.sdk().api
    cid = api.create_container(TAG, ["sh", "-c", "echo hello; echo oops >&2; sleep 60"],
                               name=names(),
                               host_config=api.create_host_config(network_mode="none"))["Id"]
    api.start(cid)
    end = time.time() + 20
    while b"oops" not in api.logs(cid) and time.time() < end:
        time.sleep(0.1)
    head, body = raw_attach(engine, cid, "logs=1&stream=0&stdout=1&stderr=1")
    assert head.split()[1] == b"101"
    out, err = b"\x01\0\0\0\0\0\0\x06hello\n", b"\x02\0\0\0\0\0\0\x05oops\n"
    # stdout and stderr reach the log through two pipes: dockerd may log either line first
    assert body in (out + err, err + out)
    head, body = raw_attach(engine, cid, "logs=1&stream=0&stdout=1")
    assert body == b"\x01\0\0\0\0\0\0\x06hello\n"
    if engine.kind == "dockerd":
        return  # docker-py loses what arrives with the 101 response: dockerd gives b"" at times
    for _ in range(5):
        t0 = time.time()
        assert api.attach(cid, stream=False, logs=True) == b"hello\noops\n"
        assert time.time() - t0 < 10, "attach with stream=0 must end after the logs"
    assert api.attach(cid, stream=False, logs=True, stderr=False) == b"hello\n"


# ---------------------------------------------------------------- listing and filters


def test_ps_name_filter_is_a_regular_expression(engine, names):
    d1, d2, other = names("-d1"), names("-d2"), names("-xd1y")
    for n in (d1, d2, other):
        engine.docker("create", "--name", n, N, TAG, "true", check=True)

    def ps(*filters):
        args = [a for f in filters for a in ("--filter", f)]
        r = engine.docker("ps", "-a", *args, "--format", "{{.Names}}", check=True)
        return sorted(r.stdout.split())

    assert ps(f"name=^{d1}$") == [d1]
    assert ps(f"name=^/{d1}$") == [d1]
    assert ps(f"name=^{names.prefix}-d[12]$") == sorted([d1, d2])
    assert ps(f"name={names.prefix}.*d1") == sorted([d1, other])
    assert ps(f"name=^{names.prefix}-d1$", f"name=^{names.prefix}-d2$") == sorted([d1, d2])
    assert ps(f"name=^{names.prefix}-d$") == []


def test_ps_last_counts_every_container_newest_first(engine, names):
    first, second = names("-1"), names("-2")
    engine.docker("create", "--name", first, N, TAG, "true", check=True)
    next_second()  # created a second apart: the order cannot tie
    engine.docker("create", "--name", second, N, TAG, "true", check=True)
    for args in (["-a", "-n", "1"], ["-n", "1"], ["-l"], ["-n", "2"]):
        r = engine.docker("ps", *args, "--format", "{{.Names}}", check=True)
        want = [second] if args[-1] != "2" else [second, first]
        assert r.stdout.split() == want, args


def test_image_ls_reference_matches_the_repository_only(engine):
    other = f"compat-{uuid.uuid4().hex[:8]}/other"
    engine.docker("tag", TAG, f"{other}:1.0", check=True)
    engine.docker("tag", TAG, f"{other}:2.0", check=True)
    try:
        def ls(*args):
            r = engine.docker("image", "ls", *args, "--format", "{{.Repository}}:{{.Tag}}",
                              check=True)
            return sorted(r.stdout.split())

        assert ls("berth-test/busybox") == [TAG]
        assert ls(other) == [f"{other}:1.0", f"{other}:2.0"]
        assert ls(f"{other}:1.*") == [f"{other}:1.0"]
        assert ls("--filter", f"reference={other}:2.0") == [f"{other}:2.0"]
        assert ls("--filter", f"reference={other.split('/')[0]}/*") == \
            [f"{other}:1.0", f"{other}:2.0"]
        # a glob's * does not cross a slash
        assert ls("--filter", f"reference={other.split('/')[0]}*") == []
    finally:
        engine.docker("rmi", f"{other}:1.0", f"{other}:2.0")


# ---------------------------------------------------------------- log drivers


def test_log_config_defaults_to_json_file(engine, names):
    name = names()
    engine.docker("create", "--name", name, N, TAG, "true", check=True)
    assert fmt(engine, "{{.HostConfig.LogConfig.Type}}", name) == "json-file"
    api = engine.sdk().api
    cid = api.create_container(TAG, ["true"], name=names("-sdk"))["Id"]
    assert api.inspect_container(cid)["HostConfig"]["LogConfig"]["Type"] == "json-file"


def test_unknown_log_driver_and_options_are_refused(engine, names):
    r = engine.docker("create", "--name", names(), N, "--log-driver", "asdf", TAG, "true")
    assert r.returncode != 0
    if engine.kind == "berthd":  # dockerd 20.10 says it looked for a plugin (DIFFERENCES.md)
        assert "logger: no log driver named 'asdf' is registered" in r.stderr
    r = engine.docker("create", "--name", names("-o"), N, "--log-opt", "foo=bar", TAG, "true")
    assert r.returncode != 0
    assert "unknown log opt 'foo' for json-file log driver" in r.stderr
    r = engine.docker("create", "--name", names("-l"), N, "--log-driver", "local",
                      "--log-opt", "foo=bar", TAG, "true")
    assert "unknown log opt 'foo' for log driver local" in r.stderr
    r = engine.docker("create", "--name", names("-m"), N, "--log-opt", "mode=sometimes", TAG,
                      "true")
    assert "logger: logging mode not supported: sometimes" in r.stderr
    assert engine.docker("ps", "-aq", "--filter", f"name={names.prefix}").stdout == ""


@pytest.mark.parametrize("driver", ["json-file", "local", "none"])
def test_log_drivers(engine, names, driver):
    name = names()
    opts = [] if driver == "none" else ["--log-opt", "max-size=1m"]  # the CLI refuses opts for none
    engine.docker("run", "--name", name, N, "--log-driver", driver, *opts, TAG, "echo", "logged",
                  check=True)
    assert fmt(engine, "{{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Config}}",
               name) == f"{driver} map[{'max-size:1m' if opts else ''}]"
    r = engine.docker("logs", name)
    if driver == "none":
        assert r.returncode != 0
        assert "configured logging driver does not support reading" in r.stderr
    else:
        assert (r.returncode, r.stdout) == (0, "logged\n"), r.stderr


def test_ps_status_and_command_wording(engine, names):
    up, paused, created = names("-up"), names("-paused"), names("-created")
    engine.docker("run", "-d", "--name", up, N, TAG, "sh", "-c", 'echo "a b"; sleep 100',
                  check=True)
    engine.docker("run", "-d", "--name", paused, N, TAG, "sleep", "100", check=True)
    engine.docker("pause", paused, check=True)
    engine.docker("create", "--name", created, N, TAG, "echo", 'x"y', "a b", check=True)

    def rows_up_a_second():
        # go-units says "Less than a second" before
        r = engine.docker("ps", "-a", "--no-trunc", "--filter", f"name={names.prefix}",
                          "--format", "{{.Names}}|{{.Command}}|{{.Status}}", check=True)
        rows = {line.split("|")[0]: line.split("|")[1:] for line in r.stdout.splitlines()}
        if all(n in rows and "Less than a second" not in rows[n][1] for n in (up, paused)):
            return rows
    rows = poll(rows_up_a_second, "both containers up for a second", timeout=20)
    assert rows[up][0] == '"sh -c \'echo \\"a b\\"; sleep 100\'"'
    assert rows[created] == ['"echo x\\"y \'a b\'"', "Created"]
    assert rows[paused][0] == '"sleep 100"'
    # go-units' HumanDuration: "1 second", then "N seconds"
    for name, suffix in ((up, ""), (paused, " (Paused)")):
        status = rows[name][1]
        assert re.fullmatch(r"Up (1 second|([2-9]|[1-5][0-9]) seconds)" + re.escape(suffix),
                            status), status
    r = engine.docker("ps", "--filter", f"name={names.prefix}-up", "--format", "{{.Command}}",
                      check=True)
    assert r.stdout == '"sh -c \'echo \\"a b\\"; …"\n'


def test_top_runs_ps_with_the_clients_options(engine, names):
    name = names()
    engine.docker("run", "-d", "--name", name, N, TAG, "sleep", "100", check=True)
    pid = fmt(engine, "{{.State.Pid}}", name)
    r = engine.docker("top", name, check=True)
    head, row = r.stdout.splitlines()
    assert head.split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    row = row.split()
    assert row[0] == "root" and row[1] == pid and row[-2:] == ["sleep", "100"]
    assert row[4] != "-" and ":" in row[4]  # STIME: HH:MM today
    r = engine.docker("top", name, "-o", "pid,comm", check=True)
    assert r.stdout.split() == ["PID", "COMMAND", pid, "sleep"]
    api = engine.sdk().api
    top = api.top(name, ps_args="aux")
    assert top["Titles"][:2] == ["USER", "PID"] and top["Titles"][-1] == "COMMAND"
    assert [p[1] for p in top["Processes"]] == [pid] and top["Processes"][0][-1] == "sleep 100"
    r = engine.docker("top", name, "-o", "user=PID")
    assert r.returncode != 0 and 'specifying "user=PID" is not allowed' in r.stderr
    r = engine.docker("top", name, "--bad")
    assert r.returncode != 0 and "ps: error: unknown gnu long option" in r.stderr
    engine.docker("stop", "-t", "0", name, check=True)
    r = engine.docker("top", name)
    assert r.returncode != 0 and "is not running" in r.stderr


# ---------------------------------------------------------------- create-time settings


def test_device_cgroup_rule_is_applied(engine):
    # loop-control (10:237) is not in docker's default device allow-list
    script = "mknod /tmp/n c 10 237 && (head -c 0 < /tmp/n && echo opened) 2>&1"
    r = engine.docker("run", "--rm", N, TAG, "sh", "-c", script)
    assert "Operation not permitted" in r.stdout, r.stdout + r.stderr
    r = engine.docker("run", "--rm", N, "--device-cgroup-rule", "c 10:237 r", TAG, "sh", "-c",
                      script)
    assert r.stdout == "opened\n", r.stdout + r.stderr


def test_missing_device_fails_at_start(engine, names):
    """dockerd creates the container and fails its start; `docker run` exits 127 (the CLI's
    code for a start error naming a missing file)."""
    name = names()
    r = engine.docker("run", "--name", name, N, "--device", "/dev/compat-nonexist", TAG, "true")
    assert r.returncode == 127, (r.returncode, r.stderr)
    assert ('error gathering device information while adding custom device '
            '"/dev/compat-nonexist": no such file or directory') in r.stderr, r.stderr
    assert fmt(engine, "{{.State.Status}}", name) == "created"
    r = engine.docker("start", name)
    assert r.returncode == 1 and "error gathering device information" in r.stderr, r.stderr


def test_link_is_refused_clearly(berthd):
    """dockerd makes /etc/hosts entries on its default bridge; berth has no legacy links and
    says so at create (DIFFERENCES.md) instead of a container without them."""
    name = berthd.name()
    r = berthd.docker("run", "--rm", "--name", name, N, "--link", "other:alias", TAG, "true")
    assert r.returncode == 125
    assert "container links (--link) are not supported by berth" in r.stderr
    assert berthd.docker("ps", "-aq", "--filter", f"name={name}").stdout == ""


# ---------------------------------------------------------------- inspect


def inspect(engine, name, *args):
    import json
    return json.loads(engine.docker("inspect", *args, name, check=True).stdout)[0]


def test_inspect_shows_the_defaults_the_container_runs_with(engine, names, tmp_path):
    name, vol = names(), names("-vol")
    engine.docker("create", "--name", name, N, "-v", f"{tmp_path}:/b:ro,rslave",
                  "-v", f"{tmp_path}:/c", "-v", f"{vol}:/v:ro", "-v", f"{vol}:/w", TAG, "true",
                  check=True)
    try:
        j = inspect(engine, name)
        hc = j["HostConfig"]
        assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
        modes = {m["Destination"]: (m["Mode"], m["RW"]) for m in j["Mounts"]}
        assert modes == {"/b": ("ro,rslave", False), "/c": ("", True), "/v": ("ro", False),
                         "/w": ("z", True)}
        assert "/proc/kcore" in hc["MaskedPaths"] and "/sys/firmware" in hc["MaskedPaths"]
        assert hc["ReadonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                       "/proc/sysrq-trigger"]
        assert hc["PidsLimit"] is None and hc["MemorySwappiness"] is None
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        assert hc["CgroupnsMode"] == ("private" if v2 else "host")
        default_rt = engine.docker("info", "-f", "{{.DefaultRuntime}}", check=True).stdout.strip()
        assert hc["Runtime"] == default_rt
        assert j["Config"]["Volumes"] is None
    finally:
        engine.docker("rm", "-f", name)
        engine.docker("volume", "rm", vol)
    for args, masked in ((["--privileged"], None), (["--security-opt", "systempaths=unconfined"],
                                                    [])):
        n = names(f"-{len(args)}")
        engine.docker("create", "--name", n, N, *args, TAG, "true", check=True)
        hc = inspect(engine, n)["HostConfig"]
        assert (hc["MaskedPaths"], hc["ReadonlyPaths"]) == (masked, masked)
    n = names("-pids")
    engine.docker("create", "--name", n, N, "--pids-limit", "-1", TAG, "true", check=True)
    assert inspect(engine, n)["HostConfig"]["PidsLimit"] is None
    n = names("-pids10")
    engine.docker("create", "--name", n, N, "--pids-limit", "10", TAG, "true", check=True)
    assert inspect(engine, n)["HostConfig"]["PidsLimit"] == 10


def test_unknown_runtime_is_refused(engine, names):
    r = engine.docker("create", "--name", names(), N, "--runtime", "nosuch", TAG, "true")
    assert r.returncode != 0 and "Unknown runtime specified nosuch" in r.stderr


def test_size_root_fs_counts_the_image(engine, names):
    name = names()
    engine.docker("run", "--name", name, N, TAG, "sh", "-c", "head -c 100000 /dev/zero > /f",
                  check=True)
    image_size = int(engine.docker("image", "inspect", "-f", "{{.Size}}", TAG,
                                   check=True).stdout)
    j = inspect(engine, name, "-s")
    assert j["SizeRw"] >= 100000
    assert j["SizeRootFs"] == j["SizeRw"] + image_size
    api = engine.sdk().api
    row = api.containers(all=True, size=True, filters={"name": name})[0]
    assert row["SizeRootFs"] == row["SizeRw"] + image_size


# ---------------------------------------------------------------- system, errors, events


def test_version_has_every_field_of_the_schema(engine):
    v = engine.sdk().api.version(api_version=False)
    for key in ("Platform", "Components", "Version", "ApiVersion", "MinAPIVersion", "GitCommit",
                "GoVersion", "Os", "Arch", "KernelVersion", "BuildTime"):
        assert key in v, key
    assert set(v["Platform"]) == {"Name"}
    engine_c = [c for c in v["Components"] if c["Name"] == "Engine"][0]
    assert engine_c["Version"] == v["Version"]
    for key in ("ApiVersion", "MinAPIVersion", "GitCommit", "GoVersion", "Os", "Arch",
                "KernelVersion", "BuildTime", "Experimental"):
        assert isinstance(engine_c["Details"].get(key), str), key
    r = engine.docker("version", "-f", "{{.Server.GoVersion}}|{{.Server.Os}}", check=True)
    go, os_ = r.stdout.strip().split("|")
    assert go and os_ == "linux"
    if engine.kind == "berthd":
        assert go.startswith("C, ")  # what berth is built with, not a Go version


def test_error_wording(engine, names):
    name, user = names(), names("-user")
    tag = f"compat-{uuid.uuid4().hex[:8]}/only:1"
    engine.docker("run", "-d", "--name", name, N, TAG, "sleep", "100", check=True)
    cid = fmt(engine, "{{.Id}}", name)
    r = engine.docker("unpause", name)
    assert f"Container {cid} is not paused" in r.stderr
    engine.docker("pause", name, check=True)
    r = engine.docker("pause", name)
    assert f"Container {cid} is already paused" in r.stderr
    engine.docker("rm", "-f", name, check=True)
    # rmi of the last reference of an image a container uses names both
    engine.docker("tag", TAG, tag, check=True)
    iid = engine.docker("image", "inspect", "-f", "{{.Id}}", TAG, check=True).stdout.strip()
    engine.docker("create", "--name", user, N, tag, "true", check=True)
    try:
        engine.docker("rmi", tag)  # not the last reference: untagged
        engine.docker("tag", TAG, tag, check=True)
        # the image keeps TAG too: untagging tag is fine, removing by id is not
        r = engine.docker("rmi", iid[7:19])
        assert r.returncode != 0
        assert f"conflict: unable to delete {iid[7:19]} (must be forced) - image is " in r.stderr
    finally:
        engine.docker("rm", "-f", user)
        engine.docker("rmi", tag)
    r = engine.docker("image", "inspect", "compat-nosuch")
    assert r.returncode != 0 and "No such image: compat-nosuch:latest" in r.stderr
    r = engine.docker("rmi", "compat-nosuch")
    assert r.returncode != 0 and "No such image: compat-nosuch:latest" in r.stderr


def test_rmi_conflict_names_the_reference_and_the_container(engine, names):
    """The last reference of an image a container uses cannot go without -f."""
    other = f"compat-{uuid.uuid4().hex[:8]}/last:1"
    engine.docker("tag", TAG, other, check=True)
    iid = engine.docker("image", "inspect", "-f", "{{.Id}}", TAG, check=True).stdout.strip()
    # a second image id: commit a container so `other` is that image's only reference
    src = names("-src")
    engine.docker("run", "--name", src, N, TAG, "touch", "/x", check=True)
    engine.docker("commit", src, other, check=True)
    user = names("-user")
    engine.docker("create", "--name", user, N, other, "true", check=True)
    ucid = fmt(engine, "{{.Id}}", user)
    new_id = engine.docker("image", "inspect", "-f", "{{.Id}}", other, check=True).stdout.strip()
    try:
        assert new_id != iid
        r = engine.docker("rmi", other)
        assert r.returncode != 0
        assert (f'conflict: unable to remove repository reference "{other}" (must force) - '
                f"container {ucid[:12]} is using its referenced image {new_id[7:19]}") in r.stderr
    finally:
        engine.docker("rm", "-f", user)
        engine.docker("rmi", other)


def test_events_include_attach_and_replay_a_window(engine, names):
    name = names()
    since = time.time()
    engine.docker("run", "--name", name, N, TAG, "true", check=True)
    engine.docker("rm", name, check=True)

    def replayed():
        # the window ends now: its replay holds the events stored so far
        r = engine.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                          "--filter", f"container={name}", "--format", "{{.Action}}", timeout=30)
        return (r.stdout.split(), r.stderr) if "destroy" in r.stdout.split() else None
    actions, stderr = poll(replayed, "the destroy event replayed", timeout=20, interval=0.2)
    assert actions == ["create", "attach", "start", "die", "destroy"], (actions, stderr)


def test_exec_events_name_the_command_and_the_exit(engine, names):
    # dockerd: "exec_create: ENTRYPOINT ARGS" (a space after the entrypoint even without
    # arguments), the same for exec_start, exec_die with its exitCode; the container's
    # attributes (image, name) and the execID on each
    name = names()
    engine.docker("run", "-d", "--name", name, N, TAG, "sleep", "100", check=True)
    since = time.time()
    assert engine.docker("exec", name, "sh", "-c", "exit 3").returncode == 3
    assert engine.docker("exec", name, "true").returncode == 0

    def replayed():
        r = engine.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                          "--filter", f"container={name}", "--format", "{{json .}}", timeout=30)
        evs = [json.loads(line) for line in r.stdout.splitlines()]
        return evs if sum(e["Action"] == "exec_die" for e in evs) == 2 else None
    evs = poll(replayed, "both exec_die events", timeout=20, interval=0.2)
    assert [e["Action"] for e in evs] == [
        "exec_create: sh -c exit 3", "exec_start: sh -c exit 3", "exec_die",
        "exec_create: true ", "exec_start: true ", "exec_die"], evs
    first, second = (evs[0]["Actor"]["Attributes"]["execID"],
                     evs[3]["Actor"]["Attributes"]["execID"])
    assert first != second
    for i, e in enumerate(evs):
        want = {"image": TAG, "name": name, "execID": first if i < 3 else second}
        if e["Action"] == "exec_die":
            want["exitCode"] = "3" if i < 3 else "0"
        assert e["Actor"]["Attributes"] == want, e
        assert e["from"] == TAG, e


def test_resize_is_an_event(engine, names):
    # dockerd (daemon/resize.go): `resize` with the height and width asked, the container's
    # attributes beside them
    name = names()
    engine.docker("run", "-dit", "--name", name, N, TAG, "sh", check=True)
    since = time.time()
    engine.sdk().api.resize(name, 33, 101)

    def replayed():
        r = engine.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                          "--filter", f"container={name}", "--format", "{{json .}}", timeout=30)
        return [json.loads(line) for line in r.stdout.splitlines()] or None
    evs = poll(replayed, "the resize event", timeout=20, interval=0.2)
    assert [e["Action"] for e in evs] == ["resize"], evs
    assert evs[0]["Actor"]["Attributes"] == {"height": "33", "width": "101", "image": TAG,
                                             "name": name}, evs


def test_loading_data_that_is_not_an_image(engine, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(docker.errors.ImageLoadError):
        engine.sdk().images.load(junk.read_bytes())
    r = engine.docker("load", "-i", str(junk))
    assert r.returncode == 1 and r.stderr.strip(), r.stderr


def test_export_and_cp_archives_as_docker_writes_them(engine, names):
    """/.dockerenv is in every container (moby's init layer); tar entries carry the user and
    group names of the container's own /etc/passwd and /etc/group."""
    import io
    import tarfile
    name = names()
    # the first run makes the files and exits; a start then keeps it running
    engine.docker("run", "--name", name, N, TAG, "sh", "-c",
                  "[ -e /home/bob ] && exec sleep 100;"
                  " mkdir -p /home/bob && echo bob:x:1234:1235::/home/bob:/bin/sh >> /etc/passwd"
                  " && echo staff2:x:1235: >> /etc/group && touch /home/bob/f"
                  " && chown -R 1234:1235 /home/bob && chown 1236:1236 /home/bob/f", check=True)
    assert engine.docker("diff", name, check=True).stdout.count(".dockerenv") == 0

    def entries(*args):
        r = engine.docker(*args, input=b"")
        assert r.returncode == 0, r.stderr
        with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
            return {m.name: (m.uname, m.gname, m.uid, m.gid, m.isfile(), m.mode & 0o7777)
                    for m in t.getmembers()}

    exported = entries("export", name)
    assert exported[".dockerenv"] == ("root", "root", 0, 0, True, 0o755)
    assert exported["home/bob"][:4] == ("bob", "staff2", 1234, 1235)
    assert exported["home/bob/f"][:4] == ("", "", 1236, 1236)
    assert exported["etc/passwd"][:2] == ("root", "root")
    for running in (False, True):
        if running:
            engine.docker("start", name, check=True)  # the same names from a running one
        copied = entries("cp", f"{name}:/home/bob", "-")
        assert copied["bob"][:4] == ("bob", "staff2", 1234, 1235)
        assert copied["bob/f"][:4] == ("", "", 1236, 1236)
        assert entries("cp", f"{name}:/.dockerenv", "-")[".dockerenv"][:2] == ("root", "root")
    r = engine.docker("exec", name, "ls", "-l", "/.dockerenv")
    assert r.stdout.startswith("-rwxr-xr-x"), r.stdout + r.stderr


def test_exec_in_a_paused_container(engine, names):
    name = names()
    engine.docker("run", "-d", "--name", name, N, TAG, "sleep", "100", check=True)
    cid = fmt(engine, "{{.Id}}", name)
    api = engine.sdk().api
    made = api.exec_create(name, ["true"])  # made while running, started once paused
    engine.docker("pause", name, check=True)
    # the create names the container as the client did, the start by its id
    r = engine.docker("exec", name, "true")
    assert r.returncode == 1, r.stderr
    assert f"Container {name} is paused, unpause the container before exec" in r.stderr
    want = f"Container {cid} is paused, unpause the container before exec"
    with pytest.raises(docker.errors.APIError) as e:
        api.exec_start(made["Id"])
    assert e.value.status_code == 409 and want in str(e.value), str(e.value)
    engine.docker("unpause", name, check=True)



def _tar_entries(data):
    """Every entry of a tar stream, in order, as a reader sees it: name, type, permission bits,
    ids and names, size, link target, the name the ustar header holds (its prefix and name
    fields joined: a directory's trailing '/'; None when a PAX record holds the name) and the PAX
    records' keys. Not the file type bits moby also keeps in the header's mode (0100644): berthd
    writes with libarchive, which writes the permission bits only, and tar readers take the type
    from the typeflag; nor where a long path is split between the prefix and name fields (Go
    splits at the last '/' that fits the prefix, libarchive at the first that lets the name fit)
    (DIFFERENCES.md)."""
    import io
    import tarfile
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            raw = data[m.offset_data - 512:m.offset_data]
            prefix, field = raw[345:500].rstrip(b"\0"), raw[:100].rstrip(b"\0")
            header_name = (None if "path" in m.pax_headers
                           else prefix + b"/" + field if prefix else field)
            out.append((m.name, m.type, oct(m.mode & 0o7777), m.uid, m.gid, m.uname, m.gname,
                        m.size, m.linkname, header_name, sorted(m.pax_headers)))
    return out


def test_export_and_cp_entries_match_dockerd(berthd, dockerd_oracle):
    """`docker export` and `docker cp` of the same image-based container, entry by entry, as
    dockerd writes them: order (moby walks each directory in lexical order), names (directories
    with a trailing '/', a long path split into ustar's prefix, a longer or non-ASCII name in a
    PAX record),
    type, permission bits (not the file type bits moby keeps in the mode: see _tar_entries),
    uid/gid and their names, size, link target (a file's second name is a hard link entry).
    docker cp of a stopped container reads the /etc files dockerd mounts over the rootfs."""
    long_dir = "d" * 60
    long_name = "n" * 120
    script = (f"mkdir -p /x/{long_dir}/{long_dir} && echo hi > /x/{long_dir}/{long_dir}/f"
              f" && ln /bin/busybox /x/hard && echo long > /x/{long_name}"
              " && mkfifo /x/fifo && chown 1234:1235 /x/fifo && chmod 4755 /x/hard"
              " && echo u > /x/caf\u00e9")
    got = {}
    for kind, d in (("berthd", berthd), ("dockerd", dockerd_oracle)):
        name = d.name("exp")
        d.docker("run", "--name", name, N, TAG, "sh", "-c", script, check=True)
        try:
            got[kind] = []
            for args in (["export", name], ["cp", f"{name}:/etc", "-"],
                         ["cp", f"{name}:/x", "-"]):
                r = d.docker(*args, input=b"")
                assert r.returncode == 0, r.stderr
                got[kind].append(_tar_entries(r.stdout))
        finally:
            d.docker("rm", "-f", name)
    for ours, theirs in zip(got["berthd"], got["dockerd"]):
        assert [e[0] for e in ours] == [e[0] for e in theirs]
        for a, b in zip(ours, theirs):
            assert a == b
    export = {e[0]: e for e in got["berthd"][0]}
    assert export["bin"][1:3] == (b"5", oct(0o755)) and export["bin"][9] == b"bin/"
    assert export["x/hard"][1] == b"1" and export["x/hard"][8] == "bin/busybox"
    assert export["x/hard"][2] == oct(0o4755)
    assert export[f"x/{long_name}"][10] == ["path"]
    # 125 bytes held by ustar's prefix and name fields, no PAX record
    long_path = f"x/{long_dir}/{long_dir}/f"
    assert export[long_path][9] == long_path.encode() and export[long_path][10] == []
    assert export["x/fifo"][1:5] == (b"6", oct(0o644), 1234, 1235)
    assert export["x/caf\u00e9"][10] == ["path"]  # a non-ASCII name: a PAX record, UTF-8
