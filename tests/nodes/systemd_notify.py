"""durable-node speaks systemd's notify protocol (Type=notify) to a real
datagram socket, as the service manager would: READY=1 only once the HTTP
API answers, watchdog keep-alives at half of WATCHDOG_USEC, and STOPPING=1
from the node itself when SIGTERM starts its drain, before it exits.

    systemd_notify.py DURABLE_NODE
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "http"))
from node_harness import free_port  # noqa: E402

WATCHDOG_USEC = 200_000


def fail(message, log=None):
    if log:
        with open(log) as f:
            message += "\n--- node log ---\n" + f.read()
    sys.exit("FAIL: " + message)


class manager_socket:
    """The service manager's end: NOTIFY_SOCKET, with the sender's
    credentials (SO_PASSCRED) on every datagram."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)

    def receive(self, deadline):
        """(pid, {key: value}) of the next datagram, None at deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.sock.settimeout(left)
        try:
            data, ancillary, _, _ = self.sock.recvmsg(
                4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("3i", payload[:12])
        fields = dict(line.split("=", 1)
                      for line in data.decode().splitlines() if "=" in line)
        return pid, fields


def health(port):
    try:
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/v1/health", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return f"no answer ({e})"


def main():
    node = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="durable-notify-") as tmp:
        manager = manager_socket(os.path.join(tmp, "notify.sock"))
        log = os.path.join(tmp, "node.log")
        port = free_port()
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify.sock"),
                   WATCHDOG_USEC=str(WATCHDOG_USEC))
        env.pop("WATCHDOG_PID", None)
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [node, "--name", "notified", "--store", "memory",
                 "--http-port", str(port), "--grace-ms", "1000"],
                env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            run(proc, manager, port, log)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def run(proc, manager, port, log):
    # Start: status lines at most, then READY=1; at that moment the API
    # must answer already (a manager starts dependent units right away).
    deadline = time.monotonic() + 60
    while True:
        msg = manager.receive(deadline)
        if msg is None:
            fail("no READY=1 within 60 s", log)
        pid, fields = msg
        if pid != proc.pid:
            fail(f"a datagram from pid {pid}, not the node's {proc.pid}", log)
        if "STOPPING" in fields or "WATCHDOG" in fields:
            fail(f"{fields} before READY=1", log)
        if fields.get("READY") == "1":
            code = health(port)
            if code != 200:
                fail(f"READY=1 sent, but GET /v1/health gave {code}", log)
            if not fields.get("STATUS", "").startswith("serving"):
                fail(f"READY=1 without a serving status: {fields}", log)
            break

    # Keep-alives at half of WATCHDOG_USEC: a few within a second.
    pings = 0
    deadline = time.monotonic() + 1.0
    while (msg := manager.receive(deadline)) is not None:
        if msg[1].get("WATCHDOG") == "1":
            pings += 1
    if pings < 3:
        fail(f"{pings} watchdog keep-alives in 1 s (WATCHDOG_USEC="
             f"{WATCHDOG_USEC})", log)

    # Stop: STOPPING=1 comes from the node itself (its pid, so sent while it
    # lived), then it exits after its drain.
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while True:
        msg = manager.receive(deadline)
        if msg is None:
            fail("no STOPPING=1 within 30 s of SIGTERM "
                 f"(exit code {proc.poll()})", log)
        pid, fields = msg
        if fields.get("STOPPING") == "1":
            if pid != proc.pid:
                fail(f"STOPPING=1 from pid {pid}, not the node's", log)
            if not fields.get("STATUS", "").startswith("draining"):
                fail(f"STOPPING=1 without a draining status: {fields}", log)
            break
        if "READY" in fields:
            fail(f"{fields} after SIGTERM", log)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        fail("the node did not exit within 30 s of STOPPING=1", log)
    if code != 0:
        fail(f"the node exited with {code} after its drain", log)
    print(f"ok: READY=1 with /v1/health answering, {pings} keep-alives in "
          "1 s, STOPPING=1 from the node, exit 0")


if __name__ == "__main__":
    main()
