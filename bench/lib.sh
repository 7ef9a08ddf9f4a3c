# Shared by the engine benches (engine.sh, stats.sh): the preconditions, a busybox image in
# docker's archive format, berthd and dockerd on private sockets and data roots, and their stop.
#
#   . "$(dirname "$(readlink -f "$0")")/lib.sh"      (after `set -euo pipefail`)
#
# Sets ME (the script's name, for messages), ROOT (the checkout) and BUILD (BERTH_BUILD or
# $ROOT/build); bench_start_berthd and bench_start_dockerd set bpid and dpid.
ME=$(basename "$0")
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BUILD=${BERTH_BUILD:-$ROOT/build}
bpid= dpid=

# bench_need_built BINARY...: each of $BUILD/cmd/BINARY is built
bench_need_built() {
        local b
        for b; do
                [ -x "$BUILD/cmd/$b" ] || { echo "$ME: $BUILD/cmd/$b not built" >&2; exit 1; }
        done
}

# bench_need_tools COMMAND...: each is on PATH
bench_need_tools() {
        local t
        for t; do
                command -v "$t" >/dev/null || { echo "$ME: $t not installed" >&2; exit 1; }
        done
}

bench_need_root() {
        [ "$(id -u)" = 0 ] || { echo "$ME: run as root (containers, cgroups)" >&2; exit 1; }
}

# bench_stop_pids PID...: SIGTERM to all, up to 10 s each to exit, then SIGKILL
bench_stop_pids() {
        local p
        for p; do
                kill "$p" 2>/dev/null
        done
        for p; do
                for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$p" 2>/dev/null
        done
}

# wait_sock SOCKET: up to 30 s for /_ping to answer on the unix socket
wait_sock() {
        for _ in $(seq 300); do
                curl -sf --unix-socket "$1" http://x/_ping >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        echo "$ME: nothing answers on $1" >&2
        return 1
}

# bench_busybox_tar DIR OUT: a busybox rootfs in DIR and, in OUT, an image of it in docker's
# archive format tagged bench/busybox:latest (for `load` into berth, docker and podman)
bench_busybox_tar() {
        "$ROOT/scripts/make-busybox-rootfs.sh" "$1" >/dev/null
        python3 - "$1" "$2" <<'PY'
import hashlib, io, json, sys, tarfile
rootfs, out = sys.argv[1:]
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as t:
    t.add(rootfs, arcname=".")
layer = raw.getvalue()
diff = "sha256:" + hashlib.sha256(layer).hexdigest()
# one history entry per layer: buildah refuses to build on an image without one
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
                  "history": [{"created_by": "bench busybox rootfs"}],
                  "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
cname = hashlib.sha256(cfg).hexdigest() + ".json"
man = json.dumps([{"Config": cname, "RepoTags": ["bench/busybox:latest"],
                   "Layers": ["l/layer.tar"]}]).encode()
with tarfile.open(out, "w") as t:
    for name, data in ((cname, cfg), ("l/layer.tar", layer), ("manifest.json", man)):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
PY
}

# bench_start_berthd DIR SOCKET: berthd of $BUILD on SOCKET, data root DIR/berth, log
# DIR/berthd.log; its pid in bpid
bench_start_berthd() {
        "$BUILD/cmd/berthd" --data-root "$1/berth" -H "unix://$2" \
                --shim "$BUILD/cmd/berth-shim" >"$1/berthd.log" 2>&1 &
        bpid=$!
}

# bench_start_dockerd DIR SOCKET: dockerd (runc, no bridge, no iptables) on SOCKET, everything
# under DIR, log DIR/dockerd.log; its pid in dpid
bench_start_dockerd() {
        dockerd -H "unix://$2" --data-root "$1/docker" --exec-root "$1/dexec" \
                --pidfile "$1/docker.pid" --bridge=none --iptables=false --ip6tables=false \
                >"$1/dockerd.log" 2>&1 &
        dpid=$!
}
