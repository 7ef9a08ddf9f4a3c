"""docker save / load interop: berth's archives read by podman, skopeo and umoci, and theirs
(docker-archive, OCI layouts, compressed layers) loaded by berth with the same image id."""
import json
import os
import subprocess
import tarfile

import pytest


def sh(*args, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {p.stderr}")
    return p.stdout


def test_default_image_is_deterministic(default_image, tmp_path):
    path, image_id = default_image
    again = tmp_path / "again.tar"
    out = sh(os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts",
                          "make-default-image.sh"), str(again))
    assert out.strip() == image_id
    assert open(path, "rb").read() == again.read_bytes()


def test_load_default_image(store, default_image):
    path, image_id = default_image
    out = store.run("load", path).stdout
    assert out.strip() == "Loaded image: busybox:latest"
    assert store.run("resolve", "busybox").stdout.strip() == image_id
    info = store.json("inspect", "docker.io/library/busybox:latest")
    assert info["Id"] == image_id
    assert info["RepoTags"] == ["busybox:latest"]
    assert info["Config"]["Cmd"] == ["sh"]
    assert info["GraphDriver"]["Name"] == "overlay2"
    layers = store.run("layers", "busybox").stdout.split()
    assert len(layers) == 1
    assert os.path.islink(os.path.join(layers[0], "bin", "sh"))
    assert os.path.isfile(os.path.join(layers[0], "etc", "passwd"))
    # loading again changes nothing
    assert store.run("load", path).stdout.strip() == "Loaded image: busybox:latest"
    assert len(store.json("list")) == 1


def test_berth_save_read_by_podman_and_skopeo(store, default_image, podman, tmp_path):
    path, image_id = default_image
    store.run("load", path)
    store.run("tag", "busybox", "127.0.0.1:5000/team/bb:v1")
    saved = tmp_path / "saved.tar"
    store.run("save", str(saved), "busybox:latest", "127.0.0.1:5000/team/bb:v1")
    with tarfile.open(saved) as t:
        names = t.getnames()
        manifest = json.load(t.extractfile("manifest.json"))
        index = json.load(t.extractfile("index.json"))
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= set(names)
    assert manifest[0]["Config"] == "blobs/sha256/" + image_id[7:]
    assert sorted(manifest[0]["RepoTags"]) == ["127.0.0.1:5000/team/bb:v1", "busybox:latest"]
    assert len(index["manifests"]) == 2
    # skopeo reads both views of the same file
    da = json.loads(sh("skopeo", "inspect", f"docker-archive:{saved}"))
    oci = json.loads(sh("skopeo", "inspect", f"oci-archive:{saved}:v1"))
    assert da["Layers"] == oci["Layers"]
    cfg = json.loads(sh("skopeo", "inspect", "--config", f"docker-archive:{saved}"))
    assert cfg["rootfs"]["diff_ids"] == da["Layers"]
    # podman loads it with the same id
    out = podman("load", "-i", str(saved)).stdout
    assert "busybox:latest" in out
    ids = podman("images", "--no-trunc", "--format", "{{.ID}}").stdout.split()
    assert set(i if i.startswith("sha256:") else "sha256:" + i for i in ids) == {image_id}
    run = podman("run", "--rm", "--net=none", "busybox:latest", "sh", "-c", "echo hi from $0",
                 check=False)
    if run.returncode == 0:
        assert run.stdout.strip() == "hi from sh"


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podman_save_loaded_by_berth(store, default_image, podman, tmp_path, fmt):
    path, image_id = default_image
    podman("load", "-i", path)
    podman("tag", "busybox:latest", "localhost/mine:7")
    out = tmp_path / "pod.tar"
    podman("save", "--format", fmt, "-o", str(out), "localhost/mine:7")
    loaded = store.run("load", str(out)).stdout
    assert "Loaded image: localhost/mine:7" in loaded
    info = store.json("inspect", "localhost/mine:7")
    assert info["Id"] == image_id
    # and berth's save of it is what podman had
    again = tmp_path / "again.tar"
    store.run("save", str(again), "localhost/mine:7")
    assert json.loads(sh("skopeo", "inspect", "--config", f"docker-archive:{again}"))[
        "rootfs"]["diff_ids"] == info["RootFS"]["Layers"]


