"""CVE-2024-21626: a runtime fd leaked into the container let cwd=/proc/self/fd/N land in the
host filesystem. No runtime fd may survive into the container, and a cwd outside the rootfs
must be refused."""


def test_only_stdio_reaches_the_container(rt, bundle):
    r = rt("run", "--bundle", bundle.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '").write(), rt.new_id())
    assert r.returncode == 0, r.stderr
    # 0-2 plus the fd ls itself holds on /proc/self/fd
    assert r.stdout.split() == ["0", "1", "2", "3"]


def test_cwd_through_proc_fd_refused(rt, bundle):
    for n in range(3, 21):
        bundle.config["process"]["cwd"] = f"/proc/self/fd/{n}"
        cid = rt.new_id()
        r = rt("run", "--bundle", bundle.sh("pwd; ls /").write(), cid)
        # either the runtime refuses, or the cwd resolved inside the container
        if r.returncode == 0:
            assert r.stdout.startswith("/"), r.stdout
            assert "etc" in r.stdout and "work" not in r.stdout
        else:
            assert "cwd" in r.stderr or "no such file" in r.stderr or "not a directory" in r.stderr, r.stderr
