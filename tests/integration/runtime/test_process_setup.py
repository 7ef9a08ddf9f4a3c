"""What the container's process starts with (run and exec), as runc and crun set it up: default
signal dispositions and an empty mask whatever the caller had, HOME, lo up, supplementary groups."""
import json
import os
import re
import signal
import subprocess
import time

import pytest


def _status(text):
    """SigIgn/SigBlk/... of a /proc/<pid>/status dump as ints."""
    out = {}
    for k, v in re.findall(r"(SigIgn|SigBlk):\s*([0-9a-f]+)", text):
        out.setdefault(k, []).append(int(v, 16))
    return out


def _ignoring():
    """What a launcher like `trap '' INT QUIT` or a daemon leaves to its children."""
    for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGHUP, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


def _ignoring_and_blocking():
    _ignoring()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2})


def _runc_keeps_mask(rt):
    if os.path.basename(rt.binary) == "runc":
        pytest.skip("runc 1.1.5 passes the caller's blocked signals on (crun and berth clear them)")


# no shell in between: a shell remembers what was ignored on entry and keeps it for its children
SIGS = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]
BOTH = SIGS + ["/proc/1/status"]


def test_run_starts_with_default_signal_dispositions(rt, bundle):
    r = rt("run", "--bundle", bundle.args(*SIGS).write(), rt.new_id(), preexec_fn=_ignoring)
    assert r.returncode == 0, r.stderr
    assert _status(r.stdout) == {"SigIgn": [0], "SigBlk": [0]}, r.stdout


def test_exec_starts_with_default_signal_dispositions(rt, bundle):
    cid = rt.new_id()
    r = rt("run", "-d", "--bundle", bundle.args("sleep", "100").write(), cid, preexec_fn=_ignoring)
    assert r.returncode == 0, r.stderr
    r = rt("exec", cid, *BOTH, preexec_fn=_ignoring)
    assert r.returncode == 0, r.stderr
    assert _status(r.stdout) == {"SigIgn": [0, 0], "SigBlk": [0, 0]}, r.stdout
    # a shell's trap fires (a signal ignored on entry cannot be trapped) and a writer into a
    # closed pipe dies of SIGPIPE (141) instead of printing "Broken pipe"
    r = rt("exec", cid, "sh", "-c",
           "trap 'echo trapped' INT; kill -INT $$; (yes; echo yes=$? >&2) | head -1",
           preexec_fn=_ignoring)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["trapped", "y"]
    assert "yes=141" in r.stderr and "Broken pipe" not in r.stderr, r.stderr


def test_callers_blocked_signals_do_not_reach_the_container(rt, bundle):
    _runc_keeps_mask(rt)
    cid = rt.new_id()
    r = rt("run", "-d", "--bundle", bundle.args("sleep", "100").write(), cid,
           preexec_fn=_ignoring_and_blocking)
    assert r.returncode == 0, r.stderr
    r = rt("exec", cid, *BOTH, preexec_fn=_ignoring_and_blocking)
    assert r.returncode == 0, r.stderr
    assert _status(r.stdout) == {"SigIgn": [0, 0], "SigBlk": [0, 0]}, r.stdout


# ---- HOME from the container's /etc/passwd (runc's and crun's rule)

PASSWD = """root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""


def _with_passwd(bundle, tmp_path, text=PASSWD):
    """The image's /etc/passwd replaced (bind mount: the rootfs is shared and read-only)."""
    f = tmp_path / "passwd"
    f.write_text(text)
    bundle.config["mounts"].append({"destination": "/etc/passwd", "type": "bind",
                                    "source": str(f), "options": ["rbind", "ro"]})
    return bundle


