"""berth's registry client against a real docker-registry: pull what skopeo pushed, push it back,
auth (bearer tokens, basic), and every failure leaving the store as it was."""
import base64
import hashlib
import json
import os
import uuid

import pytest


def name():
    return f"t{uuid.uuid4().hex[:10]}"


def pushed(reg, img, ref, creds=None):
    """push with skopeo (which may recompress): the layer digests the registry holds"""
    reg.skopeo_push(img, ref, creds)
    return [x["digest"] for x in json.loads(reg.skopeo_raw(ref, creds))["layers"]]


def check_unpacked(tool, ref, image):
    dirs = tool.layer_dirs(ref)
    assert len(dirs) == len(image.layer_blobs)
    files = image.data_files()
    assert files
    for path, digest in files.items():
        found = [d for d in dirs if os.path.exists(os.path.join(d, path))]
        assert len(found) == 1, path
        with open(os.path.join(found[0], path), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
    assert any(os.path.exists(os.path.join(d, "bin/busybox")) for d in dirs)


def test_pull_push_roundtrip(registry, tool, make_image, reg, tmp_path):
    img = make_image(n_layers=3, mb=2)
    ref = f"{registry.host}/{name()}/app:1"
    layers = pushed(reg, img, ref)
    raw = reg.skopeo_raw(ref)
    manifest_digest = "sha256:" + hashlib.sha256(raw).hexdigest()

    p = tool("pull", ref)
    assert p.stdout.strip() == img.config_digest
    statuses = [(e.get("id"), e["status"]) for e in tool.events(p)]
    for d in layers:
        short = d[7:19]
        for s in ("Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"):
            assert (short, s) in statuses, (short, s)
    assert (None, f"Digest: {manifest_digest}") in statuses
    assert (None, f"Status: Downloaded newer image for {ref}") in statuses
    check_unpacked(tool, ref, img)
    # the compressed blobs are kept as they came (push and save reuse them)
    for d in layers + [img.config_digest, manifest_digest]:
        assert d[7:] in tool.state()["blobs"]

    # again: nothing to do
    p = tool("pull", ref)
    assert f"Status: Image is up to date for {ref}" in p.stderr

    # push back under a new name: same manifest bytes, blobs mounted from the first repo
    ref2 = f"{registry.host}/{name()}/copy:2"
    tool("tag", ref, ref2)
    p = tool("push", ref2)
    assert p.stdout.strip() == manifest_digest
    assert "Mounted from" in p.stderr
    assert reg.skopeo_raw(ref2) == raw
    # and again: everything is there already
    p = tool("push", ref2)
    assert p.stderr.count("Layer already exists") == len(img.layer_digests)

    # a fresh store pulls the pushed copy
    other = tool.__class__(str(tmp_path / "store2"))
    p = other("pull", ref2)
    assert p.stdout.strip() == img.config_digest
    check_unpacked(other, ref2, img)
    # pull by digest
    p = other("pull", f"{registry.host}/{ref2.split('/', 1)[1].split(':')[0]}@{manifest_digest}")
    assert p.stdout.strip() == img.config_digest


def test_push_to_new_registry_uploads(registry, basic_registry, tool, make_image, reg, tmp_path):
    """blobs the target lacks are uploaded (no mount source on another registry), with creds"""
    img = make_image(n_layers=1, mb=40)  # > one 32 MiB chunk: PATCH chunks
    ref = f"{registry.host}/{name()}:1"
    reg.skopeo_push(img, ref)
    tool("pull", ref)
    ref2 = f"{basic_registry.host}/{name()}:1"
    tool("tag", ref, ref2)
    cfg = reg.docker_config(str(tmp_path), basic_registry.host)
    p = tool("push", ref2, "--docker-config", cfg)
    assert p.stderr.count('"Pushed"') == len(img.layer_digests)
    creds = f"{reg.USER}:{reg.PASSWORD}"
    assert reg.skopeo_raw(ref2, creds) == reg.skopeo_raw(ref)


def test_token_auth(token_registry, tool, make_image, reg, tmp_path):
    img = make_image(n_layers=1, mb=1)
    creds = f"{reg.USER}:{reg.PASSWORD}"
    ref = f"{token_registry.host}/{name()}/tok:1"
    reg.skopeo_push(img, ref, creds)

    # no credentials: the token server refuses, a clear error, nothing stored
    before = tool.state()
    p = tool("pull", ref, check=False)
    assert p.returncode != 0
    assert ref in p.stderr and ("401" in p.stderr or "unauthorized" in p.stderr)
    assert tool.state()["overlay"] == before["overlay"]

    # wrong password
    p = tool("pull", ref, "--auth", reg.auth_header(password="nope"), check=False)
    assert p.returncode != 0 and "401" in p.stderr

    # X-Registry-Auth
    n_req = len(token_registry.tokens.requests)
    p = tool("pull", ref, "--auth", reg.auth_header())
    assert p.stdout.strip() == img.config_digest
    scopes = token_registry.tokens.requests[n_req]["scope"]
    assert scopes == [f"repository:{ref.split('/', 1)[1].split(':')[0]}:pull"]
    check_unpacked(tool, ref, img)

    # docker config.json, and a push (pull,push scope)
    ref2 = f"{token_registry.host}/{name()}/tok2:3"
    tool("tag", ref, ref2)
    cfg = reg.docker_config(str(tmp_path), token_registry.host)
    p = tool("push", ref2, "--docker-config", cfg)
    assert reg.skopeo_raw(ref2, creds) == reg.skopeo_raw(ref, creds)


def test_basic_auth(basic_registry, tool, make_image, reg, tmp_path):
    img = make_image(n_layers=1, mb=1)
    creds = f"{reg.USER}:{reg.PASSWORD}"
    ref = f"{basic_registry.host}/{name()}:1"
    reg.skopeo_push(img, ref, creds)
    p = tool("pull", ref, check=False)
    assert p.returncode != 0 and "authentication required" in p.stderr
    cfg = reg.docker_config(str(tmp_path), f"http://{basic_registry.host}/v2/")
    p = tool("pull", ref, "--docker-config", cfg)
    assert p.stdout.strip() == img.config_digest


# ---------------------------------------------------------------- failures


def pull_fails(tool, ref, *args):
    """the pull fails with a message naming the ref and leaves no image and no temporaries"""
    before = tool.state()
    p = tool("pull", ref, *args, check=False)
    assert p.returncode == 1, p.stderr
    assert ref.split("/", 1)[1].split(":")[0] in p.stderr
    after = tool.state()
    assert after["overlay_tmp"] == [] and after["tmp"] == []
    assert tool("layers", ref, check=False).returncode != 0
    return p.stderr, before, after


def test_unknown_tag_404(registry, tool):
    err, before, after = pull_fails(tool, f"{registry.host}/{name()}:nope")
    assert "not found" in err and "MANIFEST_UNKNOWN" in err or "NAME_UNKNOWN" in err
    assert before["overlay"] == after["overlay"]


def test_bad_manifest(registry, proxy, tool, make_image, reg):
    img = make_image(n_layers=1, mb=1)
    repo = name()
    reg.skopeo_push(img, f"{registry.host}/{repo}:1")
    proxy.mode = "bad-manifest"
    err, before, after = pull_fails(tool, f"{proxy.host}/{repo}:1")
    assert "manifest" in err and ("config" in err or "layers" in err)
    assert before == after


def test_corrupt_layer_digest(registry, tool, make_image, reg):
    img = make_image(n_layers=2, mb=1)
    repo = name()
    bad = pushed(reg, img, f"{registry.host}/{repo}:1")[-1]
    path = registry.blob_path(bad)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    err, before, after = pull_fails(tool, f"{registry.host}/{repo}:1")
    assert bad[7:19] in err and "digest mismatch" in err
    assert bad[7:] not in after["blobs"]
    # the corrupt layer was not unpacked: only verified layers may have been kept
    assert len(after["overlay"]) < len(img.layer_digests)


def test_truncated_blob(registry, tool, make_image, reg):
    img = make_image(n_layers=1, mb=2)
    repo = name()
    bad = pushed(reg, img, f"{registry.host}/{repo}:1")[-1]
    path = registry.blob_path(bad)
    os.truncate(path, os.path.getsize(path) // 3)
    err, before, after = pull_fails(tool, f"{registry.host}/{repo}:1")
    assert bad[7:19] in err and ("truncated" in err or "mismatch" in err)
    assert bad[7:] not in after["blobs"]


def test_server_error_500(registry, proxy, tool, make_image, reg):
    img = make_image(n_layers=1, mb=1)
    repo = name()
    reg.skopeo_push(img, f"{registry.host}/{repo}:1")
    proxy.mode = "500-always"
    err, before, after = pull_fails(tool, f"{proxy.host}/{repo}:1")
    assert "500" in err
    assert before["overlay"] == after["overlay"]


@pytest.mark.parametrize("mode", ["500-once", "reset-once"])
def test_transient_errors_are_retried(registry, proxy, tool, make_image, reg, mode):
    img = make_image(n_layers=2, mb=3)
    repo = name()
    reg.skopeo_push(img, f"{registry.host}/{repo}:1")
    proxy.mode = mode
    ref = f"{proxy.host}/{repo}:1"
    p = tool("pull", ref)
    assert p.stdout.strip() == img.config_digest
    assert "Retrying" in p.stderr
    check_unpacked(tool, ref, img)


def test_registry_unreachable(tool):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    err, before, after = pull_fails(tool, f"127.0.0.1:{port}/{name()}:1")
    assert "connect" in err.lower()


def uncompressed_archive(img, path):
    """the same image as a docker-archive with plain tar layers (like `docker save`)"""
    import gzip
    import io
    import tarfile
    with tarfile.open(img.path) as src, tarfile.open(path, "w") as out:
        manifest = json.load(src.extractfile("manifest.json"))
        names = []
        for i, n in enumerate(manifest[0]["Layers"]):
            data = gzip.decompress(src.extractfile(n).read())
            names.append(f"{i}/layer.tar")
            ti = tarfile.TarInfo(names[-1])
            ti.size = len(data)
            out.addfile(ti, io.BytesIO(data))
        cfg = src.extractfile(manifest[0]["Config"]).read()
        ti = tarfile.TarInfo(manifest[0]["Config"])
        ti.size = len(cfg)
        out.addfile(ti, io.BytesIO(cfg))
        manifest[0]["Layers"] = names
        m = json.dumps(manifest).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(m)
        out.addfile(ti, io.BytesIO(m))


@pytest.mark.parametrize("compressed", [False, True])
def test_push_loaded_image(registry, tool, make_image, reg, tmp_path, compressed):
    """an image loaded from a docker-archive has no manifest: push builds a schema2 one
    (plain tar layers gzipped into new blobs first); a fresh store pulls it back intact"""
    img = make_image(n_layers=2, mb=1, tag=f"loaded/{name()}:1")
    path = img.path
    if not compressed:
        path = str(tmp_path / "plain.tar")
        uncompressed_archive(img, path)
    tool("load", path)
    ref = f"{registry.host}/{name()}/loaded:1"
    tool("tag", img.manifest["RepoTags"][0], ref)
    p = tool("push", ref)
    digest = p.stdout.strip()
    raw = reg.skopeo_raw(ref)
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    m = json.loads(raw)
    assert m["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert m["config"]["digest"] == img.config_digest
    assert [x["mediaType"] for x in m["layers"]] == \
        ["application/vnd.docker.image.rootfs.diff.tar.gzip"] * len(img.layer_blobs)
    if compressed:
        assert [x["digest"] for x in m["layers"]] == img.layer_digests
    # pushing again reuses the blobs made the first time
    p = tool("push", ref)
    assert p.stdout.strip() == digest
    assert p.stderr.count("Layer already exists") == len(img.layer_blobs)
    other = tool.__class__(str(tmp_path / "store2"))
    p = other("pull", ref)
    assert p.stdout.strip() == img.config_digest
    check_unpacked(other, ref, img)


def test_redirect_to_blob_storage_without_credentials(basic_registry, make_proxy, tool,
                                                      make_image, reg, tmp_path):
    """layers redirected to another host are fetched there without the registry's
    Authorization header"""
    img = make_image(n_layers=2, mb=1)
    repo = name()
    reg.skopeo_push(img, f"{basic_registry.host}/{repo}:1", f"{reg.USER}:{reg.PASSWORD}")
    proxy = make_proxy(basic_registry)
    proxy.mode = "redirect"
    ref = f"{proxy.host}/{repo}:1"
    cfg = reg.docker_config(str(tmp_path), proxy.host)
    p = tool("pull", ref, "--docker-config", cfg)
    assert p.stdout.strip() == img.config_digest
    assert len(proxy.storage_auth) >= len(img.layer_blobs)
    assert proxy.storage_auth == [None] * len(proxy.storage_auth)
    check_unpacked(tool, ref, img)


def put_index(host, repo, tag, entries):
    """an OCI index of (manifest bytes, media type, os/arch[/variant]) entries"""
    import urllib.request
    manifests = []
    for raw, media_type, platform in entries:
        parts = platform.split("/")
        plat = {"os": parts[0], "architecture": parts[1]}
        if len(parts) > 2:
            plat["variant"] = parts[2]
        manifests.append({"mediaType": media_type, "size": len(raw),
                          "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
                          "platform": plat})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": manifests}
    body = json.dumps(index).encode()
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", data=body,
                                 method="PUT", headers={
                                     "Content-Type": "application/vnd.oci.image.index.v1+json"})
    urllib.request.urlopen(req).close()
    return "sha256:" + hashlib.sha256(body).hexdigest()


def test_index_selects_platform_and_shares_layers(registry, tool, make_image, reg):
    if os.uname().machine != "x86_64":
        pytest.skip("the index names linux/amd64 as this host's platform")
    repo = name()
    imgs, entries = [], []
    for tag, platform in (("amd", "linux/amd64"), ("arm", "linux/arm64/v8")):
        img = make_image(n_layers=1, mb=1)
        reg.skopeo_push(img, f"{registry.host}/{repo}:{tag}")
        raw = reg.skopeo_raw(f"{registry.host}/{repo}:{tag}")
        imgs.append(img)
        entries.append((raw, json.loads(raw)["mediaType"], platform))
    index_digest = put_index(registry.host, repo, "multi", entries)
    ref = f"{registry.host}/{repo}:multi"
    p = tool("pull", ref)
    assert p.stdout.strip() == imgs[0].config_digest
    # docker records the digest the tag pointed at: the index's
    assert f"Digest: {index_digest}" in p.stderr
    check_unpacked(tool, ref, imgs[0])
    # the arm64 entry: the same busybox base layer already exists
    p = tool("pull", ref, "--platform", "linux/arm64")
    assert p.stdout.strip() == imgs[1].config_digest
    assert p.stderr.count('"Already exists"') == 1
    assert p.stderr.count('"Pull complete"') == 1
    # no entry for the platform: a clear error listing those on offer
    p = tool("pull", ref, "--platform", "linux/s390x", check=False)
    assert p.returncode == 1 and "linux/amd64" in p.stderr, p.stderr


def test_killed_pull_leaves_nothing_visible(registry, proxy, tool, make_image, reg):
    import signal
    import subprocess
    import time
    img = make_image(n_layers=2, mb=4)
    repo = name()
    reg.skopeo_push(img, f"{registry.host}/{repo}:1")
    proxy.mode = "slow"
    ref = f"{proxy.host}/{repo}:1"
    p = subprocess.Popen([tool.bin, "--root", tool.root, "pull", ref], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    deadline = time.time() + 30
    # wait until layers are being unpacked, then kill it
    while time.time() < deadline and not any(
            os.listdir(os.path.join(tool.root, "overlay", "tmp"))
            if os.path.isdir(os.path.join(tool.root, "overlay", "tmp")) else []):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.communicate()
    assert p.returncode == -signal.SIGKILL
    # the next open of the store drops what the killed pull left; no image appeared
    assert tool("layers", ref, check=False).returncode != 0
    st = tool.state()
    assert st["overlay_tmp"] == [] and st["tmp"] == []
    proxy.mode = None
    p = tool("pull", ref)
    assert p.stdout.strip() == img.config_digest
    check_unpacked(tool, ref, img)
