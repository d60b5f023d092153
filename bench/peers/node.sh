#!/usr/bin/env bash
# Runs Node.js for the peer benchmarks: the Node 22 that install.sh put
# under bench/peers/.node when the machine's is older than package.json's
# "engines", else the machine's. Fails, saying so, when neither is new
# enough or the packages are not installed.
#
#   bench/peers/node.sh bench/peers/pgboss.mjs --pg-url URL ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
node=$here/.node/node_modules/.bin/node
[ -x "$node" ] || node=$(command -v node || true)
if [ -z "$node" ] || [ ! -d "$here/node_modules" ]; then
  echo "peers: not installed; run bench/peers/install.sh" >&2
  exit 2
fi
# engines.node of package.json is ">=X.Y.Z".
if ! "$node" -e '
  const need = require(process.argv[1]).engines.node.replace(/^>=/, "").split(".").map(Number);
  const have = process.versions.node.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (have[i] !== need[i]) process.exit(have[i] > need[i] ? 0 : 1);
' "$here/package.json"; then
  echo "peers: $node is $("$node" -v), older than package.json's engines; run bench/peers/install.sh" >&2
  exit 2
fi
exec "$node" "$@"
