#!/usr/bin/env bash
# The README's first command ends here: build a busybox bundle and run a container in it.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
rt=$(cd "$build" && pwd)/cmd/berth-runtime
demo=${BERTH_DEMO_DIR:-/tmp/berth-demo}
rm -rf "$demo"; mkdir -p "$demo"
"$here/scripts/make-busybox-rootfs.sh" "$demo/rootfs" >/dev/null
(cd "$demo" && "$rt" spec)
jq '.process.terminal=false | .process.args=["sh","-c","echo hello from $(hostname), pid $$ in its own namespaces; cat /proc/self/uid_map | head -1"]' \
        "$demo/config.json" >"$demo/c" && mv "$demo/c" "$demo/config.json"
cd "$demo" && exec "$rt" run "demo-$$"
