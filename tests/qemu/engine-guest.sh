#!/bin/sh
# Runs inside the qemu guest (busybox + the engine's binaries) on a pure cgroup v1 or pure v2
# host: starts berthd, drives it with the berth CLI through run, resource limits, stats, OOM,
# pause/unpause, update and rm, compares with the kernel's cgroup files, prints
# "N passed, N failed".
#   engine-guest.sh BIN_DIR DEFAULT_IMAGE SECCOMP_PROFILE
BIN=$1
export BERTH_DEFAULT_IMAGE=$2
SOCK=/run/berth-e.sock
DATA=/tmp/e
B="$BIN/berth -H unix://$SOCK"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # name expected actual
        if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$2] got [$3]"; fi
}
# hybrid: v1 controllers plus an empty cgroup2 at unified/ (freezing goes through cgroup.freeze)
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        MODE=v2
elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
        MODE=hybrid
else
        MODE=v1
fi
echo "guest cgroup mode: $MODE"

SECCOMP=$3
# the cgroup checks need no bridge: berthd runs with -b none until the networking step
DAEMON_ARGS="-b none"
start_daemon() {
        "$BIN/berthd" --data-root $DATA -H unix://$SOCK --seccomp-profile "$SECCOMP" $DAEMON_ARGS \
                >>/tmp/berthd.log 2>&1 &
        DPID=$!
        i=0
        until $B version >/dev/null 2>&1; do
                i=$((i + 1))
                if [ $i -gt 150 ] || ! kill -0 $DPID 2>/dev/null; then
                        echo "berthd did not start:"
                        cat /tmp/berthd.log
                        echo "$pass passed, $((fail + 1)) failed"
                        exit 1
                fi
                sleep 0.2
        done
        ok "berthd up"
}
start_daemon

# the container's cgroup dir of a controller (v1) or the unified dir (v2), from its init's
# /proc/PID/cgroup
cgdir() { # pid controller
        if [ $MODE = v2 ]; then
                echo "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$1/cgroup)"
        elif [ -z "$2" ]; then
                echo "/sys/fs/cgroup/unified$(sed -n 's/^0:://p' /proc/$1/cgroup)"
        else
                echo "/sys/fs/cgroup/$2$(grep -E "^[0-9]+:([^:]*,)?$2(,[^:]*)?:" /proc/$1/cgroup | cut -d: -f3)"
        fi
}
# bytes of docker's human units ("552KiB", "1.5MiB", "64MiB", "0B"), integer part only
bytes() {
        awk -v s="$1" 'BEGIN { n = s + 0; u = s; sub(/^[0-9.]+/, "", u);
                m = u == "KiB" ? 1024 : u == "MiB" ? 1048576 : u == "GiB" ? 1073741824 : 1;
                printf "%d\n", n * m }'
}

# 1. run, output, exit codes
check "run --rm echo" hi "$($B run --rm busybox echo hi 2>&1)"
$B run --rm busybox sh -c 'exit 3'
check "exit code propagates" 3 $?

# 2. limits: the kernel's values, inspect and stats agree
ID=$($B run -d --memory 64m --cpus 0.5 --pids-limit 20 busybox sleep 1000)
check "run -d" 0 $?
PID=$($B inspect -f '{{.State.Pid}}' "$ID")
check "inspect limits" "67108864 500000000 20" \
        "$($B inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' "$ID")"
if [ $MODE = v2 ]; then
        CG=$(cgdir "$PID")
        MEMF=$CG/memory.max
        check "cgroup limits" "67108864 50000 100000 20" \
                "$(cat $MEMF) $(cat $CG/cpu.max) $(cat $CG/pids.max)"
        PIDSF=$CG/pids.current
        USEF=$CG/memory.current
else
        MEMF=$(cgdir "$PID" memory)/memory.limit_in_bytes
        CPU=$(cgdir "$PID" cpu)
        PIDSF=$(cgdir "$PID" pids)/pids.current
        USEF=$(cgdir "$PID" memory)/memory.usage_in_bytes
        check "cgroup limits" "67108864 50000 100000 20" \
                "$(cat $MEMF) $(cat $CPU/cpu.cfs_quota_us) $(cat $CPU/cpu.cfs_period_us) $(cat $(cgdir "$PID" pids)/pids.max)"
