"""docker import (POST /images/create?fromSrc=…) and docker commit (POST /commit) through the
docker CLI and the python SDK: tars from stdin, a file and a loopback HTTP URL, --change
instructions, commits of created/modified/deleted files, bad input refused with nothing stored."""
import gzip
import http.server
import io
import json
import lzma
import os
import subprocess
import tarfile
import threading
import time

import pytest

from berthtest import TAG


def _rootfs_tar(extra=None):
    """A minimal rootfs: a static busybox with sh/cat/ls links, /etc/hello, /tmp."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "etc", "tmp"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755 if d != "tmp" else 0o1777
            t.addfile(ti)
        t.add("/bin/busybox", arcname="bin/busybox")
        for name in ("sh", "cat", "ls", "echo", "env", "test"):
            ti = tarfile.TarInfo(f"bin/{name}")
            ti.type = tarfile.SYMTYPE
            ti.linkname = "busybox"
            t.addfile(ti)
        files = {"etc/hello": b"hello from import\n"}
        files.update(extra or {})
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _inspect(berthd, ref):
    r = berthd.docker("image", "inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def _import(berthd, *args, data):
    """docker import with data on stdin; stdout/stderr decoded"""
    r = berthd.docker("import", *args, input=data)
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    return r


def _images_count(berthd):
    r = berthd.docker("images", "-aq", "--no-trunc")
    assert r.returncode == 0, r.stderr
    return len(set(r.stdout.split()))


def _rmi(berthd, *refs):
    berthd.docker("rmi", "-f", *refs)


def test_import_stdin_and_run(berthd):
    ref = "imp/stdin:1"
    r = _import(berthd, "-", ref, data=_rootfs_tar())
    assert r.returncode == 0, (r.stderr, berthd.log())
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:")
    try:
        info = _inspect(berthd, ref)
        assert info["Id"] == image_id
        assert info["Os"] == "linux" and info["Architecture"] == "amd64"
        assert len(info["RootFS"]["Layers"]) == 1
        h = json.loads(berthd.docker("history", "--no-trunc", "--format", "{{json .}}",
                                     ref).stdout.splitlines()[0])
        assert h["Comment"] == "Imported from -"
        out = berthd.docker("run", "--rm", ref, "cat", "/etc/hello")
        assert out.returncode == 0, out.stderr
        assert out.stdout == "hello from import\n"
    finally:
        _rmi(berthd, ref)


@pytest.mark.parametrize("comp", ["gzip", "xz", "zstd"])
def test_import_file_compressed_with_changes(berthd, tmp_path, comp):
    raw = _rootfs_tar()
    path = tmp_path / f"rootfs.tar.{comp}"
    if comp == "gzip":
        path.write_bytes(gzip.compress(raw))
    elif comp == "xz":
        path.write_bytes(lzma.compress(raw))
    else:
        plain = tmp_path / "rootfs.tar"
        plain.write_bytes(raw)
        subprocess.run(["zstd", "-q", "-f", str(plain), "-o", str(path)], check=True)
    ref = f"imp/file-{comp}:v1"
    r = berthd.docker("import", "--change", 'CMD ["/bin/sh", "-c", "echo $A-$B"]',
                      "--change", "ENV A=b", "-c", "ENV B=c", "-c", "WORKDIR /etc",
                      "-c", "EXPOSE 8080/udp", "-c", "LABEL k=v", "-m", "my message",
                      str(path), ref)
    assert r.returncode == 0, (r.stderr, berthd.log())
    try:
        cfg = _inspect(berthd, ref)["Config"]
        assert cfg["Cmd"] == ["/bin/sh", "-c", "echo $A-$B"]
        assert "A=b" in cfg["Env"] and "B=c" in cfg["Env"]
        assert cfg["WorkingDir"] == "/etc"
        assert "8080/udp" in cfg["ExposedPorts"]
        assert cfg["Labels"] == {"k": "v"}
        hist = berthd.sdk().images.get(ref).history()
        assert hist[0]["Comment"] == "my message"
        out = berthd.docker("run", "--rm", ref)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "b-c\n"
        out = berthd.docker("run", "--rm", ref, "cat", "hello")
        assert out.stdout == "hello from import\n"
    finally:
        _rmi(berthd, ref)


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self):  # noqa: N802
        if self.path != "/rootfs.tar":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *a):
        pass


@pytest.fixture
def http_server():
    _Handler.payload = gzip.compress(_rootfs_tar({"etc/from-url": b"url\n"}))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_import_url_sdk_and_cli(berthd, http_server):
    client = berthd.sdk()
    url = f"{http_server}/rootfs.tar"
    client.api.import_image_from_url(url, repository="imp/url", tag="sdk",
                                     changes=["ENTRYPOINT [\"/bin/cat\"]"])
    try:
        img = client.images.get("imp/url:sdk")
        assert img.attrs["Config"]["Entrypoint"] == ["/bin/cat"]
        assert img.history()[0]["Comment"] == f"Imported from {url}"
        out = client.containers.run("imp/url:sdk", ["/etc/from-url"], remove=True)
        assert out == b"url\n"
        r = berthd.docker("import", url, "imp/url:cli")
        assert r.returncode == 0, r.stderr
        assert berthd.docker("run", "--rm", "imp/url:cli", "cat",
                             "/etc/from-url").stdout == "url\n"
        # a missing file on the server: a clear error, nothing stored
        before = _images_count(berthd)
        r = berthd.docker("import", f"{http_server}/nope.tar", "imp/url:missing")
        assert r.returncode != 0 and "404" in r.stderr
        assert _images_count(berthd) == before
    finally:
        _rmi(berthd, "imp/url:sdk", "imp/url:cli")


def test_import_bad_input(berthd, tmp_path):
    before = _images_count(berthd)
    blobs = os.path.join(berthd.data_root, "images", "blobs", "sha256")
    nblobs = len(os.listdir(blobs)) if os.path.isdir(blobs) else None
    # a corrupt gzip stream
    bad = gzip.compress(_rootfs_tar())[:300] + b"\0garbage" * 64
    r = _import(berthd, "-", "imp/bad:1", data=bad)
    assert r.returncode != 0
    assert "Error response from daemon" in r.stderr, r.stderr
    # not a tar at all
    r = _import(berthd, "-", "imp/bad:2", data=b"this is not a tar\n" * 100)
    assert r.returncode != 0 and r.stderr
    # a change docker refuses, and one it does not know
    r = _import(berthd, "-c", "RUN echo hi", "-", "imp/bad:3", data=_rootfs_tar())
    assert r.returncode != 0 and "run is not a valid change command" in r.stderr, r.stderr
    r = _import(berthd, "-c", "FOO bar", "-", "imp/bad:4", data=_rootfs_tar())
    assert r.returncode != 0 and "unknown instruction: FOO" in r.stderr, r.stderr
    # an escaping tar entry stays inside
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as t:
        ti = tarfile.TarInfo("../../../../tmp/berth-import-escape")
        ti.size = 1
        t.addfile(ti, io.BytesIO(b"x"))
    r = _import(berthd, "-", "imp/bad:5", data=evil.getvalue())
    assert r.returncode != 0
    assert not os.path.exists("/tmp/berth-import-escape")
    assert _images_count(berthd) == before
    if nblobs is not None:
        assert len(os.listdir(blobs)) == nblobs
    assert berthd.docker("version").returncode == 0
    for t in range(1, 6):
        assert berthd.docker("image", "inspect", f"imp/bad:{t}").returncode != 0


def test_commit_created_modified_deleted(berthd):
    name = berthd.name("commit")
    r = berthd.docker("run", "-d", "--name", name, TAG, "sh", "-c",
                      "echo new > /new-file && mkdir -p /d/e && echo deep > /d/e/f && "
                      "echo changed > /etc/hostname.copy && rm -f /bin/vi && "
                      "rm -rf /root && "
                      "echo ok > /tmp/ready && sleep 1000")
    assert r.returncode == 0, r.stderr
    ref = "commit/files:1"
    try:
        for _ in range(100):
            if berthd.docker("exec", name, "test", "-f", "/tmp/ready").returncode == 0:
                break
        assert berthd.docker("exec", name, "test", "-e", "/bin/vi").returncode != 0
        r = berthd.docker("commit", "-a", "tester", "-m", "three kinds", name, ref)
        assert r.returncode == 0, (r.stderr, berthd.log())
        # paused for the diff, running again after
        st = berthd.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip()
        assert st == "running"
        info = _inspect(berthd, ref)
        base = _inspect(berthd, TAG)
        assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
        assert len(info["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
        assert info["Author"] == "tester" and info["Comment"] == "three kinds"
        assert info["Parent"] == base["Id"] or info.get("Parent", "") in ("", base["Id"])
        script = ("cat /new-file /d/e/f /etc/hostname.copy && "
                  "test ! -e /bin/vi && test ! -e /root && echo gone")
        out = berthd.docker("run", "--rm", ref, "sh", "-c", script)
        assert out.returncode == 0, (out.stdout, out.stderr)
        assert out.stdout == "new\ndeep\nchanged\ngone\n"
        # the Cmd of the container became the image's
        assert info["Config"]["Cmd"][0] == "sh"
        hist = berthd.sdk().images.get(ref).history()
        assert hist[0]["Comment"] == "three kinds"
        # a dir replaced in the container (an overlay opaque dir) hides what the layer below had
        r = berthd.docker("run", "--name", name + "-2", ref, "sh", "-c",
                          "rm -rf /d && mkdir /d && echo only > /d/x")
        assert r.returncode == 0, r.stderr
        r = berthd.docker("commit", name + "-2", ref + "-opq")
        assert r.returncode == 0, r.stderr
        out = berthd.docker("run", "--rm", ref + "-opq", "ls", "-A", "/d")
        assert out.stdout == "x\n", out
    finally:
        berthd.docker("rm", "-f", name, name + "-2")
        _rmi(berthd, ref, ref + "-opq")


def test_commit_with_changes_sdk_and_save(berthd, tmp_path):
    client = berthd.sdk()
    c = client.containers.create(TAG, ["sh", "-c", "echo x > /made"], name=berthd.name("c"))
    ref = "commit/changes"
    try:
        c.start()
        c.wait(timeout=30)
        img = c.commit(repository=ref, tag="2",
                       changes=['CMD ["cat", "/made"]', "ENV HELLO=world",
                                "USER 0", "STOPSIGNAL SIGINT", "VOLUME /data"],
                       message="via sdk", author="sdk")
        cfg = img.attrs["Config"]
        assert cfg["Cmd"] == ["cat", "/made"]
        assert "HELLO=world" in cfg["Env"]
        assert cfg["StopSignal"] == "SIGINT" and "/data" in cfg["Volumes"]
        assert client.containers.run(f"{ref}:2", remove=True) == b"x\n"
        # a bad change: 400, nothing new
        before = _images_count(berthd)
        r = berthd.docker("commit", "-c", "COPY a b", c.id, f"{ref}:bad")
        assert r.returncode != 0 and "copy is not a valid change command" in r.stderr
        assert _images_count(berthd) == before
        # docker save of the committed image, loaded back by skopeo's reading of it
        tar = tmp_path / "saved.tar"
        r = berthd.docker("save", "-o", str(tar), f"{ref}:2")
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["skopeo", "inspect", "--config", f"docker-archive:{tar}"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["config"]["Cmd"] == ["cat", "/made"]
        # and loaded back into berth after removal
        _rmi(berthd, f"{ref}:2")
        r = berthd.docker("load", "-i", str(tar))
        assert r.returncode == 0, r.stderr
        assert berthd.docker("run", "--rm", f"{ref}:2").stdout == "x\n"
    finally:
        c.remove(force=True)
        _rmi(berthd, f"{ref}:2")


def test_commit_unknown_container(berthd):
    r = berthd.docker("commit", "no-such-container-xyz", "commit/none:1")
    assert r.returncode != 0 and "no-such-container-xyz" in r.stderr


def test_berth_cli_import_and_commit(berthd, tmp_path):
    """`berth import` (file and stdin) and `berth commit` with docker's flags."""
    path = tmp_path / "rootfs.tar"
    path.write_bytes(_rootfs_tar())
    r = berthd.cli("import", "-c", "ENV FROM_CLI=1", "-c", 'CMD ["env"]', "-m", "cli msg",
                   str(path), "cli/imp:1")
    assert r.returncode == 0, (r.stderr, berthd.log())
    assert r.stdout.strip().startswith("sha256:")
    name = berthd.name("clicommit")
    try:
        out = berthd.docker("run", "--rm", "cli/imp:1")
        assert "FROM_CLI=1" in out.stdout, out
        hist = berthd.sdk().images.get("cli/imp:1").history()
        assert hist[0]["Comment"] == "cli msg"
        r = berthd.cli("import", "-", "cli/imp:2", input=_rootfs_tar())
        assert r.returncode == 0, r.stderr
        assert _inspect(berthd, "cli/imp:2")["Id"] == r.stdout.decode().strip()
        r = berthd.cli("import", "-c", "HEALTHCHECK NONE", str(path), "cli/imp:3")
        assert r.returncode != 0 and "healthcheck is not a valid change command" in r.stderr
        r = berthd.docker("run", "--name", name, "cli/imp:1", "sh", "-c", "echo c > /etc/c")
        assert r.returncode == 0, r.stderr
        r = berthd.cli("commit", "-a", "me", "-m", "from cli", "-c", "USER nobody",
                       "--pause=false", name, "cli/commit:1")
        assert r.returncode == 0, r.stderr
        info = _inspect(berthd, "cli/commit:1")
        assert info["Id"] == r.stdout.strip()
        assert info["Author"] == "me" and info["Config"]["User"] == "nobody"
        out = berthd.docker("run", "--rm", "-u", "0", "cli/commit:1", "cat", "/etc/c")
        assert out.stdout == "c\n", out
        r = berthd.cli("commit", "no-such-container-xyz")
        assert r.returncode != 0 and "no-such-container-xyz" in r.stderr
    finally:
        berthd.docker("rm", "-f", name)
        _rmi(berthd, "cli/imp:1", "cli/imp:2", "cli/commit:1")


