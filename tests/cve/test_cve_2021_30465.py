"""CVE-2021-30465: a mount target resolved as a string could be swapped for a symlink to the host
root before mount(2). Targets are resolved with openat2(RESOLVE_IN_ROOT) and mounted through
their fd, so a racing container can at worst redirect a mount inside its own rootfs."""
import os
import subprocess


def host_mounts():
    """(mount point, fs type, super options) of every mount of the host's namespace."""
    with open("/proc/self/mountinfo") as f:
        out = []
        for line in f:
            left, right = line.split(" - ", 1)
            fstype, _, sopts = right.split()[:3]
            out.append((left.split()[4], fstype, sopts))
        return out


def escaped(before, after, tmp_path):
    """Mounts the victim could have put on the host: its 1 MiB tmpfs anywhere, or anything new
    at / or in the shared volume. Other test sessions running beside this one mount and unmount
    their own things meanwhile; those are none of these."""
    new = [m for m in after if m not in before]
    return [m for m in new if (m[1] == "tmpfs" and "size=1024k" in m[2]) or m[0] == "/" or
            m[0].startswith(str(tmp_path))]


def test_symlink_swap_race_never_mounts_on_host(rt, make_bundle, tmp_path):
    vol = tmp_path / "shared-vol"
    vol.mkdir()
    (vol / "target").mkdir()
    before = host_mounts()
    racer, victim = make_bundle(), make_bundle()
    racer.config["mounts"].append({"destination": "/vol", "type": "bind", "source": str(vol), "options": ["bind"]})
    racer.config["root"]["readonly"] = False
    racer.sh("cd /vol; while :; do rmdir target 2>/dev/null; ln -sfn / target; rm -f target; mkdir target; done")
    rid = rt.new_id("racer")
    assert rt("run", "-d", "--bundle", racer.write(), rid).returncode == 0
    victim.config["mounts"] += [
        {"destination": "/vol", "type": "bind", "source": str(vol), "options": ["bind"]},
        {"destination": "/vol/target", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
    ]
    victim.resources().clear()
    b = victim.args("/bin/true").write()
    for i in range(int(os.environ.get("BERTH_RACE_RUNS", "200"))):
        rt("run", "--bundle", b, rt.new_id("victim"))
    assert rt("delete", "-f", rid).returncode == 0
    assert not escaped(before, host_mounts(), tmp_path)
    # nothing was mounted over the host root or left in the volume
    assert subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "/"], capture_output=True, text=True).stdout.strip() != "tmpfs"
