"""Container lifecycle through berthd with real clients: the docker CLI and the python SDK."""
import json
import os
import pty
import select
import socket
import subprocess
import time

import docker
import pytest

TAG = "berth-test/busybox:latest"  # what tests/conftest.py image_tar makes


def wait_until(cond, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail(f"{what}: timed out")


def inspect(d, name):
    r = d.docker("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def api(d, method, path, body=None, headers=None):
    """A raw HTTP request on the daemon's socket: (status, body bytes)."""
    data = b"" if body is None else (body if isinstance(body, bytes) else body.encode())
    req = f"{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n"
    for k, v in (headers or {}).items():
        req += f"{k}: {v}\r\n"
    if "Content-Length" not in (headers or {}) and "Transfer-Encoding" not in (headers or {}):
        req += f"Content-Length: {len(data)}\r\n"
    req = req.encode() + b"\r\n" + data
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(d.sock)
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the rest (413/431): its answer is still there to read
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    head, _, rest = out.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


# ---------------------------------------------------------------- docker CLI


def test_run_rm_echo(berthd):
    r = berthd.docker("run", "--rm", "--network=none", TAG, "echo", "hello berth")
    assert r.returncode == 0, r.stderr + berthd.log()
    assert r.stdout == "hello berth\n"


def test_exit_codes(berthd):
    for code in (0, 1, 3, 42, 255):
        r = berthd.docker("run", "--rm", "--network=none", TAG, "sh", "-c", f"exit {code}")
        assert r.returncode == code, r.stderr


def test_stderr_and_stdout_separate(berthd):
    r = berthd.docker("run", "--rm", "--network=none", TAG, "sh", "-c", "echo out; echo err >&2")
    assert r.stdout == "out\n"
    assert "err\n" in r.stderr


def test_stdin_piping(berthd):
    r = berthd.docker("run", "--rm", "-i", "--network=none", TAG, "sh", "-c", "tr a-z A-Z",
                      input="piped through\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "PIPED THROUGH\n"


def test_run_it_pty(berthd):
    """`docker run -it` on a real pty: a shell prompt, a command, its exit status."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(berthd.env)
        os.execvp("docker", ["docker", "run", "--rm", "-it", "--network=none", TAG, "sh"])
    out = b""
    try:
        def read_until(token, timeout=30):
            nonlocal out
            end = time.time() + timeout
            while token not in out and time.time() < end:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return token in out
        assert read_until(b"#"), out
        os.write(fd, b"echo tty=$(tty)\r")
        assert read_until(b"tty=/dev/pts/"), out
        os.write(fd, b"exit 7\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 7, out
    finally:
        os.close(fd)


def test_detached_logs_stop(berthd):
    name = berthd.name()
    r = berthd.docker("run", "-d", "--name", name, "--network=none", TAG, "sh", "-c",
                      "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr + berthd.log()
    cid = r.stdout.strip()
    assert len(cid) == 64
    wait_until(lambda: "started" in berthd.docker("logs", name).stdout, "first log line")
    st = inspect(berthd, name)["State"]
    assert st["Running"] and st["Status"] == "running" and st["Pid"] > 0
    assert os.path.exists(f"/proc/{st['Pid']}")
    r = berthd.docker("stop", "-t", "10", name)
    assert r.returncode == 0, r.stderr
    st = inspect(berthd, name)["State"]
    assert not st["Running"] and st["Status"] == "exited" and st["ExitCode"] == 0
    assert "bye" in berthd.docker("logs", name).stdout
    assert berthd.docker("rm", name).returncode == 0


def test_stop_timeout_then_kill(berthd):
    name = berthd.name()
    r = berthd.docker("run", "-d", "--name", name, "--network=none", TAG, "sh", "-c",
                      "trap '' TERM; echo trapped; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: "trapped" in berthd.docker("logs", name).stdout, "the trap set")
    assert berthd.docker("stop", "-t", "1", name).returncode == 0
    st = inspect(berthd, name)["State"]
    assert st["ExitCode"] == 137
    berthd.docker("rm", name)


def test_kill_signal_and_wait(berthd):
    name = berthd.name()
    # the container's init gets only the signals it handles (no default action for pid 1)
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG, "sh", "-c",
                         "trap 'exit 10' USR1; echo trapped; while :; do sleep 0.1; done"
                         ).returncode == 0
    wait_until(lambda: "trapped" in berthd.docker("logs", name).stdout, "the trap set")
    waiter = subprocess.Popen(["docker", "wait", name], env=berthd.env, stdout=subprocess.PIPE,
                              text=True)
    r = berthd.docker("kill", "-s", "USR1", name)
    assert r.returncode == 0, r.stderr
    out, _ = waiter.communicate(timeout=30)
    assert out.strip() == "10"
    assert berthd.docker("kill", name).returncode != 0  # not running any more
    berthd.docker("rm", name)


def test_wait_conditions_sdk(berthd):
    client = berthd.sdk()
    c = client.containers.create(TAG, ["sh", "-c", "exit 5"], network_mode="none")
    try:
        c.start()
        assert c.wait(condition="not-running")["StatusCode"] == 5
        c.start()
        assert c.wait()["StatusCode"] == 5
    finally:
        c.remove(force=True)


def test_inspect_shape(berthd):
    name = berthd.name()
    r = berthd.docker("create", "--name", name, "--network=none", "-e", "A=1", "-l", "k=v",
                      "-w", "/tmp", TAG, "sh", "-c", "exit 0")
    assert r.returncode == 0, r.stderr
    j = inspect(berthd, name)
    assert j["Name"] == "/" + name
    assert j["Id"] == r.stdout.strip()
    assert j["State"]["Status"] == "created"
    assert j["Path"] == "sh" and j["Args"] == ["-c", "exit 0"]
    assert "A=1" in j["Config"]["Env"]
    assert j["Config"]["Labels"] == {"k": "v"}
    assert j["Config"]["WorkingDir"] == "/tmp"
    assert j["HostConfig"]["NetworkMode"] == "none"
    assert j["GraphDriver"]["Name"] == "overlay2"
    assert j["Image"].startswith("sha256:")
    assert berthd.docker("start", "-a", name).returncode == 0
    j = inspect(berthd, name)
    assert j["State"]["Status"] == "exited" and j["State"]["ExitCode"] == 0
    assert j["State"]["StartedAt"] != "0001-01-01T00:00:00Z"
    assert j["State"]["FinishedAt"] >= j["State"]["StartedAt"]
    berthd.docker("rm", name)


def test_ps_filters(berthd):
    a, b = berthd.name("psa"), berthd.name("psb")
    assert berthd.docker("run", "-d", "--name", a, "-l", "role=x", "--network=none", TAG,
                         "sleep", "1000").returncode == 0
    assert berthd.docker("run", "--name", b, "--network=none", TAG, "sh", "-c",
                         "exit 3").returncode == 3
    try:
        ps = lambda *f: berthd.docker("ps", "-a", "--format", "{{.Names}}", *f).stdout.split()
        assert a in ps() and b in ps()
        assert b not in berthd.docker("ps", "--format", "{{.Names}}").stdout.split()
        assert ps("--filter", f"name={a}") == [a]
        assert ps("--filter", "label=role=x") == [a]
        assert b in ps("--filter", "status=exited") and a not in ps("--filter", "status=exited")
        assert ps("--filter", "exited=3", "--filter", f"name={b}") == [b]
        assert a in ps("--filter", "status=running")
        assert a in ps("--filter", f"ancestor={TAG}")
        short = berthd.docker("ps", "-aq", "--filter", f"name={b}").stdout.split()
        assert len(short) == 1 and len(short[0]) == 12
        assert berthd.docker("ps", "--filter", "bogus=1").returncode != 0
    finally:
        berthd.docker("rm", "-f", a, b)


def test_rename_and_conflict(berthd):
    a, b = berthd.name(), berthd.name()
    assert berthd.docker("create", "--name", a, TAG, "true").returncode == 0
    r = berthd.docker("create", "--name", a, TAG, "true")
    assert r.returncode != 0 and "is already in use" in r.stderr
    assert berthd.docker("rename", a, b).returncode == 0
    assert inspect(berthd, b)["Name"] == "/" + b
    assert berthd.docker("inspect", a).returncode != 0
    berthd.docker("rm", b)


def test_rm_force_running(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG,
                         "sleep", "1000").returncode == 0
    pid = inspect(berthd, name)["State"]["Pid"]
    r = berthd.docker("rm", name)
    assert r.returncode != 0 and "force" in r.stderr
    assert berthd.docker("rm", "-f", name).returncode == 0
    assert berthd.docker("inspect", name).returncode != 0
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), "container process gone")


def test_exec(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG,
                         "sleep", "1000").returncode == 0
    try:
        r = berthd.docker("exec", name, "sh", "-c", "echo in-exec; exit 4")
        assert r.returncode == 4, r.stderr
        assert r.stdout == "in-exec\n"
        r = berthd.docker("exec", "-i", name, "cat", input="exec stdin\n")
        assert r.stdout == "exec stdin\n", r.stderr
        r = berthd.docker("exec", "-e", "X=y", "-w", "/etc", name, "sh", "-c", "echo $X $PWD")
        assert r.stdout == "y /etc\n"
        assert berthd.docker("exec", "-d", name, "touch", "/tmp/detached").returncode == 0
        wait_until(lambda: berthd.docker("exec", name, "test", "-e",
                                         "/tmp/detached").returncode == 0, "detached exec")
    finally:
        berthd.docker("rm", "-f", name)


def pty_session(env, argv, steps, timeout=30):
    """Run argv on a pty; steps: (wait_for bytes, then send bytes) pairs. Returns (exit code,
    output); the client is killed if it hangs."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execvp(argv[0], argv)
    out = b""
    end = time.time() + timeout
    try:
        for want, send in steps:
            while want not in out and time.time() < end:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    out += data
            os.write(fd, send)
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                out += data
                if data:
                    continue
                # the pty closed: the client is exiting
                time.sleep(0.05)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), out
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return None, out
    finally:
        os.close(fd)


def test_exec_it_pty(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG,
                         "sleep", "1000").returncode == 0
    try:
        code, out = pty_session(berthd.env, ["docker", "exec", "-it", name, "sh"],
                                [(b"#", b"echo tty=$(tty); exit 9\r")])
        assert b"tty=/dev/pts/" in out, out
        assert code == 9, out
    finally:
        berthd.docker("rm", "-f", name)


def test_top_pause_unpause(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG,
                         "sleep", "1000").returncode == 0
    try:
        r = berthd.docker("top", name)
        assert r.returncode == 0 and "sleep 1000" in r.stdout, r.stderr
        assert berthd.docker("pause", name).returncode == 0
        assert inspect(berthd, name)["State"]["Status"] == "paused"
        assert inspect(berthd, name)["State"]["Paused"] is True
        r = berthd.docker("exec", name, "true")
        assert r.returncode != 0 and "paused" in r.stderr
        assert berthd.docker("unpause", name).returncode == 0
        assert inspect(berthd, name)["State"]["Status"] == "running"
    finally:
        berthd.docker("rm", "-f", name)


def test_oom_killed(berthd):
    name = berthd.name()
    r = berthd.docker("run", "--name", name, "--memory", "8m", "--memory-swap", "8m",
                      "--network=none", TAG, "sh", "-c",
                      "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; "
                      "while true; do x=$x$x; done")
    assert r.returncode == 137, r.stderr
    st = inspect(berthd, name)["State"]
    assert st["OOMKilled"] is True and st["ExitCode"] == 137
    berthd.docker("rm", name)


def test_restart_policy_on_failure(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--restart", "on-failure:2",
                         "--network=none", TAG, "sh", "-c", "exit 1").returncode == 0
    wait_until(lambda: inspect(berthd, name)["RestartCount"] == 2 and
               inspect(berthd, name)["State"]["Status"] == "exited", "two restarts")
    time.sleep(0.5)  # not a wait: no third restart comes
    assert inspect(berthd, name)["RestartCount"] == 2
    berthd.docker("rm", "-f", name)


def test_restart_policy_always_and_stop(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--restart", "always",
                         "--network=none", TAG, "sh", "-c", "sleep 0.2").returncode == 0
    wait_until(lambda: inspect(berthd, name)["RestartCount"] >= 2, "restarts")
    assert berthd.docker("stop", name).returncode == 0
    time.sleep(0.5)  # not a wait: no restart comes after a stop
    assert inspect(berthd, name)["State"]["Status"] == "exited"
    berthd.docker("rm", "-f", name)


def test_restart_command(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG,
                         "sleep", "1000").returncode == 0
    pid1 = inspect(berthd, name)["State"]["Pid"]
    assert berthd.docker("restart", "-t", "1", name).returncode == 0
    st = inspect(berthd, name)["State"]
    assert st["Running"] and st["Pid"] != pid1
    berthd.docker("rm", "-f", name)


def test_auto_remove_detached(berthd):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--rm", "--name", name, "--network=none", TAG,
                         "true").returncode == 0
    wait_until(lambda: berthd.docker("inspect", name).returncode != 0, "auto-removed")


def test_removed_directory_deleted_off_the_request(berthd_factory):
    """A removed container's directory leaves its path when rm answers and is deleted by the
    daemon's removal thread (data_root/containers-removed ends empty); what a crash left there
    is deleted at the next start."""
    d = berthd_factory()
    trash = os.path.join(d.data_root, "containers-removed")
    name = d.name()
    r = d.docker("run", "--name", name, "--network=none", TAG, "sh", "-c",
                 "mkdir -p /data/a/b && echo x > /data/a/b/f")
    assert r.returncode == 0, r.stderr
    cid = d.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    cdir = os.path.join(d.data_root, "containers", cid)
    assert os.path.isdir(os.path.join(cdir, "upper", "data", "a", "b"))
    assert d.docker("rm", name).returncode == 0
    assert not os.path.exists(cdir)
    wait_until(lambda: os.listdir(trash) == [], "removal thread emptied its directory")
    # run --rm: gone when the client returns
    r = d.docker("run", "--rm", "--name", name, "--network=none", TAG, "true")
    assert r.returncode == 0 and d.docker("inspect", name).returncode != 0
    wait_until(lambda: os.listdir(trash) == [], "removal thread emptied its directory")
    # a tree a crash left behind (read-only directories too) goes at the next start
    left = os.path.join(trash, "f" * 64, "upper", "x")
    os.makedirs(left)
    open(os.path.join(left, "file"), "w").close()
    os.chmod(left, 0o500)
    d.stop()
    d.start()
    wait_until(lambda: os.listdir(trash) == [], "left-over tree deleted at start")


def test_prune(berthd):
    name = berthd.name()
    assert berthd.docker("run", "--name", name, "--network=none", TAG, "true").returncode == 0
    r = berthd.docker("container", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert berthd.docker("inspect", name).returncode != 0


# ---------------------------------------------------------------- bad requests


def test_bad_requests(berthd):
    s, body = api(berthd, "POST", "/v1.43/containers/create", "{not json")
    assert s == 400 and b"message" in body
    s, body = api(berthd, "GET", "/v1.43/containers/doesnotexist/json")
    assert s == 404 and json.loads(body)["message"] == "No such container: doesnotexist"
    s, body = api(berthd, "POST", "/v1.43/containers/create", json.dumps({"Image": "nope:1"}))
    assert s == 404 and json.loads(body)["message"] == "No such image: nope:1"
    s, body = api(berthd, "POST", "/v1.43/containers/create?name=bad%20name",
                  json.dumps({"Image": TAG}))
    assert s == 400
    s, _ = api(berthd, "POST", "/v1.43/containers/create", json.dumps({"Image": TAG}),
               {"Content-Length": "16", "Transfer-Encoding": "chunked"})
    assert s == 400
    s, _ = api(berthd, "GET", "/v1.12/version")
    assert s == 400
    s, _ = api(berthd, "GET", "/v1.99/_ping")
    assert s == 200
    s, _ = api(berthd, "GET", "/nope")
    assert s == 404
    s, _ = api(berthd, "POST", "/containers/json")
    assert s == 405
    s, _ = api(berthd, "POST", "/v1.43/containers/create", b"x" * (9 << 20))
    assert s == 413
    s, _ = api(berthd, "GET", "/_ping", headers={"X-Big": "a" * (300 << 10)})
    assert s == 431
    # like dockerd, an unknown network is found missing at start (404), not at create
    s, body = api(berthd, "POST", "/containers/create",
                  json.dumps({"Image": TAG, "HostConfig": {"NetworkMode": "nonet"}}))
    assert s == 201
    cid = json.loads(body)["Id"]
    berthd.container_ids()
    s, body = api(berthd, "POST", f"/containers/{cid}/start")
    assert s == 404 and json.loads(body)["message"] == "network nonet not found"
    s, body = api(berthd, "DELETE", f"/containers/{cid}")
    assert s == 204
    # the daemon survived all of that
    s, body = api(berthd, "GET", "/_ping")
    assert s == 200 and body == b"OK"


def test_version_and_ping_headers(berthd):
    s, body = api(berthd, "GET", "/version")
    j = json.loads(body)
    assert j["ApiVersion"] == "1.43" and j["MinAPIVersion"] == "1.24" and j["Os"] == "linux"
    out = subprocess.run(["curl", "-sI", "--unix-socket", berthd.sock, "http://x/_ping"],
                         capture_output=True, text=True).stdout.lower()
    assert "api-version: 1.43" in out and "ostype: linux" in out
    assert "docker-experimental: false" in out


# ---------------------------------------------------------------- python SDK


def test_sdk_run_and_logs(berthd):
    client = berthd.sdk()
    out = client.containers.run(TAG, ["sh", "-c", "echo from-sdk"], remove=True,
                                network_mode="none")
    assert out == b"from-sdk\n"
    c = client.containers.run(TAG, ["sh", "-c", "echo a; echo b >&2; sleep 1000"], detach=True,
                              network_mode="none", name=berthd.name())
    try:
        wait_until(lambda: b"b" in c.logs(), "logs")
        assert c.logs(stdout=True, stderr=False) == b"a\n"
        c.reload()
        assert c.status == "running"
        assert c.exec_run(["echo", "x"]).output == b"x\n"
        res = c.exec_run(["sh", "-c", "exit 3"])
        assert res.exit_code == 3
        c.kill()
        assert c.wait()["StatusCode"] == 137
    finally:
        c.remove(force=True)


# ---------------------------------------------------------------- live-restore


def test_daemon_kill9_live_restore(berthd_factory):
    d = berthd_factory()
    name = d.name("lr")
    r = d.docker("run", "-d", "--name", name, "--network=none", TAG, "sh", "-c",
                 "i=0; while [ ! -e /tmp/stop ]; do echo tick $i; i=$((i+1)); sleep 0.1; done;"
                 " exit 7")
    assert r.returncode == 0, r.stderr + d.log()
    pid = inspect(d, name)["State"]["Pid"]
    d.kill9()
    time.sleep(0.5)  # not a wait: the container must not die with the daemon
    assert os.path.exists(f"/proc/{pid}"), "container died with the daemon"
    d.start()
    st = inspect(d, name)["State"]
    assert st["Running"] and st["Pid"] == pid
    n1 = d.docker("logs", name).stdout.count("tick")
    wait_until(lambda: d.docker("logs", name).stdout.count("tick") > n1 + 3, "logs flowing")
    assert d.docker("exec", name, "touch", "/tmp/stop").returncode == 0
    assert d.docker("wait", name).stdout.strip() == "7"
    assert inspect(d, name)["State"]["ExitCode"] == 7
    assert d.docker("rm", name).returncode == 0


def test_daemon_down_while_container_exits(berthd_factory):
    d = berthd_factory()
    name = d.name("lr")
    assert d.docker("run", "-d", "--name", name, "--network=none", TAG, "sh", "-c",
                    "sleep 1; exit 3").returncode == 0
    pid = inspect(d, name)["State"]["Pid"]
    d.kill9()
    # the container exits while no daemon runs (however slow the machine is)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), "container exit", timeout=30)
    d.start()
    wait_until(lambda: inspect(d, name)["State"]["Status"] == "exited", "exit recorded")
    assert inspect(d, name)["State"]["ExitCode"] == 3
    with open("/proc/self/mountinfo") as f:
        assert d.data_root + "/containers" not in f.read()
    d.docker("rm", name)


def test_restart_policy_after_daemon_restart(berthd_factory):
    d = berthd_factory()
    name = d.name("rp")
    assert d.docker("run", "-d", "--name", name, "--restart", "always", "--network=none", TAG,
                    "sleep", "1000").returncode == 0
    pid = inspect(d, name)["State"]["Pid"]
    d.kill9()
    os.kill(pid, 9)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), "the container reaped by its shim")
    d.start()
    wait_until(lambda: inspect(d, name)["State"]["Running"], "restarted by policy")
    assert inspect(d, name)["State"]["Pid"] != pid
    d.docker("rm", "-f", name)


