"""The berth CLI against a real berthd: flags become request bodies (checked with inspect, beside
the docker CLI on the same daemon), run semantics and exit codes, stdin, ttys, logs, ps, images,
pull/push progress, stats, system df."""
import json
import os
import pty
import re
import fcntl
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from berthtest import BERTH_CLI, TAG, poll, shim_is_static


def cli(d, *args, **kw):
    return d.cli(*args, **kw)


def rm(d, *names):
    d.container_ids()
    d.cli("rm", "-f", *names)


def test_run_output_and_exit_codes(berthd):
    r = cli(berthd, "run", "--rm", "--network=none", TAG, "echo", "hello")
    assert (r.returncode, r.stdout) == (0, "hello\n"), r.stderr
    r = cli(berthd, "run", "--rm", TAG, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n"
    assert "err\n" in r.stderr
    # docker's codes: 127 not found, 126 cannot invoke, 125 flag or daemon error
    r = cli(berthd, "run", "--rm", TAG, "no-such-command")
    assert r.returncode == 127, r.stderr
    assert "Error response from daemon:" in r.stderr
    r = cli(berthd, "run", "--rm", TAG, "/etc/passwd")
    assert r.returncode == 126, r.stderr
    r = cli(berthd, "run", "--rm", "--no-such-flag", TAG, "true")
    assert r.returncode == 125
    assert r.stderr == "unknown flag: --no-such-flag\nSee 'berth run --help'.\n"
    r = cli(berthd, "run", "--rm", "--pull=never", "berth-test/absent:1", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("Error response from daemon: ")
    r = cli(berthd, "run", "--rm", "--memory", "lots", TAG, "true")
    assert r.returncode == 125 and "invalid size" in r.stderr
    cidfile = os.path.join(berthd.data_root, "..", f"cid-{os.getpid()}")
    r = cli(berthd, "run", "--rm", "--cidfile", cidfile, TAG, "true")
    assert r.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}", open(cidfile).read())
    r = cli(berthd, "run", "--rm", "--cidfile", cidfile, TAG, "true")
    assert r.returncode == 125 and "Container ID file found" in r.stderr
    os.unlink(cidfile)
    # nothing left behind by --rm
    assert cli(berthd, "ps", "-aq").stdout == ""


def test_stdin_piping(berthd):
    data = "".join(f"line {i}\n" for i in range(2000))
    r = cli(berthd, "run", "--rm", "-i", TAG, "sh", "-c", "cat; echo done >&2", input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data
    assert "done" in r.stderr
    r = cli(berthd, "run", "--rm", "-i", TAG, "wc", "-l", input="a\nb\nc\n")
    assert r.stdout.strip() == "3"


def _pty_session(args, script, timeout=20, winsize=None):
    """Run args on a new pty (of winsize rows, cols), send each input after the previous output
    settles (a callable item is called with (pid, fd) instead); return (output, exit code)."""
    pid, fd = pty.fork()
    if pid == 0:
        if winsize:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", *winsize, 0, 0))
        os.execv(args[0], args)
    out = b""

    def read_for(secs):
        nonlocal out
        end = time.time() + secs
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return False
                if not chunk:
                    return False
                out += chunk
        return True

    read_for(1.0)
    for line in script:
        if callable(line):
            line(pid, fd)
        else:
            os.write(fd, line)
        read_for(1.0)
    deadline = time.time() + timeout
    while time.time() < deadline:
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            os.close(fd)
            return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)
        read_for(0.2)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail(f"berth on a pty did not exit: {out!r}")


def test_tty_through_pty(berthd):
    args = [BERTH_CLI, "-H", f"unix://{berthd.sock}", "run", "--rm", "-it", TAG, "sh"]

    def resize(pid, fd):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        os.kill(pid, signal.SIGWINCH)

    out, code = _pty_session(args, [b"tty; echo x-$((40+2)); stty size\r", resize,
                                    b"stty size\r", b"exit 7\r"], winsize=(40, 120))
    assert code == 7, out
    assert "x-42" in out
    assert "\r\n40 120\r\n" in out  # the terminal's size at start
    assert "\r\n30 100\r\n" in out  # SIGWINCH → POST /containers/{id}/resize
    assert "/dev/pts/" in out  # the container's side is a terminal too
    # raw mode: the container's pty does the \r\n translation, not ours (no doubled \r)
    assert "\r\r\n" not in out


def test_flags_become_the_create_body(berthd):
    name = berthd.name()
    # a sanitizer build's shim is dynamically linked: it cannot be docker-init inside busybox
    init = ["--init"] if shim_is_static() else ["--init=false"]
    r = cli(berthd, "run", "-d", "--name", name, "-e", "FOO=bar", "--env", "X=1", "-l", "k=v",
            "--label", "k2=v2", "-w", "/tmp", "-u", "0:0", "-h", "myhost", "--memory", "64m",
            "--memory-reservation", "32m", "--cpus", "0.5", "--cpu-shares", "512",
            "--pids-limit", "50", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
            "--ulimit", "nofile=100:200", "--restart", "on-failure:2", *init,
            "--stop-signal", "SIGUSR1", "--stop-timeout", "3", "--read-only",
            "--tmpfs", "/run:size=1m", "--security-opt", "no-new-privileges",
            "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
            "--health-cmd", "true", "--health-interval", "30s", "--health-retries", "2",
            "--network", "none", TAG, "sleep", "60")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    try:
        fmt = ("{{.Name}}|{{json .Config.Env}}|{{.Config.Labels.k}},{{index .Config.Labels \"k2\"}}|"
               "{{.Config.WorkingDir}}|{{.Config.User}}|{{.Config.Hostname}}|"
               "{{.HostConfig.Memory}}|{{.HostConfig.MemoryReservation}}|{{.HostConfig.NanoCpus}}|"
               "{{.HostConfig.CpuShares}}|{{.HostConfig.PidsLimit}}|{{json .HostConfig.CapAdd}}|"
               "{{json .HostConfig.CapDrop}}|{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:"
               "{{.Hard}}{{end}}|{{.HostConfig.RestartPolicy.Name}}:"
               "{{.HostConfig.RestartPolicy.MaximumRetryCount}}|{{.HostConfig.Init}}|"
               "{{.Config.StopSignal}}|{{.Config.StopTimeout}}|{{.HostConfig.ReadonlyRootfs}}|"
               "{{json .HostConfig.Tmpfs}}|{{json .HostConfig.SecurityOpt}}|"
               "{{index .HostConfig.LogConfig.Config \"max-size\"}}|{{json .Config.Healthcheck.Test}}|"
               "{{.Config.Healthcheck.Interval}}|{{.HostConfig.NetworkMode}}|{{.State.Running}}")
        fmt2 = ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}|"
                "{{range $i, $e := .Config.Env}}{{$i}}:{{$e}},{{end}}|{{with $h := .Config.Hostname}}"
                "{{$h}}{{end}}|{{if and .State.Running (not .State.Paused)}}up{{end}}|"
                "{{printf \"%s/%v\" .Config.User .HostConfig.CpuShares}}|{{upper .Config.StopSignal}}")
        two = cli(berthd, "inspect", "-f", fmt2, cid)
        assert two.returncode == 0 and two.stdout == berthd.docker("inspect", "-f", fmt2, cid).stdout
        assert "k=v;k2=v2;" in two.stdout and "|myhost|up|0:0/512|SIGUSR1" in two.stdout
        ours = cli(berthd, "inspect", "-f", fmt, cid)
        theirs = berthd.docker("inspect", "-f", fmt, cid)
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout
        f = ours.stdout.strip().split("|")
        assert f[0] == "/" + name
        assert '"FOO=bar"' in f[1] and '"X=1"' in f[1]
        assert f[2] == "v,v2"
        assert f[3:6] == ["/tmp", "0:0", "myhost"]
        assert f[6:11] == [str(64 << 20), str(32 << 20), "500000000", "512", "50"]
        assert f[11:13] == ['["NET_ADMIN"]', '["CHOWN"]']
        assert f[13] == "nofile=100:200"
        assert f[14:16] == ["on-failure:2", "true" if init == ["--init"] else "false"]
        assert f[16:19] == ["SIGUSR1", "3", "true"]
        assert json.loads(f[19]) == {"/run": "size=1m"}
        assert json.loads(f[20]) == ["no-new-privileges"]
        assert f[21] == "1m"
        assert json.loads(f[22]) == ["CMD-SHELL", "true"]
        assert f[23:] == ["30000000000", "none", "true"]
    finally:
        rm(berthd, cid)


