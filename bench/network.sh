#!/usr/bin/env bash
# berth beside docker with networking on, each engine in a network namespace of its own (dockerd
# from docker.io with its default bridge, iptables and userland proxy; berthd with its default
# bridge and nftables table):
#   1. `run --rm busybox true` on the default bridge (hyperfine)
#   2. publishing `-p 20000-20999:20000-20999`: the time of `run -d`, then the memory of the daemon
#      and its port proxies (docker-proxy processes; berthd's children that are not shims)
#   3. throughput through a published port: a bounded transfer (busybox nc in the container,
#      busybox nc on the namespace's host side over 127.0.0.1)
# Each prints `berth X · docker Y · ratio Z`. An engine whose networking does not work yet is
# reported as such and the others still run.
#
#   bench/network.sh [run]  (as root; BERTH_BUILD=dir, RUNS=n, MB=n for the transfer size,
#                            NPORTS=n instead of 1000 for a quick look; `run`: only part 1)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
ONLY=${1:-}
[ -z "$ONLY" ] || [ "$ONLY" = run ] || { echo "usage: $0 [run]" >&2; exit 2; }
RUNS=${RUNS:-15}
MB=${MB:-256}
NPORTS=${NPORTS:-1000}
PR="20000-$((20000 + NPORTS - 1))"
bench_need_built berth berthd berth-shim
bench_need_tools hyperfine dockerd docker jq nsenter unshare busybox
bench_need_root

T=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
IMG=bench/busybox:latest
BERTH="$BUILD/cmd/berth -H unix://$T/berth.sock"
DOCKER="docker -H unix://$T/docker.sock"
bg=()
cleanup() {
        set +e
        for c in "$BERTH" "$DOCKER"; do
                ids=$($c ps -aq 2>/dev/null)
                [ -n "$ids" ] && $c rm -f $ids >/dev/null 2>&1
        done
        bench_stop_pids $bpid $dpid "${bg[@]}"
        grep -o " $T/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do
                umount -l "$m" 2>/dev/null
        done
        umount -l "$T" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT

# the namespaces live in $T, a private mount (unshare(1) cannot pin on a shared one)
mount --bind "$T" "$T"
mount --make-private "$T"
for e in berth docker; do
        touch "$T/$e.ns"
        unshare --net="$T/$e.ns" true
        nsenter --net="$T/$e.ns" ip link set lo up
done
in_ns() { local e=$1; shift; nsenter --net="$T/$e.ns" "$@"; }

bench_busybox_tar "$T/rootfs" "$T/bb.tar"
# nsenter execs the daemon itself: $! is the daemon's pid (its port proxies are its children)
nsenter --net="$T/berth.ns" "$BUILD/cmd/berthd" --data-root "$T/berth" -H "unix://$T/berth.sock" \
        --shim "$BUILD/cmd/berth-shim" >"$T/berthd.log" 2>&1 &
bpid=$!
nsenter --net="$T/docker.ns" dockerd -H "unix://$T/docker.sock" --data-root "$T/docker" --exec-root "$T/dexec" \
        --pidfile "$T/docker.pid" --iptables=true --ip6tables=false >"$T/dockerd.log" 2>&1 &
dpid=$!
wait_sock "$T/berth.sock"
wait_sock "$T/docker.sock"
$BERTH load -i "$T/bb.tar" >/dev/null
$DOCKER load -i "$T/bb.tar" >/dev/null

# an engine takes part when a container on its default bridge has an address and a route
works=()
why=()
for e in berth docker; do
        c=$([ $e = berth ] && echo "$BERTH" || echo "$DOCKER")
        out=$($c run --rm $IMG sh -c 'ip -o -4 addr show eth0 && ip route | grep default' 2>&1) &&
                works+=($e) || why+=("$e: default bridge does not work: $(echo "$out" | tail -1)")
done
for w in "${why[@]}"; do echo "$ME: $w" >&2; done
has() { [[ " ${works[*]} " == *" $1 "* ]]; }
has docker || { echo "$ME: dockerd's networking does not work here" >&2; exit 1; }
# ratio line: berth X · docker Y · ratio Z (or berth's failure)
report() { # what unit berth docker goal
        if [ -n "$3" ]; then
                awk -v w="$1" -v u="$2" -v b="$3" -v d="$4" -v g="$5" 'BEGIN {
                        printf "%s: berth %.1f %s · docker %.1f %s · ratio %.3f (%s)\n", w, b, u, d, u, b / d, g }'
        else
                awk -v w="$1" -v u="$2" -v d="$4" 'BEGIN {
                        printf "%s: berth n/a (networking not there yet) · docker %.1f %s\n", w, d, u }'
        fi
}