# ---------------------------------------------------------------- files: cp, export, changes


def test_cp_in_and_out(berthd, tmp_path):
    name = berthd.name()
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG,
                         "sleep", "1000").returncode == 0
    try:
        src = tmp_path / "in.txt"
        src.write_text("copied in\n")
        r = berthd.docker("cp", str(src), f"{name}:/tmp/in.txt")
        assert r.returncode == 0, r.stderr
        assert berthd.docker("exec", name, "cat", "/tmp/in.txt").stdout == "copied in\n"
        assert berthd.docker("exec", name, "sh", "-c",
                             "mkdir -p /d/e && echo deep > /d/e/f").returncode == 0
        out = tmp_path / "out"
        r = berthd.docker("cp", f"{name}:/d", str(out))
        assert r.returncode == 0, r.stderr
        assert (out / "e" / "f").read_text() == "deep\n"
        r = berthd.docker("cp", f"{name}:/nonexistent", str(tmp_path / "x"))
        assert r.returncode != 0 and "Could not find" in r.stderr
    finally:
        berthd.docker("rm", "-f", name)


def test_cp_stays_inside_symlinks(berthd, tmp_path):
    """A symlink to / in the container resolves to the container's root, never the host's
    (CVE-2018-15664 / CVE-2019-14271 class)."""
    name = berthd.name()
    marker = f"berth-cp-escape-{os.getpid()}"
    assert berthd.docker("run", "--name", name, "--network=none", TAG, "sh", "-c",
                         "ln -s / /escape && ln -s /etc/../.. /up").returncode == 0
    try:
        src = tmp_path / marker
        src.write_text("x")
        for dest in ("/escape/tmp/", "/up/tmp/"):
            r = berthd.docker("cp", str(src), f"{name}:{dest}")
            assert r.returncode == 0, r.stderr
            assert not os.path.exists(f"/tmp/{marker}"), "cp wrote through a symlink to the host"
        r = berthd.docker("cp", f"{name}:/escape/etc/passwd", str(tmp_path / "p"))
        assert r.returncode == 0, r.stderr
        # the container's passwd, from the image, not the host's
        img = berthd.docker("run", "--rm", "--network=none", TAG, "cat", "/etc/passwd").stdout
        assert (tmp_path / "p").read_text() == img
    finally:
        berthd.docker("rm", "-f", name)


