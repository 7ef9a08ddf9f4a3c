#!/usr/bin/env bash
# Build the embedded default image busybox:latest from Debian's busybox-static as a docker-archive
# (manifest.json + repositories, plus index.json/oci-layout/blobs like docker 25+), which berthd
# loads through berth_image_load at its first start and `docker load` / `podman load` read too.
# Deterministic: fixed mtimes, owners and entry order, so the image id only changes with the
# busybox binary.
#   scripts/make-default-image.sh OUT.tar [NAME:TAG]
set -euo pipefail
out=${1:?usage: make-default-image.sh OUT.tar [NAME:TAG]}
name=${2:-busybox:latest}
here=$(cd "$(dirname "$0")" && pwd)
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-default-image: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/make-busybox-rootfs.sh" "$work/rootfs" >/dev/null
version=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || "$bb" 2>&1 | head -1)
case $(uname -m) in
x86_64) arch=amd64 variant= ;;
aarch64) arch=arm64 variant=v8 ;;
armv7l | armv8l) arch=arm variant=v7 ;;
armv6l) arch=arm variant=v6 ;;
i?86) arch=386 variant= ;;
ppc64le) arch=ppc64le variant= ;;
s390x) arch=s390x variant= ;;
riscv64) arch=riscv64 variant= ;;
*) arch=$(uname -m) variant= ;;
esac
python3 - "$work/rootfs" "$out" "$name" "$arch" "$variant" "busybox-static $version" <<'PY'
import hashlib, io, json, os, stat, sys, tarfile

root, out, name, arch, variant, source = sys.argv[1:7]
EPOCH = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"

def layer_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        paths = []
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for n in sorted(dirs + files):
                paths.append(os.path.join(d, n))
        for p in sorted(paths, key=lambda p: os.path.relpath(p, root)):
            rel = os.path.relpath(p, root)
            ti = t.gettarinfo(p, arcname=rel)
            ti.mtime = EPOCH
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.pax_headers = {}
            if ti.isreg():
                with open(p, "rb") as f:
                    t.addfile(ti, f)
            else:
                t.addfile(ti)
    return buf.getvalue()

def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

layer = layer_tar()
diff_id = sha(layer)
config = {
    "architecture": arch,
    "os": "linux",
    "created": CREATED,
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    },
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created": CREATED, "created_by": "berth make-default-image.sh: " + source}],
}
if variant:
    config["variant"] = variant
config_b = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
config_d = sha(config_b)
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d,
               "size": len(config_b)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": diff_id,
                "size": len(layer)}],
}
manifest_b = json.dumps(manifest, separators=(",", ":")).encode()
manifest_d = sha(manifest_b)
repo, tag = name.rsplit(":", 1) if ":" in name.split("/")[-1] else (name, "latest")
full = repo if "/" in repo and ("." in repo.split("/")[0] or ":" in repo.split("/")[0]) else \
    "docker.io/" + (repo if "/" in repo else "library/" + repo)
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": manifest_d, "size": len(manifest_b),
                   "annotations": {"io.containerd.image.name": full + ":" + tag,
                                   "org.opencontainers.image.ref.name": tag}}],
}
def blob(d):
    return "blobs/sha256/" + d.split(":", 1)[1]
docker_manifest = [{"Config": blob(config_d), "RepoTags": [repo + ":" + tag],
                    "Layers": [blob(diff_id)]}]
repositories = {repo: {tag: diff_id.split(":", 1)[1]}}

tmp = out + ".tmp"
with tarfile.open(tmp, mode="w", format=tarfile.USTAR_FORMAT) as t:
    def add(path, data=None):
        ti = tarfile.TarInfo(path)
        ti.mtime = EPOCH
        if data is None:
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        else:
            ti.mode = 0o644
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    add("blobs")
    add("blobs/sha256")
    add(blob(config_d), config_b)
    add(blob(diff_id), layer)
    add(blob(manifest_d), manifest_b)
    add("index.json", json.dumps(index, separators=(",", ":")).encode())
    add("manifest.json", json.dumps(docker_manifest, separators=(",", ":")).encode())
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("repositories", json.dumps(repositories, separators=(",", ":")).encode())
os.rename(tmp, out)
print(config_d)
PY
