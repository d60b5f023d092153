// Shared by the peer benchmarks (pgboss.mjs, graphile.mjs): the command
// line, the run's own database, percentiles as durable-bench computes them
// (bench/stats.cpp) and the JSON record with durable-bench's fields
// (bench/report.cpp, to_json), appended as one line to --json.
import { execFileSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";

const here = dirname(fileURLToPath(import.meta.url));

// Wall-clock milliseconds with sub-millisecond resolution (Date.now() has
// whole milliseconds only). The same clock as PostgreSQL's on this machine.
export const nowMs = () => performance.timeOrigin + performance.now();

// --pg-url URL --executions N --mode processing|overlapped --json FILE
// --label L, plus the peer's own knobs (`extra`: name -> {type, default}).
export function parseCli(peer, extra = {}) {
  const options = {
    "pg-url": { type: "string", default: process.env.DURABLE_PG_URL },
    executions: { type: "string", default: "2000" },
    mode: { type: "string", default: "overlapped" },
    json: { type: "string" },
    label: { type: "string", default: "" },
    batch: { type: "string", default: "1000" },
    help: { type: "boolean", default: false },
  };
  for (const [k, v] of Object.entries(extra))
    options[k] = { type: "string", default: String(v) };
  const { values } = parseArgs({ options, strict: true });
  if (values.help) {
    console.log(`usage: ${peer} --pg-url URL --executions N ` +
      `--mode processing|overlapped [--json FILE] [--label L] ` +
      `[--batch 1000] ${Object.entries(extra)
        .map(([k, v]) => `[--${k} ${v}]`).join(" ")}`);
    process.exit(0);
  }
  if (!values["pg-url"]) fail(peer, "--pg-url (or DURABLE_PG_URL) is required");
  if (!["processing", "overlapped"].includes(values.mode))
    fail(peer, `--mode must be processing or overlapped, not '${values.mode}'`);
  const ints = ["executions", "batch", ...Object.keys(extra)];
  for (const k of ints) {
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n < (k === "executions" ? 1 : 0))
      fail(peer, `--${k} needs a whole number, not '${values[k]}'`);
    values[k] = n;
  }
  return values;
}

export function fail(peer, message) {
  console.error(`${peer}: ${message}`);
  process.exit(2);
}

// The version of an installed package, from its package.json.
export function packageVersion(name) {
  const p = join(here, "node_modules", name, "package.json");
  return JSON.parse(readFileSync(p, "utf8")).version;
}

// A database of the run's own on the server of `url`, created here and
// dropped by `drop()`: the peers' schemas never meet durable's.
export async function createDatabase(url, prefix) {
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

// The server settings that decide what a commit costs.
export async function pgSettings(client) {
  const { rows } = await client.query(
    `SELECT name, setting FROM pg_settings WHERE name IN
       ('fsync', 'synchronous_commit', 'full_page_writes', 'server_version',
        'shared_buffers', 'max_connections')`);
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}

// Nearest rank, as bench/stats.cpp: the value at rank ceil(p * n).
export function percentiles(xs) {
  const d = { count: xs.length, p50: 0, p90: 0, p99: 0, max: 0 };
  if (xs.length === 0) return d;
  const s = Float64Array.from(xs).sort();
  const at = (p) => s[Math.min(Math.max(Math.ceil(p * s.length), 1), s.length) - 1];
  d.p50 = at(0.5);
  d.p90 = at(0.9);
  d.p99 = at(0.99);
  d.max = s[s.length - 1];
  return d;
}

function gitCommit() {
  try {
    return execFileSync("git", ["-C", here, "rev-parse", "--short", "HEAD"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

// The record: durable-bench's fields where they mean the same thing, plus
// peer, peer_version, mode and enqueue_overlaps_processing.
export function makeRecord(r) {
  const n = r.executions;
  const seconds = r.seconds;
  return {
    workload: "simple",
    store: "postgres",
    peer: r.peer,
    peer_version: r.peerVersion,
    mode: r.mode,
    enqueue_overlaps_processing: r.mode === "overlapped",
    nodes: 1,
    executions: r.finished,
    top_level_executions: n,
    rounds: 1,
    seconds,
    executions_per_s: seconds > 0 ? r.finished / seconds : 0,
    top_level_per_s: seconds > 0 ? r.finished / seconds : 0,
    enqueue_per_s: r.enqueueSeconds > 0 ? n / r.enqueueSeconds : 0,
    enqueue_seconds: r.enqueueSeconds,
    latency_ms: {
      enqueue_to_start: percentiles(r.toStart),
      enqueue_to_finish: percentiles(r.toFinish ?? []),
    },
    ceiling_per_s: null,
    valid: r.problems.length === 0,
    validated: true,
    problems: r.problems,
    peer_settings: r.settings,
    window: r.window,
    pg_settings: r.pgSettings,
    node_version: process.version,
    git_commit: gitCommit(),
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    label: r.label,
    options: { executions: n, batch: r.batch, mode: r.mode },
    machine: { cores: os.availableParallelism(), load_average: os.loadavg() },
  };
}

// One line on stdout (as durable-bench's table, shorter) and, with --json,
// one JSON line appended to the file.
export function report(record, jsonPath) {
  const s = record.latency_ms.enqueue_to_start;
  const f = record.latency_ms.enqueue_to_finish;
  const fmt = (x) => x.toFixed(1);
  console.log(
    `${record.peer} ${record.peer_version} simple postgres ` +
    `N=${record.top_level_executions} ${record.mode}: ` +
    `${Math.round(record.executions_per_s)} exec/s in ${record.seconds.toFixed(2)} s, ` +
    `enqueue ${Math.round(record.enqueue_per_s)}/s, ` +
    `start p50/p90/p99 ${fmt(s.p50)}/${fmt(s.p90)}/${fmt(s.p99)} ms` +
    (f.count ? `, finish p50/p99 ${fmt(f.p50)}/${fmt(f.p99)} ms` : "") +
    (record.valid ? "" : `, INVALID: ${record.problems.join("; ")}`));
  if (jsonPath) appendFileSync(jsonPath, JSON.stringify(record) + "\n");
}

// Checks that every job 0..n-1 ran exactly once (`seen[i]` counts runs).
export function checkRuns(seen) {
  const problems = [];
  let missing = 0, twice = 0;
  for (const c of seen) {
    if (c === 0) missing++;
    else if (c > 1) twice++;
  }
  if (missing) problems.push(`${missing} jobs never ran`);
  if (twice) problems.push(`${twice} jobs ran more than once`);
  return problems;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts the workers and enqueues in the order `mode` names, then waits
// until `handledAll` resolves (at most `timeoutS`); returns when the
// measured window began (ms): the first insert when the two overlap
// ("overlapped", as durable-bench's simple), the workers' start when
// everything was enqueued first ("processing").
export async function runWindow(mode, { startWorkers, enqueue, handledAll,
                                        timeoutS, what }) {
  let t0;
  if (mode === "overlapped") {
    await startWorkers();
    t0 = nowMs();
    await enqueue();
  } else {
    await enqueue();
    t0 = nowMs();
    await startWorkers();
  }
  await within(handledAll, timeoutS, what);
  return t0;
}

// Resolves with `promise`, or rejects with what() after `seconds`; the
// timer does not keep the process alive.
export async function within(promise, seconds, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), seconds * 1000);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