def test_detach_logs_follow_stop(berthd):
    name = berthd.name()
    r = cli(berthd, "run", "-d", "--name", name, TAG, "sh", "-c",
            "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); "
            "sleep 0.2; done")
    assert r.returncode == 0, r.stderr
    try:
        follow = subprocess.Popen([BERTH_CLI, "-H", f"unix://{berthd.sock}", "logs", "-f", name],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = follow.stdout.readline()
        assert first.startswith("tick "), first
        r = cli(berthd, "stop", "-t", "5", name)
        assert (r.returncode, r.stdout) == (0, name + "\n"), r.stderr
        rest, _ = follow.communicate(timeout=20)  # logs -f ends when the container does
        assert follow.returncode == 0
        assert rest.rstrip().endswith("bye")
        r = cli(berthd, "logs", "--tail", "1", name)
        assert r.stdout == "bye\n"
        r = cli(berthd, "logs", "-t", "--tail", "1", name)
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z bye\n", r.stdout), r.stdout
        assert cli(berthd, "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}",
                   name).stdout == "false 0\n"
        r = cli(berthd, "wait", name)
        assert r.stdout == "0\n"
    finally:
        rm(berthd, name)


def test_ps_formats_match_docker(berthd):
    names = [berthd.name("ps") for _ in range(2)]
    for n in names:
        assert cli(berthd, "run", "-d", "--name", n, "-l", "role=test", TAG, "sleep", "60").returncode == 0
    stopped = berthd.name("ps")
    assert cli(berthd, "create", "--name", stopped, TAG, "true").returncode == 0
    try:
        for fmt in ("{{.Names}} {{.Image}} {{.Command}} {{.State}}",
                    "table {{.ID}}\t{{.Names}}\t{{.Labels}}",
                    "{{.ID}}"):
            for extra in ([], ["-a"], ["--no-trunc"]):
                ours = cli(berthd, "ps", *extra, "--format", fmt)
                theirs = berthd.docker("ps", *extra, "--format", fmt)
                assert ours.returncode == 0, ours.stderr
                assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines()), fmt
        q = cli(berthd, "ps", "-q").stdout.split()
        assert len(q) >= 2 and all(len(x) == 12 for x in q)
        qa = cli(berthd, "ps", "-aq", "--filter", f"name={stopped}").stdout.split()
        assert len(qa) == 1
        for args in (["ps", "-a"], ["ps", "-a", "--no-trunc"], ["ps", "-a", "-s"],
                     ["ps", "-a", "--format", "json"],
                     ["ps", "-a", "--format", '{{.Names}} {{.Label "role"}}']):
            # ages ("3 seconds ago", "Up 1 second") may tick between the two calls, at a
            # different moment for each container listed: tries until one pair falls between ticks
            for _ in range(10):
                ours, theirs = cli(berthd, *args).stdout, berthd.docker(*args).stdout
                if ours == theirs:
                    break
            assert ours == theirs, args
        table = cli(berthd, "ps").stdout.splitlines()
        assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                    "PORTS", "NAMES"]
        js = [json.loads(line) for line in cli(berthd, "ps", "--format", "json").stdout.splitlines()]
        assert {j["Names"] for j in js} >= set(names)
        assert all(j["State"] == "running" for j in js)
    finally:
        rm(berthd, *names, stopped)