def test_export_and_changes(berthd, tmp_path):
    import tarfile
    name = berthd.name()
    assert berthd.docker("run", "--name", name, "--network=none", TAG, "sh", "-c",
                         "echo new > /added && rm /bin/ash && echo x >> /etc/group").returncode == 0
    try:
        out = tmp_path / "fs.tar"
        r = berthd.docker("export", "-o", str(out), name)
        assert r.returncode == 0, r.stderr
        with tarfile.open(out) as t:
            names = set(t.getnames())
        assert "added" in names and "bin/busybox" in names and "bin/ash" not in names
        r = berthd.docker("diff", name)
        assert r.returncode == 0, r.stderr
        lines = set(r.stdout.split("\n"))
        assert "A /added" in lines and "D /bin/ash" in lines and "C /etc/group" in lines
        with open("/proc/self/mountinfo") as f:
            assert f"{name}" not in f.read()
    finally:
        berthd.docker("rm", "-f", name)


def test_default_image_on_a_fresh_data_root(berthd_factory):
    """A fresh store has busybox:latest from the embedded archive: run works without load/pull,
    and the image is loaded once only (an rmi stays removed across a daemon restart)."""
    d = berthd_factory(load=False)
    r = d.docker("run", "--rm", "busybox", "echo", "hi")
    assert r.returncode == 0, f"{r.stderr} {d.log()}"
    assert r.stdout == "hi\n"
    assert "Unable to find image" not in r.stderr
    r = d.docker("rmi", "busybox")
    assert r.returncode == 0, r.stderr
    d.restart()
    r = d.docker("image", "inspect", "busybox")
    assert r.returncode != 0 and "No such image" in r.stderr


