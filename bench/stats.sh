#!/usr/bin/env bash
# One-shot container stats, berthd beside dockerd: GET /containers/{id}/stats?stream=false for N
# running containers, the time per container through the API (and through `docker stats
# --no-stream` as users see it). berthd answers from a fresh cgroup read plus its last sample;
# dockerd waits for a second sample. Goal: <= 5 ms per container.
#
#   bench/stats.sh            (as root; BERTH_BUILD=dir to pick a build, N=containers (5),
#                              DOCKER=0 to skip dockerd)
#
# Private sockets and data roots under one temporary directory, removed at the end.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
N=${N:-5}
WITH_DOCKER=${DOCKER:-1}
bench_need_built berthd berth-shim
bench_need_tools docker curl python3
if [ "$WITH_DOCKER" = 1 ] && ! command -v dockerd >/dev/null; then
        WITH_DOCKER=0
fi
bench_need_root

T=$(mktemp -d /tmp/berth-bench-stats.XXXXXX)
BSOCK=$T/berth.sock DSOCK=$T/docker.sock
cleanup() {
        set +e
        for s in "$BSOCK" "$DSOCK"; do
                [ -S "$s" ] || continue
                ids=$(docker -H "unix://$s" ps -aq 2>/dev/null)
                [ -n "$ids" ] && docker -H "unix://$s" rm -f $ids >/dev/null 2>&1
        done
        bench_stop_pids $bpid $dpid
        rm -rf "$T"
}
trap cleanup EXIT

bench_busybox_tar "$T/rootfs" "$T/bb.tar"
bench_start_berthd "$T" "$BSOCK"
socks=$BSOCK
if [ "$WITH_DOCKER" = 1 ]; then
        bench_start_dockerd "$T" "$DSOCK"
        socks="$socks $DSOCK"
fi
for s in $socks; do
        wait_sock "$s"
        docker -H "unix://$s" load -i "$T/bb.tar" >/dev/null
        for i in $(seq "$N"); do
                docker -H "unix://$s" run -d --network=none --name "s$i" bench/busybox:latest \
                        sh -c 'while :; do sleep 1; done' >/dev/null
        done
done

# median ms of one stats?stream=false request per container, over every container 5 times
api_ms() {
        python3 - "$1" "$N" <<'EOF'
import socket, statistics, sys, time
sock, n = sys.argv[1], int(sys.argv[2])
def get(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    t = time.perf_counter()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    while s.recv(65536):
        pass
    s.close()
    return (time.perf_counter() - t) * 1000
get("/containers/s1/stats?stream=false")  # warm
times = [get(f"/containers/s{i}/stats?stream=false") for _ in range(5) for i in range(1, n + 1)]
print(f"{statistics.median(times):.2f}")
EOF
}
cli_ms() {
        local t0 t1
        t0=$(date +%s%N)
        docker -H "unix://$1" stats --no-stream $(seq -f 's%g' "$N") >/dev/null
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000))
}

echo "== one-shot stats, $N running containers"
b=$(api_ms "$BSOCK") bc=$(cli_ms "$BSOCK")
printf 'berthd: %s ms per container (API, median) · docker stats --no-stream of all %s: %s ms\n' \
        "$b" "$N" "$bc"
if [ "$WITH_DOCKER" = 1 ]; then
        d=$(api_ms "$DSOCK") dc=$(cli_ms "$DSOCK")
        printf 'dockerd: %s ms per container (API, median) · docker stats --no-stream of all %s: %s ms\n' \
                "$d" "$N" "$dc"
        awk -v b="$b" -v d="$d" 'BEGIN { printf "berthd/dockerd per container: %.4f\n", b / d }'
fi
awk -v b="$b" 'BEGIN { printf "goal <= 5 ms per container: %s\n", (b <= 5 ? "met" : "NOT met") }'
