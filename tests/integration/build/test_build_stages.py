"""Independent stages of a multi-stage build run at the same time (issue 14): each proof is a
handshake through a shared cache mount that a serial build cannot complete (each RUN gives up
after its own bounded wait), so no timing is asserted."""
import re
import uuid

from conftest import TAG
from test_build import docker_build, make_ctx, no_build_containers, tag

# stage `name` marks itself ready in the shared dir, then waits (at most ~60 s) for `other`
WAIT = ("touch /sync/{me} && i=0 && while [ ! -e /sync/{other} ]; do i=$((i+1)); "
        "[ $i -gt 600 ] && echo gave-up-{me} && exit 7; sleep 0.1; done; echo out-{me} > /{me}; "
        "echo out-{me}")


def handshake_dockerfile(token):
    mount = f"--mount=type=cache,target=/sync,id=stages-{token}"
    return f"""FROM {TAG} AS a
RUN {mount} {WAIT.format(me="a", other="b")}
FROM {TAG} AS b
RUN echo b-first
RUN {mount} {WAIT.format(me="b", other="a")}
FROM {TAG}
COPY --from=a /a /a
COPY --from=b /b /b
CMD ["cat", "/a", "/b"]
"""


def step_blocks(out):
    """{step header: the lines up to the next step} of a classic build's output"""
    blocks, cur = {}, None
    for line in out.splitlines():
        if re.match(r"Step \d+/\d+ : ", line):
            cur = line
            blocks[cur] = []
        elif cur:
            blocks[cur].append(line)
    return blocks


def test_independent_stages_build_concurrently(berthd, tmp_path):
    token = uuid.uuid4().hex[:8]
    ctx = make_ctx(tmp_path, handshake_dockerfile(token))
    t = tag()
    # the docker CLI renders the stream: each step's lines stay together under its header
    r = docker_build(berthd, "-t", t, str(ctx), timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [x for x in r.stdout.splitlines() if x.startswith("gave-up")], r.stdout
    blocks = step_blocks(r.stdout)
    assert len(blocks) == 9, r.stdout
    for header, lines in blocks.items():
        if "touch /sync/a" in header:
            assert "out-a" in lines and "out-b" not in lines, r.stdout
            assert any(x.startswith(" ---> Running in ") for x in lines)
            assert any(x.startswith("Removing intermediate container ") for x in lines)
        if "touch /sync/b" in header:
            assert "out-b" in lines and "out-a" not in lines, r.stdout
        if "RUN echo b-first" in header:
            assert "b-first" in lines, r.stdout
    # the step numbers are the Dockerfile's order whatever order the steps finished in
    assert sorted(int(h.split()[1].split("/")[0]) for h in blocks) == list(range(1, 10))
    out = berthd.docker("run", "--rm", t)
    assert out.stdout == "out-a\nout-b\n", out.stdout + out.stderr
    # cache semantics unchanged: a rebuild takes every step from the cache (no handshake runs)
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" ---> Using cache") == 6, r.stdout
    no_build_containers(berthd)
    berthd.docker("rmi", t)


def test_failing_stage_fails_build_and_cancels_the_others(berthd, tmp_path):
    token = uuid.uuid4().hex[:8]
    mount = f"--mount=type=cache,target=/sync,id=fail-{token}"
    ctx = make_ctx(tmp_path, f"""FROM {TAG} AS slow
RUN {mount} touch /sync/started && sleep 600
FROM {TAG} AS bad
RUN {mount} i=0; while [ ! -e /sync/started ]; do i=$((i+1)); [ $i -gt 600 ] && exit 9; \
sleep 0.1; done; echo failing; exit 3
FROM {TAG}
COPY --from=slow /etc/hostname /x
COPY --from=bad /etc/hostname /y
""")
    t = tag()
    # the sleeping stage is killed when the other fails: the build ends well before it would
    r = docker_build(berthd, "-t", t, str(ctx), timeout=240)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "returned a non-zero code: 3" in r.stderr, r.stderr
    assert "failing" in r.stdout
    assert berthd.docker("image", "inspect", t).returncode != 0
    no_build_containers(berthd)
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 3, r.stdout + r.stderr
    no_build_containers(berthd)


def test_stage_chain_runs_in_order(berthd, tmp_path):
    # dependent stages (FROM <stage>, COPY --from, RUN --mount from=) wait for each other
    ctx = make_ctx(tmp_path, f"""FROM {TAG} AS one
RUN echo 1 > /one
FROM one AS two
RUN cat /one > /two && echo 2 >> /two
FROM {TAG} AS three
RUN --mount=type=bind,from=two,source=/two,target=/m cat /m > /three && echo 3 >> /three
FROM {TAG}
COPY --from=three /three /three
CMD ["cat", "/three"]
""")
    t = tag()
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert berthd.docker("run", "--rm", t).stdout == "1\n2\n3\n"
    berthd.docker("rmi", t)