def test_skopeo_oci_archive_and_docker_archive(store, default_image, tmp_path):
    path, image_id = default_image
    oci = tmp_path / "oci.tar"
    sh("skopeo", "copy", "-q", f"docker-archive:{path}", f"oci-archive:{oci}:team/app:v2")
    da = tmp_path / "da.tar"
    sh("skopeo", "copy", "-q", f"docker-archive:{path}", f"docker-archive:{da}:other/app:v3")
    assert store.run("load", str(oci)).stdout.strip() == "Loaded image: team/app:v2"
    assert store.run("load", str(da)).stdout.strip() == "Loaded image: other/app:v3"
    # skopeo rewrites the config for OCI (another id); the layers stay the same
    want = json.loads(sh("skopeo", "inspect", "--config", f"docker-archive:{path}"))[
        "rootfs"]["diff_ids"]
    for name in ("team/app:v2", "other/app:v3"):
        assert store.json("inspect", name)["RootFS"]["Layers"] == want
    oci_id = json.loads(sh("skopeo", "inspect", "--raw", f"oci-archive:{oci}"))["config"]["digest"]
    assert store.run("resolve", "team/app:v2").stdout.strip() == oci_id
    # a zstd-compressed OCI layout too
    z = tmp_path / "z.tar"
    sh("skopeo", "copy", "-q", "--dest-compress-format", "zstd", f"docker-archive:{path}",
       f"oci-archive:{z}:zz:1")
    assert store.run("load", str(z)).stdout.strip() == "Loaded image: zz:1"
    assert store.json("inspect", "zz:1")["RootFS"]["Layers"] == want
    layers = store.run("layers", "zz:1").stdout.split()
    assert os.path.isfile(os.path.join(layers[0], "bin", "busybox"))


def test_umoci_layout_loaded_by_berth(store, default_image, tmp_path):
    path, _ = default_image
    layout = tmp_path / "layout"
    sh("skopeo", "copy", "-q", f"docker-archive:{path}", f"oci:{layout}:latest")
    bundle = tmp_path / "bundle"
    sh("umoci", "unpack", "--image", f"{layout}:latest", str(bundle))
    with open(bundle / "rootfs" / "hello.txt", "w") as f:
        f.write("from umoci\n")
    sh("umoci", "repack", "--image", f"{layout}:v2", str(bundle))
    tarball = tmp_path / "layout.tar"
    with tarfile.open(tarball, "w") as t:
        t.add(layout, arcname=".")
    out = store.run("load", str(tarball)).stdout.splitlines()
    # umoci names its tags without a repository: the images load by id
    assert len(out) == 2 and all(line.startswith("Loaded image ID: sha256:") for line in out)
    ids = [line.split()[-1] for line in out]
    dirs = store.run("layers", ids[1]).stdout.split()
    assert len(dirs) == 2
    assert open(os.path.join(dirs[0], "hello.txt")).read() == "from umoci\n"


