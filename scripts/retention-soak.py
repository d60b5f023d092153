#!/usr/bin/env python3
"""Retention under a steady load: enqueues example_fanout trees at a fixed
rate into a running durable-node (HTTP) and samples the executions table of
its PostgreSQL schema every few seconds, so that one sees the table stop
growing once the node's retention (e.g. --retain-completed 60s) starts
removing trees as fast as they finish.

  scripts/retention-soak.py --url http://127.0.0.1:8090 \
      --pg postgresql://postgres@127.0.0.1:5433/durable_test \
      --schema soak --rate 50 --children 4 --seconds 180

Prints one line per sample: elapsed seconds, trees enqueued, rows in the
table, finished and unfinished rows, trees finished per second since the
last sample interval (the rate the node holds; the retention must be
longer than the interval), dead tuples, table size with
indexes. At the end, when pg_stat_statements is loaded, the cost of the
sweeps: calls of the prune statement, rows removed and time per call.
"""
import argparse
import http.client
import json
import subprocess
import sys
import time
import urllib.parse


def psql(pg, sql):
    out = subprocess.run(["psql", pg, "-Atc", sql], check=True,
                         capture_output=True, text=True).stdout.strip()
    return out.split("|")


def statements_loaded(pg):
    """pg_stat_statements installed in the database and loaded by the
    server (shared_preload_libraries)."""
    return psql(pg, "SELECT count(*) FROM pg_extension WHERE extname = "
                    "'pg_stat_statements' AND strpos(current_setting("
                    "'shared_preload_libraries'), 'pg_stat_statements') "
                    "> 0")[0] == "1"


def report_sweeps(pg):
    """The prune statement (storage/pg/prune.cpp) as the server counted it:
    one call per status a sweep covers, each removing up to a batch."""
    calls, rows, mean, total = psql(
        pg, "SELECT coalesce(sum(calls), 0), coalesce(sum(rows), 0), "
            "coalesce(sum(total_exec_time) / nullif(sum(calls), 0), 0), "
            "coalesce(sum(total_exec_time), 0) FROM pg_stat_statements "
            "WHERE query LIKE '%r.parent_id IS NULL AND r.status%' "
            "AND query NOT LIKE '%pg_stat_statements%'")
    print(f"prune statements: {calls} calls, {rows} rows reported, "
          f"{float(mean):.2f} ms per call, {float(total) / 1e3:.2f} s in all",
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--schema", default="durable")
    ap.add_argument("--rate", type=float, default=50, help="trees per second")
    ap.add_argument("--children", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--sample", type=float, default=10)
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    body = json.dumps({"input": {"n": a.children, "ms": 0}})
    table = f'"{a.schema}".executions'
    start = time.monotonic()
    next_sample = 0.0
    sent = 0
    print("t_s trees_enqueued rows finished unfinished trees_per_s "
          "dead_tuples total_mb", flush=True)
    stats = statements_loaded(a.pg)
    if stats:
        psql(a.pg, "SELECT pg_stat_statements_reset()")
    while True:
        now = time.monotonic() - start
        if now >= next_sample:
            # finished_at is microseconds since the epoch on the
            # database's clock.
            rows, fin, recent = psql(
                a.pg, f"SELECT count(*), count(*) FILTER (WHERE finished_at "
                      f"IS NOT NULL), count(*) FILTER (WHERE parent_id IS "
                      f"NULL AND finished_at >= (extract(epoch FROM "
                      f"clock_timestamp()) - {a.sample}) * 1e6) FROM {table}")
            dead, size = psql(a.pg, f"SELECT n_dead_tup, "
                                    f"pg_total_relation_size(relid) "
                                    f"FROM pg_stat_user_tables WHERE "
                                    f"relid = '{table}'::regclass")
            rate = int(recent) / a.sample
            print(f"{now:6.0f} {sent:8d} {int(rows):8d} {int(fin):8d} "
                  f"{int(rows) - int(fin):6d} {rate:8.1f} {int(dead):8d} "
                  f"{int(size) / 1e6:8.1f}", flush=True)
            next_sample += a.sample
        if now >= a.seconds:
            break
        due = int(now * a.rate) + 1
        while sent < due:
            conn.request("POST", "/v1/tasks/example_fanout/executions", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status not in (200, 201, 202):
                sys.exit(f"enqueue answered {r.status}")
            sent += 1
        time.sleep(max(0.0, (sent / a.rate) - (time.monotonic() - start)))
    if stats:
        report_sweeps(a.pg)


if __name__ == "__main__":
    main()
