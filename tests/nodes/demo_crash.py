"""durable-demo --crash as a newcomer runs it: a real worker process killed
with SIGKILL mid fan-out, a second one finishing the tree on the same
SQLite file. Checks the demo's exit status and report, then reads the file
itself (Python's sqlite3) to check what the report claims.

    demo_crash.py DURABLE_DEMO
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

COMPLETED = 4  # execution_status::completed, as stored
CHILDREN = 20
EXPECTED_SUM = sum(i * i for i in range(CHILDREN))


def fail(message, output=""):
    sys.exit(f"FAIL: {message}\n--- demo output ---\n{output}")


def main():
    demo = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="durable-demo-crash-") as tmp:
        db = os.path.join(tmp, "crash.db")
        # A hang guard only: the demo takes a few seconds.
        run = subprocess.run([demo, "--crash", "--db", db], text=True,
                             capture_output=True, timeout=120)
        out = run.stdout + run.stderr
        if run.returncode != 0:
            fail(f"the demo exited with {run.returncode}", out)
        m = re.search(r"^result: root=(\w+) output=(\S+) expected=(\d+) "
                      r"recovered=(\d+)$", run.stdout, re.M)
        if not m:
            fail("no result line", out)
        status, output, expected, recovered = m.groups()
        if status != "completed" or output != str(EXPECTED_SUM) \
                or expected != str(EXPECTED_SUM):
            fail(f"the tree did not complete right: {m.group(0)}", out)
        if int(recovered) < 1:
            fail("no execution was recovered", out)
        if "SIGKILL to worker 1" not in run.stdout:
            fail("no kill reported", out)

        # What the file holds: the whole tree completed, each child once,
        # the recovered ones as reported; the children worker 2 re-ran show
        # it in their output.
        con = sqlite3.connect(db)
        rows = con.execute(
            "SELECT task_id, parent_id, status, recoveries, output "
            "FROM executions").fetchall()
        con.close()
        if len(rows) != CHILDREN + 2:
            fail(f"{len(rows)} rows, expected {CHILDREN + 2}", out)
        unfinished = [r for r in rows if r[2] != COMPLETED]
        if unfinished:
            fail(f"rows not completed: {unfinished}", out)
        recovered_rows = [r for r in rows if r[3] > 0]
        if len(recovered_rows) != int(recovered):
            fail(f"{len(recovered_rows)} rows recovered in the file, "
                 f"{recovered} reported", out)
        children = [json.loads(r[4]) for r in rows if r[0] == "work"]
        by = {c["ran_by"] for c in children}
        if by != {"worker 1", "worker 2"}:
            fail(f"children ran in {by}, expected both workers", out)
        rerun = [json.loads(r[4])["ran_by"] for r in recovered_rows
                 if r[0] == "work"]
        if any(w != "worker 2" for w in rerun):
            fail(f"a recovered child kept worker 1's output: {rerun}", out)

        # The demo never reuses a file: it refuses one that exists.
        again = subprocess.run([demo, "--crash", "--db", db], text=True,
                               capture_output=True, timeout=60)
        if again.returncode != 2 or "exists" not in again.stderr:
            fail(f"an existing file was not refused ({again.returncode})",
                 again.stdout + again.stderr)
    print(f"ok: {m.group(0)}")


if __name__ == "__main__":
    main()
