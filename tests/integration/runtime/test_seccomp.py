"""linux.seccomp: filters compiled with libseccomp, cached, applied to run and exec."""
import json
import os

ARCH = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def profile(*rules, default="SCMP_ACT_ALLOW"):
    return {"defaultAction": default, "architectures": ARCH, "syscalls": list(rules)}


DENY_MKDIR = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
# kill(pid, SIGUSR1) refused, every other kill allowed
DENY_USR1 = {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}


def test_filter_applies_with_and_without_no_new_privs(rt, bundle):
    bundle.config["linux"]["seccomp"] = profile(DENY_MKDIR, DENY_USR1)
    script = ("grep Seccomp: /proc/self/status; mkdir /dev/shm/d 2>&1 || echo mkdir-refused; "
              "kill -USR1 $$ 2>/dev/null || echo usr1-refused; kill -0 $$ && echo kill0-ok")
    for nnp in (True, False):
        bundle.config["process"]["noNewPrivileges"] = nnp
        r = rt("run", "--bundle", bundle.sh(script).write(), rt.new_id())
        assert r.returncode == 0, r.stderr
        out = r.stdout.splitlines()
        assert out[0].split() == ["Seccomp:", "2"], out
        assert "mkdir-refused" in out and "usr1-refused" in out and "kill0-ok" in out, out


def test_exec_gets_the_container_filter(rt, bundle):
    bundle.config["linux"]["seccomp"] = profile(DENY_MKDIR)
    cid = rt.new_id()
    assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
    r = rt("exec", cid, "sh", "-c", "mkdir /dev/shm/x 2>/dev/null || echo refused")
    assert r.returncode == 0 and r.stdout.strip() == "refused"


def test_compiled_filters_are_cached_per_profile(rt, bundle):
    cache = os.path.join(rt.root, ".seccomp-cache")
    bundle.config["linux"]["seccomp"] = profile(DENY_MKDIR)
    for _ in range(2):
        assert rt("run", "--bundle", bundle.args("/bin/true").write(), rt.new_id()).returncode == 0
    assert len(os.listdir(cache)) == 1
    bundle.config["linux"]["seccomp"] = profile(DENY_USR1)
    assert rt("run", "--bundle", bundle.write(), rt.new_id()).returncode == 0
    assert len(os.listdir(cache)) == 2
    # a damaged entry is not trusted: the profile is compiled again
    for f in os.listdir(cache):
        with open(os.path.join(cache, f), "r+b") as fh:
            fh.seek(20)
            fh.write(b"garbage")
    bundle.config["linux"]["seccomp"] = profile(DENY_MKDIR)
    r = rt("run", "--bundle", bundle.sh("mkdir /dev/shm/x 2>/dev/null || echo refused").write(), rt.new_id())
    assert r.returncode == 0 and r.stdout.strip() == "refused"


def test_bad_profiles(rt, bundle):
    cases = [
        (profile({"names": ["read"], "action": "SCMP_ACT_NOTIFY"}), "not supported"),
        (profile(default="SCMP_ACT_BOGUS"), "unknown action"),
        (profile({"names": ["read"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}), "index"),
        ({"architectures": ARCH}, "defaultAction"),
    ]
    for prof, want in cases:
        bundle.config["linux"]["seccomp"] = prof
        r = rt("run", "--bundle", bundle.args("/bin/true").write(), rt.new_id())
        assert r.returncode != 0 and want in r.stderr, (want, r.stderr)
    assert rt("list", "-q").stdout == ""


def test_unknown_syscalls_are_skipped(rt, bundle):
    bundle.config["linux"]["seccomp"] = profile(
        {"names": ["no_such_syscall_xyz", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"})
    r = rt("run", "--bundle", bundle.sh("mkdir /dev/shm/x 2>/dev/null || echo refused").write(), rt.new_id())
    assert r.returncode == 0 and r.stdout.strip() == "refused"


DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def default_profile(caps):
    import subprocess
    from berthtest import ROOT
    out = subprocess.run([os.path.join(ROOT, "scripts", "gen-seccomp-default.py"), "--oci",
                          os.path.join(ROOT, "data", "seccomp", "default.json"), *caps],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_default_profile_like_docker(rt, bundle):
    caps = bundle.config["process"]["capabilities"]
    caps["bounding"] = caps["effective"] = caps["permitted"] = DOCKER_CAPS
    bundle.config["linux"]["seccomp"] = default_profile(DOCKER_CAPS)
    bundle.config["root"]["readonly"] = False
    script = ("ls / > /dev/null && echo ls-ok; cat /proc/self/status | grep -c Seccomp; "
              "mkdir -p /mnt/x; mount -t tmpfs t /mnt/x 2>/dev/null || echo mount-refused; "
              "linux32 true && echo personality-ok; "
              "unshare -n true 2>/dev/null || echo unshare-refused; "
              "chroot / true && echo chroot-ok")
    r = rt("run", "--bundle", bundle.sh(script).write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    for want in ("ls-ok", "mount-refused", "unshare-refused", "chroot-ok", "personality-ok"):
        assert want in out, (want, r.stdout)


def test_profile_denying_close_range_still_starts(rt, bundle):
    """A user's filter may deny syscalls the runtime makes after loading it (without
    no_new_privs it goes in before the identity switch): close_range answering ENOSYS or EPERM
    must not stop the container, and no runtime fd may leak into it either."""
    for errno_ret in (38, 1):
        deny = {"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno_ret}
        bundle.config["linux"]["seccomp"] = profile(deny)
        for nnp in (False, True):
            bundle.config["process"]["noNewPrivileges"] = nnp
            cid = rt.new_id()
            r = rt("run", "--bundle", bundle.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '").write(),
                   cid)
            assert r.returncode == 0, (errno_ret, nnp, r.stderr)
            # 0-2 and the fd ls itself reads the directory with
            assert r.stdout.split()[:3] == ["0", "1", "2"] and len(r.stdout.split()) <= 4, r.stdout
            cid = rt.new_id()
            assert rt("run", "-d", "--bundle", bundle.sh("sleep 100").write(), cid).returncode == 0
            e = rt("exec", cid, "true")
            assert e.returncode == 0, e.stderr
            rt("delete", "-f", cid)
