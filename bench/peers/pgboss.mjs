// pg-boss beside durable-bench's `simple` workload (bench/README.md,
// "Peers"): N trivial jobs (x -> x+1) enqueued in batches of --batch with
// insert(), worked by one process with work() { batchSize, localConcurrency,
// burstWhenBatchFull } woken by LISTEN/NOTIFY, on a database of its own.
//
//   bench/peers/node.sh bench/peers/pgboss.mjs --pg-url URL --executions N \
//     --mode processing|overlapped [--json FILE] [--label L]
//
// overlapped: the workers run while the jobs are enqueued; the window runs
// from the first insert to the last completed_on (as durable-bench's simple).
// processing: every job enqueued first, then the workers start; the window
// runs from work() to the last completed_on.
import { PgBoss } from "pg-boss";
import pg from "pg";
import {
  checkRuns, createDatabase, makeRecord, nowMs, packageVersion,
  parseCli, pgSettings, report, runWindow, sleep,
} from "./record.mjs";

const PEER = "pg-boss";
const args = parseCli(PEER, {
  "batch-size": 100,        // jobs per fetch (work() batchSize)
  "local-concurrency": 4,   // workers polling the queue in this process
  "pool": 10,               // connections of pg-boss's pool (max)
  "timeout-s": 600,
});
const N = args.executions;
const QUEUE = "bench_add";

const db = await createDatabase(args["pg-url"], "durable_peer_pgboss");
let boss;
try {
  const settings = {
    useListenNotify: true,
    queue_notify: true,
    schedule: false,
    max: args.pool,
    work: {
      batchSize: args["batch-size"],
      localConcurrency: args["local-concurrency"],
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 0.5,
    },
    insert_batch: args.batch,
  };
  boss = new PgBoss({
    connectionString: db.url,
    max: settings.max,
    useListenNotify: settings.useListenNotify,
    schedule: settings.schedule,
  });
  boss.on("error", (e) => console.error(`${PEER}: ${e.stack ?? e}`));
  await boss.start();
  await boss.createQueue(QUEUE, { notify: settings.queue_notify });

  const seen = new Uint32Array(N);
  const toStart = [];
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((r) => { allHandled = r; });
  const handler = async (jobs) => {
    const t = nowMs();
    for (const job of jobs) {
      const { x, t: enqueued } = job.data;
      toStart.push(t - enqueued);
      seen[x]++;
      void (x + 1); // the task's work: bench_add
    }
    handled += jobs.length;
    if (handled >= N) allHandled();
  };
  const startWorkers = () => boss.work(QUEUE, settings.work, handler);

  let enqueueSeconds = 0;
  const enqueue = async () => {
    for (let i = 0; i < N; i += args.batch) {
      const t = nowMs();
      const jobs = [];
      for (let x = i; x < Math.min(i + args.batch, N); x++)
        jobs.push({ data: { x, t } });
      await boss.insert(QUEUE, jobs);
      enqueueSeconds += (nowMs() - t) / 1000;
    }
  };

  const t0 = await runWindow(args.mode, {
    startWorkers: startWorkers, enqueue, handledAll, timeoutS: args["timeout-s"],
    what: () => `${handled} of ${N} jobs ran in ${args["timeout-s"]} s`,
  });

  // Every handler ran; the last batch's completion may not have committed.
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  for (;;) {
    const { rows } = await c.query(
      `SELECT count(*)::int AS n FROM pgboss.job
        WHERE name = $1 AND state = 'completed'`, [QUEUE]);
    if (rows[0].n >= N) break;
    if (nowMs() - t0 > args["timeout-s"] * 1000)
      throw new Error(`${rows[0].n} of ${N} jobs completed`);
    await sleep(5);
  }
  // The stored rows: completed_on (the server's clock) ends the window.
  const { rows } = await c.query(
    `SELECT (data->>'x')::int AS x, (data->>'t')::float8 AS t,
            extract(epoch FROM completed_on)::float8 * 1000 AS done,
            state
       FROM pgboss.job WHERE name = $1`, [QUEUE]);
  const problems = checkRuns(seen);
  if (rows.length !== N) problems.push(`${rows.length} rows stored, ${N} expected`);
  const notDone = rows.filter((r) => r.state !== "completed").length;
  if (notDone) problems.push(`${notDone} rows not completed`);
  const end = rows.reduce((m, r) => Math.max(m, r.done), -Infinity);
  const record = makeRecord({
    peer: PEER,
    peerVersion: packageVersion("pg-boss"),
    mode: args.mode,
    executions: N,
    finished: rows.length - notDone,
    seconds: (end - t0) / 1000,
    enqueueSeconds,
    toStart,
    toFinish: rows.map((r) => r.done - r.t),
    problems,
    settings,
    window: args.mode === "overlapped"
      ? "first insert() to the last completed_on"
      : "work() to the last completed_on (every job inserted before)",
    pgSettings: await pgSettings(c),
    batch: args.batch,
    label: args.label,
  });
  await c.end();
  report(record, args.json);
  process.exitCode = record.valid ? 0 : 1;
} catch (e) {
  console.error(`${PEER}: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  if (boss) await boss.stop({ graceful: false, close: true }).catch(() => {});
  await db.drop();
}
// Nothing of the run may keep the process alive.
process.exit(process.exitCode);