def _home(rt, bundle, user=None, env=None):
    p = bundle.config["process"]
    if user is not None:
        p["user"] = {"uid": user[0], "gid": user[1]}
    if env is not None:
        p["env"] = env
    r = rt("run", "--bundle", bundle.sh('echo "[${HOME-unset}]"').write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_run_home_from_passwd(rt, bundle, tmp_path):
    _with_passwd(bundle, tmp_path)
    assert _home(rt, bundle) == "[/root]"
    assert _home(rt, bundle, user=(1000, 1000)) == "[/home/app]"
    assert _home(rt, bundle, user=(65534, 65534)) == "[/nonexistent]"
    # no passwd entry: "/"
    assert _home(rt, bundle, user=(4242, 4242)) == "[/]"


def test_run_home_from_spec_env_wins(rt, bundle, tmp_path):
    _with_passwd(bundle, tmp_path)
    env = bundle.config["process"]["env"]
    assert _home(rt, bundle, env=env + ["HOME=/custom"]) == "[/custom]"


def test_run_home_without_passwd_file(rt, bundle, tmp_path):
    bundle.config["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs"})
    assert _home(rt, bundle) == "[/]"


def test_exec_home(rt, bundle, tmp_path):
    _with_passwd(bundle, tmp_path)
    cid = rt.new_id()
    r = rt("run", "-d", "--bundle", bundle.args("sleep", "100").write(), cid)
    assert r.returncode == 0, r.stderr
    sh = ["sh", "-c", 'echo "[${HOME-unset}]"']
    assert rt("exec", cid, *sh).stdout.strip() == "[/root]"
    assert rt("exec", "--user", "1000:1000", cid, *sh).stdout.strip() == "[/home/app]"
    assert rt("exec", "--user", "4242", cid, *sh).stdout.strip() == "[/]"
    assert rt("exec", "--env", "HOME=/x", cid, *sh).stdout.strip() == "[/x]"
    # a process.json without env
    p = tmp_path / "process.json"
    p.write_text(json.dumps({"args": ["/bin/sh", "-c", 'echo "[${HOME-unset}]"'], "cwd": "/",
                             "user": {"uid": 1000, "gid": 1000}}))
    r = rt("exec", "--process", str(p), cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[/home/app]"


def test_run_empty_home_in_spec_is_replaced(rt, bundle, tmp_path):
    # runc looks at getenv("HOME") == "": an empty HOME= is filled from passwd too
    _with_passwd(bundle, tmp_path)
    env = bundle.config["process"]["env"]
    assert _home(rt, bundle, user=(1000, 1000), env=env + ["HOME="]) == "[/home/app]"


# ---- loopback

LO = "ip -o addr show lo; cat /sys/class/net/lo/operstate; echo hi | nc -l -p 7000 & " \
     "sleep 0.3; nc 127.0.0.1 7000 </dev/null"


def test_new_network_namespace_has_loopback_up(rt, bundle):
    r = rt("run", "--bundle", bundle.sh(LO).write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert "inet 127.0.0.1/8" in r.stdout, r.stdout
    assert "unknown" in r.stdout.split() or "up" in r.stdout.split(), r.stdout
    assert r.stdout.rstrip().endswith("hi"), r.stdout
    # exec joins it: up there too
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.args("sleep", "100").write(), cid).returncode == 0
    r = rt("exec", cid, "sh", "-c", "ip -o addr show lo")
    assert "inet 127.0.0.1/8" in r.stdout, r.stdout + r.stderr


def test_new_network_and_user_namespace_has_loopback_up(rt, bundle):
    bundle.add_ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    r = rt("run", "--bundle", bundle.sh("ip -o addr show lo").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert "inet 127.0.0.1/8" in r.stdout, r.stdout


# ---- supplementary groups of exec

GROUPS = ["grep", "^Groups:", "/proc/self/status"]


def test_exec_additional_gids(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0, "additionalGids": [5, 6]}
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.args("sleep", "100").write(), cid).returncode == 0
    r = rt("exec", cid, *GROUPS)
    assert r.stdout.split()[1:] == ["5", "6"], r.stdout + r.stderr
    # -g adds to the spec's; --user keeps them (runc)
    r = rt("exec", "-g", "7", "-g", "70", cid, *GROUPS)
    assert r.stdout.split()[1:] == ["5", "6", "7", "70"], r.stdout + r.stderr
    r = rt("exec", "--user", "1000:1000", "--additional-gids", "9", cid, *GROUPS)
    assert r.stdout.split()[1:] == ["5", "6", "9"], r.stdout + r.stderr
    r = rt("exec", "-g", "-1", cid, "true")
    assert r.returncode != 0
    r = rt("exec", "-g", "x", cid, "true")
    assert r.returncode != 0


# ---- errors before the process starts: runc's wording; exec exits 255, the process's own codes
# pass through

START = "unable to start container process: "


def _unquoted(text):
    """runc logs through logrus, which quotes the message"""
    return text.replace('\\"', '"')


def test_exec_errors_before_the_process_starts(rt, bundle):
    bundle.config["mounts"].append({"destination": "/secret", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["mode=0700"]})
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.args("sleep", "100").write(), cid).returncode == 0
    cases = [
        (["/nope"], 'exec: "/nope": stat /nope: no such file or directory'),
        (["nope"], 'exec: "nope": executable file not found in $PATH'),
        (["/tmp"], 'exec: "/tmp": permission denied'),
        (["/etc/passwd"], 'exec: "/etc/passwd": permission denied'),
        (["--cwd", "/nope", "true"],
         'chdir to cwd ("/nope") set in config.json failed: no such file or directory'),
        (["--cwd", "/etc/passwd", "true"],
         'chdir to cwd ("/etc/passwd") set in config.json failed: not a directory'),
    ]
    for args, msg in cases:
        opts, cmd = (args[:-1], args[-1:]) if args[0].startswith("--") else ([], args)
        r = rt("exec", *opts, cid, *cmd)
        assert r.returncode == 255, (args, r.returncode, r.stderr)
        assert START + msg in _unquoted(r.stderr), (args, r.stderr)
    for code in (0, 3, 126, 127, 255):
        assert rt("exec", cid, "sh", "-c", f"exit {code}").returncode == code
    # a cwd only root may enter is entered before the switch to the user, as runc does
    r = rt("exec", "--user", "1000", "--cwd", "/secret", cid, "pwd")
    assert r.returncode == 0 and r.stdout == "/secret\n", r.stderr


