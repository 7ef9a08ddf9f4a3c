#!/usr/bin/env bash
# Boot Debian's kernel under qemu (TCG) with an initramfs of busybox plus the given folders, mount
# a pure cgroup v2, pure v1 or hybrid (v1 + an empty cgroup2 at unified/) layout, run a command
# and exit with its status.
#   scripts/qemu-cgroup-test.sh --mode v1|v2|hybrid [--include DIR]... [--bin FILE]...
#                               [--module NAME]... -- CMD [ARGS...]
# Each DIR appears in the guest at the same absolute path. Each --bin FILE too, with the shared
# libraries `ldd` lists and the dynamic loader at their host paths. Each --module NAME (with the
# modules it depends on) of the guest kernel is loaded before CMD runs.
# env: QEMU_TIMEOUT (seconds, default 600), QEMU_KERNEL (default: newest /boot/vmlinuz-*)
set -euo pipefail
mode=""
includes=()
bins=()
modules=()
while [ $# -gt 0 ]; do
        case "$1" in
        --mode) mode=$2; shift 2 ;;
        --include) includes+=("$2"); shift 2 ;;
        --bin) bins+=("$2"); shift 2 ;;
        --module) modules+=("$2"); shift 2 ;;
        --) shift; break ;;
        *) echo "qemu-cgroup-test: unknown argument $1" >&2; exit 2 ;;
        esac
