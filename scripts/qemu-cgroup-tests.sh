#!/usr/bin/env bash
# Run the runtime's cgroup tests and the engine's (berthd + berth-shim + berth) on pure cgroup v2,
# pure v1 and hybrid (systemd's layouts) under qemu: one boot per mode runs both guests.
#   scripts/qemu-cgroup-tests.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
rt=$build/cmd/berth-runtime
file "$rt" | grep -q 'static' || { echo "qemu tests need a static berth-runtime (meson -Dstatic_runtime=true)" >&2; exit 1; }
image=$build/src/image/default-image.tar
[ -r "$image" ] || { echo "qemu tests need $image (ninja -C $build)" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-qemu-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in"
cp "$rt" "$work/in/berth-runtime"
cp "$here/tests/qemu/cgroup-guest.sh" "$here/tests/qemu/engine-guest.sh" "$image" \
        "$here/data/seccomp/default.json" "$work/in/"
"$here/scripts/make-busybox-rootfs.sh" "$work/in/rootfs" >/dev/null
in=$work/in
rc=0
for mode in v2 v1 hybrid; do
        echo "=== cgroup $mode (qemu) ==="
        "$here/scripts/qemu-cgroup-test.sh" --mode $mode --include "$in" \
                --bin "$build/cmd/berthd" --bin "$build/cmd/berth" --bin "$build/cmd/berth-shim" \
                --module overlay --module bridge --module veth --module nf_tables \
                --module nft_chain_nat --module nft_nat --module nft_masq --module nft_fib_ipv4 \
                --module nft_ct -- sh -c \
                "echo '--- runtime'; sh $in/cgroup-guest.sh $in/berth-runtime $in/rootfs; r=\$?;
                 echo '--- engine'; sh $in/engine-guest.sh $(dirname "$(realpath "$build/cmd/berthd")") \
                        $in/default-image.tar $in/default.json || r=1; exit \$r" || rc=1
done
exit $rc
