"""Dockerfile builds on berthd (issue 14): docker's classic builder protocol driven by the docker
CLI (DOCKER_BUILDKIT=0), the python SDK and `berth build`; the build cache; bad input."""
import io
import json
import os
import tarfile
import uuid

import pytest

from conftest import TAG

MULTI = f"""# two stages, args, env, workdir, copy --from
ARG BASE={TAG}
FROM ${{BASE}} AS gen
WORKDIR /src
COPY files/ ./in/
RUN cat in/*.txt | wc -l > count && ls / > rootlist
FROM ${{BASE}}
ENV GREETING="hello build"
COPY --from=gen /src/count /out/count
COPY . /ctx/
RUN test ! -e /ctx/ignored.key && echo "$GREETING" > /out/greeting
WORKDIR /out
CMD ["sh", "-c", "cat greeting count"]
"""


def make_ctx(tmp_path, dockerfile, files=None):
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


def docker_build(d, *args, **kw):
    env = dict(d.env, DOCKER_BUILDKIT="0")
    return d._run(["docker", "build", *args], env=env, **kw) if False else \
        __import__("subprocess").run(["docker", "build", *args], env=env, capture_output=True,
                                     text=True, timeout=kw.get("timeout", 180))


def tag():
    return f"berth-build/t{uuid.uuid4().hex[:8]}:1"


def no_build_containers(d):
    r = d.docker("ps", "-aq")
    assert r.returncode == 0
    assert r.stdout.split() == [], f"intermediate containers left: {r.stdout}"