# ---------------------------------------------------------------- 1. run --rm on the bridge
echo "== run --rm busybox true on the default bridge (hyperfine, $RUNS runs each)"
cmds=(-n docker "$DOCKER run --rm $IMG true")
has berth && cmds+=(-n berth "$BERTH run --rm $IMG true")
hyperfine -N -w 2 -r "$RUNS" --export-json "$T/h.json" "${cmds[@]}" \
        >"$T/hyperfine.txt" 2>&1 || { cat "$T/hyperfine.txt" >&2; exit 1; }
ms() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean * 1000' "$T/h.json"; }
b=$(has berth && ms berth || true)
report "run --rm (bridge)" ms "$b" "$(ms docker)" "goal <= 0.067, 1/15 of docker"
[ "$ONLY" = run ] && exit 0

# ---------------------------------------------------------------- 2. 1,000 published ports
echo "== run -d -p $PR:$PR ($NPORTS ports, tcp)"
# the daemon and what it runs for ports: docker-proxy processes, berthd's children that are not
# shims (its nftables helper); RSS in KiB
mem_of() {
        local pid=$1 total kids k comm
        total=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
        kids=$(pgrep -P "$pid" || true)
        for k in $kids; do
                comm=$(cat /proc/$k/comm 2>/dev/null || true)
                case $comm in
                berth-shim | containerd*) ;;
                *) total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/$k/status 2>/dev/null || echo 0))) ;;
                esac
        done
        echo "$total"
}
publish() { # engine cli pid → "seconds kib"
        local c=$2 t0 t1
        t0=$(date +%s.%N)
        $c run -d --name pub1000 -p "$PR:$PR" $IMG sleep 600 >/dev/null 2>"$T/pub.err" ||
                { echo "fail $(tail -1 "$T/pub.err")"; return; }
        t1=$(date +%s.%N)
        sleep 1
        [ "$1" = docker ] && pgrep -P "$3" -c -x docker-proxy >"$T/proxies" || true
        echo "$(echo "$t1 - $t0" | bc) $(mem_of "$3")"
        $c rm -f pub1000 >/dev/null
}
read -r dt dm <<<"$(publish docker "$DOCKER" "$dpid")"
bt= bm=
if has berth; then
        read -r bt bm <<<"$(publish berth "$BERTH" "$bpid")"
        [ "$bt" = fail ] && { echo "$ME: berth -p 1000 ports: $bm" >&2; bt= bm=; }
fi
report "publish $NPORTS ports: time" ms "$([ -n "$bt" ] && echo "$bt * 1000" | bc)" \
        "$(echo "$dt * 1000" | bc)" "goal <= 0.1"
report "publish $NPORTS ports: daemon+proxy memory" MiB "$([ -n "$bm" ] && echo "scale=2; $bm / 1024" | bc)" \
        "$(echo "scale=2; $dm / 1024" | bc)" "goal <= 0.02"
echo "  (docker's figure includes its docker-proxy processes: $(cat "$T/proxies" 2>/dev/null || echo ?))"

# ---------------------------------------------------------------- 3. throughput
echo "== throughput through a published port: $MB MiB, container nc -> host nc on 127.0.0.1"
# busybox nc ends at its stdin's EOF: its stdin is a fifo a sleeping writer keeps open, so it
# ends when the data does
mkfifo "$T/stdin"
sleep 3600 >"$T/stdin" &
bg+=($!)
xfer() { # engine cli → MiB/s
        local e=$1 c=$2 best=0 t0 t1 n
        $c run -d --name src -p 25001:5001 $IMG sh -c \
                "while true; do dd if=/dev/zero bs=1M count=$MB 2>/dev/null | nc -l -p 5001; done" >/dev/null
        sleep 1
        for _ in 1 2 3; do
                t0=$(date +%s.%N)
                n=$(in_ns "$e" busybox nc 127.0.0.1 25001 <"$T/stdin" | wc -c)
                t1=$(date +%s.%N)
                [ "$n" = $((MB * 1048576)) ] || { echo "fail got $n bytes"; $c rm -f src >/dev/null; return; }
                best=$(echo "r=$MB / ($t1 - $t0); if (r > $best) r else $best" | bc -l)
                sleep 0.3
        done
        $c rm -f src >/dev/null
        echo "$best"
}
dx=$(xfer docker "$DOCKER")
bx=
if has berth; then
        bx=$(xfer berth "$BERTH")
        [[ "$bx" == fail* ]] && { echo "$ME: berth transfer: $bx" >&2; bx=; }
fi
report "throughput (best of 3)" MiB/s "$bx" "$dx" "goal >= 1"
