#!/usr/bin/env bash
# berth's builder beside docker's classic builder (DOCKER_BUILDKIT=0 on dockerd from docker.io)
# and `buildah bud` (when installed): a 10-step Dockerfile on busybox (COPY of 1,000 small files,
# RUN steps, ENV, WORKDIR), built cold (--no-cache) and rebuilt fully cached, in one hyperfine
# run each.
#
#   bench/build.sh             (as root; BERTH_BUILD=dir to pick a build, RUNS=n)
#
# Everything runs on private sockets and data roots under one temporary directory, removed at
# the end. Targets (issue 14): cold build <= 0.5 x docker, cached rebuild <= 0.2 x docker.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
RUNS=${RUNS:-10}
bench_need_built berth berthd berth-shim
bench_need_tools hyperfine dockerd docker jq
bench_need_root

T=$(mktemp -d /tmp/berth-bench-build.XXXXXX)
BERTH="$BUILD/cmd/berth -H unix://$T/berth.sock"
DOCKER="docker -H unix://$T/docker.sock"
BUILDAH=
# buildah on overlay storage (as docker's overlay2 and berth's overlay snapshots), its RUN steps
# through runc like docker's (buildah's default crun refuses hybrid cgroup hosts)
command -v buildah >/dev/null &&
        BUILDAH="buildah --root $T/buildah --runroot $T/buildah-run --storage-driver overlay"
BUD="bud --runtime runc -q --layers"
cleanup() {
        set +e
        ids=$($BERTH ps -aq 2>/dev/null)
        [ -n "$ids" ] && $BERTH rm -f $ids >/dev/null 2>&1
        ids=$($DOCKER ps -aq 2>/dev/null)
        [ -n "$ids" ] && $DOCKER rm -f $ids >/dev/null 2>&1
        [ -n "$BUILDAH" ] && $BUILDAH rm -a >/dev/null 2>&1 && $BUILDAH rmi -af >/dev/null 2>&1
        bench_stop_pids $bpid $dpid
        # what buildah's overlay storage left mounted under $T (deepest first)
        awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r |
                while read -r m; do umount "$m" 2>/dev/null; done
        rm -rf "$T"
}
trap cleanup EXIT

bench_busybox_tar "$T/rootfs" "$T/bb.tar"
bench_start_berthd "$T" "$T/berth.sock"
bench_start_dockerd "$T" "$T/docker.sock"
wait_sock "$T/berth.sock"
wait_sock "$T/docker.sock"
$BERTH load -i "$T/bb.tar" >/dev/null
$DOCKER load -i "$T/bb.tar" >/dev/null
[ -n "$BUILDAH" ] && $BUILDAH pull -q "docker-archive:$T/bb.tar" >/dev/null 2>&1 || BUILDAH=

C=$T/ctx
mkdir -p "$C/files"
for i in $(seq 1000); do echo "file $i" >"$C/files/f$i.txt"; done
cat >"$C/Dockerfile" <<'DF'
FROM bench/busybox:latest
ENV APP=/app MODE=bench
WORKDIR /app
COPY files/ ./files/
RUN ls files | wc -l > count
RUN echo "$MODE" > mode
ENV READY=1
RUN cat count mode > summary
WORKDIR /app/out
CMD ["cat", "/app/summary"]
DF
export DOCKER_BUILDKIT=0
builders=("$BERTH build -q -t bench/app" "$DOCKER build -q -t bench/app")
[ -n "$BUILDAH" ] && builders+=("$BUILDAH $BUD -t bench/app")
for c in "${builders[@]}"; do
        $c "$C" >/dev/null 2>&1 || { echo "build.sh: '$c' does not work" >&2; exit 1; }
done

cmds=(-n berth "$BERTH build -q --no-cache -t bench/app $C"
      -n docker "$DOCKER build -q --no-cache -t bench/app $C")
[ -n "$BUILDAH" ] && cmds+=(-n buildah "$BUILDAH $BUD --no-cache -t bench/app $C")
echo "== cold build, 10 steps, 1,000 files (hyperfine, $RUNS runs each)"
hyperfine -N -w 1 -r "$RUNS" --export-json "$T/cold.json" "${cmds[@]}" >"$T/h1.txt" 2>&1 || {
        cat "$T/h1.txt" >&2
        exit 1
}
cmds=(-n berth "$BERTH build -q -t bench/app $C" -n docker "$DOCKER build -q -t bench/app $C")
[ -n "$BUILDAH" ] && cmds+=(-n buildah "$BUILDAH $BUD -t bench/app $C")
echo "== fully cached rebuild (hyperfine, $((RUNS * 3)) runs each)"
hyperfine -N -w 2 -r "$((RUNS * 3))" --export-json "$T/cached.json" "${cmds[@]}" >"$T/h2.txt" 2>&1 || {
        cat "$T/h2.txt" >&2
        exit 1
}
ms() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .mean * 1000' "$1"; }
for kind in cold cached; do
        b=$(ms "$T/$kind.json" berth) d=$(ms "$T/$kind.json" docker)
        goal=0.5
        [ $kind = cached ] && goal=0.2
        line=$(awk -v b="$b" -v d="$d" -v g="$goal" -v k="$kind" 'BEGIN {
                printf "%s: berth %.1f ms · docker %.1f ms · ratio %.3f (goal <= %s)", k, b, d, b / d, g }')
        if [ -n "$BUILDAH" ]; then
                h=$(ms "$T/$kind.json" buildah)
                line="$line$(awk -v b="$b" -v h="$h" 'BEGIN { printf " · buildah %.1f ms · berth/buildah %.3f", h, b / h }')"
        else
                line="$line · buildah not installed"
        fi
        echo "$line"
done
