// graphile-worker beside durable-bench's `simple` workload (bench/README.md,
// "Peers"): N trivial jobs (x -> x+1) enqueued in batches of --batch with
// addJobs(), run by one worker process with the settings of graphile-worker's
// own performance test (docs "Performance": concurrentJobs 24, maxPoolSize
// 25, localQueue.size 500, completeJobBatchDelay 0), woken by its
// LISTEN/NOTIFY, on a database of its own.
//
//   bench/peers/node.sh bench/peers/graphile.mjs --pg-url URL --executions N \
//     --mode processing|overlapped [--json FILE] [--label L]
//
// overlapped: the worker runs while the jobs are enqueued; the window runs
// from the first addJobs() to the moment the jobs table is seen empty.
// processing: every job enqueued first; the window runs from run() (the
// worker's start-up included) to the same moment.
//
// graphile-worker deletes a job when it completes, so no row keeps a
// completion time: the end is found by counting the remaining jobs every
// 5 ms once every handler has started, and enqueue -> finish is not recorded.
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import pg from "pg";
import {
  checkRuns, createDatabase, makeRecord, nowMs, packageVersion, parseCli,
  pgSettings, report, runWindow, sleep,
} from "./record.mjs";

const PEER = "graphile-worker";
const args = parseCli(PEER, {
  concurrency: 24,          // concurrentJobs
  "pool": 25,               // maxPoolSize
  "local-queue": 500,       // localQueue.size (-1: off)
  "complete-batch-delay": 0, // completeJobBatchDelay in ms (-1: off)
  "timeout-s": 600,
});
const N = args.executions;

// Warnings and errors only: the info lines of every start and stop would
// bury the result.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning")
    console.error(`${PEER} [${level}]: ${message}`);
});

const db = await createDatabase(args["pg-url"], "durable_peer_graphile");
let utils, runner;
try {
  const worker = {
    concurrentJobs: args.concurrency,
    maxPoolSize: args.pool,
    localQueue: { size: args["local-queue"] },
    completeJobBatchDelay: args["complete-batch-delay"],
    failJobBatchDelay: args["complete-batch-delay"],
  };
  const settings = { ...worker, listen_notify: true, add_jobs_batch: args.batch };
  utils = await makeWorkerUtils({ connectionString: db.url, logger });
  await utils.migrate();

  const seen = new Uint32Array(N);
  const toStart = [];
  let handled = 0;
  let allHandled;
  const handledAll = new Promise((r) => { allHandled = r; });
  const taskList = {
    bench_add: async (payload) => {
      const t = nowMs();
      const { x, t: enqueued } = payload;
      toStart.push(t - enqueued);
      seen[x]++;
      if (++handled >= N) allHandled();
      return x + 1;
    },
  };
  const startWorker = async () => {
    runner = await run({
      connectionString: db.url,
      concurrency: worker.concurrentJobs,
      maxPoolSize: worker.maxPoolSize,
      noHandleSignals: true,
      logger,
      taskList,
      preset: { worker },
    });
  };

  let enqueueSeconds = 0;
  const enqueue = async () => {
    for (let i = 0; i < N; i += args.batch) {
      const t = nowMs();
      const specs = [];
      for (let x = i; x < Math.min(i + args.batch, N); x++)
        specs.push({ identifier: "bench_add", payload: { x, t } });
      await utils.addJobs(specs);
      enqueueSeconds += (nowMs() - t) / 1000;
    }
  };

  const t0 = await runWindow(args.mode, {
    startWorkers: startWorker, enqueue, handledAll, timeoutS: args["timeout-s"],
    what: () => `${handled} of ${N} jobs ran in ${args["timeout-s"]} s`,
  });

  // Every handler ran; completions are batched: wait for the table to empty.
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  let left;
  for (;;) {
    const { rows } = await c.query(
      "SELECT count(*)::int AS n FROM graphile_worker._private_jobs");
    left = rows[0].n;
    if (left === 0) break;
    if (nowMs() - t0 > args["timeout-s"] * 1000)
      throw new Error(`${left} of ${N} jobs still in the table`);
    await sleep(5);
  }
  const end = nowMs();
  const problems = checkRuns(seen);
  const record = makeRecord({
    peer: PEER,
    peerVersion: packageVersion("graphile-worker"),
    mode: args.mode,
    executions: N,
    finished: N - left,
    seconds: (end - t0) / 1000,
    enqueueSeconds,
    toStart,
    toFinish: null,
    problems,
    settings,
    window: args.mode === "overlapped"
      ? "first addJobs() to the jobs table seen empty (5 ms polls)"
      : "run() to the jobs table seen empty (5 ms polls; every job added before)",
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
  if (runner) await runner.stop().catch(() => {});
  if (utils) await utils.release().catch(() => {});
  await db.drop();
}
// Nothing of the run may keep the process alive.
process.exit(process.exitCode);
