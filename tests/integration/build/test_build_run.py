"""RUN with heredocs as buildkit's dockerfile frontend runs them, COPY of heredocs beside files,
and RUN --mount=type=tmpfs (issue 14)."""
from conftest import TAG
from test_build import docker_build, make_ctx, no_build_containers, tag


def test_run_heredocs_like_buildkit(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG}
ARG WHO=world
RUN cat <<EOF > /expanded
hello $WHO
EOF
RUN cat <<"EOF" > /quoted
hello $WHO
EOF
RUN cat <<-EOF > /tabs
\t\tindented
\tEOF
RUN cat <<A > /a && cat <<B > /b
first
A
second
B
RUN sh <<EOF
echo "from stdin $WHO" > /stdin
EOF
RUN <<EOF
#!/bin/sh
echo "script $0" > /shebang
EOF
RUN <<EOF
echo plain > /plain
EOF
""")
    t = tag()
    r = docker_build(berthd, "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    out = berthd.docker("run", "--rm", t, "cat", "/expanded", "/quoted", "/tabs", "/a", "/b",
                        "/stdin", "/shebang", "/plain")
    assert out.stdout == ("hello world\nhello $WHO\nindented\nfirst\nsecond\nfrom stdin world\n"
                          "script /dev/pipes/EOF\nplain\n"), out.stdout + out.stderr
    # the script file was bound for the step only
    assert berthd.docker("run", "--rm", t, "ls", "/dev/pipes").returncode != 0
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" ---> Using cache") == 8, r.stdout
    # a changed script body is a cache miss of its step (and the one after it)
    df = (ctx / "Dockerfile").read_text().replace('echo "script $0"', 'echo "new $0"')
    (ctx / "Dockerfile").write_text(df)
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" ---> Using cache") == 6, r.stdout
    out = berthd.docker("run", "--rm", t, "cat", "/shebang")
    assert out.stdout == "new /dev/pipes/EOF\n"
    no_build_containers(berthd)
    berthd.docker("rmi", t)


def test_run_heredoc_failure_names_the_step(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nRUN sh <<EOF\necho in-heredoc\nexit 4\nEOF\n")
    r = berthd.cli("build", "-t", tag(), str(ctx))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "in-heredoc" in r.stdout
    assert "returned a non-zero code: 4" in r.stderr
    no_build_containers(berthd)


def test_copy_heredocs_beside_files(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG}
ARG WHO=world
COPY --chmod=600 <<EOF f.txt <<"RAW" /dst/
hello $WHO
EOF
raw $WHO
RAW
""", {"f.txt": "from context\n"})
    t = tag()
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    out = berthd.docker("run", "--rm", t, "sh", "-c",
                        "cat /dst/EOF /dst/f.txt /dst/RAW; stat -c %a /dst/EOF /dst/f.txt")
    assert out.stdout == "hello world\nfrom context\nraw $WHO\n600\n600\n", out.stdout
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.stdout.count(" ---> Using cache") == 2, r.stdout
    # the context file changed: a miss
    (ctx / "f.txt").write_text("changed\n")
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.stdout.count(" ---> Using cache") == 1, r.stdout
    assert berthd.docker("run", "--rm", t, "cat", "/dst/f.txt").stdout == "changed\n"
    berthd.docker("rmi", t)
    # several sources need a directory destination
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nCOPY <<EOF f.txt /dst\nx\nEOF\n", {"f.txt": "y\n"})
    r = berthd.cli("build", str(ctx))
    assert r.returncode != 0
    assert "the destination must be a directory and end with a /" in r.stderr, r.stderr


def test_run_tmpfs_mount(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG}
RUN --mount=type=tmpfs,target=/scratch,size=1m grep " /scratch " /proc/mounts > /mounts && \
    echo x > /scratch/f && ! dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null && \
    echo ok > /done
RUN --mount=type=tmpfs,target=/t2 grep " /t2 " /proc/mounts > /mounts2
""")
    t = tag()
    r = docker_build(berthd, "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    out = berthd.docker("run", "--rm", t, "sh", "-c",
                        "cat /done /mounts /mounts2; ls -A /scratch; ls -A /t2")
    lines = out.stdout.splitlines()
    assert lines[0] == "ok", out.stdout
    assert lines[1].split()[:3] == ["tmpfs", "/scratch", "tmpfs"], out.stdout
    # like buildkit's: nosuid, but programs can run from it
    opts = lines[1].split()[3].split(",")
    assert "size=1024k" in opts and "nosuid" in opts, out.stdout
    assert "noexec" not in opts and "nodev" not in opts, out.stdout
    assert lines[2].split()[:3] == ["tmpfs", "/t2", "tmpfs"], out.stdout
    # what the steps wrote in the tmpfs is not in the layers
    assert len(lines) == 3, out.stdout
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.stdout.count(" ---> Using cache") == 2, r.stdout
    berthd.docker("rmi", t)
    for line, want in [("RUN --mount=type=ssh true", "no session"),
                       ("RUN --mount=type=secret,id=x true", "no session"),
                       ("RUN --mount=type=tmpfs,target=/x,size=lots true", "invalid size"),
                       ("RUN --mount=type=cache,target=/x,size=1m true", "type=tmpfs only"),
                       ("RUN --mount=type=tmpfs,target=/x,from=y true", "takes no source")]:
        ctx = make_ctx(tmp_path, f"FROM {TAG}\n{line}\n")
        r = berthd.cli("build", str(ctx))
        assert r.returncode != 0, line
        assert want in r.stderr, (line, r.stderr)
    no_build_containers(berthd)


def test_berth_build_says_what_it_sends_like_docker(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nCOPY blob /blob\n", {"blob": "x" * 3000})
    d = docker_build(berthd, str(ctx))
    assert d.returncode == 0, d.stdout + d.stderr
    b = berthd.cli("build", str(ctx))
    assert b.returncode == 0, b.stdout + b.stderr
    first = d.stdout.splitlines()[0]
    assert first.startswith("Sending build context to Docker daemon  ") and first.endswith("kB")
    # the same line, the same tar size for the same context
    assert b.stdout.splitlines()[:2] == d.stdout.splitlines()[:2], (b.stdout, d.stdout)
    q = berthd.cli("build", "-q", str(ctx))
    assert q.returncode == 0 and "Sending" not in q.stdout, q.stdout