@pytest.mark.parametrize("args,code,message", [
    (["-u", "nosuchuser", TAG, "true"], 125,
     "unable to find user nosuchuser: no matching entries in passwd file"),
    ([TAG, "nope"], 127, 'exec: "nope": executable file not found in $PATH'),
    ([TAG, "/etc/passwd"], 126, 'exec: "/etc/passwd": permission denied'),
])
@pytest.mark.parametrize("rm", [False, True])
def test_start_failure_releases_attached_clients(berthd, args, code, message, rm):
    """A start that fails answers docker's message; the attach clients queued before it are
    released (the CLI exits 125/126/127 instead of hanging) and --rm removes the container."""
    name = berthd.name()
    try:
        r = berthd.docker("run", "-i", "--name", name, *(["--rm"] if rm else []), *args,
                          input="", timeout=30)
        assert r.returncode == code, f"{r.returncode} {r.stderr} {berthd.log()}"
        assert message in r.stderr
        r = berthd.docker("container", "inspect", name)
        if rm:
            assert r.returncode != 0 and "No such container" in r.stderr
        else:
            assert r.returncode == 0, r.stderr
    finally:
        berthd.container_ids()
        berthd.docker("rm", "-f", name)


_SDK_ARGS = {
    "--cpus": {"nano_cpus": 10**9, "cpu_period": 100000},
    "--cap-add": {"cap_add": ["BOGUS"]},
    "-v": {"volumes": ["/tmp:/x:bogus"]},
    "--mount": {"mounts": [docker.types.Mount("/x", "/nonexistent-berth-src", type="bind")]},
}


