#!/usr/bin/env bash
# Build the libFuzzer targets with clang + ASan/UBSan and run each for FUZZ_SECONDS (default 60)
# on its corpus (fuzz/corpus/<target>); a crash fails and leaves its input in the build dir.
# FUZZ_SEED (default 1) makes a run repeatable, so CI replays what was fuzzed here before the
# commit; FUZZ_SEED=0 lets libFuzzer pick a seed (longer campaigns by hand).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build-fuzz
secs=${FUZZ_SECONDS:-60}
seed=${FUZZ_SEED:-1}
if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" "$here" -Dfuzz=true -Dtests=false -Dstatic_runtime=false \
                -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized >/dev/null
fi
# ninja prints a failed compile on stdout: keep it for the log, quiet otherwise
ninja -C "$build" >"$build/.ninja-out" 2>&1 || { cat "$build/.ninja-out"; exit 1; }
# one target: its corpus copied to a scratch dir, its last lines printed whole (no interleaving)
run_one() {
        local t=$1 work out rc=0
        work=$(mktemp -d)
        out=$(mktemp)
        cp -r "$here/fuzz/corpus/$t"/. "$work"/ 2>/dev/null || true
        (cd "$build" && ./fuzz/fuzz-$t -max_total_time="$secs" -max_len=16384 -timeout=10 -seed="$seed" \
                -artifact_prefix="$build/$t-" "$work" >"$out" 2>&1) || rc=$?
        # a failure prints its whole report (the crash, the stack, the input's name), a pass its last lines
        local keep=3
        [ "$rc" -eq 0 ] || keep=80
        { echo "fuzz: $t for ${secs}s (exit $rc)"; tail -"$keep" "$out"; } | flock "$build/.fuzz-lock" cat
        rm -rf "$work" "$out"
        return $rc
}
export -f run_one
export here build secs seed
# two at a time: CI has two cores and each target is single-threaded
ls "$here/fuzz"/*.c | xargs -n1 basename | sed 's/\.c$//' |
        xargs -P "${FUZZ_JOBS:-2}" -I{} bash -c 'run_one "$@"' _ {}
