#!/usr/bin/env python3
"""Every response of a real durable-node agrees with docs/openapi.yaml.

Starts `durable-node` (memory store, a bearer token, the example tasks) on a
free loopback port, calls every route of the document the way a client
would, successes and errors alike, and validates each response against the
schema the document gives for its route, method and status (JSON Schema,
with OpenAPI 3.0's `nullable` translated). A status the document does not
list for the route fails, and so does a route of the document that no call
answered with a success.

Usage: openapi_conformance.py <durable-node> <openapi.yaml>
"""

import http.client
import json
import re
import subprocess
import sys
import time

import jsonschema
import yaml

from node_harness import start_memory_node

TOKEN = "conformance-token"



def to_json_schema(node):
    """OpenAPI 3.0 schema objects -> JSON Schema: `nullable: true` becomes a
    null alternative, and keywords JSON Schema does not know are dropped."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items()
           if k not in ("nullable", "example")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class Document:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.root = to_json_schema(self.doc)
        self.routes = []
        for template, ops in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            for method, op in ops.items():
                self.routes.append((re.compile(pattern), template,
                                    method.upper(), op))

    def resolve(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            node = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def operation(self, method, path):
        for pattern, template, m, op in self.routes:
            if m == method and pattern.match(path):
                return template, op
        return None, None

    def validator(self, schema):
        # The whole document is the root, so "#/components/..." resolves.
        root = dict(self.root)
        root.update(to_json_schema(schema))
        return jsonschema.Draft7Validator(root)


class Checker:
    def __init__(self, doc, port):
        self.doc = doc
        self.port = port
        self.failures = []
        self.answered = set()  # (template, method) answered with a 2xx
        self.statuses = set()

    def call(self, method, path, body=None, headers=None, token=True,
             raw=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + TOKEN
        h.update(headers or {})
        payload = raw if raw is not None else (
            None if body is None else json.dumps(body))
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=payload, headers=h)
        res = conn.getresponse()
        text = res.read().decode()
        conn.close()
        self.check(method, path, res, text)
        if res.getheader("Content-Type", "").startswith("text/plain"):
            return res.status, text
        return res.status, (json.loads(text) if text else None)

    def call_declared(self, method, path, length):
        """A request whose head declares a `length`-byte body that is never
        sent: a limit on the body must answer from the head alone (sending
        the body would race the server's close)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.putrequest(method, path)
        conn.putheader("Authorization", "Bearer " + TOKEN)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        res = conn.getresponse()
        text = res.read().decode()
        conn.close()
        self.check(method, path, res, text)
        return res.status

    def fail(self, what):
        self.failures.append(what)
        print("FAIL:", what, file=sys.stderr)

    def check(self, method, path, res, text):
        where = f"{method} {path} -> {res.status}"
        template, op = self.doc.operation(method, path.split("?")[0])
        if op is None:
            # No such route: the error body is still the document's Error.
            schema = {"$ref": "#/components/schemas/Error"}
        else:
            responses = dict(self.doc.doc.get("x-every-route", {}))
            responses.update(op.get("responses", {}))
            spec = responses.get(str(res.status), responses.get("default"))
            if spec is None:
                self.fail(f"{where}: status {res.status} is not documented "
                          f"for {method} {template}")
                return
            spec = self.doc.resolve(spec)
            contents = spec.get("content", {})
            content = contents.get("application/json")
            if content is None and "text/plain" in contents:
                # Not JSON (`/metrics`): the type and a body, no schema.
                self.check_text(where, res, text)
                if 200 <= res.status < 300:
                    self.answered.add((template, method))
                return
            if content is None:
                if text:
                    self.fail(f"{where}: a body the document does not give")
                return
            schema = content["schema"]
            if 200 <= res.status < 300:
                self.answered.add((template, method))
        try:
            body = json.loads(text) if text else None
        except ValueError:
            self.fail(f"{where}: the body is not JSON: {text[:200]!r}")
            return
        if res.getheader("Content-Type", "").split(";")[0] != \
                "application/json":
            self.fail(f"{where}: Content-Type is "
                      f"{res.getheader('Content-Type')!r}")
        self.statuses.add(res.status)
        errors = sorted(self.doc.validator(schema).iter_errors(body),
                        key=lambda e: list(e.path))
        for e in errors[:5]:
            self.fail(f"{where}: at {'/'.join(map(str, e.path)) or '(root)'}:"
                      f" {e.message[:300]}")

    def check_text(self, where, res, text):
        self.statuses.add(res.status)
        ctype = res.getheader("Content-Type", "")
        if ctype.split(";")[0].strip() != "text/plain":
            self.fail(f"{where}: Content-Type is {ctype!r}, not text/plain")
        if not text:
            self.fail(f"{where}: an empty text body")


def exercise(c):
    base = "/v1/tasks/{}/executions"
    ok = lambda status: 200 <= status < 300  # noqa: E731

    def enqueue(task, input, options=None):
        body = {"input": input}
        if options:
            body["options"] = options
        status, ref = c.call("POST", base.format(task), body)
        assert ok(status), (task, status, ref)
        return ref["execution_id"]

    def wait(eid):
        status, row = c.call("GET", f"/v1/executions/{eid}/wait"
                                    "?timeout_ms=20000")
        assert status == 200, (eid, status, row)
        return row

    # Every kind of task, each with every field a row may carry.
    retry = {"max_attempts": 2, "base_delay_ms": 10, "multiplier": 2.0,
             "max_delay_ms": 100, "jitter": "full"}
    square = enqueue("example_square", {"x": 3}, {"retry": retry,
                                                  "idempotency_key": "k-1"})
    fan = enqueue("example_fanout", {"n": 3})
    pipe = enqueue("example_pipeline", 1)
    loop = enqueue("example_countdown", 2)
    for eid in (square, fan, pipe, loop):
        wait(eid)
    for eid in (square, fan):
        c.call("GET", f"/v1/executions/{eid}")
        c.call("GET", f"/v1/executions/{eid}/tree")
    c.call("GET", f"/v1/executions/{fan}/tree?max_depth=0")
    c.call("GET", f"/v1/executions/{fan}/tree?max_nodes=2")

    # A sleeper woken with an output, one with an error, one cancelled.
    for sid, wake in (("order-1", {"output": {"ok": True}}),
                      ("order-2", {"error": "declined"})):
        eid = enqueue("example_approval", sid)
        status, _ = c.call("POST", "/v1/tasks/example_approval/wake",
                           dict(wake, sleeping_id=sid))
        assert status == 200, status
    asleep = enqueue("example_approval", "order-3")
    c.call("GET", f"/v1/executions/{asleep}/wait?timeout_ms=1")
    c.call("POST", f"/v1/executions/{asleep}/cancel")
    c.call("POST", f"/v1/executions/{asleep}/cancel")  # cancelled already

    # Bulk: cancel sleepers by filter (a dry run first), retry failures.
    for sid in ("bulk-1", "bulk-2", "bulk-3"):
        enqueue("example_approval", sid)
    q = "?status=ready,running&task_id=example_approval"
    _, dry = c.call("POST", "/v1/executions/cancel" + q + "&dry_run=true")
    _, done = c.call("POST", "/v1/executions/cancel" + q)
    if not (dry["matched"] == 3 and dry["acted"] == 0
            and done["acted"] == 3 and done["execution_ids"] ==
            dry["execution_ids"]):
        c.fail(f"bulk cancel: dry run {dry}, then {done}")
    _, again = c.call("POST", "/v1/executions/cancel" + q)
    if again["matched"] != 0:
        c.fail(f"bulk cancel found cancelled executions again: {again}")
    c.call("POST", "/v1/executions/cancel?status=completed")  # 400
    held = {"sleep_before_run_ms": 3600000}
    old = [enqueue("example_square", {"x": x}, held) for x in (5, 6)]
    _, done = c.call("POST", "/v1/executions/cancel"
                             "?status=ready&task_id=example_square")
    if sorted(done["execution_ids"]) != sorted(old):
        c.fail(f"bulk cancel of held executions: {done}")
    rq = "/v1/executions/retry?status=cancelled&task_id=example_square"
    _, first = c.call("POST", rq)
    _, second = c.call("POST", rq)
    if first["acted"] != 2 or second["execution_ids"] != \
            first["execution_ids"]:
        c.fail(f"bulk retry twice: {first}, then {second}")
    for new_id in first["execution_ids"]:
        row = wait(new_id)
        if not row.get("idempotency_key", "").startswith("retry-of:te_"):
            c.fail(f"a retried execution does not name its original: {row}")
    _, sleepers = c.call("POST", "/v1/executions/retry"
                                 "?task_id=example_approval")
    if sleepers["acted"] != 0 or sleepers["skipped"] < 3:
        c.fail(f"bulk retry of sleeping executions: {sleepers}")
    c.call("POST", "/v1/executions/retry?limit=0")  # 400
    c.call("POST", "/v1/executions/retry?status=running")  # 400

    # Listing: a first page, the next one, filters; counts.
    status, page = c.call("GET", "/v1/executions?limit=2")
    if page and page.get("next_cursor"):
        c.call("GET", "/v1/executions?limit=2&cursor=" + page["next_cursor"])
    c.call("GET", "/v1/executions?status=failed,completed&task_id="
                  "example_square&parent_id=" + fan + "&created_from_us=0"
                  "&created_before_us=99999999999999999")
    status, page = c.call("GET", "/v1/executions?order=oldest&root_id=" + fan)
    if status != 200 or not page["executions"] \
            or page["executions"][0]["execution_id"] != fan:
        c.fail(f"the oldest row of a tree is its root: {status} {page}")
    c.call("GET", "/v1/executions?idempotency_key=batch-1&sleeping_id=x"
                  "&error=boom")
    c.call("GET", "/v1/executions?order=sideways")  # 400
    c.call("GET", "/v1/stats")
    c.call("GET", "/v1/stats?status=completed&task_id=example_square")
    c.call("GET", "/v1/stats?root_id=" + fan)

    # The cluster: nodes, tasks, finished executions over time.
    status, nodes = c.call("GET", "/v1/nodes")
    if status != 200 or nodes["this_incarnation"] not in [
            n["incarnation"] for n in nodes["nodes"]]:
        c.fail(f"the answering node is not in /v1/nodes: {nodes}")
    status, tasks = c.call("GET", "/v1/tasks")
    if status != 200 or "example_square" not in [
            t["task_id"] for t in tasks["tasks"] if t["registered"]]:
        c.fail(f"a registered task is missing from /v1/tasks: {tasks}")
    c.call("GET", "/v1/stats/series")
    c.call("GET", "/v1/stats/series?step_s=900&from_us=0")  # 400: too many
    c.call("GET", "/v1/stats/series?step_s=90")  # 400
    c.call("GET", "/v1/health")
    c.call("GET", "/v1/health/ready")
    status, text = c.call("GET", "/metrics")
    if status != 200 or "durable_executions_finished_total{" not in text:
        c.fail(f"/metrics counts no finished execution: {status} {text!r}")
    c.call("GET", "/metrics", token=False)

    # A batch, and a batch with one input its task cannot parse.
    status, batch = c.call("POST", base.format("example_square") + "/batch",
                           {"inputs": [{"x": i} for i in range(5)],
                            "options": {"idempotency_key": "batch-1"}})
    if status != 202 or len(batch["execution_ids"]) != 5:
        c.fail(f"a batch of 5 answered {status} {batch}")
    else:
        wait(batch["execution_ids"][4])
        _, again = c.call("POST", base.format("example_square") + "/batch",
                          {"inputs": [{"x": i} for i in range(5)],
                           "options": {"idempotency_key": "batch-1"}})
        if again["execution_ids"] != batch["execution_ids"]:
            c.fail("a retried batch with its key created new executions")
    status, err = c.call("POST", base.format("example_square") + "/batch",
                         {"inputs": [{"x": 1}, {"y": 2}]})
    if status != 400 or "[index=1]" not in err["error"]["message"]:
        c.fail(f"a batch with a bad input answered {status} {err}")
    c.call("POST", base.format("example_square") + "/batch", {"inputs": []})

    # Errors, one per documented kind the node can be made to answer.
    c.call("POST", base.format("example_square"), raw="{not json")
    c.call("POST", base.format("example_square"), {"input": 1, "bogus": 1})
    c.call("POST", base.format("example_square"),
           {"options": {"timeout_ms": -5}})
    c.call("POST", base.format("no_such_task"), {"input": 1})
    status, err = c.call("POST", base.format("example_whoami"), {"input": 1})
    if status != 400 or not err["error"]["message"].startswith(
            "Invalid input to task example_whoami: "):
        c.fail(f"an input the task cannot parse: {status} {err}")
    c.call("POST", base.format("bad-task-id!"), {"input": 1})
    if c.call_declared("POST", base.format("example_square"),
                       (2 << 20) + 1) != 413:
        c.fail("a body over max_body_bytes was not refused with 413")
    c.call("GET", "/v1/executions?status=" + "x" * 20000)
    c.call("GET", "/v1/stats", headers={"X-Big": "y" * 70000})
    c.call("POST", base.format("example_square"), raw="1",
           headers={"Content-Type": "text/plain"})
    c.call("POST", "/v1/tasks/example_approval/wake",
           {"sleeping_id": "nobody"})
    c.call("POST", "/v1/tasks/example_approval/wake", {"sleeping_id": "x",
                                                       "output": 1,
                                                       "error": "e"})
    c.call("GET", "/v1/executions/te_doesnotexist")
    c.call("GET", "/v1/executions/te_doesnotexist/wait?timeout_ms=1")
    c.call("GET", f"/v1/executions/{square}/wait?timeout_ms=abc")
    c.call("POST", "/v1/executions/te_doesnotexist/cancel")
    c.call("GET", "/v1/executions/te_doesnotexist/tree")
    c.call("GET", f"/v1/executions/{fan}/tree?max_depth=999")
    c.call("GET", "/v1/executions?limit=0")
    c.call("GET", "/v1/executions?cursor=garbage")
    c.call("GET", "/v1/executions?status=sleepy")
    c.call("GET", "/v1/stats?created_from_us=yesterday")
    c.call("GET", "/v1/executions", token=False)
    c.call("GET", "/v1/executions", headers={"Authorization": "Bearer no"})
    c.call("DELETE", f"/v1/executions/{square}")
    c.call("GET", "/v1/nowhere")


def drain(c, proc):
    """SIGTERM with a body running: the node drains, and answers 503 with
    Retry-After on every route but the probes until it stops."""
    status, ref = c.call("POST", "/v1/tasks/example_square/executions",
                         {"input": {"x": 2, "ms": 5000}})
    deadline = time.time() + 20
    while time.time() < deadline:
        _, row = c.call("GET", "/v1/executions/" + ref["execution_id"])
        if row["status"] == "running":
            break
        time.sleep(0.02)
    proc.terminate()
    for _ in range(200):
        status, _ = c.call("GET", "/v1/health/ready")
        if status == 503:
            break
        time.sleep(0.01)
    else:
        c.fail("readiness never reported the drain")
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=30)
    conn.request("GET", "/v1/stats",
                 headers={"Authorization": "Bearer " + TOKEN})
    res = conn.getresponse()
    text = res.read().decode()
    c.check("GET", "/v1/stats", res, text)
    if res.status != 503 or res.getheader("Retry-After") is None:
        c.fail(f"a draining node answered {res.status} "
               f"(Retry-After {res.getheader('Retry-After')!r})")
    c.call("GET", "/v1/health")


def main():
    node, spec = sys.argv[1], sys.argv[2]
    doc = Document(spec)
    proc, port = start_memory_node(node, TOKEN, "conformance")
    try:
        checker = Checker(doc, port)
        exercise(checker)
        drain(checker, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    for _, template, method, _ in doc.routes:
        if (template, method) not in checker.answered:
            checker.fail(f"{method} {template}: no call was answered with "
                         "a documented success")
    print(f"{len(checker.answered)} routes answered, statuses seen: "
          f"{sorted(checker.statuses)}; {len(checker.failures)} failures")
    sys.exit(1 if checker.failures else 0)


if __name__ == "__main__":
    main()
