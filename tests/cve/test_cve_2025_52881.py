"""CVE-2025-52881: shared or bound mounts redirected the runtime's writes to /proc/sys (sysctl)
to another file. Nothing but procfs may sit under /proc, and sysctls are written through an
fd of a procfs-checked /proc/sys without following symlinks or crossing mounts."""
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