def test_multistage_docker_cli_then_berth_cache(berthd, tmp_path):
    files = {f"files/f{i}.txt": f"file {i}\n" for i in range(50)}
    files["ignored.key"] = "secret\n"
    files[".dockerignore"] = "*.key\n"
    ctx = make_ctx(tmp_path, MULTI, files)
    t1, t2, t3 = tag(), tag(), tag()
    r = docker_build(berthd, "-t", t1, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Step 12/12 : CMD" in r.stdout
    assert f"Successfully tagged {t1}" in r.stdout
    out = berthd.docker("run", "--rm", t1)
    assert out.stdout.split() == ["hello", "build", "50"], out.stdout + out.stderr
    # berth build of the same context: every step after each FROM comes from the cache
    r = berthd.cli("build", "-t", t2, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" ---> Using cache") == 9, r.stdout
    ids = {berthd.docker("image", "inspect", "-f", "{{.Id}}", t).stdout for t in (t1, t2)}
    assert len(ids) == 1
    # one changed file: WORKDIR, ENV and the COPY --from of an unchanged file stay cached
    (ctx / "files" / "f1.txt").write_text("file 1 changed\n")
    r = berthd.cli("build", "-t", t3, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" ---> Using cache") == 3, r.stdout
    no_build_containers(berthd)
    # the images of the steps are listed with -a only, like dockerd's intermediate images
    top = berthd.docker("images", "-q", "--no-trunc").stdout.split()
    every = berthd.docker("images", "-aq", "--no-trunc").stdout.split()
    assert len(every) >= len(top) + 9
    parent = berthd.docker("image", "inspect", "-f", "{{.Parent}}", t3).stdout.strip()
    assert parent in every and parent not in top
    berthd.docker("rmi", t1, t2, t3)


def test_sdk_build_config_and_history(berthd, tmp_path):
    df = f"""FROM {TAG}
LABEL org.example.a="one two" b=2
ENV A=1 B="x y"
EXPOSE 8080 53/udp
VOLUME /data
USER 1000:1000
WORKDIR /app
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
"""
    ctx = make_ctx(tmp_path, df)
    client = berthd.sdk()
    t = tag()
    img, logs = client.images.build(path=str(ctx), tag=t, rm=True)
    text = "".join(x.get("stream", "") for x in logs)
    assert "Successfully built" in text
    cfg = img.attrs["Config"]
    assert cfg["Labels"] == {"org.example.a": "one two", "b": "2"}
    assert "A=1" in cfg["Env"] and "B=x y" in cfg["Env"]
    assert set(cfg["ExposedPorts"]) == {"8080/tcp", "53/udp"}
    assert set(cfg["Volumes"]) == {"/data"}
    assert cfg["User"] == "1000:1000"
    assert cfg["WorkingDir"] == "/app"
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert cfg["Healthcheck"]["Interval"] == 5_000_000_000
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"] and cfg["Cmd"] == ["echo hi"]
    # WORKDIR /app made the only layer; every other step is metadata (one history entry each)
    base = client.images.get(TAG)
    assert len(img.attrs["RootFS"]["Layers"]) == len(base.attrs["RootFS"]["Layers"]) + 1
    hist = [h["CreatedBy"] for h in img.history()]
    assert hist[0] == '/bin/sh -c #(nop)  CMD ["echo hi"]', hist
    assert hist[8] == "/bin/sh -c #(nop)  ENV A=1 B=x y", hist
    assert hist[4] == "/bin/sh -c #(nop) WORKDIR /app", hist
    assert hist[7] == "/bin/sh -c #(nop)  EXPOSE 8080 53/udp", hist
    assert hist[9].startswith("/bin/sh -c #(nop)  LABEL "), hist
    client.images.remove(t)


def test_arg_env_scoping(berthd, tmp_path):
    df = f"""ARG V=global
ARG IMG={TAG}
FROM $IMG
ARG V
ARG W=dflt
ARG UNSET
ENV E=${{W}}-env
RUN echo "v=$V w=$W e=$E u=${{UNSET:-none}} x=${{V:+set}}" > /args
ENV W=overridden
RUN echo "w=$W" > /w
"""
    ctx = make_ctx(tmp_path, df)
    t = tag()
    r = berthd.cli("build", "--build-arg", "W=given", "--build-arg", "NOPE=1", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[Warning] One or more build-args [NOPE] were not consumed" in r.stdout
    out = berthd.docker("run", "--rm", t, "cat", "/args", "/w").stdout
    assert out == "v=global w=given e=given-env u=none x=set\nw=overridden\n", out
    # another build arg value is another RUN: no cache for the steps that see it
    r = berthd.cli("build", "--build-arg", "W=other", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Using cache") == 3, r.stdout  # the ARG steps
    out = berthd.docker("run", "--rm", t, "cat", "/args").stdout
    assert "w=other e=other-env" in out
    berthd.docker("rmi", t)


def test_failing_run_names_step_and_code(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nRUN echo before; echo warn >&2\nRUN echo out; exit 3\n")
    t = tag()
    r = docker_build(berthd, "-t", t, str(ctx))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Step 3/3 : RUN echo out; exit 3" in r.stdout
    assert "out" in r.stdout
    # stderr of a step in dockerd's colours, the container removed as dockerd says it
    assert "\x1b[91mwarn\n\x1b[0m" in r.stdout, r.stdout
    assert "Removing intermediate container " in r.stdout
    assert "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3" in r.stderr
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 3
    assert "returned a non-zero code: 3" in r.stderr
    # nothing half-tagged, no container left behind
    assert berthd.docker("image", "inspect", t).returncode != 0
    no_build_containers(berthd)


def test_missing_from_image_fails(berthd, tmp_path):
    ctx = make_ctx(tmp_path, "FROM berth-build/nothing-here:1\n")
    t = tag()
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode != 0
    assert "nothing-here" in r.stderr
    assert berthd.docker("image", "inspect", t).returncode != 0


def test_copy_outside_context_and_missing(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nCOPY ../secret /x\n")
    r = berthd.cli("build", str(ctx))
    assert r.returncode != 0
    assert "forbidden path outside the build context" in r.stderr
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nCOPY nothere /x\n")
    r = berthd.cli("build", str(ctx))
    assert r.returncode != 0
    assert "nothere" in r.stderr and "not found" in r.stderr
    # a symlink in the context pointing out of it is resolved inside the context
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nCOPY link/passwd /x\n")
    os.symlink("/etc", ctx / "link")
    r = berthd.cli("build", str(ctx))
    assert r.returncode != 0, r.stdout
    no_build_containers(berthd)


def test_copy_modes_chown_wildcards_add_tar(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG}
COPY --chown=12:34 --chmod=640 a*.txt /dst/
COPY dir /d2
ADD arch.tar /unpacked/
ADD plain.txt /plain.txt
RUN stat -c '%u:%g %a %n' /dst/* /d2/sub/f /unpacked/in/t /plain.txt > /stat
""", {"a1.txt": "1", "a2.txt": "2", "b.txt": "b", "dir/sub/f": "f", "plain.txt": "p"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"tar content"
        ti = tarfile.TarInfo("in/t")
        ti.size = len(data)
        ti.mode = 0o600
        tf.addfile(ti, io.BytesIO(data))
    (ctx / "arch.tar").write_bytes(buf.getvalue())
    t = tag()
    r = berthd.cli("build", "-q", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().startswith("sha256:")
    out = berthd.docker("run", "--rm", t, "cat", "/stat").stdout.splitlines()
    assert out[0] == "12:34 640 /dst/a1.txt"
    assert out[1] == "12:34 640 /dst/a2.txt"
    assert out[2].startswith("0:0 ") and out[2].endswith("/d2/sub/f")
    assert out[3] == "0:0 600 /unpacked/in/t"
    assert out[4].endswith("/plain.txt")
    berthd.docker("rmi", t)


def test_refused_instructions(berthd, tmp_path):
    for line, want in [("RUN --mount=type=secret,id=x true", "type=secret"),
                       ("RUN --mount=type=bind,target=/m,rw true", "rw"),
                       ("ADD http://127.0.0.1:1/x /x", "URL"),
                       ("FROM --platform=linux/s390x " + TAG, "platform")]:
        df = (line + "\n") if line.startswith("FROM") else f"FROM {TAG}\n{line}\n"
        ctx = make_ctx(tmp_path, df)
        r = berthd.cli("build", str(ctx))
        assert r.returncode != 0, line
        assert want in r.stderr, (line, r.stderr)
    no_build_containers(berthd)


def test_dockerfile_outside_context_iidfile_target(berthd, tmp_path):
    ctx = make_ctx(tmp_path, "unused\n", {"x.txt": "x\n"})
    df = tmp_path / "other.Dockerfile"
    df.write_text(f"FROM {TAG} AS one\nCOPY x.txt /x\nFROM one AS two\nRUN false\n")
    iid = tmp_path / "iid"
    t = tag()
    r = berthd.cli("build", "-f", str(df), "--target", "one", "--iidfile", str(iid), "-t", t,
                   str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RUN false" not in r.stdout
    got = berthd.docker("image", "inspect", "-f", "{{.Id}}", t).stdout.strip()
    assert iid.read_text().strip() == got
    r = berthd.cli("build", "--target", "nope", "-f", str(df), str(ctx))
    assert r.returncode != 0 and "failed to reach build target nope" in r.stderr
    berthd.docker("rmi", t)


def test_context_from_stdin_and_no_cache(berthd, tmp_path):
    t = tag()
    df = f"FROM {TAG}\nRUN echo stdin > /s\n"
    r = berthd.cli("build", "-t", t, "-", input=df)
    assert r.returncode == 0, r.stdout + r.stderr
    r = berthd.cli("build", "--no-cache", "-t", t, "-", input=df)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Using cache" not in r.stdout
    assert berthd.docker("run", "--rm", t, "cat", "/s").stdout == "stdin\n"
    berthd.docker("rmi", t)


def test_cache_survives_restart(berthd_factory, tmp_path):
    d = berthd_factory()
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nENV A=1\nRUN echo a > /a\n", {"f": "x"})
    t = tag()
    r = d.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    d.restart()
    r = d.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Using cache") == 2, r.stdout
    # system df counts the cached steps, builder prune forgets them
    df = d.sdk().df()
    assert len(df["BuildCache"]) == 2, df["BuildCache"]
    r = d.docker("builder", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert d.sdk().df()["BuildCache"] == []
    r = d.cli("build", "-t", t, str(ctx))
    assert r.stdout.count("Using cache") == 0, r.stdout


def test_client_disconnect_removes_the_step_container(berthd, tmp_path):
    import socket
    import time
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = f"FROM {TAG}\nRUN echo started; sleep 60\n".encode()
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    body = buf.getvalue()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(berthd.sock)
    s.sendall(b"POST /v1.43/build?t=berth-build/gone:1 HTTP/1.1\r\nHost: berth\r\n"
              b"Content-Type: application/x-tar\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    got = b""
    end = time.time() + 60
    while b'{"stream":"started' not in got and time.time() < end:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    assert b'{"stream":"started' in got, got
    assert berthd.docker("ps", "-q").stdout.strip() != ""
    s.close()
    # the step's container is killed and removed, nothing is tagged
    end = time.time() + 30
    while time.time() < end and berthd.docker("ps", "-aq").stdout.strip():
        time.sleep(0.2)
    no_build_containers(berthd)
    assert berthd.docker("image", "inspect", "berth-build/gone:1").returncode != 0


def test_json_form_copy_expands_and_parser_warnings(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG}
ARG SRC=a.txt
COPY ["$SRC", "/d/"]
RUN echo one \\

    && cat /d/a.txt > /out
""", {"a.txt": "A\n"})
    t = tag()
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[WARNING]: Empty continuation line found in:" in r.stdout
    assert berthd.docker("run", "--rm", t, "cat", "/out").stdout == "A\n"
    berthd.docker("rmi", t)


def test_onbuild_triggers_run_in_child_build(berthd, tmp_path):
    parent = tag()
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nONBUILD COPY app.txt /app/\nONBUILD RUN echo built > /app/by-trigger\n",
                   {"app.txt": "x"})
    r = berthd.cli("build", "-t", parent, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    onbuild = berthd.docker("image", "inspect", "-f", "{{json .Config.OnBuild}}", parent).stdout
    assert json.loads(onbuild) == ["COPY app.txt /app/", "RUN echo built > /app/by-trigger"]
    child = tag()
    ctx = make_ctx(tmp_path, f"FROM {parent}\nCMD cat /app/app.txt /app/by-trigger\n", {"app.txt": "child\n"})
    r = berthd.cli("build", "-t", child, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# Executing 2 build triggers" in r.stdout
    assert berthd.docker("run", "--rm", child).stdout == "child\nbuilt\n"
    assert berthd.docker("image", "inspect", "-f", "{{json .Config.OnBuild}}", child).stdout.strip() in ("null", "[]")
    berthd.docker("rmi", child, parent)


def test_docker_compose_build(berthd, tmp_path):
    import shutil
    import subprocess
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose is not installed (scripts/install-deps.sh installs it)")
    proj = tmp_path / "proj"
    (proj / "web").mkdir(parents=True)
    (proj / "web" / "Dockerfile").write_text(f"FROM {TAG}\nARG MSG\nRUN echo $MSG > /msg\n")
    name = f"bb{uuid.uuid4().hex[:6]}"
    (proj / "docker-compose.yml").write_text(
        "version: '3'\nservices:\n  web:\n    build:\n      context: ./web\n"
        f"      args:\n        MSG: from-compose\n    image: berth-build/{name}:1\n")
    env = dict(berthd.env, DOCKER_BUILDKIT="0", COMPOSE_DOCKER_CLI_BUILD="0")
    r = subprocess.run(["docker-compose", "-p", name, "build"], cwd=proj, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = berthd.docker("run", "--rm", f"berth-build/{name}:1", "cat", "/msg").stdout
    assert out == "from-compose\n"
    berthd.docker("rmi", f"berth-build/{name}:1")


def test_run_cache_mount_persists_across_builds(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG}
RUN --mount=type=cache,target=/cache,id=berth-test-{uuid.uuid4().hex[:6]} \
    echo run >> /cache/log && wc -l < /cache/log > /count
""")
    t = tag()
    for want in ("1", "2"):
        r = berthd.cli("build", "--no-cache", "-t", t, str(ctx))
        assert r.returncode == 0, r.stdout + r.stderr
        out = berthd.docker("run", "--rm", t, "sh", "-c", "cat /count; ls /cache | wc -l")
        assert out.stdout.split() == [want, "0"], out.stdout
    berthd.docker("rmi", t)



def test_heredocs_run_and_copy(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG}
ARG WHO=world
COPY <<EOF /greet.txt
hello $WHO "quoted"
EOF
COPY <<"RAW" /raw.txt
hello $WHO
RAW
RUN <<EOF
echo from-heredoc > /run.txt
EOF
""")
    t = tag()
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    out = berthd.docker("run", "--rm", t, "cat", "/greet.txt", "/raw.txt", "/run.txt").stdout
    assert out == 'hello world "quoted"\nhello $WHO\nfrom-heredoc\n', out
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.stdout.count("Using cache") == 4, r.stdout
    berthd.docker("rmi", t)


def test_built_image_pushed_and_read_by_skopeo(berthd, tmp_path):
    import subprocess
    from conftest import Registry
    reg = Registry(str(tmp_path), "buildreg")
    try:
        ctx = make_ctx(tmp_path, f"FROM {TAG}\nENV K=v\nCOPY f /f\nRUN cat /f > /g\n",
                       {"f": "pushed\n"})
        ref = f"{reg.host}/built:1"
        r = berthd.cli("build", "-t", ref, str(ctx))
        assert r.returncode == 0, r.stdout + r.stderr
        r = berthd.docker("push", ref)
        assert r.returncode == 0, r.stdout + r.stderr
        cfg = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--config",
                              f"docker://{ref}"], capture_output=True, text=True, timeout=120)
        assert cfg.returncode == 0, cfg.stderr
        cfg = json.loads(cfg.stdout)
        assert "K=v" in cfg["config"]["Env"]
        made_by = [h.get("created_by", "") for h in cfg["history"]]
        assert made_by[-1] == "/bin/sh -c cat /f > /g", made_by
        assert made_by[-3] == "/bin/sh -c #(nop)  ENV K=v", made_by
        # pulled back into a fresh store by skopeo: the files of the steps are there
        out = tmp_path / "oci"
        r = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}",
                            f"dir:{out}"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        man = json.loads((out / "manifest.json").read_text())
        top = man["layers"][-1]["digest"].split(":")[1]
        with tarfile.open(out / top) as tf:
            assert tf.extractfile("g").read() == b"pushed\n"
        berthd.docker("rmi", ref)
    finally:
        reg.stop()


def test_berth_build_on_a_terminal_shows_step_times(berthd, tmp_path):
    import shlex
    from conftest import _engine
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nRUN true\n")
    cmd = shlex.join([_engine.BERTH_CLI, "-H", f"unix://{berthd.sock}", "build", str(ctx)])
    r = berthd._run(["script", "-qec", cmd, "/dev/null"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" ---> step done in ") == 2, r.stdout
    # not on a terminal, or with --progress=plain: docker's classic lines only
    r = berthd.cli("build", "--progress=plain", str(ctx))
    assert r.returncode == 0 and "step done" not in r.stdout


def test_stages_the_target_does_not_need_are_skipped(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG} AS unused
RUN false
FROM {TAG} AS dep
RUN echo d > /d
FROM {TAG}
COPY --from=dep /d /d
""")
    t = tag()
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RUN false" not in r.stdout
    assert "Step 1/4 : FROM" in r.stdout and "Step 4/4 : COPY --from=dep /d /d" in r.stdout
    assert berthd.docker("run", "--rm", t, "cat", "/d").stdout == "d\n"
    berthd.docker("rmi", t)


def test_cache_from_a_local_image(berthd_factory, tmp_path):
    d = berthd_factory()
    ctx = make_ctx(tmp_path, f"FROM {TAG}\nENV A=1\nWORKDIR /w\nCOPY f /w/f\nRUN cat f > g\n",
                   {"f": "x"})
    t = tag()
    r = d.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    want = d.docker("image", "inspect", "-f", "{{.Id}}", t).stdout
    assert d.docker("builder", "prune", "-f").returncode == 0
    r = d.cli("build", "--cache-from", t, "-t", t + "b", str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Using cache") == 4, r.stdout
    assert d.docker("image", "inspect", "-f", "{{.Id}}", t + "b").stdout == want
    # a changed file: the steps before it still come from the image, not those after
    (ctx / "f").write_text("y")
    assert d.docker("builder", "prune", "-f").returncode == 0
    r = d.cli("build", "--cache-from", t, str(ctx))
    assert r.returncode == 0 and r.stdout.count("Using cache") == 2, r.stdout


def test_sdk_custom_gzip_context_without_dir_entries(berthd, tmp_path):
    import gzip
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in [("Dockerfile", f"FROM {TAG}\nCOPY sub/ /s/\nCOPY dup /dup\n".encode()),
                           ("sub/deep/a", b"a\n"), ("dup", b"first\n"), ("dup", b"second\n")]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    client = berthd.sdk()
    t = tag()
    logs = list(client.api.build(fileobj=io.BytesIO(gzip.compress(buf.getvalue())),
                                 custom_context=True, encoding="gzip", tag=t, decode=True))
    assert any("Successfully tagged" in x.get("stream", "") for x in logs), logs
    out = berthd.docker("run", "--rm", t, "cat", "/s/deep/a", "/dup").stdout
    assert out == "a\nsecond\n", out
    # the same context again: every step from the cache
    logs = list(client.api.build(fileobj=io.BytesIO(gzip.compress(buf.getvalue())),
                                 custom_context=True, encoding="gzip", tag=t, decode=True))
    assert sum("Using cache" in x.get("stream", "") for x in logs) == 2, logs
    client.images.remove(t)


def test_from_pulls_with_x_registry_config(berthd, tmp_path):
    import base64
    import socket
    from conftest import Registry, bcrypt_hash
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"builder:{bcrypt_hash('s3cret')}\n")
    reg = Registry(str(tmp_path), "authreg",
                   f"auth:\n  htpasswd:\n    realm: berth-test\n    path: {htpasswd}\n")
    try:
        ref = f"{reg.host}/base:1"
        client = berthd.sdk()
        client.images.get(TAG).tag(ref)
        client.images.push(ref, auth_config={"username": "builder", "password": "s3cret"})
        client.images.remove(ref)
        df = f"FROM {ref}\nRUN true\n".encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("Dockerfile")
            ti.size = len(df)
            tf.addfile(ti, io.BytesIO(df))
        body = buf.getvalue()

        def build(cfg):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(berthd.sock)
            hdr = f"X-Registry-Config: {cfg}\r\n" if cfg else ""
            s.sendall(b"POST /v1.43/build HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n"
                      + f"Content-Type: application/x-tar\r\n{hdr}"
                        f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            s.close()
            return out.decode(errors="replace")

        out = build(None)
        assert "errorDetail" in out, out
        cfg = base64.urlsafe_b64encode(json.dumps(
            {reg.host: {"username": "builder", "password": "s3cret"}}).encode()).decode()
        out = build(cfg)
        assert "Successfully built" in out, out
        client.images.remove(ref)
    finally:
        reg.stop()


def test_run_bind_mounts_from_stage_and_context(berthd, tmp_path):
    ctx = make_ctx(tmp_path, f"""FROM {TAG} AS gen
RUN mkdir /out && echo from-stage > /out/f
FROM {TAG}
RUN --mount=type=bind,from=gen,source=/out,target=/m cat /m/f > /copied
RUN --mount=target=/ctx cat /ctx/data.txt > /fromctx && ! test -e /ctx/secret.key
""", {"data.txt": "ctx-data\n", "secret.key": "k", ".dockerignore": "*.key\n"})
    t = tag()
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    out = berthd.docker("run", "--rm", t, "sh", "-c",
                        "cat /copied /fromctx; find /m /ctx -mindepth 1 | wc -l")
    assert out.stdout == "from-stage\nctx-data\n0\n", out.stdout
    # the context's content is part of the key: a change re-runs the step
    (ctx / "data.txt").write_text("changed\n")
    r = berthd.cli("build", "-t", t, str(ctx))
    assert r.returncode == 0 and r.stdout.count("Using cache") == 2, r.stdout
    assert berthd.docker("run", "--rm", t, "cat", "/fromctx").stdout == "changed\n"
    # a symlink in the context cannot take the mount out of it
    os.symlink("/etc", ctx / "link")
    ctx2 = make_ctx(tmp_path, f"FROM {TAG}\nRUN --mount=source=link/passwd,target=/p cat /p\n")
    os.symlink("/etc", ctx2 / "link")
    r = berthd.cli("build", str(ctx2))
    assert r.returncode != 0, r.stdout
    berthd.docker("rmi", t)
    no_build_containers(berthd)
