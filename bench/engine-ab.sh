#!/usr/bin/env bash
# Two berth builds side by side on the engine's start path: `run --rm --network=none busybox
# true` end to end through each build's berth, berthd and berth-shim, in interleaved hyperfine
# rounds (the order swapped each round, so drift on a shared machine hits both alike). For a
# before/after comparison of a change (e.g. a build of the commit before it in another worktree).
#
#   bench/engine-ab.sh BUILD_A BUILD_B      (as root; ROUNDS=n rounds of RUNS=n runs each)
#
# Each berthd runs with -b none on a private socket and data root under one temporary
# directory, removed at the end.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
ROUNDS=${ROUNDS:-6}
RUNS=${RUNS:-10}
[ $# = 2 ] || { echo "usage: $ME BUILD_A BUILD_B" >&2; exit 2; }
A=$(readlink -f "$1") B=$(readlink -f "$2")
for b in "$A" "$B"; do
        for x in berth berthd berth-shim; do
                [ -x "$b/cmd/$x" ] || { echo "$ME: $b/cmd/$x not built" >&2; exit 1; }
        done
done
bench_need_tools hyperfine jq
bench_need_root

T=$(mktemp -d /tmp/berth-bench-ab.XXXXXX)
apid= bpid2=
cleanup() {
        set +e
        for s in a b; do
                c="$([ $s = a ] && echo "$A" || echo "$B")/cmd/berth -H unix://$T/$s.sock"
                ids=$($c ps -aq 2>/dev/null)
                [ -n "$ids" ] && $c rm -f $ids >/dev/null 2>&1
        done
        bench_stop_pids $apid $bpid2
        rm -rf "$T"
}
trap cleanup EXIT

bench_busybox_tar "$T/rootfs" "$T/bb.tar"
start() { # BUILD NAME: berthd of BUILD on $T/NAME.sock, its pid printed
        "$1/cmd/berthd" --data-root "$T/$2" -H "unix://$T/$2.sock" -b none \
                --shim "$1/cmd/berth-shim" >"$T/$2.log" 2>&1 &
        echo $!
}
apid=$(start "$A" a)
bpid2=$(start "$B" b)
wait_sock "$T/a.sock"
wait_sock "$T/b.sock"
CA="$A/cmd/berth -H unix://$T/a.sock"
CB="$B/cmd/berth -H unix://$T/b.sock"
IMG=bench/busybox:latest
for c in "$CA" "$CB"; do
        $c load -i "$T/bb.tar" >/dev/null
        out=$($c run --rm --network=none $IMG echo ok 2>&1)
        [ "$out" = ok ] || { echo "$ME: '$c run' does not work: $out" >&2; exit 1; }
done

echo "== run --rm --network=none busybox true: A=$A B=$B ($ROUNDS rounds x $RUNS runs each)"
for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
        args=()
        for s in $order; do
                c=$([ $s = A ] && echo "$CA" || echo "$CB")
                args+=(-n "$s" "$c run --rm --network=none $IMG true")
        done
        hyperfine -N -w 2 -r "$RUNS" --export-json "$T/r$r.json" "${args[@]}" >/dev/null 2>&1
        jq -r '.results[] | "\(.command) \(.mean * 1000) \(.median * 1000)"' "$T/r$r.json" |
                sort | awk -v r="$r" '{printf "  round %d %s mean %.1f ms median %.1f ms\n", r, $1, $2, $3}'
done
jq -rs '[.[].results[]] | group_by(.command)[] |
        "\(.[0].command) \([.[].times[]] | sort | .[length/2|floor] * 1000) \([.[].times[]] | add / length * 1000)"' \
        "$T"/r*.json | awk '{m[$1] = $2; a[$1] = $3; printf "%s: median %.1f ms, mean %.1f ms over all runs\n", $1, $2, $3}
        END {printf "B/A median %.3f, mean %.3f\n", m["B"] / m["A"], a["B"] / a["A"]}'
