#!/usr/bin/env bash
# Build the libFuzzer targets with clang + ASan/UBSan and run each for FUZZ_SECONDS (default 60)
# on its corpus (fuzz/corpus/<target>); a crash fails and leaves its input in the build dir.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build-fuzz
secs=${FUZZ_SECONDS:-60}
if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" "$here" -Dfuzz=true -Dtests=false -Dstatic_runtime=false \
                -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized >/dev/null
fi
ninja -C "$build" >/dev/null
for t in $(ls "$here/fuzz"/*.c | xargs -n1 basename | sed 's/\.c$//'); do
        corpus=$here/fuzz/corpus/$t
        work=$(mktemp -d)
        cp -r "$corpus"/. "$work"/ 2>/dev/null || true
        echo "fuzz: $t for ${secs}s"
        (cd "$build" && ./fuzz/fuzz-$t -max_total_time="$secs" -max_len=16384 -timeout=10 "$work" 2>&1 | tail -3)
        rm -rf "$work"
done
