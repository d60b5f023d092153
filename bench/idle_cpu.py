#!/usr/bin/env python3
"""The CPU an idle durable-node uses: starts it with its HTTP API on a free
port, lets it settle, reads its user + system time from /proc/PID/stat
before and after SECONDS of idle, and prints the share of one core, the
thread count and the busiest threads (by their ticks over the window).

Usage: bench/idle_cpu.py DURABLE_NODE memory|postgres [SECONDS]
(postgres reads DURABLE_PG_URL). The numbers of docs/design.md, "An idle
node sleeps", come from it (60 s)."""

import os
import subprocess
import sys
import time

SETTLE_S = 5


def ticks(stat_path):
    # Fields after the command name, which may hold spaces: utime and
    # stime are the 14th and 15th fields of the whole line.
    fields = open(stat_path).read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def thread_ticks(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            out[tid] = (name, ticks(f"/proc/{pid}/task/{tid}/stat"))
        except OSError:
            pass  # the thread ended
    return out


def main():
    node, store = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    args = [node, "--store", store, "--http-port", "0", "--name", "idle"]
    if store == "postgres":
        args += ["--pg-url", os.environ["DURABLE_PG_URL"]]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        ready = proc.stdout.readline()
        if not ready.startswith("ready"):
            sys.exit(f"the node did not start: {ready!r}")
        time.sleep(SETTLE_S)
        hz = os.sysconf("SC_CLK_TCK")
        before, threads_before = ticks(f"/proc/{proc.pid}/stat"), \
            thread_ticks(proc.pid)
        time.sleep(seconds)
        after, threads_after = ticks(f"/proc/{proc.pid}/stat"), \
            thread_ticks(proc.pid)
        busiest = sorted(
            ((t[1] - threads_before.get(tid, (t[0], 0))[1], t[0])
             for tid, t in threads_after.items()), reverse=True)[:5]
        share = 100.0 * (after - before) / hz / seconds
        print(f"{store}: {share:.2f}% of a core over {seconds:.0f} s idle, "
              f"{len(threads_after)} threads; busiest (ticks, name): "
              f"{busiest}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
