"""CVE-2025-52881: shared or bound mounts redirected the runtime's writes to /proc/sys (sysctl)
to another file. Nothing but procfs may sit under /proc, and sysctls are written through an
fd of a procfs-checked /proc/sys without following symlinks or crossing mounts."""
import json
import os


def test_file_bound_over_a_sysctl_is_refused(rt, bundle, tmp_path):
    decoy = tmp_path / "decoy"
    decoy.write_text("untouched\n")
    bundle.config["mounts"].append({"destination": "/proc/sys/net/ipv4/ip_forward", "type": "bind",
                                    "source": str(decoy), "options": ["bind"]})
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    r = rt("run", "--bundle", bundle.args("/bin/true").write(), rt.new_id())
    assert r.returncode != 0 and "only procfs" in r.stderr, r.stderr
    assert decoy.read_text() == "untouched\n"
    assert rt("list", "-q").stdout == ""


def test_procfs_bind_under_proc_still_allowed(rt, bundle):
    # binding a procfs file (as engines do for /proc/cpuinfo-like overrides) stays possible
    bundle.config["mounts"].append({"destination": "/proc/uptime", "type": "bind",
                                    "source": "/proc/loadavg", "options": ["bind", "ro"]})
    r = rt("run", "--bundle", bundle.sh("cat /proc/uptime").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) == 5  # loadavg's five fields


def test_sysctl_names_cannot_escape_proc_sys(rt, bundle):
    for name in ("../../proc/sysrq-trigger", "net/../../../etc/passwd", "kernel./../x"):
        bundle.config["linux"]["sysctl"] = {name: "1"}
        r = rt("run", "--bundle", bundle.args("/bin/true").write(), rt.new_id())
        assert r.returncode != 0, name


def test_sysctl_write_racing_a_bind_over_its_target(rt, make_bundle, tmp_path):
    """A privileged container sharing its mount namespace keeps binding a decoy over the
    sysctl's file while another container (joining that namespace) writes the sysctl 100 times:
    each write lands in procfs or fails, the decoy never changes."""
    racer, writer = make_bundle(), make_bundle()
    racer.config["process"]["capabilities"] = None  # CAP_SYS_ADMIN: it may mount
    racer.config["root"]["readonly"] = False
    racer.config["linux"]["readonlyPaths"] = []  # /proc/sys writable in the shared namespace
    racer.sh("echo untouched > /decoy; while :; do mount --bind /decoy /proc/sys/kernel/domainname "
             "2>/dev/null; umount /proc/sys/kernel/domainname 2>/dev/null; done")
    rid = rt.new_id("racer")
    assert rt("run", "-d", "--bundle", racer.write(), rid).returncode == 0
    pid = json.loads(rt("state", rid).stdout)["pid"]
    for t, n in (("mount", "mnt"), ("uts", "uts")):
        writer.add_ns(t, f"/proc/{pid}/ns/{n}")
    writer.config["linux"]["sysctl"] = {"kernel.domainname": "berth-race"}
    b = writer.args("/bin/true").write()
    ok = 0
    for _ in range(100):
        if rt("run", "--bundle", b, rt.new_id("writer")).returncode == 0:
            ok += 1
    decoy = os.path.join(racer.config["root"]["path"], "decoy")
    assert open(decoy).read() == "untouched\n"
    assert rt("delete", "-f", rid).returncode == 0
    os.unlink(decoy)
    assert ok > 0, "no write ever reached procfs"