def test_inspect_templates(berthd):
    r = cli(berthd, "image", "inspect", "-f",
            "{{.Id}} {{len .RootFS.Layers}} {{json .Config.Env}} {{range .RepoTags}}<{{.}}>{{end}}",
            TAG)
    assert r.returncode == 0, r.stderr
    theirs = berthd.docker("image", "inspect", "-f",
                           "{{.Id}} {{len .RootFS.Layers}} {{json .Config.Env}} "
                           "{{range .RepoTags}}<{{.}}>{{end}}", TAG)
    assert r.stdout == theirs.stdout
    assert f"<{TAG}>" in r.stdout
    assert cli(berthd, "image", "inspect", TAG).stdout == berthd.docker("image", "inspect",
                                                                         TAG).stdout
    full = json.loads(cli(berthd, "inspect", TAG).stdout)
    assert isinstance(full, list) and full[0]["Id"].startswith("sha256:")
    r = cli(berthd, "inspect", "no-such-object-x")
    assert r.returncode == 1
    assert r.stdout == "[]\n"
    assert "No such object: no-such-object-x" in r.stderr
    r = cli(berthd, "inspect", "-f", "{{.Nope", TAG)
    assert r.returncode == 1 and "template" in r.stderr


def test_images_tag_rmi_save_load(berthd, tmp_path):
    tag = f"berth-test/cli-tag:{os.getpid()}"
    assert cli(berthd, "tag", TAG, tag).returncode == 0
    try:
        fmt = "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"
        ours = cli(berthd, "images", "--format", fmt)
        theirs = berthd.docker("images", "--format", fmt)
        assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())
        assert any(line.startswith(tag + " ") for line in ours.stdout.splitlines())
        hdr = cli(berthd, "images").stdout.splitlines()[0]
        assert hdr.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
        for args in (["images"], ["images", "--digests"], ["images", "-a", "--no-trunc"],
                     ["history", tag], ["history", "--no-trunc", tag],
                     ["images", "--format", "json"]):
            # docker lists the repositories of one image in Go map order: compare as sets
            ours, theirs = cli(berthd, *args).stdout, berthd.docker(*args).stdout
            if "json" not in args:
                assert ours.splitlines()[:1] == theirs.splitlines()[:1], args
            assert sorted(ours.splitlines()) == sorted(theirs.splitlines()), args
        ids = cli(berthd, "images", "-q").stdout.split()
        assert len(ids) == len(set(ids)) and all(len(i) == 12 for i in ids)
        out = str(tmp_path / "saved.tar")
        assert cli(berthd, "save", "-o", out, tag).returncode == 0
        assert os.path.getsize(out) > 100000
        r = cli(berthd, "rmi", tag)
        assert r.returncode == 0 and f"Untagged: {tag}" in r.stdout
        r = cli(berthd, "load", "-i", out)
        assert r.returncode == 0, r.stderr
        assert f"Loaded image: {tag}" in r.stdout
        r = cli(berthd, "history", tag)
        assert r.stdout.splitlines()[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE",
                                                    "COMMENT"]
    finally:
        cli(berthd, "rmi", "-f", tag)
    r = cli(berthd, "rmi", "berth-test/never-there:1")
    assert r.returncode == 1 and r.stderr.startswith("Error response from daemon:")


