"""The node registry across real durable-node processes on one PostgreSQL
server: every node lists every other one (GET /v1/nodes) with its state,
a node killed with SIGKILL turns `lost` and one that drains `stopped`,
and the executions any node finishes appear in GET /v1/stats/series.

Usage: cluster_registry.py DURABLE_NODE (DURABLE_PG_URL names the server;
the test fails, never skips, without it)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

from node_harness import free_port, wait_listening

TOKEN = "registry-test-token"


def fail(why):
    sys.exit("FAIL: " + why)


def start(node, url, schema, name):
    port = free_port()
    proc = subprocess.Popen(
        [node, "--store", "postgres", "--pg-url", url, "--pg-schema", schema,
         "--http-port", str(port), "--http-token", TOKEN, "--name", name,
         "--claim-on-insert", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc, name)
    return proc, port


def call(port, method, path, body=None):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN,
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


def until(what, check, seconds=40, shown=None):
    """Polls `check` until it returns a true value; fails after `seconds`,
    saying what `shown()` returns then."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    fail(f"{what} within {seconds} s" + (f"; saw {shown()}" if shown else ""))


def states(port):
    return {n["name"]: n["state"] for n in call(port, "GET", "/v1/nodes")
            ["nodes"]}


def main():
    node = sys.argv[1]
    url = os.environ.get("DURABLE_PG_URL")
    if not url:
        fail("DURABLE_PG_URL is not set (scripts/pg-start.sh prints one)")
    schema = "registry_" + uuid.uuid4().hex[:10]
    procs = []
    try:
        a, port_a = start(node, url, schema, "alpha")
        procs.append(a)
        b, port_b = start(node, url, schema, "beta")
        procs.append(b)
        until("both nodes listed as running by each",
              lambda: states(port_a) == {"alpha": "running", "beta": "running"}
              and states(port_b) == states(port_a))
        listing = call(port_b, "GET", "/v1/nodes")
        if listing["this_incarnation"] != [
                n["incarnation"] for n in listing["nodes"]
                if n["name"] == "beta"][0]:
            fail(f"beta does not name itself: {listing}")
        if sum(n["leader"] for n in listing["nodes"]) > 1:
            fail(f"two leaders: {listing}")

        # 30 executions through alpha; both nodes claim them.
        ids = call(port_a, "POST",
                   "/v1/tasks/example_square/executions/batch",
                   {"inputs": [{"x": i} for i in range(30)]})["execution_ids"]
        for i in ids:
            call(port_a, "GET", f"/v1/executions/{i}/wait?timeout_ms=20000")

        def completed():
            s = call(port_b, "GET", "/v1/stats/series")
            return sum(p["completed"] for p in s["points"])
        # Reports come every 2 s; by then every finish is counted once.
        until("30 completed executions in the series", lambda: completed() == 30)

        # SIGKILL: beta stops reporting and turns lost.
        b.send_signal(signal.SIGKILL)
        b.wait()
        until("beta shown lost",
              lambda: states(port_a).get("beta") == "lost", seconds=60,
              shown=lambda: states(port_a))
        # A third node sees the others; alpha drains and turns stopped.
        c, port_c = start(node, url, schema, "gamma")
        procs.append(c)
        a.send_signal(signal.SIGTERM)
        if a.wait(timeout=60) != 0:
            fail("alpha did not drain cleanly")
        until("alpha shown stopped and beta lost by gamma",
              lambda: states(port_c) == {"alpha": "stopped", "beta": "lost",
                                         "gamma": "running"},
              shown=lambda: states(port_c))
        print("registry: running, lost and stopped seen; 30 finishes counted")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
