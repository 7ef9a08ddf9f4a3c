#!/usr/bin/env bash
# The README's first command ends here: a container from a bare bundle with berth-runtime, then
# the engine: berthd on a private data root and socket under $BERTH_DEMO_DIR (/tmp/berth-demo),
# `berth run --rm busybox …` from the embedded default image (no registry needed), and the daemon
# stopped. Nothing is left running and the demo dir is removed.
#   scripts/demo.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
rt=$build/cmd/berth-runtime
berthd=$build/cmd/berthd
berth=$build/cmd/berth
demo=${BERTH_DEMO_DIR:-/tmp/berth-demo}
sock=$demo/berth.sock
pid=

say() { printf '\n== %s\n' "$*"; }

cleanup() {
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid"
                for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        # a mount left below the demo dir (a daemon killed mid-way) keeps it: never rm through it
        if grep -q " ${demo}/" /proc/self/mountinfo; then
                echo "demo: mounts left under $demo, not removed" >&2
        else
                rm -rf "$demo"
        fi
}

rm -rf "$demo"
mkdir -p "$demo/bundle"
trap cleanup EXIT

say "berth-runtime: one container from a busybox bundle (runc's command line)"
"$here/scripts/make-busybox-rootfs.sh" "$demo/bundle/rootfs" >/dev/null
(cd "$demo/bundle" && "$rt" spec)
jq '.process.terminal=false | .process.args=["sh","-c","echo hello from $(hostname), pid $$ in its own namespaces"]' \
        "$demo/bundle/config.json" >"$demo/bundle/c" && mv "$demo/bundle/c" "$demo/bundle/config.json"
(cd "$demo/bundle" && "$rt" --root "$demo/runtime-state" run "demo-$$")

say "berthd: the engine, data in $demo/data, API on unix://$sock"
"$berthd" --data-root "$demo/data" -H "unix://$sock" >"$demo/berthd.log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 100); do
        [ -S "$sock" ] && "$berth" -H "unix://$sock" version >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { cat "$demo/berthd.log" >&2; exit 1; }
        sleep 0.1
done
"$berth" -H "unix://$sock" images

say "berth run --rm busybox: the embedded default image, no registry"
"$berth" -H "unix://$sock" run --rm busybox sh -c 'echo "hello from busybox in container $(hostname)"'

say "the docker CLI talks to the same daemon"
if command -v docker >/dev/null; then
        DOCKER_HOST=unix://$sock docker run --rm busybox echo "hello from docker run"
else
        echo "(docker CLI not installed: DOCKER_HOST=unix://$sock docker run --rm busybox …)"
fi

say "stopping berthd; removing $demo"
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
        echo "demo: berthd $pid did not stop" >&2
        exit 1
fi
pid=
echo "done: nothing left running. Next: build/cmd/berthd & then build/cmd/berth run --rm -it busybox sh"
