"""CVE-2021-30465: a mount target resolved as a string could be swapped for a symlink to the host
root before mount(2). Targets are resolved with openat2(RESOLVE_IN_ROOT) and mounted through
their fd, so a racing container can at worst redirect a mount inside its own rootfs."""
import os
import subprocess


def host_mounts(mine):
    """The host's mount points, less those other test sessions running at the same time make
    and remove (their daemons' netns pins and rootfs mounts below their own temp dirs)."""
    def others(p):
        return (p.startswith("/tmp/pytest-of-") and not p.startswith(mine)) or \
            p.startswith("/run/netns/") or p.startswith("/run/docker/")
    with open("/proc/self/mountinfo") as f:
        return sorted(p for p in (line.split()[4] for line in f) if not others(p))


def test_symlink_swap_race_never_mounts_on_host(rt, make_bundle, tmp_path):
    vol = tmp_path / "shared-vol"
    vol.mkdir()
    (vol / "target").mkdir()
    mine = str(tmp_path.parent)
    before = host_mounts(mine)
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
    assert host_mounts(mine) == before
    # nothing was mounted over the host root or left in the volume
    assert subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "/"], capture_output=True, text=True).stdout.strip() != "tmpfs"
