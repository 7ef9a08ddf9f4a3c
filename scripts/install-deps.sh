#!/usr/bin/env bash
# Install every Debian package berth's build, tests and benchmarks need. Idempotent: packages
# already present are skipped and `apt-get update` runs at most once per machine boot.
set -euo pipefail

PKGS=(
        # build
        gcc clang meson ninja-build pkg-config clang-format
        libjansson-dev libcap-dev libseccomp-dev libcmocka-dev libarchive-dev libssl-dev
        libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev zlib1g-dev libzstd-dev
        libmnl-dev libnftables-dev
        # tests
        python3 python3-pytest jq busybox-static iproute2 util-linux procps nftables
        python3-docker docker-registry skopeo umoci docker-compose curl
        python3-cryptography # the registry tests' token server signs JWTs
        # peers for benchmarks and oracle tests; real clients of berth-runtime
        crun runc hyperfine podman uidmap containerd docker.io
        # pure cgroup v1/v2 tests under qemu
        qemu-system-x86 linux-image-amd64 cpio
)

missing=()
for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
        echo "install-deps: need root to install: ${missing[*]}" >&2
        exit 1
fi
stamp=/run/berth-apt-updated
[ -e "$stamp" ] || { apt-get update -qq && touch "$stamp"; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
