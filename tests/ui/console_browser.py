#!/usr/bin/env python3
"""The web console in a real browser, used as a person would use it.

Starts two durable-console-node processes (console_node.cpp) on one fresh
PostgreSQL schema: `console-a` without a token, `console-b` with one. Then
headless Chromium (Selenium, chromedriver) opens the console and each step
asserts on what the page shows:

  headers     the console's files: CSP and the other headers, ETag and
              304, `/` redirected, HEAD, 404, served without the token
              while the API refuses without it
  overview    the counts match the API; the nodes table names both nodes
              (or says the route is not available on an older node)
  filter      the list filtered by status and task shows only matching
              rows, from a deep link and from the filter form; the next
              page holds other rows; oldest first is in creation order;
              Enter on a row opens it; back returns to the list
  text filters  the error-text and root filters list only what they
              match (on nodes that take them)
  xss         an execution whose input and error hold <img onerror> and
              <script> shows them as text in the list and the detail, and
              no script ran (window.__xss stays undefined)
  tree        a 5 x 1,000 tree: the time from navigation to its first
              level drawn (printed; 5 s guard), a branch opened lazily, 200
              children drawn, "show more" draws 200 more
  cancel      a running tree cancelled from its page: every node of the
              tree shown cancelled (the cascade, read again)
  wake        a sleeping execution woken with a JSON output: completed,
              its output shown
  bulk        bulk retry of the failures of one task: the confirmation
              shows the count the API gives, then the node retries them
  search      "/" focuses the search box; an execution id opens it, and
              so does a sleeping id (on nodes that filter by it)
  login       the node with a token: the login form, a wrong token
              refused, the right one accepted, the token in no URL and
              kept in sessionStorage only
  theme       the toggle switches dark/light and is remembered

Screenshots of every step go to <artifacts>/; with DURABLE_UI_SCREENSHOTS
set to a folder, the overview, list and tree are also saved there at
1280x800 in the light theme (docs/images/ for the README).

Needs DURABLE_PG_URL (scripts/pg-start.sh); fails, never skips, without it.

Usage: console_browser.py <durable-console-node> <artifacts-dir>
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "http"))
from node_harness import free_port, wait_listening  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException, WebDriverException)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

TOKEN = "console-secret-token"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=1</script>"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src "
       "'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
TREE_GUARD_S = 5.0


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


# -- the nodes ----------------------------------------------------------------

def pg_url():
    url = os.environ.get("DURABLE_PG_URL", "")
    if not url:
        fail("DURABLE_PG_URL is not set (scripts/pg-start.sh prints one)")
    parts = urllib.parse.urlparse(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1",
                                  parts.port or 5432), timeout=5).close()
    except OSError as e:
        fail(f"PostgreSQL at DURABLE_PG_URL is unreachable: {e}")
    return url


class Node:
    def __init__(self, program, url, schema, name, logs, token=None):
        self.port = free_port()
        self.token = token
        self.name = name
        args = [program, "--store", "postgres", "--pg-url", url,
                "--pg-schema", schema, "--name", name,
                "--http-port", str(self.port), "--max-concurrent", "64",
                "--log-level", "warning"]
        env = dict(os.environ)
        env.pop("DURABLE_HTTP_TOKEN", None)
        if token:
            env["DURABLE_HTTP_TOKEN"] = token
        # Its log in the artifacts, for a failure's post-mortem.
        with open(os.path.join(logs, name + ".log"), "w") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                         stderr=log, env=env)
        wait_listening(self.port, self.proc, name, seconds=60)
        self.base = f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None, token=True):
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/json"
        if token and self.token:
            h["Authorization"] = "Bearer " + self.token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, path, body=None if body is None
                     else json.dumps(body), headers=h)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res, data

    def call(self, method, path, body=None):
        res, data = self.request(method, path, body)
        parsed = json.loads(data) if data else None
        if res.status >= 300:
            fail(f"{method} {path} answered {res.status}: {parsed}")
        return parsed

    def has_route(self, path):
        """Whether the node serves `path` (a query parameter it does not
        know, as a route it lacks, means an older node)."""
        res, data = self.request("GET", path)
        return not ((res.status == 404 and b"No route" in data)
                    or (res.status == 400 and b"Unknown query" in data))

    def enqueue(self, task, payload):
        return self.call("POST", f"/v1/tasks/{task}/executions",
                         {"input": payload})["execution_id"]

    def wait_final(self, eid, seconds=30):
        row = self.call("GET", f"/v1/executions/{eid}/wait"
                               f"?timeout_ms={seconds * 1000}")
        return row

    def count(self, query=""):
        return self.call("GET", "/v1/stats" + ("?" + query if query else ""))[
            "total"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def drop_schema(url, schema):
    psql = shutil.which("psql")
    if psql:
        subprocess.run([psql, url, "-q", "-c",
                        f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)


# -- the browser --------------------------------------------------------------

def browser(profile):
    o = Options()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-dev-shm-usage",
              "--force-color-profile=srgb", "--hide-scrollbars",
              "--window-size=1280,900", "--user-data-dir=" + profile]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    chromium = shutil.which("chromium")
    if chromium:
        o.binary_location = chromium
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    d = webdriver.Chrome(service=Service(driver_path), options=o)
    # The page's own size, whatever the window's decorations take.
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": 800, "deviceScaleFactor": 1,
                       "mobile": False})
    d.execute_cdp_cmd("Emulation.setEmulatedMedia",
                      {"features": [{"name": "prefers-color-scheme",
                                     "value": "light"}]})
    return d


class Steps:
    def __init__(self, driver, artifacts, readme_dir):
        self.d = driver
        self.artifacts = artifacts
        self.readme_dir = readme_dir
        self.n = 0
        self.step = "setup"

    def begin(self, name):
        self.step = name
        print(f"-- {name}", flush=True)

    def shot(self, name, readme=None):
        self.n += 1
        path = os.path.join(self.artifacts, f"{self.n:02d}-{name}.png")
        self.d.save_screenshot(path)
        if readme and self.readme_dir:
            self.d.save_screenshot(os.path.join(self.readme_dir, readme))

    def wait(self, fn, what, seconds=15):
        deadline = time.time() + seconds
        last = None
        while time.time() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except (StaleElementReferenceException, WebDriverException) as e:
                last = e
            time.sleep(0.05)
        self.shot("failed-" + self.step)
        fail(f"[{self.step}] {what} (after {seconds} s)"
             + (f"; last error: {last.msg}" if last else "")
             + f"; page: {self.text('main')[:600]!r}")

    def check(self, ok, what):
        if not ok:
            self.shot("failed-" + self.step)
            fail(f"[{self.step}] {what}")

    def click(self, element):
        """Clicks `element` once scrolled to the middle of the view (the
        header is sticky: at the top edge it would take the click)."""
        self.d.execute_script(
            "arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def css(self, selector):
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector):
        return self.wait(lambda: (self.css(selector) or [None])[0],
                         f"{selector} on the page")

    def text(self, selector):
        try:
            return " ".join(e.text for e in self.css(selector))
        except WebDriverException:
            return ""

    def open(self, base, hash_):
        self.d.get(base + "/ui/" + hash_)

    def xss_ran(self):
        return self.d.execute_script("return window.__xss") is not None


# -- the steps ----------------------------------------------------------------

def check_headers(a, b):
    res, body = a.request("GET", "/ui/")
    expect = {"Content-Security-Policy": CSP,
              "X-Content-Type-Options": "nosniff",
              "Referrer-Policy": "no-referrer",
              "Cache-Control": "no-cache"}
    if res.status != 200 or b"<script type=\"module\" src=\"app.js\">" \
            not in body:
        fail(f"GET /ui/ answered {res.status}")
    for k, v in expect.items():
        if res.getheader(k) != v:
            fail(f"GET /ui/: {k} is {res.getheader(k)!r}, not {v!r}")
    if not res.getheader("Content-Type", "").startswith("text/html"):
        fail(f"GET /ui/: Content-Type {res.getheader('Content-Type')!r}")
    etag = res.getheader("ETag") or ""
    if not (etag.startswith('"') and etag.endswith('"') and len(etag) > 2):
        fail(f"GET /ui/: no strong ETag ({etag!r})")
    res, body = a.request("GET", "/ui/index.html",
                          headers={"If-None-Match": etag})
    if res.status != 304 or body:
        fail(f"If-None-Match with the ETag answered {res.status}")
    res, _ = a.request("GET", "/ui/app.js", headers={"If-None-Match": etag})
    if res.status != 200 or not res.getheader(
            "Content-Type", "").startswith("text/javascript"):
        fail(f"GET /ui/app.js answered {res.status} "
             f"{res.getheader('Content-Type')!r}")
    res, body = a.request("HEAD", "/ui/style.css")
    if res.status != 200 or body or not res.getheader("Content-Length"):
        fail(f"HEAD /ui/style.css answered {res.status} with {len(body)} "
             "bytes")
    res, _ = a.request("GET", "/")
    if res.status != 302 or res.getheader("Location") != "/ui/":
        fail(f"GET / answered {res.status} {res.getheader('Location')!r}")
    res, _ = a.request("GET", "/ui/no-such-file.js")
    if res.status != 404 or res.getheader("Content-Security-Policy") != CSP:
        fail(f"a missing console file answered {res.status}")
    res, _ = a.request("POST", "/ui/", body={})
    if res.status != 405:
        fail(f"POST /ui/ answered {res.status}")
    # The console needs no token; the API still does.
    res, _ = b.request("GET", "/ui/", token=False)
    if res.status != 200:
        fail(f"GET /ui/ on the node with a token answered {res.status}")
    res, _ = b.request("GET", "/v1/stats", token=False)
    if res.status != 401:
        fail(f"the API answered {res.status} without the token")


def step_overview(s, a, has):
    s.open(a.base, "#/")
    total = a.count()
    failed = a.count("status=failed")
    s.wait(lambda: s.text("#count-total") == str(total),
           f"the overview's total shows {total}")
    s.check(s.text("#count-failed").startswith(str(failed)),
            f"the failed count shows {failed}: {s.text('#count-failed')!r}")
    if has["/v1/nodes"]:
        s.wait(lambda: "console-a" in s.text("#nodes-table")
               and "console-b" in s.text("#nodes-table"),
               "the nodes table names console-a and console-b")
        s.wait(lambda: "leader" in s.text("#nodes-table"),
               "a node shown leading maintenance")
    else:
        s.wait(lambda: "not available" in s.text("#nodes-body"),
               "the nodes panel says the route is not available")
    if has["/v1/tasks"]:
        s.wait(lambda: "ui_fail" in s.text("#tasks-table")
               and "example_square" in s.text("#tasks-table"),
               "the backlog table names the registered tasks")
    else:
        s.wait(lambda: "not available" in s.text("#tasks-body"),
               "the backlog panel says the route is not available")
    if has["/v1/stats/series"]:
        s.wait(lambda: s.css("#throughput-body svg rect"),
               "the throughput chart draws the finished executions")
    else:
        s.wait(lambda: "not available" in s.text("#throughput-body"),
               "the throughput panel says the route is not available")
    # Live: a new failure shows up without a reload.
    a.wait_final(a.enqueue("ui_fail", {"message": "live"}))
    s.wait(lambda: s.text("#count-failed").startswith(str(failed + 1)),
           "the overview refreshes itself (failed count + 1)", seconds=10)
    s.shot("overview", "console-overview.png")


def rows(s, table="#executions-table"):
    out = []
    for tr in s.css(table + " tbody tr"):
        cells = tr.find_elements(By.TAG_NAME, "td")
        out.append([c.text for c in cells])
    return out


def step_filter(s, a):
    expected = a.count("status=failed&task_id=ui_fail")
    s.open(a.base, "#/executions?status=failed&task_id=ui_fail")
    s.wait(lambda: len(rows(s)) == min(expected, 50),
           f"{expected} failed ui_fail rows listed")
    for r in rows(s):
        s.check(r[0] == "failed" and r[2] == "ui_fail",
                f"a row that does not match the filter: {r}")
    s.check(s.text("#match-count").startswith(f"{expected} "),
            f"the list says {s.text('#match-count')!r}, not {expected}")
    # The filter form: completed example_square executions.
    mixed = a.count("status=completed,failed")
    s.open(a.base, "#/executions?status=completed%2Cfailed")
    s.wait(lambda: len(rows(s)) == min(mixed, 50) and {
        r[0] for r in rows(s)} == {"completed", "failed"},
        f"{mixed} completed and failed rows")
    s.shot("list", "console-list.png")
    s.open(a.base, "#/executions")
    s.wait(lambda: len(rows(s)) == 50 and s.css("#next-page"),
           "the unfiltered list's first page, and a next one")
    # Keyset pages: the next one holds other executions, its cursor in the
    # hash.
    first_page = {tr.get_attribute("data-id")
                  for tr in s.css("#executions-table tbody tr")}
    s.click(s.one("#next-page"))
    s.wait(lambda: "cursor=" in s.d.current_url and len(rows(s)) == 50
           and not first_page & {tr.get_attribute("data-id") for tr in
                                 s.css("#executions-table tbody tr")},
           "the next page lists 50 other executions")
    # Oldest first: creation times never go down the page.
    s.open(a.base, "#/executions?order=oldest")
    s.wait(lambda: len(rows(s)) == 50, "the oldest-first list")
    created = [r[5] for r in rows(s)]
    s.check(created == sorted(created),
            f"oldest first is not in creation order: {created[:5]}…")
    s.click(s.one("#filters input[value=completed]"))
    task = s.one("#f-task_id")
    task.clear()
    task.send_keys("example_square")
    s.click(s.one("#apply"))
    s.wait(lambda: "status=completed" in s.d.current_url
           and "task_id=example_square" in s.d.current_url,
           "the filter in the URL hash")
    want = a.count("status=completed&task_id=example_square")
    s.wait(lambda: len(rows(s)) == min(want, 50) and all(
        r[0] == "completed" and r[2] == "example_square" for r in rows(s)),
        f"{want} completed example_square rows, and only those")
    s.shot("list-filtered")
    # Keyboard: Enter on a row opens it; back returns to the list.
    first = s.css("#executions-table tbody tr")[0]
    eid = first.get_attribute("data-id")
    first.send_keys(Keys.ENTER)
    s.wait(lambda: s.text("#detail-id") == eid, "Enter opened the row")
    s.d.back()
    s.wait(lambda: "status=completed" in s.d.current_url and rows(s),
           "back returned to the filtered list")


def step_text_filters(s, a, big):
    """The error-text and root filters, on nodes that take them."""
    s.open(a.base, "#/executions?error=boom")
    s.wait(lambda: sorted(r[7] for r in rows(s)) == ["boom 0", "boom 1",
                                                     "boom 2"],
           "the error filter lists the three 'boom' failures only")
    s.check(s.text("#match-count").startswith("3 "),
            f"the error filter counts {s.text('#match-count')!r}")
    s.open(a.base, f"#/executions?root_id={big}&status=waiting_for_children")
    s.wait(lambda: len(rows(s)) == 6 and all(
        r[2] in ("ui_tree", "ui_branch") for r in rows(s)),
        "the root filter lists the big tree's root and 5 branches")


def step_xss(s, a, xss_id):
    s.open(a.base, "#/executions?task_id=ui_fail&status=failed")
    s.wait(lambda: any(XSS_IMG in r[7] for r in rows(s)),
           "the hostile error shown as text in the list")
    s.check(not s.xss_ran(), "a script ran from the list")
    s.open(a.base, "#/executions/" + xss_id)
    s.wait(lambda: XSS_IMG in s.text("#error-message")
           and XSS_SCRIPT in s.text("#error-message"),
           "the hostile error shown as text in the detail")
    # JSON escapes the attribute's quotes: \"window.__xss=1\".
    s.wait(lambda: XSS_SCRIPT in s.text("#payload-input")
           and '<img src=x onerror=\\"window.__xss=1\\">'
           in s.text("#payload-input"),
           "the hostile input shown as text in the detail")
    s.check(not s.xss_ran(), "window.__xss was set: a script ran")
    s.check(not s.css("main img") and not s.css("main script"),
            "an <img> or <script> element was made from stored data")
    s.shot("xss")


def tree_nodes(s, depth):
    return s.css(f"#tree li.tree-node[data-depth='{depth}']")


def step_tree(s, a, big):
    # Cold: a fresh page load, as a person following a link would.
    s.d.get("about:blank")
    start = time.monotonic()
    s.open(a.base, "#/executions/" + big)
    s.wait(lambda: len(tree_nodes(s, 1)) == 5, "the 5 branches drawn",
           seconds=30)
    first_level = time.monotonic() - start
    print(f"tree 5x1000: first level drawn {first_level * 1000:.0f} ms "
          "after navigation", flush=True)
    s.check(first_level < TREE_GUARD_S,
            f"the first level took {first_level:.2f} s (guard "
            f"{TREE_GUARD_S} s)")
    branch = tree_nodes(s, 1)[0]
    start = time.monotonic()
    s.click(branch.find_element(By.CSS_SELECTOR, "button.toggle"))
    s.wait(lambda: len(tree_nodes(s, 2)) == 200,
           "the first 200 leaves of the branch drawn", seconds=30)
    print(f"tree 5x1000: a branch of 1000 opened, 200 drawn in "
          f"{(time.monotonic() - start) * 1000:.0f} ms", flush=True)
    more = s.one("#tree button.show-more")
    s.check("800 not shown" in more.text, f"show-more says {more.text!r}")
    s.check(all(n.get_attribute("data-status") for n in tree_nodes(s, 2)),
            "a leaf without its status")
    s.shot("tree-open", "console-tree.png")
    s.click(more)
    s.wait(lambda: len(tree_nodes(s, 2)) == 400, "200 more leaves drawn")
    s.check(s.one("#tree button.show-more").text.endswith("(600 not shown)"),
            "show-more after two chunks")
    # Collapsing hides them; opening again needs no new read.
    s.click(branch.find_element(By.CSS_SELECTOR, "button.toggle"))
    s.wait(lambda: not any(n.is_displayed() for n in tree_nodes(s, 2)[:3]),
           "the branch collapsed")
    s.shot("tree-collapsed")


def step_cancel(s, a, tree_id):
    # Every leaf running before the cancel.
    deadline = time.time() + 30
    while time.time() < deadline:
        t = a.call("GET", f"/v1/executions/{tree_id}/tree")
        leaves = [c for b in t["root"]["children"] for c in b["children"]]
        if len(leaves) == 4 and all(x["status"] == "running" for x in leaves):
            break
        time.sleep(0.1)
    else:
        fail(f"the blocking tree did not start its 4 leaves: {t}")
    s.open(a.base, "#/executions/" + tree_id)
    s.wait(lambda: len(tree_nodes(s, 1)) == 2, "the 2 branches drawn")
    for b in tree_nodes(s, 1):
        s.click(b.find_element(By.CSS_SELECTOR, "button.toggle"))
    s.wait(lambda: len(tree_nodes(s, 2)) == 4 and all(
        n.get_attribute("data-status") == "running" for n in tree_nodes(s, 2)),
        "the 4 running leaves drawn")
    s.shot("cancel-before")
    s.click(s.one("#cancel"))
    s.click(s.one("#cancel-yes"))

    def all_cancelled():
        nodes = s.css("#tree li.tree-node")
        return len(nodes) == 7 and all(
            n.get_attribute("data-status") == "cancelled" for n in nodes)
    s.wait(all_cancelled, "the root, 2 branches and 4 leaves shown "
           "cancelled (the cascade)", seconds=20)
    s.check("cancelled" in s.text(".detail-head .badge"),
            "the page's status badge is not cancelled")
    s.shot("cancel-cascade")


def step_wake(s, a, sleeper):
    s.open(a.base, "#/executions/" + sleeper)
    box = s.one("#wake-output")
    box.clear()
    box.send_keys('{"approved": true, "by": "console test"}')
    s.click(s.one("#wake-submit"))
    s.wait(lambda: "completed" in s.text(".detail-head .badge"),
           "the woken execution shown completed")
    s.wait(lambda: '"by": "console test"' in s.text("#payload-output"),
           "the wake's output shown")
    row = a.call("GET", "/v1/executions/" + sleeper)
    s.check(row["status"] == "completed"
            and row["output"] == {"approved": True, "by": "console test"},
            f"the node stored {row.get('status')} {row.get('output')}")
    s.shot("wake")


def step_bulk(s, a):
    q = "status=failed&task_id=ui_fail"
    before = a.count(q)
    s.open(a.base, "#/executions?" + q)
    s.wait(lambda: rows(s), "the failures listed")
    s.click(s.one("#bulk-retry"))
    s.wait(lambda: s.text("#bulk-count").startswith(f"{before} "),
           f"the confirmation counts {before}")
    s.shot("bulk-confirm")
    s.click(s.one("#bulk-yes"))
    s.wait(lambda: s.text("#bulk-result").startswith(f"{before} retried"),
           f"the result says {before} retried")
    s.shot("bulk-done")
    s.click(s.one("#bulk-close"))
    # Every retry fails again (ui_fail always does): twice the failures.
    deadline = time.time() + 30
    while a.count(q) < 2 * before and time.time() < deadline:
        time.sleep(0.2)
    s.check(a.count(q) == 2 * before,
            f"{a.count(q)} failures after retrying {before}")
    s.d.refresh()
    s.wait(lambda: s.text("#match-count").startswith(f"{2 * before} "),
           "the list shows the retried executions")


def step_search(s, a, target):
    s.open(a.base, "#/")
    s.one("#count-total")
    s.d.execute_script("document.activeElement.blur()")
    ActionChains(s.d).send_keys("/").perform()
    s.wait(lambda: s.d.switch_to.active_element.get_attribute("id")
           == "search-box", "/ focused the search box")
    s.d.switch_to.active_element.send_keys(target + Keys.ENTER)
    s.wait(lambda: s.text("#detail-id") == target,
           "the search opened the execution")


def step_search_sleeping(s, a, sleeper, sleeping_id):
    box = s.one("#search-box")
    box.clear()
    box.send_keys(sleeping_id + Keys.ENTER)
    s.wait(lambda: s.text("#detail-id") == sleeper,
           "the search by sleeping id opened the execution")


def step_login(s, b):
    s.open(b.base, "#/executions")
    field = s.one("#token")
    s.check("Sign in" in s.text("main"), "no login form")
    s.shot("login")
    field.send_keys("not-the-token" + Keys.ENTER)
    s.wait(lambda: "refused" in s.text("#login-error"),
           "a wrong token refused")
    s.check(not s.d.execute_script(
        "return sessionStorage.getItem('durable.token')"),
        "a refused token was kept")
    field = s.one("#token")
    field.clear()
    field.send_keys(TOKEN + Keys.ENTER)
    s.wait(lambda: rows(s), "the list after signing in")
    s.check(TOKEN not in s.d.current_url, "the token is in the URL")
    urls = s.d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    s.check(not any(TOKEN in u for u in urls),
            "the token is in a requested URL")
    s.check(s.d.execute_script(
        "return sessionStorage.getItem('durable.token')") == TOKEN,
        "the token is not in sessionStorage")
    s.check(TOKEN not in json.dumps(s.d.execute_script(
        "return Object.assign({}, localStorage)")),
        "the token is in localStorage")
    s.open(b.base, "#/")
    s.wait(lambda: s.text("#count-total"), "the overview after signing in")
    s.shot("signed-in")


def step_theme(s, a):
    s.open(a.base, "#/")
    s.one("#count-total")
    s.check(s.d.execute_script(
        "return document.documentElement.dataset.theme") == "light",
        "not light by the system's preference")
    s.click(s.one("#theme"))
    s.check(s.d.execute_script(
        "return document.documentElement.dataset.theme") == "dark",
        "the toggle did not switch to dark")
    s.d.refresh()
    s.one("#count-total")
    s.check(s.d.execute_script(
        "return document.documentElement.dataset.theme") == "dark",
        "the dark theme was not remembered")
    s.shot("dark")
    s.click(s.one("#theme"))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    program, artifacts = sys.argv[1], sys.argv[2]
    url = pg_url()
    os.makedirs(artifacts, exist_ok=True)
    for old in os.listdir(artifacts):  # this run's only
        if old.endswith((".png", ".log")):
            os.remove(os.path.join(artifacts, old))
    readme_dir = os.environ.get("DURABLE_UI_SCREENSHOTS") or None
    if readme_dir:
        os.makedirs(readme_dir, exist_ok=True)
    schema = f"ui_console_{os.getpid()}_{int(time.time())}"
    started = time.monotonic()
    nodes, driver = [], None
    profile = tempfile.mkdtemp(prefix="durable-ui-chromium-")
    try:
        a = Node(program, url, schema, "console-a", artifacts)
        nodes.append(a)
        b = Node(program, url, schema, "console-b", artifacts, token=TOKEN)
        nodes.append(b)
        check_headers(a, b)

        # What the steps look at.
        tag = schema
        big = a.enqueue("ui_tree", {"n": 5, "m": 1000, "tag": tag + "-big"})
        blocking = a.enqueue("ui_tree", {"n": 2, "m": 2, "block": True,
                                         "tag": tag + "-block"})
        for x in range(1, 7):
            a.enqueue("example_square", {"x": x})
        a.wait_final(a.enqueue("example_fanout", {"n": 3}))
        for i in range(3):
            a.wait_final(a.enqueue("ui_fail", {"message": f"boom {i}"}))
        xss = a.enqueue("ui_fail", {"message": f"{XSS_IMG} {XSS_SCRIPT}",
                                    "note": XSS_SCRIPT, "img": XSS_IMG})
        a.wait_final(xss)
        sleeper = a.enqueue("example_approval", tag + "-approval")
        # The big tree stored: 5 branches waiting for their 1,000 each.
        deadline = time.time() + 120
        while time.time() < deadline:
            t = a.call("GET", f"/v1/executions/{big}/tree?max_depth=1")
            kids = t["root"]["children"]
            if len(kids) == 5 and all(
                    k["status"] == "waiting_for_children" for k in kids):
                break
            time.sleep(0.2)
        else:
            fail("the 5 x 1000 tree was not stored within 120 s")
        print(f"setup done in {time.monotonic() - started:.1f} s", flush=True)

        driver = browser(profile)
        s = Steps(driver, artifacts, readme_dir)
        has = {r: a.has_route(r) for r in
               ("/v1/nodes", "/v1/tasks", "/v1/stats/series")}
        missing = [r for r, ok in has.items() if not ok]
        if missing:
            print("note: this node does not serve " + ", ".join(missing)
                  + ": their panels must say so", flush=True)
        s.begin("overview")
        step_overview(s, a, has)
        s.begin("filter")
        step_filter(s, a)
        if a.has_route("/v1/executions?error=x&root_id=x"):
            s.begin("text filters")
            step_text_filters(s, a, big)
        else:
            print("note: this node has no error or root filter", flush=True)
        s.begin("xss")
        step_xss(s, a, xss)
        s.begin("tree")
        step_tree(s, a, big)
        s.begin("cancel")
        step_cancel(s, a, blocking)
        s.begin("wake")
        step_wake(s, a, sleeper)
        s.begin("bulk")
        step_bulk(s, a)
        s.begin("search")
        step_search(s, a, xss)
        if a.has_route("/v1/executions?sleeping_id=x"):
            step_search_sleeping(s, a, sleeper, tag + "-approval")
        s.begin("login")
        step_login(s, b)
        s.begin("theme")
        step_theme(s, a)
        s.check(not s.xss_ran(), "window.__xss was set during the run")
        logs = [e for e in driver.get_log("browser")
                if e.get("level") == "SEVERE"
                and "Failed to load resource" not in e.get("message", "")]
        if logs:
            fail(f"errors in the browser's console: {logs[:5]}")
    finally:
        if driver:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - the browser may be gone
                pass
        for n in nodes:
            n.stop()
        drop_schema(url, schema)
        shutil.rmtree(profile, ignore_errors=True)
    print(f"console_browser: every step passed in "
          f"{time.monotonic() - started:.1f} s; screenshots in {artifacts}")


if __name__ == "__main__":
    main()