done
case "$mode" in v1|v2|hybrid) ;; *) echo "qemu-cgroup-test: --mode v1|v2|hybrid required" >&2; exit 2 ;; esac
[ $# -gt 0 ] || { echo "qemu-cgroup-test: a command is required after --" >&2; exit 2; }
kernel=${QEMU_KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
[ -r "$kernel" ] || { echo "qemu-cgroup-test: no kernel in /boot (apt-get install linux-image-amd64)" >&2; exit 2; }
for t in qemu-system-x86_64 cpio busybox; do
        command -v $t >/dev/null || { echo "qemu-cgroup-test: $t missing (scripts/install-deps.sh)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/berth-qemu.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,newroot}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list-full); do
        [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
for d in "${includes[@]}"; do
        d=$(cd "$d" && pwd)
        mkdir -p "$root$(dirname "$d")"
        cp -a "$d" "$root$(dirname "$d")/"
done
# dynamic binaries: the file and every library ldd resolves (the loader included), same paths
for b in "${bins[@]}"; do
        b=$(realpath "$b")
        mkdir -p "$root$(dirname "$b")"
        cp "$b" "$root$b"
        for lib in $(ldd "$b" 2>/dev/null | grep -o '/[^ ]*' || true); do
                [ -e "$root$lib" ] && continue
                mkdir -p "$root$(dirname "$lib")"
                cp -L "$lib" "$root$lib"
        done
done
# kernel modules of the guest kernel, dependencies first: the hard ones modules.dep lists and the
# "pre:" soft ones of modules.softdep (the guest has no modprobe to follow them: libcrc32c, which
# nf_tables needs, refuses to load without a crc32c provider, and nf_tables with it)
kver=${kernel##*/vmlinuz-}
mods=/lib/modules/$kver
: >"$root/etc/berth-test-modules"
module_path() { # module name (or a module's alias) -> path relative to $mods, generic first
        local name=$1 cand
        cand=$(awk -v a="$name" '$1 == "alias" && $2 == a { print $3 }' "$mods/modules.alias")
        [ -n "$cand" ] || cand=$name
        cand=$(echo "$cand" | awk '/_generic$/ { print; next } { rest = rest $0 "\n" }
                END { printf "%s", rest }' | head -1)
        grep -o "^[^:]*/$(echo "$cand" | sed 's/[-_]/[-_]/g')\.ko[^:]*:" "$mods/modules.dep" |
                head -1 | tr -d :
}
add_module() { # path relative to $mods
        grep -qxF "$1" "$root/etc/berth-test-modules" && return 0
        local dep name soft
        for dep in $(grep "^$1:" "$mods/modules.dep" | cut -d: -f2); do
                add_module "$dep"
        done
        name=$(basename "$1" .ko | tr - _)
        for soft in $(awk -v m="$name" '$1 == "softdep" && $2 == m {
                        for (i = 3; i <= NF; i++) { if ($i == "post:") break; if ($i != "pre:") print $i } }' \
                        "$mods/modules.softdep"); do
                dep=$(module_path "$soft")
                [ -n "$dep" ] && add_module "$dep"
        done
        mkdir -p "$root/lib/modules/$kver/$(dirname "$1")"
        cp "$mods/$1" "$root/lib/modules/$kver/$1"
        echo "$1" >>"$root/etc/berth-test-modules"
}
for m in "${modules[@]}"; do
        rel=$(module_path "$m")
        [ -n "$rel" ] || { echo "qemu-cgroup-test: no module $m for $kver" >&2; exit 2; }
        case "$rel" in *.ko) ;; *) echo "qemu-cgroup-test: $rel is compressed" >&2; exit 2 ;; esac
        add_module "$rel"
done
echo "$kver" >"$root/etc/berth-test-kver"

# the command, quoted for sh
cmd=""
for a in "$@"; do cmd+="$(printf '%q ' "$a")"; done
echo "$cmd" >"$root/etc/berth-test-cmd"
echo "$mode" >"$root/etc/berth-test-mode"

# stage 1: pivot_root cannot leave an initramfs, so copy everything onto a tmpfs and switch there
cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t tmpfs -o size=90% tmpfs /newroot
for d in bin sbin usr etc init2 tmp work; do [ -e /$d ] && cp -a /$d /newroot/; done
for d in $(ls /); do case $d in bin|sbin|usr|etc|init|init2|newroot|proc|sys|dev|run|tmp) ;; *) cp -a /$d /newroot/ ;; esac; done
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp
exec switch_root /newroot /init2
INIT
# stage 2: real init on the tmpfs root
cat >"$root/init2" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount --make-rprivate /
while read -r m; do
        insmod "/lib/modules/$(cat /etc/berth-test-kver)/$m" || echo "cannot load $m"
done </etc/berth-test-modules
mode=$(cat /etc/berth-test-mode)
if [ "$mode" = v2 ]; then
        mount -t cgroup2 cgroup2 /sys/fs/cgroup
        for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
                echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
        done
else
        # systemd's layout: cpu,cpuacct and net_cls,net_prio co-mounted, each name a symlink
        mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
        while read -r name hier num enabled; do
                case "$name" in "#"*|cpuacct|net_prio) continue ;; esac
                [ "$enabled" = 1 ] || continue
                dir=$name
                case "$name" in cpu) dir=cpu,cpuacct ;; net_cls) dir=net_cls,net_prio ;; esac
                mkdir -p /sys/fs/cgroup/$dir
                mount -t cgroup -o $dir cgroup /sys/fs/cgroup/$dir || echo "cannot mount v1 $dir"
                [ "$dir" = "$name" ] && continue
                ln -s $dir /sys/fs/cgroup/${dir%,*}
                ln -s $dir /sys/fs/cgroup/${dir#*,}
        done </proc/cgroups
        # hybrid: systemd's empty cgroup2 beside the v1 controllers
        if [ "$mode" = hybrid ]; then
                mkdir /sys/fs/cgroup/unified
                mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
        fi
fi
echo "BERTH-QEMU: cgroup $mode: $(cat /proc/self/cgroup | tr '\n' ' ')"
cd /
sh -c "$(cat /etc/berth-test-cmd)"
echo "BERTH-QEMU-RESULT rc=$?"
sync
poweroff -f
INIT
chmod +x "$root/init" "$root/init2"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

extra=""
[ "$mode" = v2 ] && extra="systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all"
timeout "${QEMU_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 -nographic \
        -no-reboot -nic none -kernel "$kernel" -initrd "$work/initrd.gz" \
        -append "console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init $extra" </dev/null \
        | tee "$work/console.log" | tr -d '\r'
rc=$(grep -a -o 'BERTH-QEMU-RESULT rc=[0-9]*' "$work/console.log" | tail -1 | cut -d= -f2)
if [ -z "$rc" ]; then
        echo "qemu-cgroup-test: the guest did not report a result (timeout or crash)" >&2
        exit 1
fi
exit "$rc"
