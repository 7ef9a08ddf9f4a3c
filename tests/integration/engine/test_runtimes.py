"""OCI runtimes of daemon.json (`runtimes`, `default-runtime`) beside the built-in `berth`:
containers created with `--runtime NAME` are made, run, exec'd, paused, updated, stopped and
deleted by that binary through runc's command line (the shim drives it as containerd's shim drives
runc), and berthd re-adopts them after kill -9. The binaries are the machine's runc and crun and
berth-runtime (berth's own runc-compatible CLI, here as "any OCI binary")."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from berthtest import BUILD, TAG

# as the engine fixture finds them (conftest is not importable by name: every test directory has one)
BERTHD = os.environ.get("BERTHD") or os.path.join(BUILD, "cmd", "berthd")
SHIM = os.environ.get("BERTH_SHIM") or os.path.join(BUILD, "cmd", "berth-shim")

RUNC = shutil.which("runc") or "/usr/sbin/runc"
CRUN = shutil.which("crun")
BERTH_RUNTIME = os.path.join(BUILD, "cmd", "berth-runtime")
# the runtimes that run containers on any host of the tests (crun is tried apart: crun 1.8
# refuses hybrid cgroup hosts outright)
RUNTIMES = ["runc", "brt"]

pytestmark = pytest.mark.skipif(not os.access(RUNC, os.X_OK), reason="runc is not installed")


@pytest.fixture(scope="module")
def rtd(berthd_session_factory, tmp_path_factory):
    """A berthd whose daemon.json names runc (by path), crun (a name found in PATH) and
    berth-runtime (with runtimeArgs)."""
    cfg = tmp_path_factory.mktemp("rtcfg") / "daemon.json"
    runtimes = {"runc": {"path": RUNC},
                "brt": {"path": BERTH_RUNTIME, "runtimeArgs": ["--debug"]}}
    if CRUN:
        runtimes["crun"] = {"path": "crun"}
    cfg.write_text(json.dumps({"runtimes": runtimes}))
    d = berthd_session_factory(extra=("--config-file", str(cfg)))
    d.config_path = str(cfg)
    return d


# berthd refusing its configuration. Kept first: when the last test of a run uses no daemon,
# pytest finishes the session's leak check before it stops the daemons (their warm network
# namespaces are still mounted then)
def _start_fails(tmp_path, *args):
    sock = tmp_path / "s.sock"
    return subprocess.run([BERTHD, "--data-root", str(tmp_path / "data"), "-H", f"unix://{sock}",
                           "--bridge", "none", "--shim", SHIM, *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("doc,words", [
    ('{"runtimes": {"runc": {"path": "/usr/sbin/runc"}', "line"),
    ('{"log-driver": "syslog"}', "option `log-driver` is not supported by berthd"),
    ('{"runtimes": {"x": {"runtimeArgs": []}}}', "runtime `x`: `path` (a string) is required"),
    ('{"runtimes": {"x": {"path": "/nonexistent/runc"}}}', "`/nonexistent/runc` is not an "
                                                           "executable file"),
    ('{"runtimes": {"x": {"path": "runc", "runtimeType": "io.containerd.runc.v2"}}}',
     "runtime `x`: `runtimeType` is not supported"),
    ('{"runtimes": {"berth": {"path": "/usr/sbin/runc"}}}', "reserved for the built-in runtime"),
    ('{"default-runtime": "nosuch"}', "default runtime `nosuch` is not configured"),
    ('{"bip": "10.9.0.1/24"}', "specified both as a flag and in the configuration file: bip"),
])
def test_bad_config_is_refused_at_start(tmp_path, doc, words):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(doc)
    r = _start_fails(tmp_path, "--config-file", str(cfg), "--bip", "10.8.0.1/24")
    assert r.returncode != 0
    assert words in r.stderr, r.stderr
    if "flag" not in words:
        assert str(cfg) in r.stderr or "default runtime" in words


def test_missing_config_file_is_refused_when_named(tmp_path):
    r = _start_fails(tmp_path, "--config-file", str(tmp_path / "nope.json"))
    assert r.returncode != 0 and f"`{tmp_path}/nope.json`" in r.stderr, r.stderr
    r = _start_fails(tmp_path, "--add-runtime", "runc")
    assert r.returncode != 0 and "expected NAME=PATH" in r.stderr, r.stderr


def inspect(d, name):
    return json.loads(d.docker("inspect", name, check=True).stdout)[0]


def rm(d, *names):
    d.docker("rm", "-f", *names)


# a process that ends with 7 on SIGTERM (sh as PID 1 has no default action for it)
TRAP = "trap 'exit 7' TERM; echo up; while :; do sleep 0.1; done"


def test_info_lists_the_runtimes(rtd):
    info = json.loads(rtd.docker("info", "--format", "{{json .}}", check=True).stdout)
    rts = info["Runtimes"]
    assert set(rts) >= {"berth", "runc", "brt"}
    assert rts["runc"]["path"] == RUNC
    assert rts["brt"] == {"path": BERTH_RUNTIME, "runtimeArgs": ["--debug"]}
    if CRUN:
        assert rts["crun"]["path"] == CRUN  # the name found in PATH
    assert info["DefaultRuntime"] == "berth"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_run_output_and_exit_code(rtd, rt):
    name = rtd.name()
    r = rtd.docker("run", "--name", name, "--runtime", rt, TAG,
                   "sh", "-c", "echo out; echo err >&2; exit 3")
    try:
        assert r.returncode == 3, r.stderr + rtd.log()
        assert r.stdout == "out\n"
        assert r.stderr == "err\n"
        j = inspect(rtd, name)
        assert j["HostConfig"]["Runtime"] == rt
        assert j["State"]["ExitCode"] == 3 and j["State"]["Status"] == "exited"
        logs = rtd.docker("logs", name, check=True)
        assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    finally:
        rm(rtd, name)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_tty_and_stdin(rtd, rt):
    r = rtd.docker("run", "--rm", "-t", "--runtime", rt, TAG, "sh", "-c", "tty; stty size")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].strip() == "/dev/pts/0"
    r = rtd.docker("run", "--rm", "-i", "--runtime", rt, TAG, "sh", "-c", "cat; exit 5",
                   input="from stdin\n")
    assert (r.returncode, r.stdout) == (5, "from stdin\n"), r.stderr


def test_berth_cli_and_sdk(rtd):
    r = rtd.cli("run", "--rm", "--runtime", "runc", TAG, "sh", "-c", "echo cli; exit 2")
    assert (r.returncode, r.stdout) == (2, "cli\n"), r.stderr
    client = rtd.sdk()
    c = client.containers.run(TAG, ["echo", "sdk"], runtime="runc", detach=True)
    try:
        assert c.wait()["StatusCode"] == 0
        assert c.logs() == b"sdk\n"
        c.reload()
        assert c.attrs["HostConfig"]["Runtime"] == "runc"
    finally:
        c.remove(force=True)


def test_missing_command_is_docker_127(rtd):
    r = rtd.docker("run", "--rm", "--runtime", "runc", TAG, "/nosuch")
    assert r.returncode == 127
    assert "/nosuch" in r.stderr and "runc" in r.stderr


@pytest.mark.parametrize("rt", RUNTIMES)
def test_exec_pause_stop(rtd, rt):
    name = rtd.name()
    rtd.docker("run", "-d", "--name", name, "--runtime", rt, TAG, "sh", "-c", TRAP, check=True)
    try:
        r = rtd.docker("exec", name, "sh", "-c", "echo in $(cat /proc/1/comm); exit 4")
        assert (r.returncode, r.stdout) == (4, "in sh\n"), r.stderr
        r = rtd.docker("exec", "-t", name, "tty")
        assert r.returncode == 0 and r.stdout.strip() == "/dev/pts/0", r.stderr
        r = rtd.docker("exec", "-i", name, "cat", input="piped\n")
        assert r.stdout == "piped\n", r.stderr
        rtd.docker("pause", name, check=True)
        j = inspect(rtd, name)
        assert j["State"]["Paused"] and j["State"]["Status"] == "paused"
        rtd.docker("unpause", name, check=True)
        assert inspect(rtd, name)["State"]["Status"] == "running"
        assert rtd.docker("exec", name, "true").returncode == 0
        rtd.docker("stop", name, check=True)
        j = inspect(rtd, name)
        assert j["State"]["ExitCode"] == 7 and not j["State"]["OOMKilled"]
        assert rtd.docker("logs", name).stdout == "up\n"
    finally:
        rm(rtd, name)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_kill_and_restart(rtd, rt):
    name = rtd.name()
    rtd.docker("run", "-d", "--name", name, "--runtime", rt, TAG, "sh", "-c", TRAP, check=True)
    try:
        rtd.docker("kill", name, check=True)
        assert inspect(rtd, name)["State"]["ExitCode"] == 137
        rtd.docker("start", name, check=True)
        assert inspect(rtd, name)["State"]["Running"]
        rtd.docker("kill", "-s", "TERM", name, check=True)
        assert rtd.docker("wait", name, check=True).stdout.strip() == "7"
    finally:
        rm(rtd, name)


def test_top_stats_update_read_its_cgroup(rtd):
    name = rtd.name()
    rtd.docker("run", "-d", "--name", name, "--runtime", "runc", "-m", "64m", TAG,
               "sleep", "1000", check=True)
    try:
        r = rtd.docker("top", name, check=True)
        assert "sleep 1000" in r.stdout
        st = json.loads(rtd.docker("stats", "--no-stream", "--format", "{{json .}}", name,
                                   check=True).stdout)
        assert st["PIDs"] == "1" and st["MemUsage"].endswith("64MiB"), st
        rtd.docker("update", "--memory", "96m", "--memory-swap", "128m", name, check=True)
        st = json.loads(rtd.docker("stats", "--no-stream", "--format", "{{json .}}", name,
                                   check=True).stdout)
        assert st["MemUsage"].endswith("96MiB"), st
        assert inspect(rtd, name)["HostConfig"]["Memory"] == 96 << 20
    finally:
        rm(rtd, name)


def test_update_cannot_change_the_runtime(rtd):
    name = rtd.name()
    rtd.docker("run", "-d", "--name", name, "--runtime", "runc", TAG, "sh", "-c", TRAP,
               check=True)
    try:
        api = rtd.sdk().api
        # not an update field: refused (dockerd's decoder drops it; berth never accepts and
        # ignores), and it must not redirect the next stop
        r = api._post_json(api._url("/containers/{0}/update", name),
                           data={"Runtime": "berth", "PidsLimit": 100})
        assert r.status_code == 400 and "Runtime" in r.text, (r.status_code, r.text)
        api._raise_for_status(api._post_json(api._url("/containers/{0}/update", name),
                                             data={"PidsLimit": 100}))
        j = inspect(rtd, name)
        assert j["HostConfig"]["Runtime"] == "runc" and j["HostConfig"]["PidsLimit"] == 100
        rtd.docker("stop", name, check=True)
        assert inspect(rtd, name)["State"]["ExitCode"] == 7
    finally:
        rm(rtd, name)


def test_oom_kill_is_recorded(rtd):
    name = rtd.name()
    r = rtd.docker("run", "--name", name, "--runtime", "runc", "-m", "8m",
                   TAG, "sh", "-c", "x=a; while :; do x=$x$x; done")
    try:
        assert r.returncode == 137
        assert inspect(rtd, name)["State"]["OOMKilled"] is True
    finally:
        rm(rtd, name)


def test_unknown_runtime_is_refused(rtd):
    r = rtd.docker("create", "--runtime", "nosuch", TAG, "true")
    assert r.returncode != 0 and "Unknown runtime specified nosuch" in r.stderr


def test_crun(rtd):
    if not CRUN:
        pytest.skip("crun is not installed")
    r = rtd.docker("run", "--rm", "--runtime", "crun", TAG, "sh", "-c", "echo crun; exit 6")
    if "cgroups in hybrid mode not supported" in r.stderr:
        # crun 1.8 runs nothing on hybrid hosts whose cgroup2 has a controller; berth passes its
        # own words on, which is what this checks then
        assert r.returncode == 125 and "crun create" in r.stderr
        pytest.skip(f"crun cannot run containers on this host: {r.stderr.strip()}")
    assert (r.returncode, r.stdout) == (6, "crun\n"), r.stderr


def test_kill9_berthd_keeps_managing_the_container(rtd):
    name = rtd.name()
    rtd.docker("run", "-d", "--name", name, "--runtime", "runc", TAG, "sh", "-c", TRAP,
               check=True)
    try:
        rtd.kill9()
        rtd.start(*rtd.extra)
        j = inspect(rtd, name)
        assert j["State"]["Running"] and j["HostConfig"]["Runtime"] == "runc"
        r = rtd.docker("exec", name, "echo", "after")
        assert r.stdout == "after\n", r.stderr
        rtd.docker("pause", name, check=True)
        rtd.docker("unpause", name, check=True)
        rtd.docker("stop", name, check=True)
        assert inspect(rtd, name)["State"]["ExitCode"] == 7
        assert rtd.docker("logs", name).stdout == "up\n"
    finally:
        rm(rtd, name)


def _reloaded(d, count):
    """SIGHUP berthd and wait until its log shows reload number count (ok or refused)."""
    d.proc.send_signal(signal.SIGHUP)
    end = time.time() + 30
    while time.time() < end:
        if d.log().count("reload: ") >= count:
            return d.log()
        time.sleep(0.05)
    pytest.fail(f"no reload in the log: {d.log()}")


def test_sighup_reloads_the_runtimes(berthd_factory, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text("{}")
    d = berthd_factory(extra=("--config-file", str(cfg)))

    def runtimes():
        info = json.loads(d.docker("info", "--format", "{{json .}}", check=True).stdout)
        return info["Runtimes"], info["DefaultRuntime"]

    assert set(runtimes()[0]) == {"berth"}
    cfg.write_text(json.dumps({"runtimes": {"runc": {"path": RUNC}}, "default-runtime": "runc"}))
    _reloaded(d, 1)
    rts, default = runtimes()
    assert set(rts) == {"berth", "runc"} and default == "runc"
    name = d.name()
    d.docker("run", "-d", "--name", name, TAG, "sh", "-c", TRAP, check=True)
    try:
        assert inspect(d, name)["HostConfig"]["Runtime"] == "runc"
        # a bad file, or one that drops the runtime of a running container: refused, kept
        cfg.write_text("{")
        assert "line" in _reloaded(d, 2).splitlines()[-1]
        cfg.write_text("{}")
        log = _reloaded(d, 3)
        assert f"runtime `runc` is used by container `{inspect(d, name)['Id'][:12]}`" in log
        assert runtimes() == (rts, "runc")
        d.docker("stop", name, check=True)
        assert inspect(d, name)["State"]["ExitCode"] == 7
        # stopped now: the runtime may go (starting the container again is refused)
        _reloaded(d, 4)
        assert set(runtimes()[0]) == {"berth"}
        r = d.docker("start", name)
        assert r.returncode != 0 and "Unknown runtime specified runc" in r.stderr
    finally:
        rm(d, name)


def test_restart_without_the_runtime_warns_and_a_reload_brings_it_back(berthd_factory, tmp_path):
    cfg = tmp_path / "daemon.json"
    with_runc = json.dumps({"runtimes": {"runc": {"path": RUNC}}})
    cfg.write_text(with_runc)
    d = berthd_factory(extra=("--config-file", str(cfg)))
    name = d.name()
    d.docker("run", "-d", "--name", name, "--runtime", "runc", TAG, "sh", "-c", TRAP,
             check=True)
    try:
        cid = inspect(d, name)["Id"]
        d.kill9()
        cfg.write_text("{}")
        d.start(*d.extra)
        assert f"runtime `runc` is used by container `{cid[:12]}`, which runs, but the " \
            "configuration does not name it" in d.log()
        # refused at once, not a stop that waits for an exit nothing can bring
        for verb in (("stop",), ("kill",), ("rm", "-f"), ("pause",)):
            r = d.docker(*verb, name)
            assert r.returncode != 0 and "Unknown runtime specified runc" in r.stderr, verb
        assert inspect(d, name)["State"]["Running"]
        cfg.write_text(with_runc)
        _reloaded(d, 1)
        d.docker("stop", name, check=True)
        assert inspect(d, name)["State"]["ExitCode"] == 7
    finally:
        rm(d, name)


def test_default_runtime_and_add_runtime(berthd_factory, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"default-runtime": "runc"}))
    d = berthd_factory(extra=("--config-file", str(cfg), "--add-runtime", f"runc={RUNC}"))
    info = json.loads(d.docker("info", "--format", "{{json .}}", check=True).stdout)
    assert info["DefaultRuntime"] == "runc" and info["Runtimes"]["runc"]["path"] == RUNC
    name = d.name()
    r = d.docker("run", "--name", name, TAG, "sh", "-c", "echo default; exit 2")
    try:
        assert (r.returncode, r.stdout) == (2, "default\n"), r.stderr
        assert inspect(d, name)["HostConfig"]["Runtime"] == "runc"
        r = d.docker("run", "--rm", "--runtime", "berth", TAG, "true")
        assert r.returncode == 0, r.stderr
    finally:
        rm(d, name)