def test_run_errors_before_the_process_starts(rt, bundle):
    r = rt("run", "--bundle", bundle.args("/tmp").write(), rt.new_id())
    assert r.returncode != 0, r.stderr
    assert START + 'exec: "/tmp": permission denied' in _unquoted(r.stderr), r.stderr
    bundle.config["mounts"].append({"destination": "/secret", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["mode=0700"]})
    bundle.config["process"]["cwd"] = "/secret"
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = rt("run", "--bundle", bundle.args("pwd").write(), rt.new_id())
    assert r.returncode == 0 and r.stdout == "/secret\n", r.stderr


def test_exec_into_a_paused_container(rt, bundle, tmp_path):
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.args("sleep", "100").write(), cid).returncode == 0
    assert rt("pause", cid).returncode == 0
    r = rt("exec", cid, "true")
    assert r.returncode == 255
    assert "cannot exec in a paused container (use --ignore-paused to override)" in r.stderr
    # --ignore-paused: the process joins the frozen container and runs once it is resumed
    out = tmp_path / "out"
    with open(out, "w") as f:
        p = subprocess.Popen([rt.binary, "--root", rt.root, "exec", "--ignore-paused", cid,
                              "echo", "ran"], stdout=f, stderr=subprocess.STDOUT)
        # not a wait for a condition: the exec must not run inside the frozen container
        time.sleep(1)
        assert p.poll() is None and out.read_text() == "", "ran inside a frozen container"
        assert rt("resume", cid).returncode == 0
        assert p.wait(timeout=20) == 0
    assert out.read_text() == "ran\n"


def _caps(text):
    return {k: int(v, 16) for k, v in re.findall(r"(Cap\w+):\s*([0-9a-f]+)", text)}


