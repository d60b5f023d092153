#!/usr/bin/env bash
# Builds the demo (and only what it links) and runs it: first the workflow
# that uses every task kind on the embedded store, then the crash mode (a
# worker process killed with SIGKILL mid fan-out, a second one finishing
# the tree on the same SQLite file). Arguments go to the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh --demo
build/nodes/durable-demo "$@"
echo
build/nodes/durable-demo --crash
