"""CVE-2022-27650 (crun), CVE-2022-29162 (runc): inheritable capabilities must stay empty unless
the spec asks, so file capabilities cannot be gained at exec."""


def test_no_inheritable_or_ambient_caps_by_default(rt, bundle):
    caps = bundle.config["process"]["capabilities"]
    caps["bounding"] = caps["effective"] = caps["permitted"] = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"]
    r = rt("run", "--bundle", bundle.sh("grep -E '^Cap(Inh|Amb)' /proc/self/status").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        assert int(line.split()[1], 16) == 0, line


def test_unprivileged_user_has_no_caps(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = rt("run", "--bundle", bundle.sh("grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        assert int(line.split()[1], 16) == 0, line
