"""Stdin bytes a client sends right behind an attach / exec-start request (in the same send(),
before it has read the 101) reach the container: the daemon's HTTP layer has read them already
and must forward them. Raw unix sockets for the race, the docker CLI for piped input."""
import hashlib
import json
import os
import socket
import time

from berthtest import TAG


def _connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(d.sock)
    return s


def _read_101(s):
    """Read the response head; returns the bytes that came after it."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, f"connection closed before the response: {buf!r}"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return rest


def _demux(data):
    """stdout and stderr of a multiplexed stream (8-byte frame headers)."""
    out = {1: b"", 2: b""}
    while data:
        assert len(data) >= 8, data
        kind, size = data[0], int.from_bytes(data[4:8], "big")
        out[kind] = out.get(kind, b"") + data[8:8 + size]
        data = data[8 + size:]
    return out[1], out[2]


def _read_until(s, rest, want):
    """Read the multiplexed stream until stdout contains want (or EOF)."""
    data = rest
    while want not in _demux_partial(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return _demux_partial(data)


def _demux_partial(data):
    out = b""
    while len(data) >= 8:
        size = int.from_bytes(data[4:8], "big")
        if len(data) < 8 + size:
            out += data[8:]
            break
        if data[0] == 1:
            out += data[8:8 + size]
        data = data[8 + size:]
    return out


def _read_all(s, rest):
    data = rest
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_attach_early_stdin(berthd):
    client = berthd.sdk()
    c = client.containers.run(TAG, ["cat"], stdin_open=True, detach=True, network_mode="none",
                              name=berthd.name("early"))
    try:
        for i in range(20):
            msg = f"early-attach-{i}\n".encode()
            s = _connect(berthd)
            req = (f"POST /v1.43/containers/{c.id}/attach?stdin=1&stdout=1&stderr=1&stream=1 "
                   "HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                   "Content-Length: 0\r\n\r\n").encode()
            s.sendall(req + msg)  # one send: the stdin rides with the request
            rest = _read_101(s)
            out = _read_until(s, rest, msg)
            s.close()
            assert msg in out, f"round {i}: stdin lost, got {out!r}: {berthd.log()}"
        c.reload()
        assert c.status == "running"
    finally:
        c.remove(force=True)


def test_attach_early_stdin_before_start(berthd):
    """Attached before start (docker run -i): the bytes wait for the container, then stdin ends
    (StdinOnce) and cat exits."""
    client = berthd.sdk()
    for i in range(3):
        # the SDK has no StdinOnce: the create body as docker run -i sends it
        r = client.api._post_json(
            client.api._url("/containers/create"), params={"name": berthd.name("early")},
            data={"Image": TAG, "Cmd": ["cat"], "OpenStdin": True, "StdinOnce": True,
                  "AttachStdin": True, "AttachStdout": True,
                  "HostConfig": {"NetworkMode": "none"}})
        c = client.containers.get(client.api._result(r, True)["Id"])
        try:
            s = _connect(berthd)
            req = (f"POST /v1.43/containers/{c.id}/attach?stdin=1&stdout=1&stream=1 HTTP/1.1\r\n"
                   "Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                   "Content-Length: 0\r\n\r\n").encode()
            s.sendall(req + b"before-start\n")
            rest = _read_101(s)
            c.start()
            s.shutdown(socket.SHUT_WR)
            out, _ = _demux(_read_all(s, rest))
            s.close()
            assert out == b"before-start\n", berthd.log()
            assert c.wait(timeout=30)["StatusCode"] == 0
        finally:
            c.remove(force=True)


def test_exec_start_early_stdin(berthd):
    client = berthd.sdk()
    c = client.containers.run(TAG, ["sleep", "300"], detach=True, network_mode="none",
                              name=berthd.name("early"))
    try:
        for i in range(20):
            ex = client.api.exec_create(c.id, ["cat"], stdin=True, stdout=True, stderr=True)
            msg = f"early-exec-{i}\n".encode() * (i + 1)
            body = json.dumps({"Detach": False, "Tty": False}).encode()
            req = (f"POST /v1.43/exec/{ex['Id']}/start HTTP/1.1\r\nHost: berth\r\n"
                   "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            s = _connect(berthd)
            s.sendall(req + msg)
            rest = _read_101(s)
            s.shutdown(socket.SHUT_WR)  # end of stdin: docker closes the exec's stdin
            out, err = _demux(_read_all(s, rest))
            s.close()
            assert out == msg, f"round {i}: {out!r} {err!r} {berthd.log()}"
            end = time.time() + 10
            while client.api.exec_inspect(ex["Id"])["Running"] and time.time() < end:
                time.sleep(0.05)
            assert client.api.exec_inspect(ex["Id"])["ExitCode"] == 0
    finally:
        c.remove(force=True)


def test_cli_piped_stdin(berthd):
    data = os.urandom(1 << 20)
    r = berthd.docker("run", "-i", "--rm", "--network=none", TAG, "md5sum", input=data,
                      timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0].decode() == hashlib.md5(data).hexdigest()

    name = berthd.name("pipe")
    assert berthd.docker("run", "-d", "--name", name, "--network=none", TAG, "sleep",
                         "300").returncode == 0
    try:
        for _ in range(5):
            r = berthd.docker("exec", "-i", name, "cat", input=b"abc")
            assert r.returncode == 0 and r.stdout == b"abc", (r.stdout, r.stderr)
    finally:
        berthd.docker("rm", "-f", name)


def test_daemon_stops_with_a_relayed_attach_open(berthd_factory):
    """The copy of an early-stdin attach does not hold the daemon's stop, and the container
    outlives the daemon (live-restore)."""
    d = berthd_factory()
    client = d.sdk()
    c = client.containers.run(TAG, ["cat"], stdin_open=True, detach=True, network_mode="none",
                              name=d.name("early"))
    s = _connect(d)
    try:
        req = (f"POST /v1.43/containers/{c.id}/attach?stdin=1&stdout=1&stream=1 HTTP/1.1\r\n"
               "Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        s.sendall(req + b"still-open\n")
        assert b"still-open\n" in _read_until(s, _read_101(s), b"still-open\n")
        t0 = time.time()
        d.stop()
        assert time.time() - t0 < 10, "berthd waited for the attach stream"
        d.start()
        assert d.sdk().containers.get(c.id).status == "running"
    finally:
        s.close()
        d.docker("rm", "-f", c.id)
