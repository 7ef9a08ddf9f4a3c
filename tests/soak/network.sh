#!/usr/bin/env bash
# The networking soak of issue 12, run by hand (it takes minutes; the default test command runs
# the same test with 64 cycles): 1,000 `run --rm -p 80 --network <user network>` at concurrency
# 16 against a berthd in a network namespace of its own, then 0 veths, published-port elements,
# endpoint/sandbox rows, netns pins (outside the warm pool) and fds of berthd more than before.
#
#   tests/soak/network.sh      (as root; BERTH_BUILD=dir, SOAK_CYCLES=n, SOAK_CONCURRENCY=n)
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export BERTH_BUILD=${BERTH_BUILD:-$ROOT/build}
export SOAK_CYCLES=${SOAK_CYCLES:-1000} SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-16}
cd "$ROOT"
exec /usr/bin/python3 -m pytest -q -s tests/integration/network/test_engine_soak.py
