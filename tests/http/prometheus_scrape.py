#!/usr/bin/env python3
"""A real Prometheus reads a real durable-node's `GET /metrics`.

Starts `durable-node` (memory store, a bearer token, the example tasks) on
a free loopback port and runs executions through the HTTP API, then:

  promtool  `promtool check metrics` accepts the node's /metrics text, and
            the text counts the executions that finished;
  scrape    a `prometheus` of its own (free port, temporary storage, a
            generated config scraping the node every second with the
            token) sees `increase(durable_executions_finished_total[…])`
            above zero through its query API while work keeps finishing.

Usage: prometheus_scrape.py promtool|scrape <durable-node>
Timings are hang guards only.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from node_harness import free_port, start_memory_node, wait_listening

TOKEN = "metrics-token"
TASK = "example_square"



def http(method, url, body=None, token=TOKEN):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers)
    with urllib.request.urlopen(req, timeout=30) as res:
        return res.status, res.headers, res.read().decode()


def run_work(node_url, n):
    """Enqueues `n` executions and waits for each to finish."""
    ids = []
    for i in range(n):
        status, _, text = http("POST",
                               f"{node_url}/v1/tasks/{TASK}/executions",
                               {"input": {"x": i}})
        assert status == 202, (status, text)
        ids.append(json.loads(text)["execution_id"])
    for eid in ids:
        status, _, text = http(
            "GET", f"{node_url}/v1/executions/{eid}/wait?timeout_ms=20000")
        assert status == 200, (status, text)
        assert json.loads(text)["status"] == "completed", text
    return len(ids)


def check_promtool(node_url):
    finished = run_work(node_url, 5)
    status, headers, text = http("GET", f"{node_url}/metrics")
    if status != 200:
        sys.exit(f"/metrics answered {status}")
    ctype = headers.get("Content-Type", "")
    if ctype != "text/plain; version=0.0.4; charset=utf-8":
        sys.exit(f"/metrics Content-Type is {ctype!r}")
    check = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        print(text, file=sys.stderr)
        sys.exit("promtool check metrics failed:\n" + check.stdout
                 + check.stderr)
    line = (f'durable_executions_finished_total{{task="{TASK}",'
            f'status="completed"}} {finished}\n')
    if line not in text:
        print(text, file=sys.stderr)
        sys.exit(f"/metrics does not count {finished} finished executions")
    for name in ("durable_executions_enqueued_total",
                 "durable_executions_started_total",
                 "durable_store_apply_duration_seconds_bucket",
                 "durable_store_claim_duration_seconds_bucket",
                 "durable_store_insert_duration_seconds_bucket",
                 "durable_lease_renewals_total",
                 "durable_http_request_duration_seconds_bucket",
                 "durable_executions_running", "durable_leader"):
        if f"\n{name}" not in text:
            sys.exit(f"/metrics has no {name}")
    print(f"promtool accepts /metrics ({len(text)} bytes, "
          f"{finished} executions finished)")


def check_scrape(node_url, node_port):
    prom_port = free_port()
    tmp = tempfile.mkdtemp(prefix="durable-prometheus-")
    config = os.path.join(tmp, "prometheus.yml")
    with open(config, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: durable
    authorization:
      credentials: {TOKEN}
    static_configs:
      - targets: ["127.0.0.1:{node_port}"]
""")
    prom = subprocess.Popen(
        ["prometheus", "--config.file=" + config,
         "--storage.tsdb.path=" + os.path.join(tmp, "data"),
         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    prom_url = f"http://127.0.0.1:{prom_port}"
    query = (f'sum(increase(durable_executions_finished_total{{task="{TASK}"'
             f'}}[1m]))')
    try:
        wait_listening(prom_port, prom, "prometheus")
        deadline = time.time() + 25
        value = None
        finished = 0
        while time.time() < deadline:
            # Work keeps finishing between scrapes, so that two samples of
            # the counter differ.
            finished += run_work(node_url, 3)
            url = (f"{prom_url}/api/v1/query?"
                   + urllib.parse.urlencode({"query": query}))
            try:
                _, _, text = http("GET", url, token=None)
            except urllib.error.URLError:
                time.sleep(0.2)
                continue
            answer = json.loads(text)
            assert answer["status"] == "success", answer
            result = answer["data"]["result"]
            if result and float(result[0]["value"][1]) > 0:
                value = float(result[0]["value"][1])
                break
            time.sleep(0.5)
        if value is None:
            _, _, up = http("GET", f"{prom_url}/api/v1/query?query=up",
                            token=None)
            sys.exit(f"Prometheus saw no increase of finished executions "
                     f"({finished} finished); up: {up}")
        print(f"Prometheus: {query} = {value} ({finished} executions "
              "finished)")
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=30)
        except subprocess.TimeoutExpired:
            prom.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    mode, node = sys.argv[1], sys.argv[2]
    proc, port = start_memory_node(node, TOKEN, "metrics")
    try:
        url = f"http://127.0.0.1:{port}"
        if mode == "promtool":
            check_promtool(url)
        elif mode == "scrape":
            check_scrape(url, port)
        else:
            sys.exit(f"unknown mode {mode!r}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
