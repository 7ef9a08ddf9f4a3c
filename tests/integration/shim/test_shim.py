"""berth-shim create: logs, attach, stdin, tty, exit status, OOM, survival without the daemon."""
import json
import os
import re
import signal
import socket
import time

import pytest

from berthtest import shim_is_static
from shimlib import (SHIM, container_cgroups, fds_of, pid_alive, read_all, read_frames, recv_json,
                     rss_kb, wait_gone)

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def wait_logged(path, text, timeout=30):
    """Poll the json-file log at path until it holds text."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path) as f:
                if text in f.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    pytest.fail(f"{text} never logged in {path}")


def run(shims, bundle, script, **kw):
    s = shims(bundle=bundle.sh(script).write(), **kw)
    s.created()
    return s


def test_logs_json_file_format_and_exit_zero(shims, bundle):
    s = run(shims, bundle, r'''echo out1; echo err1 >&2; printf 'a\tb<&>"q\\\n'; '''
                           'printf "no newline"')
    assert s.pid > 0 and pid_alive(s.pid)
    # the container waits for "start": nothing ran yet
    assert os.path.getsize(s.log) == 0
    s.start()
    ex = s.exit()
    assert ex["exit_code"] == 0 and ex["oom_killed"] is False and "error" not in ex
    assert TIME_RE.match(ex["finished_at"]), ex
    with open(s.log) as f:
        raw = f.read()
    lines = raw.splitlines()
    entries = [json.loads(line) for line in lines]
    assert all(list(e) == ["log", "stream", "time"] for e in entries)
    assert all(TIME_RE.match(e["time"]) for e in entries)
    out = [e["log"] for e in entries if e["stream"] == "stdout"]
    err = [e["log"] for e in entries if e["stream"] == "stderr"]
    assert out == ["out1\n", 'a\tb<&>"q\\\n', "no newline"]
    assert err == ["err1\n"]
    # docker's escaping: <, >, & and tabs as \\u00XX
    assert '"log":"a\\u0009b\\u003c\\u0026\\u003e\\"q\\\\\\n"' in raw
    assert not pid_alive(s.pid)
    assert not any(os.path.isdir(d) for d in container_cgroups(s.id))


def test_log_escaping_of_binary_and_unicode(shims, bundle):
    # invalid UTF-8 becomes U+FFFD, U+2028 is escaped, other UTF-8 passes as it is (like docker)
    s = run(shims, bundle, r"printf 'a\377b\342\200\250c\303\251\001\n'")
    s.start()
    assert s.exit()["exit_code"] == 0
    with open(s.log, "rb") as f:
        raw = f.read()
    assert b'"log":"a\\ufffdb\\u2028c\xc3\xa9\\u0001\\n"' in raw, raw
    assert s.log_entries()[0]["log"] == "a\ufffdb\u2028c\u00e9\u0001\n"


@pytest.mark.parametrize("script,code", [("exit 3", 3), ("exit 255", 255)])
def test_exit_codes(shims, bundle, script, code):
    s = run(shims, bundle, script)
    s.start()
    assert s.exit()["exit_code"] == code


def test_kill_from_outside_is_137(shims, bundle, runtime_bin):
    import subprocess
    s = run(shims, bundle, "echo up; sleep 100")
    s.start()
    subprocess.run([runtime_bin, "--root", s.rtroot, "kill", s.id, "KILL"], check=True)
    assert s.exit()["exit_code"] == 137


def test_attach_before_start_sees_all_output(shims, bundle):
    s = run(shims, bundle, "for i in 1 2 3; do echo out$i; echo err$i >&2; done; "
                           "head -c 100000 /dev/zero | tr '\\0' x")
    both = s.attach()
    only_err = s.attach(stdout=False)
    s.start()
    got = read_frames(both)
    assert len(got[1]) == 100015 and got[1] == b"out1\nout2\nout3\n" + b"x" * 100000, \
        (len(got[1]), got[1][:40], got[2])
    assert got[2] == b"err1\nerr2\nerr3\n"
    assert read_frames(only_err) == {1: b"", 2: b"err1\nerr2\nerr3\n"}
    assert s.exit()["exit_code"] == 0
    # the long line went to the log in docker's 16 KiB pieces
    xs = [e["log"] for e in s.log_entries() if e["log"].startswith("x")]
    assert "".join(xs) == "x" * 100000 and max(len(x) for x in xs) == 16384


def test_attach_after_start_on_attach_sock(shims, bundle):
    # the container waits for its stdin, so it is surely running while clients come and go
    s = run(shims, bundle, "read x; echo got $x; echo bye >&2", stdin=True, stdin_once=True)
    s.start()
    ctl = s.attach_sock()
    a = s.attach(via=ctl, stdin=True)
    b = s.attach(via=ctl)
    b.close()  # goes away early without harm
    c = s.attach(via=ctl, stderr=False)
    a.sendall(b"hi\n")
    a.shutdown(socket.SHUT_WR)
    assert read_frames(a) == {1: b"got hi\n", 2: b"bye\n"}
    assert read_frames(c) == {1: b"got hi\n", 2: b""}
    assert s.exit()["exit_code"] == 0
    ctl.close()


def test_stdin_once(shims, bundle):
    s = run(shims, bundle, "cat; echo done", stdin=True, stdin_once=True)
    a = s.attach(stdin=True)
    s.start()
    a.sendall(b"hello\nworld\n")
    a.shutdown(socket.SHUT_WR)
    got = read_frames(a)
    assert got[1] == b"hello\nworld\ndone\n"
    assert s.exit()["exit_code"] == 0


def test_stdin_without_once_keeps_stdin_open(shims, bundle):
    s = run(shims, bundle, "read a; echo a=$a; read b; echo b=$b", stdin=True)
    a = s.attach(stdin=True)
    s.start()
    a.sendall(b"1\n")
    a.shutdown(socket.SHUT_WR)  # ends only this client's stdin
    ctl = s.attach_sock()
    b = s.attach(stdin=True, via=ctl)
    b.sendall(b"2\n")
    assert read_frames(b)[1].endswith(b"b=2\n")
    assert read_frames(a)[1] == b"a=1\nb=2\n"
    assert s.exit()["exit_code"] == 0
    ctl.close()


def test_close_stdin_request(shims, bundle):
    s = run(shims, bundle, "cat; echo eof", stdin=True)
    a = s.attach(stdin=True)
    s.start()
    a.sendall(b"x\n")
    wait_logged(s.log, '"log":"x\\n"')  # cat has read it before stdin closes
    ctl = s.attach_sock()
    ctl.send(json.dumps({"close_stdin": True}).encode())
    assert recv_json(ctl) == {"ok": True}
    assert read_frames(a)[1] == b"x\neof\n"
    assert s.exit()["exit_code"] == 0
    ctl.close()


def test_tty_raw_and_resize(shims, bundle):
    bundle.config["process"]["terminal"] = True
    s = run(shims, bundle, "read x; stty size; echo err >&2", stdin=True, tty=True)
    a = s.attach(stdin=True, raw=True)
    s.send({"resize": {"h": 33, "w": 111}})
    s.start()
    ctl = s.attach_sock()
    ctl.send(json.dumps({"resize": {"h": 40, "w": 100}}).encode())
    assert recv_json(ctl) == {"ok": True}
    a.sendall(b"go\r")
    out = read_all(a)
    # raw: no frame headers, the tty's echo and \r\n, stderr on the same stream
    assert b"40 100\r\n" in out and b"err\r\n" in out and not out.startswith(b"\x01")
    assert s.exit()["exit_code"] == 0
    logs = s.log_entries()
    assert {e["stream"] for e in logs} == {"stdout"}
    assert "40 100\r\n" in [e["log"] for e in logs]
    ctl.close()


def test_tty_size_sent_before_start_is_there_at_once(shims, bundle):
    # berthd can give docker's ConsoleSize this way: the process sees it from its first instruction
    bundle.config["process"]["terminal"] = True
    s = run(shims, bundle, "stty size", tty=True)
    a = s.attach(raw=True)
    s.send({"resize": {"h": 33, "w": 111}})
    s.start()
    assert read_all(a) == b"33 111\r\n"
    assert s.exit()["exit_code"] == 0


def test_resize_without_tty_is_an_error(shims, bundle):
    s = run(shims, bundle, "sleep 0.2")
    s.start()
    ctl = s.attach_sock()
    ctl.send(json.dumps({"resize": {"h": 1, "w": 1}}).encode())
    assert recv_json(ctl)["code"] > 0
    ctl.send(b"{not json")
    assert "error" in recv_json(ctl)
    assert s.exit()["exit_code"] == 0
    ctl.close()


def test_log_rotation(shims, bundle):
    s = run(shims, bundle, "i=0; while [ $i -lt 60 ]; do echo line$i; i=$((i+1)); done",
            log_max_size=500, log_max_files=3)
    s.start()
    assert s.exit()["exit_code"] == 0
    files = sorted(f for f in os.listdir(os.path.dirname(s.log))
                   if f.startswith(os.path.basename(s.log)))
    base = os.path.basename(s.log)
    assert files == [base, base + ".1", base + ".2"]
    for f in files:
        size = os.path.getsize(os.path.join(os.path.dirname(s.log), f))
        assert size < 500 + 200  # past max-size by one entry at most
    last = [e["log"] for e in s.log_entries()]
    assert last[-1] == "line59\n"
    older = [e["log"] for e in s.log_entries(s.log + ".1")]
    n = int(older[-1][4:-1])
    assert last[0] == f"line{n + 1}\n"


def test_log_max_size_with_docker_units(shims, bundle):
    # berthd passes docker's log-opts as they are: "1k" is 1024 bytes
    s = run(shims, bundle, "i=0; while [ $i -lt 40 ]; do echo line$i; i=$((i+1)); done",
            log_max_size="1k", log_max_files=2)
    s.start()
    assert s.exit()["exit_code"] == 0
    assert os.path.exists(s.log + ".1") and not os.path.exists(s.log + ".2")
    assert os.path.getsize(s.log + ".1") >= 1024
    assert s.log_entries()[-1]["log"] == "line39\n"


def test_slow_client_is_dropped_container_unaffected(shims, bundle):
    s = run(shims, bundle, "head -c 4000000 /dev/zero | tr '\\0' y; echo; echo end")
    lazy = s.attach()
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.start()
    assert s.exit()["exit_code"] == 0
    got = read_all(lazy)
    assert len(got) < 4000000  # dropped, not buffered without bound
    assert s.log_entries()[-1]["log"] == "end\n"


def test_survives_daemon_closing_control(shims, bundle):
    s = run(shims, bundle, "sleep 0.5; echo after")
    s.start()
    s.ctl.close()
    ex = s.exit()
    assert ex["exit_code"] == 0
    assert s.log_entries()[-1]["log"] == "after\n"


def test_daemon_gone_before_start_leaves_nothing(shims, bundle):
    s = run(shims, bundle, "echo never")
    s.ctl.close()
    ex = s.exit()
    assert ex["exit_code"] != 0 and "daemon" in ex["error"]
    assert not pid_alive(s.pid)
    assert os.path.getsize(s.log) == 0


def test_create_error_is_reported(shims, bundle):
    bundle.args("/nonexistent")
    bundle.config["root"]["path"] = "/nonexistent-rootfs"
    s = shims(bundle=bundle.write())
    m = recv_json(s.ctl)
    assert "error" in m and m["code"] > 0 and "rootfs" in m["error"]
    s.ctl.settimeout(10)
    assert s.ctl.recv(100) == b""  # the shim is gone
    assert not os.path.exists(os.path.join(s.state, "shim.pid"))


def test_debug_stderr(shims, bundle):
    bundle.config["root"]["path"] = "/nonexistent-rootfs"
    s = shims(bundle=bundle.write(), env=dict(os.environ, BERTH_SHIM_STDERR="1"))
    assert "error" in recv_json(s.ctl)
    err = s.stderr_pipe.read().decode()  # EOF once the shim has exited
    assert f"berth-shim `{s.id}`:" in err and "nonexistent-rootfs" in err, err


def test_shim_holds_only_its_fds_and_is_small(shims, bundle):
    s = run(shims, bundle, "echo hi; sleep 100")
    a = s.attach()
    s.start()
    wait_logged(s.log, '"log":"hi\\n"')  # the container runs
    # not a child of the daemon (the test): double-forked and reparented
    with open(f"/proc/{s.shim_pid}/stat") as f:
        ppid = int(f.read().split(")")[-1].split()[1])
    assert ppid != os.getpid()
    assert pid_alive(s.shim_pid)
    targets = [os.readlink(f"/proc/{s.shim_pid}/fd/{fd}") for fd in fds_of(s.shim_pid)]
    assert targets[:3] == ["/dev/null"] * 3
    # the control channel is closed after start, nothing of the "daemon" leaked in
    allowed = {"/dev/null", s.state, os.path.dirname(s.log), s.log}
    assert all(t in allowed or t.split(":")[0] in ("socket", "pipe", "anon_inode")
               for t in targets), targets
    assert len(targets) <= 12, targets
    print(f"\nberth-shim fds: {targets}")
    rss = rss_kb(s.shim_pid)
    print(f"\nberth-shim VmRSS with a running container and one attached client: {rss} kB")
    if shim_is_static():  # not a sanitizer build
        assert rss <= 1024  # the target; measured ~320 kB
    os.kill(s.pid, signal.SIGKILL)
    assert s.exit()["exit_code"] == 137
    a.close()


def test_oom_killed(shims, bundle):
    bundle.resources()["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    # the container's init itself grows past the limit: the kernel kills it
    s = run(shims, bundle, "x=a; while :; do x=$x$x; done")
    s.start()
    ex = s.exit()
    assert ex["oom_killed"] is True and ex["exit_code"] == 137, ex


def test_usage_errors():
    import subprocess
    p = subprocess.run([SHIM, "create", "--id", "x", "--bundle", "/", "--state", "/tmp",
                        "--runtime-root", "/tmp", "--log-max-size", "10q"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "--log-max-size" in p.stderr
    p = subprocess.run([SHIM, "create", "--id", "x"], capture_output=True, text=True)
    assert p.returncode == 2 and "required" in p.stderr
    p = subprocess.run([SHIM, "frobnicate"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown mode" in p.stderr
    p = subprocess.run([SHIM, "create", "--id", "x", "--bundle", "/", "--state", "/tmp",
                        "--runtime-root", "/tmp"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "fd 3" in p.stderr


def test_wait_gone_helper_sanity():
    # the helpers must be able to fail: a live process is not "gone"
    with pytest.raises(pytest.fail.Exception):
        wait_gone(os.getpid(), timeout=0.2)
