#!/usr/bin/env bash
# CTest's smoke run of one peer (bench/CMakeLists.txt, bench:peer:*): the
# peer on a few jobs in both modes against DURABLE_PG_URL, then its records
# checked: two lines, valid, executions_per_s > 0, the modes as asked.
#
#   bench/peers/smoke.sh pgboss|graphile [jobs]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peer=${1:?pgboss or graphile}
jobs=${2:-200}
: "${DURABLE_PG_URL:?set DURABLE_PG_URL (scripts/test.sh starts a server)}"
out=$(mktemp --suffix=.json)
trap 'rm -f "$out"' EXIT
for mode in overlapped processing; do
  "$here/node.sh" "$here/$peer.mjs" --pg-url "$DURABLE_PG_URL" \
    --executions "$jobs" --mode "$mode" --json "$out" --label smoke
done
"$here/node.sh" -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
  const want = [["overlapped", true], ["processing", false]];
  if (lines.length !== 2) throw new Error(`${lines.length} records, 2 expected`);
  lines.forEach((l, i) => {
    const r = JSON.parse(l);
    const bad = [];
    if (!(r.executions_per_s > 0)) bad.push(`executions_per_s ${r.executions_per_s}`);
    if (!(r.enqueue_per_s > 0)) bad.push(`enqueue_per_s ${r.enqueue_per_s}`);
    if (!r.valid) bad.push(`invalid: ${r.problems}`);
    if (r.workload !== "simple" || r.store !== "postgres") bad.push("not simple/postgres");
    if (r.mode !== want[i][0] || r.enqueue_overlaps_processing !== want[i][1])
      bad.push(`mode ${r.mode}`);
    if (r.latency_ms.enqueue_to_start.count !== Number(process.argv[2]))
      bad.push(`${r.latency_ms.enqueue_to_start.count} start latencies`);
    if (!r.peer || !r.peer_version) bad.push("no peer or peer_version");
    if (bad.length) throw new Error(`${r.peer} ${r.mode}: ${bad.join(", ")}`);
  });
  console.log("peer records ok");
' "$out" "$jobs"
