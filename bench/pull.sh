#!/bin/bash
# Cold pull of a ~170 MB (compressed) 4-layer image from a local docker-registry, in one run:
# berth (image-tool: the image library's pull, no daemon) · skopeo copy to dir: (download only,
# no unpack) · podman pull · docker pull (dockerd on its own socket and data root).
#
#   bench/pull.sh            RUNS=3 by default; BERTH_BUILD=/path/to/build
#   BENCH_TMPFS=1 bench/pull.sh   every tool's store on a fresh tmpfs: the software's cost without
#                            the disk's (on a no-journal ext4 most of every tool's time is the
#                            kernel's inode allocation: find_inode_bit/recently_deleted)
#
# The image: no Debian mirror is reachable from here (and tests stay on loopback), so the rootfs
# is built from the host's installed files instead of debootstrap: layer 1 busybox + /usr/include,
# layer 2 python (/usr/lib/python3.11, /usr/lib/python3, /usr/bin/python3*), layer 3 locales
# (/usr/share/locale), layer 4 50 MB of random bytes (incompressible).
# gzip -6 like docker. Built once, kept in $BENCH_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BERTH_BUILD:-$ROOT/build}
TOOL=$BUILD/tests/helpers/image-tool
RUNS=${RUNS:-3}
W=${BENCH_DIR:-/tmp/berth-bench-pull}
[ -x "$TOOL" ] || { echo "pull.sh: $TOOL not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "pull.sh: run as root (podman/dockerd)" >&2; exit 1; }
mkdir -p "$W"
S=$W
if [ -n "${BENCH_TMPFS:-}" ]; then
        S=$W/fs
        mkdir -p "$S"
        mount -t tmpfs -o size=6g berth-bench "$S"
fi

REG_PID= DOCKERD_PID=
cleanup() {
        set +e
        if [ -n "$DOCKERD_PID" ]; then
                kill "$DOCKERD_PID" 2>/dev/null
                wait "$DOCKERD_PID" 2>/dev/null
        fi
        [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
        for r in "$S"/podman/*; do PODMAN_ROOT=$r podman_ rmi -a -f >/dev/null 2>&1; done
        for m in $(grep -o " $W/[^ ]*" /proc/self/mountinfo | grep -v " $W/fs$" | sort -r); do
                umount -l "$m"
        done
        rm -rf "$S/berth" "$S/skopeo" "$W/registry" "$S/podman" "$S/docker-data" "$W/docker-exec"
        [ "$S" != "$W" ] && umount "$S"
}
trap cleanup EXIT

# ---------------------------------------------------------------- the image
IMG=$W/image.tar
if [ ! -f "$IMG" ]; then
        echo "building the image (once) …" >&2
        python3 - "$IMG" <<'EOF'
import hashlib, io, json, os, subprocess, sys, tarfile, tempfile
out = sys.argv[1]
tmp = tempfile.mkdtemp(dir=os.path.dirname(out))
def layer(name, cmd):
    """tar | gzip -6 through the shell; diff_id from the uncompressed stream"""
    gz = os.path.join(tmp, name + ".tar.gz")
    h = hashlib.sha256()
    tar = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE)
    gzp = subprocess.Popen(["gzip", "-6", "-n"], stdin=subprocess.PIPE, stdout=open(gz, "wb"))
    while True:
        b = tar.stdout.read(1 << 20)
        if not b:
            break
        h.update(b)
        gzp.stdin.write(b)
    gzp.stdin.close()
    assert tar.wait() == 0 and gzp.wait() == 0
    return gz, "sha256:" + h.hexdigest()
rnd = os.path.join(tmp, "random")
os.makedirs(os.path.join(rnd, "data"))
with open(os.path.join(rnd, "data", "random.bin"), "wb") as f:
    f.write(os.urandom(50 << 20))
bb = os.path.join(tmp, "bb")
os.makedirs(os.path.join(bb, "bin"))
subprocess.run(["cp", "/usr/bin/busybox", os.path.join(bb, "bin")], check=True)
os.symlink("busybox", os.path.join(bb, "bin", "sh"))
T = "tar --numeric-owner --sort=name --mtime=@0 -cf -"
layers = [
    layer("base", f"{T} -C / usr/include -C {bb} bin"),
    layer("python", f"{T} -C / usr/lib/python3.11 usr/lib/python3 "
                    "$(cd / && ls -d usr/bin/python3*)"),
    layer("share", f"{T} -C / usr/share/locale"),
    layer("random", f"{T} -C {rnd} data"),
]
config = {"architecture": "amd64", "os": "linux",
          "config": {"Cmd": ["/usr/bin/python3"], "Env": ["PATH=/usr/bin:/bin"]},
          "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
          "history": [{"created_by": f"layer {i}"} for i in range(len(layers))]}
cb = json.dumps(config).encode()
cname = hashlib.sha256(cb).hexdigest() + ".json"
with tarfile.open(out + ".part", "w") as t:
    def put(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    put(cname, cb)
    names = []
    for i, (gz, _) in enumerate(layers):
        names.append(f"l{i}/layer.tar.gz")
        t.add(gz, arcname=names[-1])
    put("manifest.json", json.dumps([{"Config": cname, "RepoTags": ["bench/pull:1"],
                                      "Layers": names}]).encode())
os.rename(out + ".part", out)
subprocess.run(["rm", "-rf", tmp])
EOF
fi

# ---------------------------------------------------------------- registry
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$W/registry"
mkdir -p "$W/registry"
cat >"$W/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/registry
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
REF=127.0.0.1:$PORT/bench/pull:1
# skopeo keeps the layers as they are in a dir: copy (docker-archive: it recompresses)
rm -rf "$W/push-dir"
skopeo copy --quiet docker-archive:"$IMG" dir:"$W/push-dir"
skopeo copy --quiet --dest-tls-verify=false dir:"$W/push-dir" docker://"$REF"
rm -rf "$W/push-dir"
SIZE=$(skopeo inspect --tls-verify=false --raw docker://"$REF" |
        python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(l["size"] for l in m["layers"]))')
echo "image: $REF, $(python3 -c "print(f'{$SIZE/1e6:.0f}')") MB compressed, 4 layers" >&2

# ---------------------------------------------------------------- tools
now() { date +%s%N; }
podman_() {
        podman --root "${PODMAN_ROOT:-$S/podman/0}" --runroot "$W/podman-run" --storage-driver overlay \
                --cgroup-manager cgroupfs --events-backend file "$@"
}
HAVE_DOCKER=0
if command -v dockerd >/dev/null; then
        mkdir -p "$W/docker-exec"
        dockerd -H "unix://$W/docker.sock" --data-root "$S/docker-data" --exec-root "$W/docker-exec" \
                --pidfile "$W/docker.pid" --bridge none --iptables=false --ip-masq=false \
                --insecure-registry "127.0.0.1:$PORT" --storage-driver overlay2 \
                >"$W/dockerd.log" 2>&1 &
        DOCKERD_PID=$!
        for _ in $(seq 100); do
                docker -H "unix://$W/docker.sock" version >/dev/null 2>&1 && { HAVE_DOCKER=1; break; }
                sleep 0.2
        done
        [ $HAVE_DOCKER = 1 ] || echo "dockerd did not start (see $W/dockerd.log)" >&2
fi

declare -A BEST
measure() { # name prepare-fn run-fn
        local name=$1 prep=$2 run=$3 best= t0 t1 ms
        for _ in $(seq "$RUNS"); do
                $prep
                sync
                t0=$(now)
                $run >"$W/$name.out" 2>&1 || { echo "$name failed:" >&2; tail -5 "$W/$name.out" >&2; return 1; }
                t1=$(now)
                ms=$(((t1 - t0) / 1000000))
                [ -z "$best" ] || [ "$ms" -lt "$best" ] && best=$ms
        done
        BEST[$name]=$best
}

# every run gets a fresh store, the old ones are deleted at the end: on ext4 without a journal a
# deletion right before a run makes the allocator skip the freed inodes for a while (and scan
# past them), which would charge one tool's cleanup to its next run
RUN=0
berth_prep() { RUN=$((RUN + 1)); }
berth_run() { "$TOOL" --root "$S/berth/$RUN" pull "$REF"; }
skopeo_prep() { RUN=$((RUN + 1)); mkdir -p "$S/skopeo"; }
skopeo_run() { skopeo copy --quiet --src-tls-verify=false docker://"$REF" dir:"$S/skopeo/$RUN"; }
podman_prep() { RUN=$((RUN + 1)); }
podman_run() { PODMAN_ROOT=$S/podman/$RUN podman_ pull -q --tls-verify=false "$REF"; }
docker_prep() {
        docker -H "unix://$W/docker.sock" rmi -f "$REF" >/dev/null 2>&1 || true
}
docker_run() { docker -H "unix://$W/docker.sock" pull -q "$REF"; }

measure berth berth_prep berth_run
measure skopeo skopeo_prep skopeo_run || BEST[skopeo]=
measure podman podman_prep podman_run || BEST[podman]=
[ $HAVE_DOCKER = 1 ] && { measure docker docker_prep docker_run || BEST[docker]=; }

# where berth's time goes (one more run with the library's phase timers)
BERTH_PULL_TIMING=1 "$TOOL" --root "$S/berth/timing" pull "$REF" 2>&1 >/dev/null | grep '^pull timing' >&2 || true

ratio() { [ -n "${BEST[$2]:-}" ] && python3 -c "print(f'{${BEST[$1]}/${BEST[$2]}:.2f}')" || echo "n/a"; }
line="berth ${BEST[berth]} ms · skopeo ${BEST[skopeo]:-n/a} ms · podman ${BEST[podman]:-n/a} ms"
line+=" · docker ${BEST[docker]:-n/a} ms"
line+=" · ratio berth/podman $(ratio berth podman) (target ≤ 0.37) · berth/docker $(ratio berth docker)"
line+=" · berth/skopeo $(ratio berth skopeo)"
echo "$line"
