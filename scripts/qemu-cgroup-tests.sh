#!/usr/bin/env bash
# Run the runtime's cgroup tests on pure cgroup v2 and pure v1 under qemu (this machine is hybrid).
#   scripts/qemu-cgroup-tests.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
rt=$build/cmd/berth-runtime
file "$rt" | grep -q 'static' || { echo "qemu tests need a static berth-runtime (meson -Dstatic_runtime=true)" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-qemu-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in"
cp "$rt" "$work/in/berth-runtime"
cp "$here/tests/qemu/cgroup-guest.sh" "$work/in/"
"$here/scripts/make-busybox-rootfs.sh" "$work/in/rootfs" >/dev/null
rc=0
for mode in v2 v1; do
        echo "=== cgroup $mode (qemu) ==="
        "$here/scripts/qemu-cgroup-test.sh" --mode $mode --include "$work/in" -- \
                sh "$work/in/cgroup-guest.sh" "$work/in/berth-runtime" "$work/in/rootfs" || rc=1
done
exit $rc