@pytest.mark.parametrize("args,message", [
    (["--cpus", "1", "--cpu-period", "100000"],
     "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    (["--cap-add", "BOGUS"], 'unknown capability: "CAP_BOGUS"'),
    (["-v", "/tmp:/x:bogus"], "invalid mode: bogus"),
    (["--mount", "type=bind,source=/nonexistent-berth-src,target=/x"],
     'invalid mount config for type "bind": bind source path does not exist: '
     "/nonexistent-berth-src"),
])
def test_create_validation(berthd, args, message):
    """Bad flags are refused at create (400, docker's message; run exits 125, create 1),
    nothing is made."""
    before = set(berthd.container_ids())
    r = berthd.docker("run", "--rm", *args, TAG, "true")
    assert r.returncode == 125, f"{r.stdout} {r.stderr}"
    assert message in r.stderr
    r = berthd.docker("create", *args, TAG, "true")
    assert r.returncode == 1 and message in r.stderr
    with pytest.raises(docker.errors.APIError) as e:
        berthd.sdk().containers.create(TAG, ["true"], **_SDK_ARGS[args[0]])
    assert e.value.status_code == 400 and message in str(e.value)
    assert set(berthd.container_ids()) == before


def test_bind_modes_and_propagation(berthd, tmp_path):
    """-v modes through docker's parser: ro is read-only, rshared is kept as propagation (and
    is not mistaken for ro), a missing -v source directory is created."""
    src = tmp_path / "src"
    src.mkdir()
    r = berthd.docker("run", "--rm", "-v", f"{src}:/x:ro", TAG, "sh", "-c",
                      "touch /x/a 2>&1; grep ' /x ' /proc/self/mountinfo")
    assert r.returncode == 0, r.stderr
    assert "Read-only file system" in r.stdout and " ro," in r.stdout
    r = berthd.docker("run", "--rm", "-v", f"{src}:/x:rshared", TAG, "sh", "-c",
                      "touch /x/b && grep ' /x ' /proc/self/mountinfo")
    assert r.returncode == 0, r.stderr
    assert " rw," in r.stdout and "shared:" in r.stdout
    assert (src / "b").exists()
    r = berthd.docker("run", "--rm", "-v", f"{tmp_path}/new/dir:/x", TAG, "ls", "-d", "/x")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "new" / "dir").is_dir()