def test_exec(berthd):
    name = berthd.name()
    assert cli(berthd, "run", "-d", "--name", name, TAG, "sleep", "60").returncode == 0
    try:
        r = cli(berthd, "exec", "-e", "V=7", "-w", "/tmp", name, "sh", "-c",
                "echo $V $(pwd); echo e >&2; exit 5")
        assert r.returncode == 5
        assert r.stdout == "7 /tmp\n" and r.stderr == "e\n"
        r = cli(berthd, "exec", "-i", name, "cat", input="from stdin\n")
        assert r.stdout == "from stdin\n"
        args = [BERTH_CLI, "-H", f"unix://{berthd.sock}", "exec", "-it", name, "sh"]
        out, code = _pty_session(args, [b"echo in-$((6*7))\r", b"exit 3\r"])
        assert code == 3 and "in-42" in out, out
        assert cli(berthd, "exec", "-d", name, "sh", "-c", "echo d > /tmp/d").returncode == 0
        for _ in range(50):
            r = cli(berthd, "exec", name, "cat", "/tmp/d")
            if r.stdout == "d\n":
                break
            time.sleep(0.1)
        assert r.stdout == "d\n"
        r = cli(berthd, "top", name)
        assert "sleep 60" in r.stdout and r.stdout.split()[0] in ("UID", "PID")
    finally:
        rm(berthd, name)


def test_cp_roundtrip(berthd, tmp_path):
    name = berthd.name()
    assert cli(berthd, "run", "-d", "--name", name, TAG, "sleep", "60").returncode == 0
    try:
        src = tmp_path / "src"
        (src / "sub").mkdir(parents=True)
        (src / "sub" / "f").write_text("payload\n")
        (tmp_path / "one.txt").write_text("one\n")
        assert cli(berthd, "cp", str(src), f"{name}:/tmp/").returncode == 0
        assert cli(berthd, "cp", str(tmp_path / "one.txt"), f"{name}:/tmp/renamed.txt").returncode == 0
        r = cli(berthd, "exec", name, "sh", "-c", "cat /tmp/src/sub/f /tmp/renamed.txt")
        assert r.stdout == "payload\none\n", r.stderr
        back = tmp_path / "back"
        back.mkdir()
        assert cli(berthd, "cp", f"{name}:/tmp/src", str(back)).returncode == 0
        assert (back / "src" / "sub" / "f").read_text() == "payload\n"
        assert cli(berthd, "cp", f"{name}:/tmp/renamed.txt", str(back / "x.txt")).returncode == 0
        assert (back / "x.txt").read_text() == "one\n"
        r = cli(berthd, "diff", name)
        assert "A /tmp/renamed.txt" in r.stdout.splitlines()
        raw = subprocess.run([BERTH_CLI, "-H", f"unix://{berthd.sock}", "cp",
                              f"{name}:/tmp/renamed.txt", "-"], capture_output=True)
        assert raw.returncode == 0
        names = subprocess.run(["tar", "-t"], input=raw.stdout, capture_output=True).stdout
        assert names.decode().split() == ["renamed.txt"]
    finally:
        rm(berthd, name)