def test_commit_pauses_running_container(berthd):
    """docker's default: the container is paused during the diff (pause/unpause events), and
    not with pause=false."""
    name = berthd.name("pause")
    r = berthd.docker("run", "-d", "--name", name, TAG, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    try:
        t0 = int(time.time()) - 1
        assert berthd.docker("commit", name, "commit/paused:1").returncode == 0
        assert berthd.docker("commit", "--pause=false", name, "commit/paused:2").returncode == 0
        t1 = int(time.time()) + 1
        ev = berthd.docker("events", "--since", str(t0), "--until", str(t1), "--filter",
                           f"container={name}", "--format", "{{.Action}}")
        actions = ev.stdout.split()
        assert actions.count("pause") == 1 and actions.count("unpause") == 1, actions
        assert actions.count("commit") == 2, actions
        assert actions.index("pause") < actions.index("commit") < actions.index("unpause")
    finally:
        berthd.docker("rm", "-f", name)
        _rmi(berthd, "commit/paused:1", "commit/paused:2")


def test_import_platform(berthd):
    r = _import(berthd, "--platform", "linux/arm64/v8", "-", "imp/arm:1", data=_rootfs_tar())
    assert r.returncode == 0, r.stderr
    try:
        info = _inspect(berthd, "imp/arm:1")
        assert info["Architecture"] == "arm64" and info["Os"] == "linux"
        assert info.get("Variant") == "v8"
    finally:
        _rmi(berthd, "imp/arm:1")
    before = _images_count(berthd)
    r = _import(berthd, "--platform", "windows/amd64", "-", "imp/win:1", data=_rootfs_tar())
    assert r.returncode != 0 and "not supported" in r.stderr, r.stderr
    assert _images_count(berthd) == before
