"""What the Python tests of tests/http/ share: a free loopback port,
waiting until a process they started listens on it, and a durable-node on
the memory store serving HTTP."""

import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what, seconds=30):
    """Returns once `port` accepts a connection; exits the test if `proc`
    ends first or `seconds` pass."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen within {seconds} s")


def start_memory_node(node, token, name):
    """Starts `node` (the durable-node program) on the memory store with its
    HTTP API on a free loopback port under bearer `token`; returns the
    process and the port once it listens. Its stderr is a pipe, read by
    the caller (or left to be dropped with the process)."""
    port = free_port()
    proc = subprocess.Popen(
        [node, "--store", "memory", "--http-port", str(port),
         "--http-token", token, "--name", name],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, proc, "durable-node")
    except BaseException:
        proc.kill()
        raise
    return proc, port
