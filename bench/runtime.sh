#!/usr/bin/env bash
# Time berth-runtime beside crun and runc (Debian's) on the same busybox bundle in one run:
#   run        default spec + netns, args /bin/true
#   run+sec    the same with berth's default seccomp profile (data/seccomp/default.json)
#   exec       `exec <id> /bin/true` into a running container
# and print medians and ratios.   bench/runtime.sh [BUILD_DIR]   env: RUNS (default 51)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
rt=$build/cmd/berth-runtime
runs=${RUNS:-51}
[ -x "$rt" ] || { echo "bench: $rt not built" >&2; exit 1; }
for t in crun runc hyperfine jq; do command -v $t >/dev/null || { echo "bench: $t missing (scripts/install-deps.sh)" >&2; exit 1; }; done

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
cleanup() {
        "$rt" --root "$work/state-berth" delete -f be >/dev/null 2>&1 || true
        runc --root "$work/state-runc" delete -f re >/dev/null 2>&1 || true
        unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; crun --root $work/state-crun delete -f ce" >/dev/null 2>&1 || true
        rm -rf "$work"
}
trap cleanup EXIT
"$here/scripts/make-busybox-rootfs.sh" "$work/rootfs" >/dev/null
mk() { # name jq-filter
        mkdir -p "$work/$1"
        (cd "$work/$1" && crun spec && jq "$2 | .root.path=\"$work/rootfs\"" config.json >c && mv c config.json)
}
mk plain '.process.args=["/bin/true"] | .process.terminal=false'
caps=$(jq -r '.process.capabilities.bounding | join(" ")' "$work/plain/config.json")
"$here/scripts/gen-seccomp-default.py" --oci "$here/data/seccomp/default.json" $caps >"$work/seccomp.json"
mk sec ".process.args=[\"/bin/true\"] | .process.terminal=false | .linux.seccomp=$(cat "$work/seccomp.json")"
mk sleeper '.process.args=["sleep","100000"] | .process.terminal=false'

# crun refuses hybrid cgroups: hide the empty cgroup2 mount from it in a private mount ns
CRUN="unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root $work/state-crun \"\$@\"' crun"
"$rt" --root "$work/state-berth" run -d -b "$work/sleeper" be </dev/null >/dev/null 2>&1
runc --root "$work/state-runc" run -d -b "$work/sleeper" re </dev/null >/dev/null 2>&1
eval "$CRUN run -d -b $work/sleeper ce" </dev/null >/dev/null 2>&1

hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/h.json" \
        -n "berth run" "$rt --root $work/state-berth run -b $work/plain b1" \
        -n "crun run" "$CRUN run -b $work/plain c1" \
        -n "runc run" "runc --root $work/state-runc run -b $work/plain r1" \
        -n "berth run+sec" "$rt --root $work/state-berth run -b $work/sec b2" \
        -n "crun run+sec" "$CRUN run -b $work/sec c2" \
        -n "berth exec" "$rt --root $work/state-berth exec be /bin/true" \
        -n "crun exec" "$CRUN exec ce /bin/true" \
        -n "runc exec" "runc --root $work/state-runc exec re /bin/true" \
        -n "crun wrapper" "unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec true'" \
        -n "unshare+chroot" "unshare -fpnmiu chroot $work/rootfs /bin/true" \
        >"$work/h.out" 2>&1 || { cat "$work/h.out"; exit 1; }
jq -r '.results[] | "\(.command)\t\(.median*1000)"' "$work/h.json" >"$work/med.tsv"
med() { awk -F'\t' -v n="$1" '$1==n {printf "%.2f", $2}' "$work/med.tsv"; }
w=$(med "crun wrapper")
line() { # label berth crun runc
        local b c r
        b=$(med "berth $1"); c=$(med "crun $1"); r=$(med "runc $1" 2>/dev/null)
        printf '%-8s berth %6s ms · crun %6s ms (%s without its wrapper) · runc %6s ms · ratio vs crun %s (%s)\n' \
                "$1" "$b" "$c" "$(awk -v c="$c" -v w="$w" 'BEGIN{printf "%.2f", c-w}')" "${r:--}" \
                "$(awk -v b="$b" -v c="$c" 'BEGIN{printf "%.2f", b/c}')" \
                "$(awk -v b="$b" -v c="$c" -v w="$w" 'BEGIN{printf "%.2f", b/(c-w)}')"
}
line run
line run+sec
line exec
echo "floor: unshare+chroot $(med unshare+chroot) ms; goal: berth <= 0.50 x crun"