def test_bad_archives(store, default_image, tmp_path):
    path, image_id = default_image
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    p = store.run("load", str(junk), check=False)
    assert p.returncode != 0 and "image-tool:" in p.stderr
    # a layer whose bytes do not match the config's diff id: nothing is stored
    bad = tmp_path / "bad.tar"
    with tarfile.open(path) as src, tarfile.open(bad, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None
            if m.isfile() and m.size > 100000:
                data = data[:-1024] + b"\0" * 1024 if data[-1024:] != b"\0" * 1024 else \
                    data.replace(b"root:x:0:0", b"toor:x:0:0")
                m.size = len(data)
            dst.addfile(m, __import__("io").BytesIO(data) if data is not None else None)
    p = store.run("load", str(bad), check=False)
    assert p.returncode != 0 and "diff id mismatch" in p.stderr
    assert store.json("list") == []
    overlay = os.path.join(store.root, "overlay")
    assert sorted(os.listdir(overlay)) == ["tmp"] and os.listdir(os.path.join(overlay, "tmp")) == []
    # no manifest at all
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w") as t:
        t.add(__file__, arcname="README")
    p = store.run("load", str(empty), check=False)
    assert p.returncode != 0 and "not an image archive" in p.stderr


def test_remove_prune_and_gc(store, default_image, tmp_path):
    path, image_id = default_image
    store.run("load", path)
    store.run("tag", "busybox", "copy:1")
    # by id with two repositories: must be forced
    p = store.run("rmi", image_id, check=False)
    assert p.returncode == 4 and "must be forced" in p.stderr
    rep = store.json("rmi", "copy:1")
    assert rep == [{"Untagged": "copy:1"}]
    rep = store.json("rmi", "busybox")
    assert {"Deleted": image_id} in rep
    assert store.json("list") == []
    assert sorted(os.listdir(os.path.join(store.root, "overlay"))) == ["tmp"]
    assert os.listdir(os.path.join(store.root, "blobs", "sha256")) == []
    p = store.run("rmi", "busybox", check=False)
    assert p.returncode == 3 and "no such image" in p.stderr
    store.run("load", path)
    assert store.json("prune")["ImagesDeleted"] is None
    assert len(store.json("prune", "-a")["ImagesDeleted"]) >= 2
    assert store.json("df")["LayersSize"] == 0


def _big_archive(path, mb=48):
    """A docker-archive with one gzip layer of mb MiB of random data (slow enough to kill)."""
    import gzip
    import hashlib
    import io
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for i in range(mb // 8):
            data = os.urandom(8 << 20)
            ti = tarfile.TarInfo(f"data/blob{i}")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    gz = gzip.compress(raw.getvalue(), compresslevel=1)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    with tarfile.open(path, "w") as t:
        for name, data in (("layer.tar.gz", gz), ("config.json", config),
                           ("manifest.json", json.dumps([{"Config": "config.json",
                                                          "RepoTags": ["big:1"],
                                                          "Layers": ["layer.tar.gz"]}]).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


def test_killed_load_leaves_nothing(store, tmp_path):
    import signal
    import time
    archive = tmp_path / "big.tar"
    _big_archive(archive)
    overlay_tmp = os.path.join(store.root, "overlay", "tmp")
    killed = False
    for attempt in range(5):
        p = subprocess.Popen([store.tool, "--root", store.root, "load", str(archive)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # kill -9 once the layer is being unpacked
        end = time.time() + 30
        while time.time() < end and p.poll() is None:
            if os.path.isdir(overlay_tmp) and any(n.startswith("layer-")
                                                  for n in os.listdir(overlay_tmp)):
                p.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
        p.wait()
        if killed:
            break
        store.run("rmi", "-f", "big:1", check=False)
    assert killed, "the load finished before it could be killed"
    # the next open cleans up: no image, no layer, no temporaries
    assert store.json("list") == []
    assert sorted(os.listdir(os.path.join(store.root, "overlay"))) == ["tmp"]
    assert os.listdir(overlay_tmp) == []
    assert os.listdir(os.path.join(store.root, "tmp")) == []
    # and the same archive loads fine afterwards
    assert store.run("load", str(archive)).stdout.strip() == "Loaded image: big:1"


def test_multi_platform_layout_loads_the_hosts(store, default_image, tmp_path):
    """An index listing several platforms: only linux/<host arch> is loaded (the others' blobs
    need not even be there)."""
    import platform
    path, _ = default_image
    layout = tmp_path / "layout"
    sh("skopeo", "copy", "-q", f"docker-archive:{path}", f"oci:{layout}:multi")
    index = json.loads((layout / "index.json").read_text())
    host = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    mine = dict(index["manifests"][0])
    mine["platform"] = {"os": "linux", "architecture": host}
    other = {"mediaType": mine["mediaType"], "size": 123,
             "digest": "sha256:" + "ab" * 32,
             "platform": {"os": "linux", "architecture": "s390x" if host != "s390x" else "arm64"},
             "annotations": mine.get("annotations", {})}
    index["manifests"] = [other, mine]
    (layout / "index.json").write_text(json.dumps(index))
    tarball = tmp_path / "multi.tar"
    with tarfile.open(tarball, "w") as t:
        t.add(layout, arcname=".")
    out = store.run("load", str(tarball)).stdout.splitlines()
    assert len(out) == 1 and out[0].startswith("Loaded image ID: sha256:")
    # with only a foreign platform there is nothing to load: a clear error
    index["manifests"] = [other]
    (layout / "index.json").write_text(json.dumps(index))
    with tarfile.open(tarball, "w") as t:
        t.add(layout, arcname=".")
    p = store.run("load", str(tarball), check=False)
    assert p.returncode != 0 and f"no image for linux/{host}" in p.stderr