fi
case "$CG$MEMF" in *"$ID"*) ok "cgroup named after the container" ;; *) bad "cgroup path $MEMF" ;; esac
S=$($B stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}' "$ID")
echo "stats: $S; kernel: usage $(cat $USEF) pids $(cat $PIDSF)"
USED=${S%% / *}
LIMIT=${S#* / }
LIMIT=${LIMIT%%|*}
check "stats memory limit" 64MiB "$LIMIT"
check "stats pids = pids.current" "$(cat $PIDSF)" "${S##*|}"
U=$(bytes "$USED")
if [ "$U" -gt 0 ] && [ "$U" -lt 67108864 ] && [ "$U" -le "$(cat $USEF)" ]; then
        ok "stats memory usage plausible ($USED)"
else
        bad "stats memory usage $USED (kernel $(cat $USEF))"
fi

# 3. update changes the kernel's limit; memory+swap stays docker's (twice the first memory)
swapv() { # memory+swap as the kernel has it
        if [ $MODE = v2 ]; then
                echo $(($(cat $CG/memory.swap.max) + $(cat $MEMF)))
        else
                cat "${MEMF%/*}/memory.memsw.limit_in_bytes"
        fi
}
check "memory+swap twice the memory" 134217728 "$(swapv)"
$B update --memory 128m "$ID" >/dev/null
check "update exit" 0 $?
check "update memory file" 134217728 "$(cat $MEMF)"
check "update keeps memory+swap" 134217728 "$(swapv)"
check "update inspect" 134217728 "$($B inspect -f '{{.HostConfig.Memory}}' "$ID")"
E=$($B update --memory 256m "$ID" 2>&1)
case "$E" in *"update the memoryswap at the same time"*) ok "memory above memory+swap refused" ;;
*) bad "memory above memory+swap: $E" ;; esac
check "refused update leaves the file" 134217728 "$(cat $MEMF)"
$B update --memory 256m --memory-swap 512m --pids-limit 30 --cpus 1 "$ID" >/dev/null
check "update memory and swap" "268435456 536870912" "$(cat $MEMF) $(swapv)"
if [ $MODE = v2 ]; then
        check "update pids and cpus" "30 100000 100000" "$(cat $CG/pids.max) $(cat $CG/cpu.max)"
else
        check "update pids and cpus" "30 100000" \
                "$(cat $(cgdir "$PID" pids)/pids.max) $(cat $CPU/cpu.cfs_quota_us)"
fi

# 4. pause/unpause: the process stops counting (the size of a file it appends to), then counts
# again
P=$($B run -d --cpus 0.5 busybox sh -c 'while :; do echo -n x >>/n; done')
PP=$($B inspect -f '{{.State.Pid}}' "$P")
sleep 1
# a busy loop under --cpus 0.5: about half a CPU by the kernel's count and by stats (whose
# first sample's baseline is the container's start)
cpu_usec() {
        if [ $MODE = v2 ]; then
                sed -n 's/usage_usec //p' "$(cgdir "$PP")/cpu.stat"
        else
                echo $(($(cat "$(cgdir "$PP" cpuacct)/cpuacct.usage") / 1000))
        fi
}
# the window is the guest's own elapsed time (/proc/uptime): the stats call inside it takes a
# while under TCG on a busy host, so "sleep 2" alone is not its length
uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }
T0=$(uptime_cs)
U0=$(cpu_usec)
CPUP=$($B stats --no-stream --format '{{.CPUPerc}}' "$P")
sleep 2
KP=$((($(cpu_usec) - U0) / ($(uptime_cs) - T0) / 100))
echo "busy loop at --cpus 0.5: stats $CPUP, kernel ~$KP% over $(($(uptime_cs) - T0)) cs"
half() { awk -v p="${1%\%}" 'BEGIN { exit !(p >= 40 && p <= 65) }'; }
half "$KP" && ok "cpu limit enforced ($KP%)" || bad "cpu limit: $KP%"
half "$CPUP" && ok "stats cpu percent ($CPUP)" || bad "stats cpu percent $CPUP"
$B pause "$P" >/dev/null
check "pause exit" 0 $?
check "paused state" "true paused" "$($B inspect -f '{{.State.Paused}} {{.State.Status}}' "$P")"
if [ $MODE != v1 ]; then
        check "cgroup.freeze" 1 "$(cat $(cgdir "$PP")/cgroup.freeze)"
else
        check "freezer.state" FROZEN "$(cat $(cgdir "$PP" freezer)/freezer.state)"
fi
A=$(wc -c </proc/$PP/root/n)
sleep 1
[ "${A:-0}" -gt 0 ] && ok "counter ran before the pause" || bad "counter empty: [$A]"
check "frozen counter" "$A" "$(wc -c </proc/$PP/root/n)"
$B unpause "$P" >/dev/null
check "unpause exit" 0 $?
check "unpaused state" "false running" "$($B inspect -f '{{.State.Paused}} {{.State.Status}}' "$P")"
sleep 1
C=$(wc -c </proc/$PP/root/n)
[ "${C:-0}" -gt "${A:-0}" ] && ok "counter runs again ($A -> $C)" || bad "counter stuck at $C"

# a paused container across a daemon kill -9: still paused (and removed while paused below)
$B pause "$P" >/dev/null
kill -9 $DPID
wait $DPID 2>/dev/null
start_daemon
check "paused after daemon restart" "true paused" \
        "$($B inspect -f '{{.State.Paused}} {{.State.Status}}' "$P")"

