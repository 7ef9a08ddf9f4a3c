"""berthd's /images routes through the docker CLI and the python SDK: list, inspect, history,
tag, rmi, prune, save|load, and pull/push against a real docker-registry on 127.0.0.1."""
import json
import socket
import subprocess
import time

import pytest

from berthtest import TAG


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A plain `docker-registry` on 127.0.0.1 (no auth): yields its host:port."""
    d = tmp_path_factory.mktemp("registry")
    port = _free_port()
    cfg = d / "config.yml"
    cfg.write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {d}/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
    log = open(d / "registry.log", "w")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=log,
                            stderr=subprocess.STDOUT)
    end = time.time() + 20
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert proc.poll() is None, "docker-registry exited"
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
    log.close()


def _id(berthd, ref):
    r = berthd.docker("image", "inspect", "-f", "{{.Id}}", ref)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_list_inspect_history(berthd):
    r = berthd.docker("images", "--format", "{{json .}}", check=True)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    repo, tag = TAG.rsplit(":", 1)
    assert any(x["Repository"] == repo and x["Tag"] == tag for x in rows), rows
    info = json.loads(berthd.docker("image", "inspect", TAG, check=True).stdout)[0]
    assert info["Id"].startswith("sha256:")
    assert TAG in info["RepoTags"]
    assert info["Os"] == "linux"
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["Config"]["Cmd"] == ["sh"]
    # short id and full id name the same image
    assert _id(berthd, info["Id"][7:19]) == info["Id"]
    hist = berthd.sdk().api.history(TAG)
    assert isinstance(hist, list) and hist
    r = berthd.docker("image", "inspect", "no-such-image:nope")
    assert r.returncode != 0 and "No such image" in r.stderr


def test_tag_and_rmi(berthd):
    img = _id(berthd, TAG)
    berthd.docker("tag", TAG, "berth-test/copy:v1", check=True)
    assert _id(berthd, "berth-test/copy:v1") == img
    # an image with two names loses only the name
    r = berthd.docker("rmi", "berth-test/copy:v1", check=True)
    assert "Untagged: berth-test/copy:v1" in r.stdout
    assert "Deleted" not in r.stdout
    assert _id(berthd, TAG) == img
    r = berthd.docker("rmi", "berth-test/copy:v1")
    assert r.returncode != 0 and "No such image" in r.stderr
    # bad tag requests are 400s, not crashes
    api = berthd.sdk().api
    import docker
    with pytest.raises(docker.errors.APIError) as e:
        api.tag(TAG, "berth-test/UPPER", "x")
    assert e.value.status_code in (400, 404)
    with pytest.raises(docker.errors.ImageNotFound):
        api.tag("nope-never", "berth-test/x", "1")


def test_save_load_round_trip(berthd_factory, tmp_path):
    d = berthd_factory()
    img = _id(d, TAG)
    out = tmp_path / "save.tar"
    d.docker("save", "-o", str(out), TAG, check=True)
    assert out.stat().st_size > 0
    import tarfile
    with tarfile.open(out) as t:
        names = t.getnames()
    assert "manifest.json" in names
    d.docker("rmi", TAG, check=True)
    assert d.docker("image", "inspect", TAG).returncode != 0
    r = d.docker("load", "-i", str(out), check=True)
    assert f"Loaded image: {TAG}" in r.stdout
    assert _id(d, TAG) == img
    # quiet load through the SDK, from a stream
    with open(out, "rb") as f:
        loaded = d.sdk().images.load(f.read())
    assert any(TAG in i.tags for i in loaded)
    # several names in one archive (GET /images/get?names=a&names=b)
    d.docker("tag", TAG, "berth-test/second:2", check=True)
    both = tmp_path / "both.tar"
    d.docker("save", "-o", str(both), TAG, "berth-test/second:2", check=True)
    with tarfile.open(both) as t:
        manifest = json.load(t.extractfile("manifest.json"))
    tags = sorted(tag for m in manifest for tag in (m.get("RepoTags") or []))
    assert tags == sorted([TAG, "berth-test/second:2"]), manifest
    r = d.docker("save", "-o", str(tmp_path / "x.tar"), TAG, "berth-test/none:1")
    assert r.returncode != 0 and "No such image" in r.stderr
    # garbage is refused with an error, the store stays intact
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"this is not a tar archive" * 100)
    r = d.docker("load", "-i", str(bad))
    assert r.returncode != 0
    assert _id(d, TAG) == img


def test_prune(berthd_factory):
    d = berthd_factory()
    d.docker("tag", TAG, "berth-test/prune:1", check=True)
    # dangling only: a tagged image stays
    r = d.docker("image", "prune", "-f", check=True)
    assert _id(d, TAG)
    # -a removes every unused image and says how much space it freed
    r = d.docker("image", "prune", "-a", "-f", check=True)
    assert "Total reclaimed space" in r.stdout
    assert d.docker("image", "inspect", TAG).returncode != 0
    assert d.sdk().images.list() == []


def test_rmi_in_use(berthd_factory):
    d = berthd_factory()
    name = d.name()
    r = d.docker("create", "--name", name, TAG, "true")
    if r.returncode != 0:
        pytest.fail(f"container create failed: {r.stderr}")
    try:
        r = d.docker("rmi", TAG)
        assert r.returncode != 0
        assert "conflict" in r.stderr.lower() or "in use" in r.stderr.lower() or \
            "being used" in r.stderr.lower()
        assert _id(d, TAG)
        r = d.docker("image", "prune", "-a", "-f", check=True)
        assert _id(d, TAG)
    finally:
        d.docker("rm", "-f", name)
    d.docker("rmi", TAG, check=True)


def test_push_pull(berthd_factory, registry):
    d = berthd_factory()
    img = _id(d, TAG)
    ref = f"{registry}/berth-test/busybox:1"
    d.docker("tag", TAG, ref, check=True)
    r = d.docker("push", ref, check=True)
    assert f"The push refers to repository [{registry}/berth-test/busybox]" in r.stdout
    assert "1: digest: sha256:" in r.stdout
    # the JSON stream carries docker's shapes (status/progressDetail/aux)
    stream = list(d.sdk().api.push(f"{registry}/berth-test/busybox", tag="1", stream=True,
                                   decode=True))
    assert any("aux" in m and m["aux"]["Tag"] == "1" for m in stream), stream
    assert not any("error" in m for m in stream), stream
    d.docker("rmi", ref, TAG, check=True)
    assert d.docker("image", "inspect", ref).returncode != 0
    r = d.docker("pull", ref, check=True)
    assert "Digest: sha256:" in r.stdout
    assert f"Status: Downloaded newer image for {ref}" in r.stdout
    assert _id(d, ref) == img
    r = d.docker("pull", ref, check=True)
    assert f"Status: Image is up to date for {ref}" in r.stdout
    # progress lines through the SDK: docker's message shapes
    msgs = list(d.sdk().api.pull(f"{registry}/berth-test/busybox", tag="1", stream=True,
                                 decode=True))
    assert msgs[0]["status"].startswith("Pulling from berth-test/busybox")
    assert msgs[0]["id"] == "1"
    assert msgs[-1]["status"].startswith("Status: ")
    # a missing image fails before any progress: an HTTP error, like docker's 404
    r = d.docker("pull", f"{registry}/berth-test/none:1")
    assert r.returncode != 0 and "Error response from daemon" in r.stderr
    import docker
    with pytest.raises(docker.errors.NotFound):
        d.sdk().api.pull(f"{registry}/berth-test/none", tag="1", stream=True, decode=True)
    # a registry that is not there at all
    r = d.docker("pull", "127.0.0.1:1/berth-test/nothing:1")
    assert r.returncode != 0
    # pushing something that is not there is a 404 before any stream
    r = d.docker("push", f"{registry}/berth-test/nothing:1")
    assert r.returncode != 0 and "does not exist" in r.stderr


def test_image_events(berthd_factory):
    d = berthd_factory()
    since = time.time()
    d.docker("tag", TAG, "berth-test/ev:1", check=True)
    d.docker("rmi", "berth-test/ev:1", check=True)
    until = time.time() + 0.5
    r = d.docker("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
                 "--filter", "type=image", "--format", "{{json .}}", check=True, timeout=30)
    evs = [json.loads(x) for x in r.stdout.splitlines()]
    actions = [e["Action"] for e in evs]
    assert "tag" in actions and "untag" in actions, evs
    tag = next(e for e in evs if e["Action"] == "tag")
    assert tag["Actor"]["Attributes"]["name"] == "berth-test/ev:1"
    assert tag["Type"] == "image" and tag["scope"] == "local"


def _raw(sock, method, path, body=b"", read_body=True):
    """One HTTP/1.1 request on the daemon's socket: (status, headers (lowercase names), raw body
    bytes as framed on the wire)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(sock)
        head = f"{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/x-tar\r\n"
        s.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        top, rest = data.split(b"\r\n\r\n", 1)
        lines = top.decode().split("\r\n")
        if lines[0].startswith("HTTP/1.1 100"):
            top, rest = rest.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in rest else (rest, b"")
            lines = top.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        while read_body:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(lines[0].split()[1]), headers, rest


