"""CVE-2019-5736: a container reopened the runtime binary through /proc/<pid>/exe while the
runtime was joining it (exec) and overwrote it. The runtime is non-dumpable from before it
joins until execve, so the container cannot reach its /proc entries."""
import hashlib
import os
import time


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def spy_on_exec(rt, bundle):
    """Run a container that scans every /proc/<pid>/exe for a runtime binary (and tries to
    write it) while 60 execs go in; returns what it logged."""
    bundle.config["root"]["readonly"] = False
    cid = rt.new_id()
    spy = ("end=$(( $(date +%s) + 3 )); n=0; while [ $(date +%s) -lt $end ]; do "
           "for p in /proc/[0-9]*; do e=$(readlink $p/exe 2>/dev/null) || continue; n=$((n+1)); "
           "case $e in *berth*|*runtime*|*runc*) echo REACHED $e >> /tmp/spy-$ID; "
           "echo x 2>/dev/null > $p/exe && echo WROTE >> /tmp/spy-$ID;; esac; done; done; "
           "echo $n > /tmp/spy-done-$ID; sleep 100")
    bundle.config["process"]["env"].append(f"ID={cid}")
    assert rt("run", "-d", "--bundle", bundle.sh(spy).write(), cid).returncode == 0
    for _ in range(60):
        assert rt("exec", cid, "/bin/true").returncode == 0
    rootfs = bundle.config["root"]["path"]
    done = os.path.join(rootfs, f"tmp/spy-done-{cid}")
    for _ in range(100):
        if os.path.exists(done):
            break
        time.sleep(0.1)
    assert int(open(done).read()) > 0, "the spy saw no process at all"
    spy_log = os.path.join(rootfs, f"tmp/spy-{cid}")
    log = open(spy_log).read() if os.path.exists(spy_log) else ""
    assert rt("delete", "-f", cid).returncode == 0
    for f in (done, spy_log):
        if os.path.exists(f):
            os.unlink(f)
    return log


def test_runtime_unreachable_without_ptrace(rt, bundle):
    before = digest(rt.binary)
    log = spy_on_exec(rt, bundle)
    assert "REACHED" not in log, log
    assert digest(rt.binary) == before


def test_ptrace_capable_container_only_reaches_a_sealed_copy(rt, bundle):
    before = digest(rt.binary)
    bundle.config["process"]["capabilities"] = None  # root with every capability
    log = spy_on_exec(rt, bundle)
    assert "WROTE" not in log, log
    assert rt.binary not in log, log  # what it saw was the memfd copy
    assert digest(rt.binary) == before