def test_stats_no_stream(berthd):
    name = berthd.name()
    assert cli(berthd, "run", "-d", "--name", name, "--memory", "64m", TAG, "sh", "-c",
               "sleep 60 & sleep 60; true").returncode == 0
    try:
        poll(lambda: berthd.docker("stats", "--no-stream", "--format", "{{.PIDs}}",
                                   name).stdout.strip() == "3", "sh and both sleeps running")
        r = cli(berthd, "stats", "--no-stream", name)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        theirs = berthd.docker("stats", "--no-stream", name).stdout.splitlines()
        assert lines[0].split() == theirs[0].split()  # widths follow the values of the moment
        assert re.match(r"CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +"
                        r"BLOCK I/O +PIDS$", lines[0])
        row = lines[1]
        assert name in row
        assert re.search(r"\d+(\.\d+)?%", row)
        assert "/ 64MiB" in row
        assert row.split()[-1] == "3"  # sh and two sleeps
        r = cli(berthd, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", name)
        assert r.stdout == f"{name} 3\n"
    finally:
        rm(berthd, name)


def test_system_df_and_prune_output(berthd):
    r = cli(berthd, "system", "df")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in lines[1:]] == ["Images", "Containers", "Local", "Build"]
    assert r.stdout == berthd.docker("system", "df").stdout
    r = cli(berthd, "system", "df", "-v")
    assert "Images space usage:" in r.stdout
    r = cli(berthd, "volume", "create", "clivol")
    assert r.stdout == "clivol\n"
    assert "clivol" in cli(berthd, "volume", "ls", "-q").stdout.split()
    assert cli(berthd, "volume", "ls").stdout == berthd.docker("volume", "ls").stdout
    assert cli(berthd, "volume", "inspect", "clivol").stdout == \
        berthd.docker("volume", "inspect", "clivol").stdout
    assert cli(berthd, "volume", "rm", "clivol").stdout == "clivol\n"
    r = cli(berthd, "container", "prune", "-f")
    assert r.returncode == 0 and "Total reclaimed space:" in r.stdout


def test_version_info(berthd):
    r = cli(berthd, "version", "--format", "{{.Server.ApiVersion}}")
    assert r.stdout == "1.43\n"
    r = cli(berthd, "info", "--format", "{{.OSType}}")
    assert r.stdout == "linux\n"
    assert cli(berthd, "--version").stdout.startswith("berth version ")


