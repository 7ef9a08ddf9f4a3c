#!/usr/bin/env bash
# Build a minimal busybox rootfs from Debian's busybox-static: /bin/busybox plus applet links,
# /etc/passwd and /etc/group, and the usual empty mount points.
#   scripts/make-busybox-rootfs.sh DIR
set -euo pipefail
dir=${1:?usage: make-busybox-rootfs.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-busybox-rootfs: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir"/{bin,etc,proc,sys,dev,tmp,root}
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for a in $("$dir/bin/busybox" --list); do
        [ -e "$dir/bin/$a" ] || ln -s busybox "$dir/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"
echo 'nogroup:x:65534:' >>"$dir/etc/group"
echo "$dir"