def _wait_health(d, name, want, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        r = d.docker("inspect", "-f", "{{json .State.Health}}", name)
        assert r.returncode == 0, r.stderr
        h = json.loads(r.stdout)
        if h and h["Status"] == want:
            return h
        time.sleep(0.2)
    raise AssertionError(f"{name} never became {want}: {h} {d.log()}")


def test_healthchecks(berthd):
    """Config.Healthcheck probes run via exec: healthy, unhealthy after the retries, a timeout;
    State.Health in inspect, ps status and filter, health_status events."""
    ok, bad, slow = berthd.name("ok"), berthd.name("bad"), berthd.name("slow")
    try:
        r = berthd.docker("run", "-d", "--name", ok, "--health-cmd", "echo fine; true",
                          "--health-interval", "1s", TAG, "sleep", "120")
        assert r.returncode == 0, r.stderr
        r = berthd.docker("run", "-d", "--name", bad, "--health-cmd", "echo broken >&2; exit 3",
                          "--health-interval", "1s", "--health-retries", "2", TAG, "sleep", "120")
        assert r.returncode == 0, r.stderr
        r = berthd.docker("run", "-d", "--name", slow, "--health-cmd", "sleep 30",
                          "--health-interval", "1s", "--health-timeout", "1s",
                          "--health-retries", "1", TAG, "sleep", "120")
        assert r.returncode == 0, r.stderr
        r = berthd.docker("inspect", "-f", "{{.State.Health.Status}}", ok)
        assert r.stdout.strip() in ("starting", "healthy")

        h = _wait_health(berthd, ok, "healthy")
        assert h["FailingStreak"] == 0
        assert h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
        h = _wait_health(berthd, bad, "unhealthy")
        assert h["FailingStreak"] >= 2
        assert all(e["ExitCode"] == 3 and e["Output"] == "broken\n" for e in h["Log"])
        h = _wait_health(berthd, slow, "unhealthy")
        assert h["Log"][-1]["ExitCode"] == -1
        assert h["Log"][-1]["Output"] == "Health check exceeded timeout (1s)"

        # the log keeps the last 5 results
        end = time.time() + 60
        while len(_wait_health(berthd, ok, "healthy")["Log"]) < 5 and time.time() < end:
            time.sleep(0.3)
        time.sleep(1.5)  # not a wait: more probes run, and the log does not grow past 5
        assert len(_wait_health(berthd, ok, "healthy")["Log"]) == 5

        r = berthd.docker("ps", "--format", "{{.Names}} {{.Status}}")
        rows = dict(line.split(" ", 1) for line in r.stdout.splitlines())
        assert rows[ok].startswith("Up ") and rows[ok].endswith(" (healthy)")
        assert rows[bad].endswith(" (unhealthy)")
        r = berthd.docker("ps", "--filter", "health=unhealthy", "--format", "{{.Names}}")
        assert set(r.stdout.split()) >= {bad, slow} and ok not in r.stdout.split()
        r = berthd.docker("ps", "--filter", "health=healthy", "--format", "{{.Names}}")
        assert ok in r.stdout.split() and bad not in r.stdout.split()

        cid = berthd.docker("inspect", "-f", "{{.Id}}", ok).stdout.strip()
        r = berthd.docker("events", "--since", "10m", "--until", "0s", "--filter",
                          f"container={cid}", "--format", "{{.Action}}")
        assert "health_status: healthy" in r.stdout.splitlines(), r.stdout
    finally:
        berthd.container_ids()
        berthd.docker("rm", "-f", ok, bad, slow)


def _image_with_healthcheck(d, tmp_path, ref, healthcheck):
    """TAG saved, its config given a Healthcheck (a new config blob), loaded back as ref."""
    import hashlib
    import io
    import tarfile
    src = tmp_path / "src.tar"
    r = d.docker("save", "-o", str(src), TAG)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "hc.tar"
    with tarfile.open(src) as tin, tarfile.open(out, "w") as tout:
        files = {m.name: (m, tin.extractfile(m).read() if m.isfile() else None)
                 for m in tin.getmembers()}
        manifest = json.loads(files["manifest.json"][1])
        cfg = json.loads(files[manifest[0]["Config"]][1])
        cfg["config"]["Healthcheck"] = healthcheck
        blob = json.dumps(cfg).encode()
        name = "blobs/sha256/" + hashlib.sha256(blob).hexdigest()
        manifest[0]["Config"] = name
        manifest[0]["RepoTags"] = [ref]
        files["manifest.json"] = (files["manifest.json"][0], json.dumps(manifest).encode())
        files[name] = (tarfile.TarInfo(name), blob)
        files.pop("index.json", None)
        for n, (m, data) in files.items():
            if data is None:
                tout.addfile(m)
            else:
                m.size = len(data)
                tout.addfile(m, io.BytesIO(data))
    r = d.docker("load", "-i", str(out))
    assert r.returncode == 0, f"{r.stderr} {d.log()}"


def test_image_healthcheck_and_none(berthd, tmp_path):
    """The image's Healthcheck applies unless the container says NONE (--no-healthcheck); the
    container's own settings win over the image's."""
    img = f"berth-test/{berthd.name('hcimg')}:1"
    plain, off, mine = berthd.name("plain"), berthd.name("off"), berthd.name("mine")
    _image_with_healthcheck(berthd, tmp_path, img, {
        "Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 1})
    try:
        assert berthd.docker("run", "-d", "--name", plain, img, "sleep", "60").returncode == 0
        assert berthd.docker("run", "-d", "--name", off, "--no-healthcheck", img, "sleep",
                             "60").returncode == 0
        assert berthd.docker("run", "-d", "--name", mine, "--health-cmd", "exit 1", img, "sleep",
                             "60").returncode == 0
        _wait_health(berthd, plain, "healthy")
        # --health-cmd replaces the image's test, its Interval and Retries are kept
        _wait_health(berthd, mine, "unhealthy")
        r = berthd.docker("inspect", "-f", "{{json .State.Health}}", off)
        assert r.stdout.strip() == "null"
    finally:
        berthd.container_ids()
        berthd.docker("rm", "-f", plain, off, mine)
        berthd.docker("rmi", img)


def _raw_attach(d, cid, query, send=None):
    """POST /containers/{cid}/attach?query on a raw socket: the body after the 101 answer, read
    until the daemon closes the stream (send: written to the container's stdin first)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(d.sock)
        s.sendall(f"POST /v1.43/containers/{cid}/attach?{query} HTTP/1.1\r\nHost: berth\r\n"
                  "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = s.recv(4096)
            assert chunk, raw
            raw += chunk
        if send:
            s.sendall(send)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return body


def test_attach_logs(berthd):
    """attach logs=1 replays the log first (stopped: only the log, stream=0); with stream=1 the
    live output follows."""
    client = berthd.sdk()
    name = berthd.name()
    try:
        c = client.containers.run(TAG, ["sh", "-c", "echo one; echo two >&2"], name=name,
                                  detach=True)
        assert c.wait(timeout=60)["StatusCode"] == 0

        def replay(query):
            return _raw_attach(berthd, c.id, "logs=1&stream=0&" + query)

        # docker's multiplexed frames: [stream, 0, 0, 0, size] + payload
        assert replay("stdout=1&stderr=1") == \
            b"\x01\x00\x00\x00\x00\x00\x00\x04one\n\x02\x00\x00\x00\x00\x00\x00\x04two\n"
        assert replay("stdout=1") == b"\x01\x00\x00\x00\x00\x00\x00\x04one\n"
        c.remove()

        c = client.containers.run(TAG, ["sh", "-c", "echo early; read x; echo late"],
                                  name=name + "-2", detach=True, stdin_open=True)
        end = time.time() + 60
        while b"early" not in c.logs() and time.time() < end:
            time.sleep(0.1)
        out = _raw_attach(berthd, c.id, "stdin=1&stdout=1&stream=1&logs=1", send=b"go\n")
        assert b"early\n" in out and b"late\n" in out and out.index(b"early") < out.index(b"late")
        assert c.wait(timeout=60)["StatusCode"] == 0
    finally:
        berthd.container_ids()
        berthd.docker("rm", "-f", name, name + "-2")


def test_exec_inspect_after_daemon_restart(berthd_factory):
    """exec records live in the db: inspect answers for them after a daemon restart (and after
    a kill -9), with the exit code the exec had."""
    d = berthd_factory()
    client = d.sdk()
    c = client.containers.run(TAG, ["sleep", "120"], detach=True)
    try:
        done = client.api.exec_create(c.id, ["sh", "-c", "exit 7"])["Id"]
        client.api.exec_start(done)
        end = time.time() + 60
        while client.api.exec_inspect(done)["Running"] and time.time() < end:
            time.sleep(0.1)
        running = client.api.exec_create(c.id, ["sh", "-c", "sleep 2; exit 3"])["Id"]
        client.api.exec_start(running, detach=True)
        d.kill9()
        d.start()
        client = d.sdk()
        info = client.api.exec_inspect(done)
        assert info["ExitCode"] == 7 and info["Running"] is False
        assert info["ContainerID"] == c.id
        assert info["ProcessConfig"]["entrypoint"] == "sh"
        end = time.time() + 60
        while client.api.exec_inspect(running)["Running"] and time.time() < end:
            time.sleep(0.2)
        assert client.api.exec_inspect(running)["ExitCode"] == 3
        with pytest.raises(docker.errors.NotFound):
            client.api.exec_inspect("0" * 64)
    finally:
        d.container_ids()
        d.docker("rm", "-f", c.id)