def test_no_daemon(tmp_path):
    r = subprocess.run([BERTH_CLI, "-H", f"unix://{tmp_path}/absent.sock", "ps"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "Cannot connect to the berth daemon" in r.stderr
    # usage errors and help never need a daemon
    host = ["-H", f"unix://{tmp_path}/absent.sock"]
    r = subprocess.run([BERTH_CLI, *host, "ps", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "-a, --all" in r.stdout
    r = subprocess.run([BERTH_CLI, *host, "rm"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith('"berth rm" requires at least 1 argument.\nSee \'berth rm --help\'.')
    r = subprocess.run([BERTH_CLI, *host, "frobnicate"], capture_output=True, text=True)
    assert r.returncode == 1 and "'frobnicate' is not a berth command" in r.stderr
    r = subprocess.run([BERTH_CLI, "-H", "tcp://127.0.0.1:2375", "ps"], capture_output=True,
                       text=True)
    assert r.returncode == 125 and "unix sockets only" in r.stderr


def test_pull_push_progress(berthd, registry):
    ref = f"{registry.host}/cli/bb:1"
    assert cli(berthd, "tag", TAG, ref).returncode == 0
    r = cli(berthd, "push", ref)
    assert r.returncode == 0, r.stderr
    assert "digest: sha256:" in r.stdout
    assert "\033[" not in r.stdout  # plain lines off a terminal
    assert cli(berthd, "rmi", ref).returncode == 0
    r = cli(berthd, "pull", ref)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(ref)
    assert cli(berthd, "rmi", ref).returncode == 0
    assert berthd.docker("pull", ref).stdout == r.stdout  # same stream, same rendering
    # on a terminal: per-layer lines redrawn with cursor moves
    assert cli(berthd, "rmi", ref).returncode == 0
    out, code = _pty_session([BERTH_CLI, "-H", f"unix://{berthd.sock}", "pull", ref], [])
    assert code == 0, out
    assert re.search(r"\x1b\[\d+A", out) and re.search(r"\x1b\[\d+B", out), out
    r = cli(berthd, "image", "inspect", "-f", "{{index .RepoDigests 0}}", ref)
    assert r.stdout.startswith(f"{registry.host}/cli/bb@sha256:")
    # run pulls a missing image like docker
    assert cli(berthd, "rmi", ref).returncode == 0
    r = cli(berthd, "run", "--rm", ref, "echo", "pulled")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pulled\n"
    assert f"Unable to find image '{ref}' locally" in r.stderr
    cli(berthd, "rmi", "-f", ref)
    r = cli(berthd, "pull", f"{registry.host}/cli/absent:1")
    assert r.returncode == 1 and "manifest" in r.stderr


def test_starts_berthd_when_the_default_socket_is_absent(image_tar, tmp_path):
    """No -H, no DOCKER_HOST: berth starts the berthd beside it on the default socket. Run in
    private mount and pid namespaces (tmpfs over /run and /var/lib) so the host's defaults are
    untouched and the daemon ends with the namespace."""
    script = tmp_path / "auto.sh"
    script.write_text(f"""set -e
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
{BERTH_CLI} load -i {image_tar} >/dev/null
{BERTH_CLI} run --rm --network=none {TAG} echo autostarted
test -S /run/berth/berth.sock
""")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "BERTH_HOST")}
    r = subprocess.run(["unshare", "-m", "-p", "-f", "--mount-proc", "--propagation", "private",
                        "sh", str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "autostarted\n"
    assert "berth: starting " in r.stderr and "berthd" in r.stderr


def test_detach_keys_leave_the_container_running(berthd):
    name = berthd.name()
    args = [BERTH_CLI, "-H", f"unix://{berthd.sock}", "run", "--name", name, "-it", TAG, "sh"]
    try:
        out, code = _pty_session(args, [b"echo still-$((1+1))\r", b"\x10\x11"])
        assert code == 0, out
        assert "still-2" in out
        r = cli(berthd, "ps", "--filter", f"name={name}", "--format", "{{.State}}")
        assert r.stdout == "running\n"
    finally:
        rm(berthd, name)


def test_events_match_docker(berthd):
    name = berthd.name()
    since = str(int(time.time()) - 1)
    assert cli(berthd, "run", "--rm", "--network=none", "--name", name, TAG, "true").returncode == 0
    until = str(int(time.time()) + 1)
    flt = ["--filter", f"container={name}"]
    ours = cli(berthd, "events", "--since", since, "--until", until, *flt)
    theirs = berthd.docker("events", "--since", since, "--until", until, *flt)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    actions = [line.split()[2] for line in ours.stdout.splitlines()]
    # dockerd's order: the run's attach comes between create and start
    assert actions[:3] == ["create", "attach", "start"] and "die" in actions
    r = cli(berthd, "events", "--since", since, "--until", until, *flt, "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    assert r.stdout.splitlines()[0] == f"container create {name}"
    r = cli(berthd, "events", "--since", since, "--until", until, *flt, "--format", "json")
    assert json.loads(r.stdout.splitlines()[0])["Action"] == "create"


def test_sig_proxy_forwards_signals(berthd):
    p = subprocess.Popen([BERTH_CLI, "-H", f"unix://{berthd.sock}", "run", "--rm", TAG, "sh", "-c",
                          "trap 'echo got-term; exit 9' TERM; echo ready; sleep 100 & wait"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 9, err
        assert out == "got-term\n"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    berthd.container_ids()


def test_system_prune(berthd):
    name = berthd.name()
    r = cli(berthd, "create", "--name", name, TAG, "true")
    cid = r.stdout.strip()
    berthd.container_ids()
    r = cli(berthd, "system", "prune", input="n\n")  # no -f: asks; "n" keeps everything
    assert "Are you sure you want to continue? [y/N]" in r.stdout
    assert cli(berthd, "ps", "-aq", "--no-trunc").stdout.split().count(cid) == 1
    r = cli(berthd, "system", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert f"Deleted Containers:\n{cid}\n" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert cid not in cli(berthd, "ps", "-aq", "--no-trunc").stdout
    assert TAG.split(":")[0] in cli(berthd, "images").stdout  # tagged images stay without -a


def test_lifecycle_verbs(berthd, tmp_path):
    name, new = berthd.name(), berthd.name("renamed")
    r = cli(berthd, "run", "-d", "--name", name, "--memory", "64m", TAG, "sh", "-c",
            "echo x > /created; sleep 100")
    assert r.returncode == 0, r.stderr
    try:
        state = lambda n: cli(berthd, "inspect", "-f", "{{.State.Status}}", n).stdout.strip()
        assert cli(berthd, "pause", name).stdout == name + "\n"
        assert state(name) == "paused"
        assert cli(berthd, "unpause", name).stdout == name + "\n"
        assert state(name) == "running"
        assert cli(berthd, "update", "--memory", "96m", "--pids-limit", "30", name).returncode == 0
        r = cli(berthd, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", name)
        assert r.stdout == f"{96 << 20} 30\n"
        assert cli(berthd, "rename", name, new).returncode == 0
        assert cli(berthd, "inspect", "-f", "{{.Name}}", new).stdout == f"/{new}\n"
        pid1 = cli(berthd, "inspect", "-f", "{{.State.Pid}}", new).stdout
        assert cli(berthd, "restart", "-t", "1", new).stdout == new + "\n"
        assert state(new) == "running"
        assert cli(berthd, "inspect", "-f", "{{.State.Pid}}", new).stdout != pid1
        assert "A /created" in cli(berthd, "diff", new).stdout.splitlines()
        out = tmp_path / "fs.tar"
        assert cli(berthd, "export", "-o", str(out), new).returncode == 0
        names = subprocess.run(["tar", "-tf", str(out)], capture_output=True, text=True).stdout
        assert "created" in names and "bin/busybox" in names
        # the live stats table is redrawn in place every second
        p = subprocess.run(["timeout", "2.5", BERTH_CLI, "-H", f"unix://{berthd.sock}", "stats",
                            new], capture_output=True, text=True)
        assert p.stdout.count("\x1b[2J\x1b[H") >= 2 and new in p.stdout
        assert cli(berthd, "kill", "-s", "KILL", new).stdout == new + "\n"
        assert cli(berthd, "wait", new).stdout == "137\n"
        r = cli(berthd, "kill", new)  # not running any more
        assert r.returncode == 1 and r.stderr.startswith("Error response from daemon:")
    finally:
        rm(berthd, name, new)
    r = cli(berthd, "rm", name)
    assert r.returncode == 1 and "No such container" in r.stderr


def test_create_then_start_attached_with_stdin(berthd):
    r = cli(berthd, "create", "-i", TAG, "sh", "-c", "cat; exit 6")
    cid = r.stdout.strip()
    try:
        r = cli(berthd, "start", "-ai", cid, input="piped in\n")
        assert r.returncode == 6, r.stderr
        assert r.stdout == "piped in\n"
    finally:
        rm(berthd, cid)


def test_management_command_forms(berthd):
    name = berthd.name()
    assert cli(berthd, "container", "create", "--name", name, TAG, "true").returncode == 0
    try:
        r = cli(berthd, "container", "ls", "-a", "--filter", f"name={name}", "--format",
                "{{.Names}}")
        assert r.stdout == name + "\n"
        assert cli(berthd, "container", "inspect", "-f", "{{.Name}}", name).stdout == f"/{name}\n"
        assert TAG.split(":")[0] in cli(berthd, "image", "ls").stdout
        assert cli(berthd, "image", "inspect", "-f", "{{.Os}}", TAG).stdout == "linux\n"
        r = cli(berthd, "container", "inspect", TAG)  # an image is not a container
        assert r.returncode == 1 and f"No such container: {TAG}" in r.stderr
        assert cli(berthd, "container", "rm", name).stdout == name + "\n"
        r = cli(berthd, "container", "nope")
        assert r.returncode == 1 and "is not a berth command" in r.stderr
    finally:
        rm(berthd, name)
