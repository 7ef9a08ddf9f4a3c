#!/usr/bin/env bash
# Time `berth-runtime run` beside `crun run` and `runc run` on the same busybox bundle
# (default spec + network namespace, args /bin/true) in one run; print medians and ratios.
#   bench/runtime.sh [BUILD_DIR]      (default: build)       env: RUNS (default 51)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
rt=$build/cmd/berth-runtime
runs=${RUNS:-51}
[ -x "$rt" ] || { echo "bench: $rt not built" >&2; exit 1; }
for t in crun runc hyperfine jq; do command -v $t >/dev/null || { echo "bench: $t missing (scripts/install-deps.sh)" >&2; exit 1; }; done

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$here/scripts/make-busybox-rootfs.sh" "$work/bundle/rootfs" >/dev/null
(cd "$work/bundle" && crun spec && jq '.process.args=["/bin/true"] | .process.terminal=false' config.json >c && mv c config.json)
cd "$work/bundle"

# crun refuses hybrid cgroups: hide the empty cgroup2 mount from it in a private mount ns.
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/h.json" \
        -n berth-runtime "$rt --root $work/state-berth run b1" \
        -n crun "unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root $work/state-crun run c1'" \
        -n runc "runc --root $work/state-runc run r1" \
        -n "unshare+chroot (floor)" "unshare -fpnmiu chroot rootfs /bin/true" \
        -n "unshare+sh (crun wrapper cost)" "unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec true'" \
        >"$work/h.out" 2>&1 || { cat "$work/h.out"; exit 1; }
jq -r '.results[] | "\(.command)\t\(.median*1000)"' "$work/h.json" >"$work/med.tsv"
med() { awk -F'\t' -v n="$1" '$1==n {printf "%.2f", $2}' "$work/med.tsv"; }
b=$(med berth-runtime); c=$(med crun); r=$(med runc); f=$(med "unshare+chroot (floor)"); w=$(med "unshare+sh (crun wrapper cost)")
# crun's number includes the unshare+sh wrapper; report it both ways
cn=$(awk -v c="$c" -v w="$w" 'BEGIN{printf "%.2f", c - w}')
printf 'berth-runtime %s ms · crun %s ms (%s ms without its wrapper) · runc %s ms · unshare+chroot %s ms\n' "$b" "$c" "$cn" "$r" "$f"
awk -v b="$b" -v c="$c" -v cn="$cn" -v r="$r" 'BEGIN{printf "ratio vs crun %.2f (vs crun without wrapper %.2f) · vs runc %.2f (goal <= 0.50 vs crun)\n", b/c, b/cn, b/r}'