def test_exec_cap_adds_to_ambient_when_the_spec_has_inheritable(rt, make_bundle):
    net_admin, sys_time = 1 << 12, 1 << 25
    # no inheritable set: bounding/effective/permitted only (CVE-2022-29162)
    b = make_bundle()
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", b.args("sleep", "100").write(), cid).returncode == 0
    r = rt("exec", "--cap", "CAP_NET_ADMIN", cid, "grep", "^Cap", "/proc/self/status")
    c = _caps(r.stdout)
    assert c["CapEff"] & net_admin and c["CapInh"] == 0 and c["CapAmb"] == 0, r.stdout + r.stderr
    # the spec has inheritable capabilities: --cap goes to ambient too, as runc does
    b = make_bundle()
    b.config["process"]["capabilities"]["inheritable"] = ["CAP_SYS_TIME"]
    b.config["process"]["capabilities"]["bounding"].append("CAP_SYS_TIME")
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", b.args("sleep", "100").write(), cid).returncode == 0
    r = rt("exec", "--cap", "CAP_SYS_TIME", cid, "grep", "^Cap", "/proc/self/status")
    c = _caps(r.stdout)
    assert c["CapInh"] == sys_time and c["CapAmb"] == sys_time, r.stdout + r.stderr


def test_ambient_capability_not_inheritable_is_warned_about(rt, bundle):
    bundle.config["process"]["capabilities"]["ambient"] = ["CAP_KILL"]
    r = rt("run", "--bundle", bundle.args("grep", "^CapAmb", "/proc/self/status").write(),
           rt.new_id())
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.split()[1], 16) == 0
    if os.path.basename(rt.binary) != "runc":  # runc 1.1.5 drops it silently
        assert "ambient capability CAP_KILL is not both inheritable and permitted" in r.stderr


def test_additional_gids_exactly_or_the_callers_with_keep_original_groups(rt, bundle):
    def caller_groups():
        os.setgroups([5, 6])
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0, "additionalGids": [7]}
    b = bundle.args(*GROUPS).write()
    r = rt("run", "--bundle", b, rt.new_id(), preexec_fn=caller_groups)
    assert r.returncode == 0 and r.stdout.split()[1:] == ["7"], r.stdout + r.stderr
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0}
    r = rt("run", "--bundle", bundle.write(), rt.new_id(), preexec_fn=caller_groups)
    assert r.returncode == 0 and r.stdout.split()[1:] == [], r.stdout + r.stderr
    # crun's annotation keeps the caller's groups (runc has no such annotation)
    if os.path.basename(rt.binary) == "runc":
        return
    assert json.loads(rt("features").stdout)["annotations"]["run.oci.keep_original_groups"] == "1"
    bundle.config["annotations"] = {"run.oci.keep_original_groups": "1"}
    r = rt("run", "--bundle", bundle.write(), rt.new_id(), preexec_fn=caller_groups)
    assert r.returncode == 0 and r.stdout.split()[1:] == ["5", "6"], r.stdout + r.stderr


def test_stdio_is_handed_to_the_process_user(rt, bundle):
    # runc's fixStdioPermissions: what is not /dev/null and not owned by the uid is chowned to it
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b = bundle.sh("stat -L -c %u /proc/self/fd/1 /proc/self/fd/2 /dev/null").write()
    r = rt("run", "--bundle", b, rt.new_id())
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1000", "1000", "0"], r.stdout


def test_ambient_warning_once_at_create_not_at_every_exec(rt, bundle):
    """The container's config is warned about when it is created; a plain exec reuses it and
    prints nothing but its own output (scripts read `exec … 2>&1`)."""
    bundle.config["process"]["capabilities"]["ambient"] = ["CAP_KILL"]
    cid = rt.new_id()
    r = rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid)
    assert r.returncode == 0, r.stderr
    e = rt("exec", "--user", "1000:1000", cid, "sh", "-c", "echo $HOME")
    assert e.returncode == 0 and e.stdout == "/\n" and e.stderr == "", (e.stdout, e.stderr)
    assert rt("delete", "-f", cid).returncode == 0
