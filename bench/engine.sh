#!/usr/bin/env bash
# berth beside docker and podman: `run --rm --network=none busybox true` end to end (client +
# daemon + runtime) in one hyperfine run, then berthd's idle RSS, one shim's RSS and the memory of
# 100 idle containers (shims + container processes).
#
#   bench/engine.sh            (as root; BERTH_BUILD=dir to pick a build, RUNS=n, IDLE=n)
#
# Everything runs on private sockets and data roots under one temporary directory: a berthd, a
# dockerd from docker.io (runc) and podman with its own storage (runc). All are stopped and the
# directory removed at the end.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
RUNS=${RUNS:-20}
IDLE=${IDLE:-100}
bench_need_built berth berthd berth-shim
bench_need_tools hyperfine dockerd docker podman jq
bench_need_root

T=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
BERTH="$BUILD/cmd/berth -H unix://$T/berth.sock"
DOCKER="docker -H unix://$T/docker.sock"
PODMAN="podman --root $T/podman --runroot $T/podman-run --runtime runc"
# podman's default rlimits are above what this machine's hard limits allow (as in the acceptance
# check): the same explicit ulimits for its runs
PODMAN_RUN="run --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
cleanup() {
        set +e
        ids=$($BERTH ps -aq 2>/dev/null)
        [ -n "$ids" ] && $BERTH rm -f $ids >/dev/null 2>&1
        ids=$($DOCKER ps -aq 2>/dev/null)
        [ -n "$ids" ] && $DOCKER rm -f $ids >/dev/null 2>&1
        $PODMAN rm -af >/dev/null 2>&1
        $PODMAN rmi -af >/dev/null 2>&1
        bench_stop_pids $bpid $dpid
        umount -R "$T/podman" "$T/podman-run" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT

# one busybox image in docker's archive format for all three
bench_busybox_tar "$T/rootfs" "$T/bb.tar"

bench_start_berthd "$T" "$T/berth.sock"
bench_start_dockerd "$T" "$T/docker.sock"
wait_sock "$T/berth.sock"
wait_sock "$T/docker.sock"
$BERTH load -i "$T/bb.tar" >/dev/null
$DOCKER load -i "$T/bb.tar" >/dev/null
$PODMAN load -i "$T/bb.tar" >/dev/null 2>&1
# podman names the archive's tag docker.io/bench/busybox:latest
IMG=bench/busybox:latest
for c in "$BERTH run" "$DOCKER run" "$PODMAN $PODMAN_RUN"; do
        out=$($c --rm --network=none $IMG echo ok 2>&1) || true
        [ "$out" = ok ] || [ "${out##*$'\n'}" = ok ] || {
                echo "engine.sh: '$c' does not work: $out" >&2
                exit 1
        }
done

echo "== run --rm --network=none busybox true (hyperfine, $RUNS runs each)"
hyperfine -N -w 3 -r "$RUNS" --export-json "$T/h.json" \
        -n berth "$BERTH run --rm --network=none $IMG true" \
        -n docker "$DOCKER run --rm --network=none $IMG true" \
        -n podman "$PODMAN $PODMAN_RUN --rm --network=none $IMG true" >"$T/hyperfine.txt" 2>&1 || {
        cat "$T/hyperfine.txt" >&2
        exit 1
}
ms() { jq -r --arg n "$1" --arg k "$2" '.results[] | select(.command == $n) | .[$k] * 1000' "$T/h.json"; }
b=$(ms berth mean) d=$(ms docker mean) p=$(ms podman mean)
awk -v b="$b" -v d="$d" -v p="$p" 'BEGIN {
        printf "berth %.1f ms · docker %.1f ms · podman %.1f ms · berth/docker %.3f (goal <= 0.05) · berth/podman %.3f (goal <= 0.10)\n", b, d, p, b / d, b / p }'
for n in berth docker podman; do
        printf '  %-6s mean %.1f ± %.1f ms, min %.1f ms, median %.1f ms\n' "$n" "$(ms $n mean)" \
                "$(ms $n stddev)" "$(ms $n min)" "$(ms $n median)"
done
# the client alone: every request it makes answered, without the container's work
c=$(hyperfine -N -w 3 -r 50 --export-json "$T/v.json" "$BERTH version" >/dev/null 2>&1 &&
        jq -r '.results[0].mean * 1000' "$T/v.json")
printf 'berth CLI round trip (version: /version request + output): %.2f ms\n' "$c"
libs=$(ldd "$BUILD/cmd/berth" | grep -c '=>' || true)
ld=$(LD_DEBUG=statistics "$BUILD/cmd/berth" --version 2>&1 >/dev/null |
        awk '/total startup time in dynamic loader/ {print $NF == "cycles" ? $(NF-1) : $NF}' | head -1)
t=$(hyperfine -N -w 5 -r 100 --export-json "$T/t.json" "$BUILD/cmd/berth --version" /bin/true \
        >/dev/null 2>&1 && jq -r '[.results[].mean * 1000] | "\(.[0]) \(.[1])"' "$T/t.json")
printf 'berth CLI start: %s shared libraries, %s cycles in the dynamic loader; --version %.2f ms vs /bin/true %.2f ms\n' \
        "$libs" "$ld" ${t:-0 0}

kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
shims() {
        for p in /proc/[0-9]*; do
                tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "^[^ ]*berth-shim .*$T/berth" &&
                        echo "${p#/proc/}"
        done
        return 0
}
descendants() { # children of the given pids, recursively
        local all=" $* " changed=1
        while [ $changed = 1 ]; do
                changed=0
                for s in /proc/[0-9]*/stat; do
                        read -r pid _ _ ppid _ 2>/dev/null <"$s" || continue
                        case "$all" in *" $ppid "*) case "$all" in *" $pid "*) ;; *)
                                all="$all$pid "; changed=1 ;; esac ;; esac
                done
        done
        echo "$all"
}

# berthd gives memory back after a second without requests (server_idle): wait for two ticks
sleep 2.5
anon() { awk '/^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} END {printf "anon %d kB, file %d kB", a, f}' \
        "/proc/$1/status" 2>/dev/null; }
echo "== memory"
echo "berthd idle RSS: $(kb $bpid) kB (goal <= 8192 kB; $(anon $bpid), PSS $(pss $bpid) kB)"
$BERTH run -d --network=none $IMG sleep 1000 >/dev/null
s=$(shims | head -1)
echo "berth-shim RSS: $(kb "$s") kB, PSS $(pss "$s") kB (goal <= 1024 kB)"
$BERTH rm -f $($BERTH ps -aq) >/dev/null
for i in $(seq "$IDLE"); do
        $BERTH run -d --network=none $IMG sleep 1000 >/dev/null
done
sleep 2.5
pids=$(descendants $(shims))
rss=0 pss_sum=0 n=0
for p in $pids; do
        rss=$((rss + $(kb "$p")))
        pss_sum=$((pss_sum + $(pss "$p")))
        n=$((n + 1))
done
echo "$IDLE idle containers: $n processes (shims + containers), RSS sum $((rss / 1024)) MB," \
        "PSS sum $((pss_sum / 1024)) MB, berthd RSS $(kb $bpid) kB"
$BERTH rm -f $($BERTH ps -aq) >/dev/null
