"""berth-shim exec (a process in a running container) and init (docker-init for --init)."""
import json
import os
import signal
import socket
import subprocess

import pytest

from shimlib import SHIM, read_all, read_frames, wait_file


def running(shims, bundle, script="sleep 100"):
    s = shims(bundle=bundle.sh(script).write())
    s.created()
    s.start()
    return s


def process_json(tmp_path, bundle, args, terminal=False):
    p = dict(bundle.config["process"], args=args, terminal=terminal)
    path = tmp_path / f"process-{len(os.listdir(tmp_path))}.json"
    path.write_text(json.dumps(p))
    return str(path)


def test_exec_output_and_status(shims, bundle, tmp_path):
    c = running(shims, bundle)
    e = shims(mode="exec", cid=c.id, log=False, process=process_json(
        tmp_path, bundle, ["sh", "-c", "echo exec-out; echo exec-err >&2; exit 5"]))
    m = e.created()
    assert m["created"]["pid"] == 0  # nothing runs before start
    a = e.attach()
    started = e.start()
    assert started["pid"] > 0
    got = read_frames(a)
    assert got == {1: b"exec-out\n", 2: b"exec-err\n"}
    assert e.exit()["exit_code"] == 5
    # the container itself is untouched by the exec's end
    assert os.path.exists(os.path.join(c.rtroot, c.id, "state.json"))
    os.kill(c.pid, signal.SIGKILL)
    assert c.exit()["exit_code"] == 137


def test_exec_tty_with_stdin(shims, bundle, tmp_path):
    c = running(shims, bundle)
    e = shims(mode="exec", cid=c.id, log=False, stdin=True, tty=True, process=process_json(
        tmp_path, bundle, ["sh", "-c", "read x; echo got-$x; tty"], terminal=True))
    e.created()
    a = e.attach(stdin=True, raw=True)
    e.start()
    a.sendall(b"abc\r")
    out = read_all(a)
    assert b"got-abc\r\n" in out and b"/dev/pts/" in out, out
    assert e.exit()["exit_code"] == 0
    os.kill(c.pid, signal.SIGKILL)
    c.exit()


def test_exec_tty_size_given_before_start(shims, bundle, tmp_path):
    # berthd sends the console size before start: the process must see it from its first moment
    c = running(shims, bundle)
    e = shims(mode="exec", cid=c.id, log=False, tty=True, process=process_json(
        tmp_path, bundle, ["stty", "size"], terminal=True))
    e.created()
    a = e.attach(raw=True)
    e.send({"resize": {"h": 27, "w": 91}})
    e.start()
    assert read_all(a) == b"27 91\r\n"
    assert e.exit()["exit_code"] == 0
    assert not os.path.exists(os.path.join(e.state, "process-tty.json"))
    os.kill(c.pid, signal.SIGKILL)
    c.exit()


def test_exec_stdin_eof_ends_its_input(shims, bundle, tmp_path):
    # docker exec -i: the client's EOF closes the process' stdin (no --stdin-once needed)
    c = running(shims, bundle)
    e = shims(mode="exec", cid=c.id, log=False, stdin=True, process=process_json(
        tmp_path, bundle, ["sh", "-c", "wc -c"]))
    e.created()
    a = e.attach(stdin=True)
    e.start()
    a.sendall(b"12345")
    a.shutdown(socket.SHUT_WR)
    assert read_frames(a)[1].strip() == b"5"
    assert e.exit()["exit_code"] == 0
    os.kill(c.pid, signal.SIGKILL)
    c.exit()


def test_exec_in_missing_container_fails_at_start(shims, bundle, tmp_path):
    e = shims(mode="exec", cid="no-such-container", log=False,
              process=process_json(tmp_path, bundle, ["true"]))
    e.created()
    e.send({"start": True})
    m = json.loads(e.ctl.recv(4096))
    assert "error" in m and m["code"] > 0
    ex = e.exit()
    assert ex["exit_code"] != 0 and ex["error"]


def test_init_exit_status_on_host():
    assert subprocess.run([SHIM, "init", "--", "sh", "-c", "exit 4"]).returncode == 4
    assert subprocess.run([SHIM, "init", "--", "/nonexistent"],
                          stderr=subprocess.DEVNULL).returncode == 127
    # killed by a signal: 128+n like docker-init
    assert subprocess.run([SHIM, "init", "--", "sh", "-c", "kill -USR1 $$"]).returncode == 138


def test_init_forwards_signals_on_host():
    p = subprocess.Popen([SHIM, "init", "--", "sh", "-c",
                          "trap 'echo term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 7
    assert p.stdout.read() == "term\n"


def with_init(bundle, script):
    with open(SHIM, "rb") as f:
        if b"ld-linux" in f.read(4096):
            pytest.skip("berth-shim is dynamically linked (sanitizer build): it cannot run "
                        "inside a busybox rootfs as docker-init")
    bundle.config["mounts"].append({"destination": "/dev/docker-init", "type": "bind",
                                    "source": SHIM, "options": ["rbind", "ro"]})
    return bundle.args("/dev/docker-init", "--", "sh", "-c", script)


def test_init_in_container_reaps_orphans(shims, bundle):
    # the orphaned sleep is reparented to docker-init (pid 1), which must reap it
    s = shims(bundle=with_init(bundle, "sh -c 'sleep 0.2 & exit 0'; sleep 1; "
                                       "cat /proc/[0-9]*/stat").write())
    s.created()
    s.start()
    assert s.exit()["exit_code"] == 0
    stats = [e["log"] for e in s.log_entries()]
    states = {line.split(")")[0].split("(")[1]: line.split(")")[1].split()[0] for line in stats}
    assert states.get("docker-init") in ("S", "R"), stats
    assert "Z" not in states.values(), stats


def test_init_in_container_forwards_signals(shims, bundle, runtime_bin):
    s = shims(bundle=with_init(bundle, "trap 'echo got-term; exit 7' TERM; echo ready; "
                                       "while :; do sleep 0.05; done").write())
    s.created()
    a = s.attach()
    s.start()
    wait_file(s.log)
    import time
    end = time.time() + 30
    while time.time() < end and not any(e["log"] == "ready\n" for e in s.log_entries()):
        time.sleep(0.05)
    # pid 1 of a pid namespace ignores TERM by default: docker-init passes it on
    subprocess.run([runtime_bin, "--root", s.rtroot, "kill", s.id, "TERM"], check=True)
    assert s.exit()["exit_code"] == 7
    assert read_frames(a)[1] == b"ready\ngot-term\n"
