#!/usr/bin/env python3
"""web_app: enqueue work on a durable node over HTTP and wait for its result.

Any language that speaks HTTP and JSON can use a node; this uses Python's
standard library only. It enqueues `example_fanout` (a parent task of
durable-node's example tasks: one child squares each of 1..n, a finalize
sums the squares), long-polls until the execution ended, and prints it.

    durable-node --store memory --http-port 8080 &
    examples/web_app/web_app.py http://127.0.0.1:8080

Exits 0 when the execution completed with 1² + … + n², 1 otherwise.
"""
import json
import sys
import urllib.request
import uuid


def call(method, url, body=None):
    """One HTTP request with a JSON body; returns (status, parsed JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method,
        headers={"Content-Type": "application/json"})
    # A node behind a token needs: "Authorization": "Bearer <token>".
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.load(response)


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    n = 10

    # Enqueue: 202 with the execution's id. The idempotency key makes a
    # retried POST (after a timeout, say) answer with the same execution
    # instead of creating a second one.
    status, created = call(
        "POST", f"{base}/v1/tasks/example_fanout/executions",
        {"input": {"n": n, "ms": 0},
         "options": {"idempotency_key": f"web-app-{uuid.uuid4()}"}})
    execution_id = created["execution_id"]
    print(f"POST /v1/tasks/example_fanout/executions -> {status} "
          f"{execution_id}")

    # Long poll: 200 once the execution ended, 202 with the execution as it
    # is now when timeout_ms passed first; then ask again.
    while True:
        status, execution = call(
            "GET", f"{base}/v1/executions/{execution_id}/wait"
                   "?timeout_ms=10000")
        print(f"GET /v1/executions/{execution_id}/wait -> {status} "
              f"{execution['status']}")
        if status == 200:
            break

    # A plain read adds a summary of the children's statuses.
    _, execution = call("GET", f"{base}/v1/executions/{execution_id}")
    summary = execution["children_summary"]
    expected = n * (n + 1) * (2 * n + 1) // 6
    print(f"output {execution.get('output')} (expected {expected}), "
          f"children {summary}")
    ok = execution["status"] == "completed" and \
        execution.get("output") == expected
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
