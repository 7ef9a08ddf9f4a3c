"""Detach keys (issue 15), against berthd and dockerd (the `engine` fixture): on a container with
a tty, the attach stream's key sequence (ctrl-p,ctrl-q unless `--detach-keys`, the attach's
`detachKeys` or the exec's `DetachKeys`, or the client's config.json `detachKeys` say otherwise)
ends the client's attach and leaves the container running. A key counts when it arrives alone,
as a terminal sends a key press (moby/term's escape proxy)."""
import json
import os
import pty
import select
import socket
import time

import docker
import pytest

from berthtest import poll

TAG = "berth-test/busybox:latest"
N = "--network=none"


@pytest.fixture
def names(engine):
    made = []

    def make():
        made.append(engine.name("dk"))
        return made[-1]
    yield make
    if made:
        engine.docker("rm", "-f", *made)


def fmt_id(engine, name):
    return engine.docker("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()


def running(engine, name):
    return engine.docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"


def read_until(sock, token, timeout=15):
    out = b""
    end = time.time() + timeout
    while token not in out and time.time() < end:
        r, _, _ = select.select([sock], [], [], 0.2)
        if r:
            data = sock.recv(4096)
            if not data:
                break
            out += data
    return out


def closed_within(sock, timeout=10):
    """True when the server ends the stream (EOF) within timeout."""
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([sock], [], [], 0.2)
        if r:
            try:
                if not sock.recv(4096):
                    return True
            except OSError:
                return True
    return False


def press(sock, keys):
    for k in keys:  # one key press per read, as from a terminal
        sock.sendall(bytes([k]))
        time.sleep(0.2)  # pacing, not a wait: keys arrive apart, as typed


def raw_attach(engine, name, **params):
    api = engine.sdk().api
    s = api.attach_socket(name, params=dict(stdin=1, stdout=1, stderr=1, stream=1, **params))
    sock = getattr(s, "_sock", s)
    sock.setblocking(True)
    return sock


@pytest.mark.parametrize("keys,seq", [(None, b"\x10\x11"), ("ctrl-a,x", b"\x01x")],
                         ids=["default", "custom"])
def test_attach_api_detach_keys(engine, names, keys, seq):
    name = names()
    engine.docker("run", "-dit", "--name", name, N, TAG, "sh", check=True)
    sock = raw_attach(engine, name, **({"detachKeys": keys} if keys else {}))
    try:
        sock.sendall(b"echo one-$((40+2))\n")  # several bytes at once: never a key press
        assert b"one-42" in read_until(sock, b"one-42")
        # the first key, then another one: both reach the container
        press(sock, seq[:1] + b"z")
        sock.sendall(b"\x15echo two-$((40+3))\n")  # ctrl-u drops the line so far
        assert b"two-43" in read_until(sock, b"two-43")
        press(sock, seq)
        assert closed_within(sock), "the attach did not end at the detach keys"
    finally:
        sock.close()
    # not a wait for a condition: detaching must not stop what ran, checked after a while
    time.sleep(0.5)
    assert running(engine, name)
    r = engine.docker("exec", name, "true")
    assert r.returncode == 0, r.stderr


def test_invalid_detach_keys_are_refused(engine, names):
    name = names()
    engine.docker("run", "-dit", "--name", name, N, TAG, "sh", check=True)
    api = engine.sdk().api
    with pytest.raises(docker.errors.APIError) as e:
        api.attach_socket(name, params=dict(stdin=1, stream=1, detachKeys="ctrl-1"))
    assert e.value.status_code == 400, e.value
    assert "Invalid detach keys (ctrl-1) provided" in str(e.value)


def test_exec_api_detach_keys(engine, names):
    name = names()
    engine.docker("run", "-dit", "--name", name, N, TAG, "sh", check=True)
    api = engine.sdk().api
    ex = api.exec_create(name, ["sh", "-c", "echo $$ > /tmp/exec.pid; exec sh"], stdin=True,
                         tty=True, detach_keys="ctrl-b,y")
    # the key bytes, base64 (a Go []byte)
    assert api.exec_inspect(ex["Id"])["DetachKeys"] == "Ank="
    s = api.exec_start(ex["Id"], tty=True, socket=True)
    sock = getattr(s, "_sock", s)
    sock.setblocking(True)
    try:
        sock.sendall(b"echo in-exec-$((1+1))\n")
        assert b"in-exec-2" in read_until(sock, b"in-exec-2")
        press(sock, b"\x02y")
        assert closed_within(sock), "the exec's stream did not end at its detach keys"
    finally:
        sock.close()
    # not a wait for a condition: detaching must not stop what ran, checked after a while
    time.sleep(0.5)
    pid = engine.docker("exec", name, "cat", "/tmp/exec.pid", check=True).stdout.strip()
    alive = engine.docker("exec", name, "kill", "-0", pid).returncode == 0
    # dockerd 20.10 kills an exec detached by its own escape proxy (ExitCode 126); berthd
    # leaves it running, as a detach through the CLI does on both (DIFFERENCES.md)
    assert alive == (engine.kind == "berthd")
    assert api.exec_inspect(ex["Id"])["Running"] is alive


def pty_client(engine, argv, steps, timeout=30):
    """Run the docker CLI on a pty; steps are (wait for, bytes to type one key at a time).
    Returns (exit code or None if it still runs at the end, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(engine.env)
        os.execvp("docker", ["docker", *argv])
    out = b""
    end = time.time() + timeout
    code = None
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
            for k in send:
                os.write(fd, bytes([k]))
                time.sleep(0.15)  # pacing, not a wait: keys arrive apart, as typed
        while time.time() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                pid = 0
                break
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    pass
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    return code, out


def test_cli_run_it_and_attach_detach(engine, names):
    name = names()
    code, out = pty_client(engine, ["run", "-it", "--name", name, N, TAG, "sh"],
                           [(b"#", b"echo $((6*7))\r"), (b"42", b"\x10\x11")])
    assert code == 0, out  # docker CLI 28: run -it detached exits 0, attach and exec -it 1
    assert running(engine, name)
    # --detach-keys on attach
    code, out = pty_client(engine, ["attach", "--detach-keys", "ctrl-x,q", name],
                           [(b"", b"\recho $((6*8))\r"), (b"48", b"\x18q")])
    assert code == 1, out
    assert running(engine, name)
    # the client's config.json
    with open(os.path.join(engine.env["DOCKER_CONFIG"], "config.json"), "w") as f:
        json.dump({"detachKeys": "ctrl-e,e"}, f)
    try:
        code, out = pty_client(engine, ["attach", name],
                               [(b"", b"\recho $((6*9))\r"), (b"54", b"\x05e")])
        assert code == 1, out
    finally:
        os.unlink(os.path.join(engine.env["DOCKER_CONFIG"], "config.json"))
    assert running(engine, name)


def test_cli_exec_it_detach(engine, names):
    name = names()
    engine.docker("run", "-dit", "--name", name, N, TAG, "sh", check=True)
    code, out = pty_client(engine, ["exec", "-it", "--detach-keys", "ctrl-x,q", name, "sh", "-c",
                                    "echo $$ > /tmp/x.pid; exec sh"],
                           [(b"#", b"echo $((7*7))\r"), (b"49", b"\x18q")])
    assert code == 1, out
    # not a wait for a condition: detaching must not stop what ran, checked after a while
    time.sleep(0.5)
    pid = engine.docker("exec", name, "cat", "/tmp/x.pid", check=True).stdout.strip()
    assert engine.docker("exec", name, "kill", "-0", pid).returncode == 0, "exec's sh ended"



def events_of(engine, name, since):
    """name's events from since to now (replayed: the window is over), as dicts."""
    r = engine.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                      "--filter", f"container={name}", "--format", "{{json .}}", timeout=30)
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_detach_events(engine, names):
    """dockerd logs `detach` when its attach stream ends at the detach keys it matched itself
    (daemon/attach.go: an EscapeError from CopyStreams), `exec_detach` with the execID for an
    exec (daemon/exec.go). The docker CLI on a terminal matches the keys itself and never sends
    them: no event then. berthd's shim matches the keys and tells the daemon."""
    name = names()
    since = time.time()
    code, out = pty_client(engine, ["run", "-it", "--name", name, N, TAG, "sh"],
                           [(b"#", b"echo $((6*7))\r"), (b"42", b"\x10\x11")])
    assert code == 0, out
    assert running(engine, name)
    actions = [e["Action"] for e in events_of(engine, name, since)]
    assert actions == ["create", "attach", "start"], actions

    # the API's attach stream, the keys pressed one at a time on the connection
    since = time.time()
    sock = raw_attach(engine, name)
    try:
        sock.sendall(b"echo one-$((40+2))\n")
        assert b"one-42" in read_until(sock, b"one-42")
        press(sock, b"\x10\x11")
        assert closed_within(sock), "the attach did not end at the detach keys"
    finally:
        sock.close()
    # the event is published once the daemon heard of the detach
    evs = poll(lambda: [e for e in events_of(engine, name, since) if e["Action"] == "detach"],
               "the detach event", timeout=15, interval=0.2)
    assert [e["Action"] for e in events_of(engine, name, since)] == ["attach", "detach"]
    ev = evs[0]
    assert ev["Type"] == "container" and ev["id"] == fmt_id(engine, name)
    assert ev["Actor"]["Attributes"] == {"image": TAG, "name": name}, ev

    # an exec's stream
    since = time.time()
    api = engine.sdk().api
    ex = api.exec_create(name, ["sh"], stdin=True, tty=True)
    s = api.exec_start(ex["Id"], tty=True, socket=True)
    sock = getattr(s, "_sock", s)
    sock.setblocking(True)
    try:
        sock.sendall(b"echo in-exec-$((1+1))\n")
        assert b"in-exec-2" in read_until(sock, b"in-exec-2")
        press(sock, b"\x10\x11")
        assert closed_within(sock), "the exec's stream did not end at its detach keys"
    finally:
        sock.close()
    if engine.kind == "dockerd":
        # 20.10 kills the exec it detached instead (exec_die, DIFFERENCES.md): moby logs
        # exec_detach since
        return
    evs = poll(lambda: [e for e in events_of(engine, name, since)
                        if e["Action"] == "exec_detach"], "the exec_detach event", timeout=15,
               interval=0.2)
    assert evs[0]["Actor"]["Attributes"] == {"image": TAG, "name": name, "execID": ex["Id"]}
