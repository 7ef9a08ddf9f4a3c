"""An exec that cannot start (no such binary, working directory or user) reaches the docker CLI
as dockerd's does: the reason on stdout (a frame of the multiplexed stream, raw with a tty), the
exec's ExitCode 126, so the CLI exits 126; a detached one is an API error."""
import socket

import pytest

from berthtest import TAG

OCI = "OCI runtime exec failed: exec failed: unable to start container process: "


@pytest.fixture(scope="module")
def running(berthd):
    name = berthd.name("execerr")
    berthd.docker("run", "-d", "--name", name, "--network", "none", TAG, "sleep", "1000",
                  check=True)
    yield name
    berthd.docker("rm", "-f", name)


@pytest.mark.parametrize("args, message", [
    ([], OCI + 'exec: "no-such-binary": executable file not found in $PATH: unknown'),
    (["-w", "/nonexist"], OCI + "chdir to cwd"),
    (["-u", "nosuchuser"], "unable to find user nosuchuser: no matching entries in passwd file"),
], ids=["binary", "workdir", "user"])
@pytest.mark.parametrize("tty", [False, True], ids=["plain", "tty"])
def test_exec_that_cannot_start(berthd, running, args, message, tty):
    cmd = ["no-such-binary"] if not args else ["true"]
    r = berthd.docker("exec", *(["-t"] if tty else []), *args, running, *cmd)
    assert r.returncode == 126, (r.returncode, r.stdout, r.stderr)
    assert "Unrecognized input header" not in r.stderr
    assert r.stdout.startswith(message), r.stdout
    if args == ["-w", "/nonexist"]:
        assert "/nonexist" in r.stdout and "no such file or directory" in r.stdout


def test_exec_error_is_a_stdout_frame(berthd, running):
    client = berthd.sdk()
    ex = client.api.exec_create(running, ["no-such-binary"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(berthd.sock)
        body = b"{}"
        s.sendall(f"POST /v1.43/exec/{ex['Id']}/start HTTP/1.1\r\nHost: berth\r\n"
                  "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, stream = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    text = (OCI + 'exec: "no-such-binary": executable file not found in $PATH: unknown\r\n')
    assert stream == bytes([1, 0, 0, 0]) + len(text).to_bytes(4, "big") + text.encode()
    info = client.api.exec_inspect(ex["Id"])
    assert info["ExitCode"] == 126 and not info["Running"], info
    # the container is unharmed
    assert berthd.docker("exec", running, "true").returncode == 0


def test_detached_exec_that_cannot_start(berthd, running):
    r = berthd.docker("exec", "-d", running, "no-such-binary")
    assert r.returncode == 1
    assert r.stderr.startswith("Error response from daemon: " + OCI + 'exec: "no-such-binary"'), \
        r.stderr
    r = berthd.docker("exec", "-d", "-u", "nosuchuser", running, "true")
    assert r.returncode == 1 and "unable to find user nosuchuser" in r.stderr, r.stderr
