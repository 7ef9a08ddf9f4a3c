"""What the container's process starts with (run and exec), as runc and crun set it up: default
signal dispositions and an empty mask whatever the caller had, HOME, lo up, supplementary groups."""
import os
import re
import signal

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
