#!/bin/sh
# Runs inside the qemu guest (busybox only) on a pure cgroup v1 or pure v2 host: drives the static
# berth-runtime through the cgroup features and prints "N passed, N failed".
#   cgroup-guest.sh RUNTIME ROOTFS_SRC
RT=$1
SRC=$2
W=/tmp/cgt
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # name expected actual
        if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$2] got [$3]"; fi
}
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then MODE=v2; else MODE=v1; fi
# hybrid (an empty cgroup2 at unified/) runs the v1 checks
echo "guest cgroup mode: $MODE$([ -d /sys/fs/cgroup/unified ] && echo " (hybrid)")"
mkdir -p $W
cp -a "$SRC" $W/rootfs

# config.json with the given args (a JSON array) and resources (a JSON object)
spec() { # args resources extra-linux
        cat >$W/config.json <<JSON
{"ociVersion": "1.2.0",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": $1,
   "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": true,
   "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}},
 "root": {"path": "rootfs", "readonly": true},
 "hostname": "guest",
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
  {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]}],
 "linux": {"resources": $2,
   "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}]
   $3}}
JSON
}
run() { # id -> stdout in $OUT, status in $RC
        OUT=$(cd $W && $RT --root /run/rt run "$1" 2>$W/err)
        RC=$?
}
leftover() { # id: prints cgroup dirs left behind
        find /sys/fs/cgroup -maxdepth 4 -name "$1" 2>/dev/null
}

# 1. exit code and pid 1
spec '["/bin/sh", "-c", "echo $$; exit 3"]' '{}'
run c1
check "exit code" 3 "$RC"
check "pid 1" 1 "$OUT"
check "no cgroup left after run" "" "$(leftover c1)"

# 2. limits visible inside the container's cgroup view and on the host
if [ $MODE = v2 ]; then
        spec '["/bin/sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/memory.low /sys/fs/cgroup/io.weight 2>&1 | tr \"\\n\" \" \"; cat /proc/self/cgroup"]' \
                '{"memory": {"limit": 67108864, "reservation": 33554432}, "pids": {"limit": 30}, "cpu": {"quota": 20000, "period": 100000, "shares": 1024}, "blockIO": {"weight": 500}}'
        run c2
        check "v2 limits" "67108864 30 20000 100000 39 33554432 default 4950 0::/" "$OUT"
else
        spec '["/bin/sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/memory/memory.soft_limit_in_bytes | tr \"\\n\" \" \""]' \
                '{"memory": {"limit": 67108864, "reservation": 33554432}, "pids": {"limit": 30}, "cpu": {"quota": 20000, "period": 100000, "shares": 512}}'
        run c2
        check "v1 limits" "67108864 30 20000 512 33554432 " "$OUT"
fi
check "limits run exit" 0 "$RC"
check "no cgroup left after limits" "" "$(leftover c2)"

# 2b. hugetlb and cpuset
if [ $MODE = v2 ]; then
        spec '["/bin/sh", "-c", "cat /sys/fs/cgroup/hugetlb.2MB.max /sys/fs/cgroup/cpuset.cpus | tr \"\\n\" \" \""]' \
                '{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}], "cpu": {"cpus": "1", "mems": "0"}}'
else
        spec '["/bin/sh", "-c", "cat /sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes /sys/fs/cgroup/cpuset/cpuset.cpus | tr \"\\n\" \" \""]' \
                '{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}], "cpu": {"cpus": "1", "mems": "0"}}'
fi
run c2b
check "hugetlb and cpuset" "4194304 1 " "$OUT"

# 3. memory limit enforced: OOM kill is 137
spec '["/bin/sh", "-c", "x=$(head -c 100000000 /dev/zero | tr \"\\\\0\" a); echo survived"]' \
        '{"memory": {"limit": 20971520, "swap": 20971520}}'
run c3
check "oom kill exit" 137 "$RC"

# 4. pids limit enforced: forks beyond the limit fail
spec '["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; echo all-started"]' '{"pids": {"limit": 5}}'
run c4
case "$OUT" in *all-started*) bad "pids limit: all 10 started" ;; *) ok "pids limit" ;; esac
grep -q "can't fork" $W/err && ok "fork refused" || bad "no fork error: $(cat $W/err)"

# 5. device control (v1 devices list, v2 eBPF): /dev/null allowed, a node outside the list denied
spec '["/bin/sh", "-c", "echo x > /dev/null && echo null-ok; echo berth-test > /dev/kmsg 2>/dev/null || echo kmsg-denied"]' \
        '{"devices": [{"allow": false, "access": "rwm"}]}' \
        ', "devices": [{"type": "c", "path": "/dev/kmsg", "major": 1, "minor": 11, "fileMode": 384}]'
run c5
check "device rules" "null-ok kmsg-denied" "$(echo $OUT)"
[ "$(echo $OUT)" = "null-ok kmsg-denied" ] || cat $W/err
spec '["/bin/sh", "-c", "echo berth-test > /dev/kmsg && echo kmsg-ok"]' \
        '{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]}' \
        ', "devices": [{"type": "c", "path": "/dev/kmsg", "major": 1, "minor": 11, "fileMode": 384}]'
run c5b
check "device allowed by rule" "kmsg-ok" "$(echo $OUT)"

# 6. detached container, kill --all, delete cleans the cgroup
spec '["/bin/sh", "-c", "sleep 100 & sleep 100"]' '{"memory": {"limit": 67108864}}'
(cd $W && $RT --root /run/rt run -d c6)
check "detached run" 0 $?
[ -n "$(leftover c6)" ] && ok "cgroup exists while running" || bad "no cgroup while running"
$RT --root /run/rt kill --all c6 KILL
sleep 0.3
$RT --root /run/rt delete c6
check "delete" 0 $?
check "no cgroup left after delete" "" "$(leftover c6)"
check "no state left" "" "$($RT --root /run/rt list -q)"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