# 5. OOM kill: exit 137, OOMKilled, an oom event
T0=$(date +%s)
$B run --name oom --memory 20m busybox sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a)'
check "oom exit code" 137 $?
check "OOMKilled" true "$($B inspect -f '{{.State.OOMKilled}}' oom)"
EV=$($B events --since "$T0" --until "$(($(date +%s) + 1))" --filter event=oom --format '{{.Action}} {{.Actor.Attributes.name}}')
check "oom event" "oom oom" "$EV"

# a child killed, the container's init going on: still OOMKilled (the cgroup's oom_kill count)
$B run --name oomchild --memory 20m busybox sh -c \
        'sh -c "x=\$(head -c 100000000 /dev/zero | tr \"\\0\" a)"; echo child $?' >/tmp/oomchild
check "oom of a child: init's exit" "0 child 137" "$? $(cat /tmp/oomchild)"
check "oom of a child: OOMKilled" true "$($B inspect -f '{{.State.OOMKilled}}' oomchild)"

# 6. rm -f leaves no cgroup, no mount, no state
for c in ${ID:-limits} ${P:-pause} oom oomchild; do
        FULL=$($B inspect -f '{{.Id}}' "$c")
        [ -n "$FULL" ] || { bad "no container $c"; continue; }
        $B rm -f "$c" >/dev/null
        check "rm -f $c" 0 $?
        check "no cgroup left ($c)" "" "$(find /sys/fs/cgroup -name "$FULL" 2>/dev/null)"
        check "no mount left ($c)" 0 "$(grep -c "$FULL" /proc/self/mountinfo)"
done
check "no containers" "" "$($B ps -aq)"
check "berth cgroups empty" "" "$(find /sys/fs/cgroup -path '*/berth/*' -type d 2>/dev/null)"
# berthd keeps a few network namespaces ready (runtime/netns-pool) while it runs: nothing else
check "no mounts under the data root" 0 "$(grep " $DATA/" /proc/self/mountinfo | grep -vc " $DATA/runtime/netns-pool/")"

# 7. networking (bridge, veth and nf_tables modules loaded by the harness): berthd again with its
# default bridge; two containers on it, name resolution on a user network, a published port
# reached from the guest, nothing left after rm.
kill $DPID
wait $DPID
DAEMON_ARGS=
start_daemon
WARN=$($B info 2>&1 | grep -i -m1 "bridge networking")
check "net: no warning in info" "" "$WARN"
check "net: default bridge network" bridge "$($B network ls --format '{{.Name}}' 2>&1 | grep -x bridge)"
ip link set lo up 2>/dev/null
$B run -d --name web1 busybox httpd -f -p 80 -h /etc >/dev/null
check "net: run on the default bridge" 0 $?
IP=$($B inspect -f '{{.NetworkSettings.IPAddress}}' web1)
case $IP in
[0-9]*.[0-9]*.[0-9]*.[0-9]*) ok "net: address $IP" ;;
*) bad "net: no address on the bridge: [$IP]" ;;
esac
$B run --rm busybox ping -c1 -W3 "$IP" >/dev/null 2>&1
check "net: ping container to container" 0 $?
check "net: wget container to container" "root:x:0:" \
        "$($B run --rm busybox wget -qO- "http://$IP/group" 2>&1 | head -1)"
$B network create qnet >/dev/null
check "net: network create" 0 $?
$B run -d --name named --network qnet --network-alias alias1 busybox httpd -f -p 80 -h /etc >/dev/null
check "net: run on a user network" 0 $?
check "net: name resolution on a user network" "root:x:0:" \
        "$($B run --rm --network qnet busybox wget -qO- http://named/group 2>&1 | head -1)"
$B run --rm --network qnet busybox ping -c1 -W3 alias1 >/dev/null 2>&1
check "net: ping by alias" 0 $?
$B run -d --name web2 -p 18080:80 busybox httpd -f -p 80 -h /etc >/dev/null
check "net: run -p 18080:80" 0 $?
got=
for i in 1 2 3 4 5 6 7 8 9 10; do
        got=$(wget -qO- http://127.0.0.1:18080/group 2>/dev/null | head -1)
        [ -n "$got" ] && break
        sleep 0.3
done
check "net: published port from the guest" "root:x:0:" "$got"
check "net: port" "0.0.0.0:18080" "$($B port web2 80 | head -1)"
$B rm -f web1 web2 named >/dev/null
$B network rm qnet >/dev/null
check "net: network rm" 0 $?
check "net: no veth left" 0 "$(ip -o link | grep -c ': bv')"

kill $DPID
wait $DPID
grep -E " (warn|error):" /tmp/berthd.log | head -20
echo "$pass passed, $fail failed"
[ $fail = 0 ]