def test_streamed_replies_are_chunked(berthd_factory, registry, image_tar, tmp_path):
    """dockerd sends its JSON message streams chunked: the python SDK reads a body with a
    Content-Length as a single JSON document ("Extra data" on two messages)."""
    import docker
    d = berthd_factory(load=False)
    client = d.sdk()
    tar = open(image_tar, "rb").read()
    status, headers, _ = _raw(d.sock, "POST", "/v1.43/images/load", tar)
    assert status == 200 and headers.get("transfer-encoding") == "chunked", headers
    assert "content-length" not in headers
    images = client.images.load(tar)
    assert [i.tags for i in images] == [[TAG]]
    # not an image: dockerd answers 200 and streams the error as a message (ImageLoadError)
    status, headers, body = _raw(d.sock, "POST", "/v1.43/images/load", b"not an image" * 100)
    assert status == 200 and headers.get("transfer-encoding") == "chunked", headers
    assert b'"errorDetail":{"message":' in body and b'"error":' in body, body
    with pytest.raises(docker.errors.ImageLoadError):
        client.images.load(b"not an image" * 100)
    r = d.docker("load", input=b"not an image" * 100)
    assert r.returncode == 1 and r.stderr.strip(), r
    # import from a tar in the body
    with open(tmp_path / "rootfs.tar", "wb") as f:
        import tarfile
        import io
        with tarfile.open(fileobj=f, mode="w") as t:
            ti = tarfile.TarInfo("hello")
            ti.size = 3
            t.addfile(ti, io.BytesIO(b"hi\n"))
    data = open(tmp_path / "rootfs.tar", "rb").read()
    status, headers, _ = _raw(d.sock, "POST", "/v1.43/images/create?fromSrc=-&repo=berth-test/imp",
                              data)
    assert status == 200 and headers.get("transfer-encoding") == "chunked", headers
    out = client.api.import_image_from_data(data, repository="berth-test/imp2")
    assert "sha256:" in out
    # pull and push through the SDK's high-level calls
    ref = f"{registry}/berth-test/chunked"
    client.images.get(TAG).tag(ref, "1")
    client.images.push(ref, tag="1")
    client.images.remove(f"{ref}:1")
    img = client.images.pull(ref, tag="1")
    assert f"{ref}:1" in img.tags
    for path in ("/v1.43/events?until=%d" % (time.time() + 1),
                 "/v1.43/images/get?names=" + TAG):
        status, headers, _ = _raw(d.sock, "GET", path)
        assert status == 200 and headers.get("transfer-encoding") == "chunked", (path, headers)


def test_sdk_streams_of_a_container(berthd):
    client = berthd.sdk()
    name = berthd.name("chunk")
    c = client.containers.run(TAG, ["sh", "-c", "echo one; echo two; exec sleep 1000"],
                              name=name, detach=True, network_mode="none")
    try:
        for path in (f"/v1.43/containers/{name}/logs?stdout=1&follow=1",
                     f"/v1.43/containers/{name}/stats?stream=1"):
            status, headers, _ = _raw(berthd.sock, "GET", path, read_body=False)
            assert status == 200 and headers.get("transfer-encoding") == "chunked", \
                (path, headers)
        logs = c.logs(stream=True, follow=True)
        assert next(logs) == b"one\n" and next(logs) == b"two\n"
        logs.close()
        stats = c.stats(stream=True, decode=True)
        assert "cpu_stats" in next(stats) and "cpu_stats" in next(stats)
        since = time.time()
        c.pause()
        c.unpause()
        ev = client.events(since=since, until=time.time() + 1, decode=True,
                           filters={"container": name})
        assert [e["status"] for e in ev] == ["pause", "unpause"]
    finally:
        c.remove(force=True)
