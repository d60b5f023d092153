"""The packaged service files as systemd reads them:

- packaging/systemd/durable-node.service through `systemd-analyze verify`
  (Debian's `systemd`), which loads the unit as the manager would and
  reports unknown keys, bad values and a missing ExecStart binary. Its
  ExecStart names /usr/bin/durable-node, where a package installs it: the
  check runs on a copy naming the durable-node just built instead. Any
  line of output about the unit fails the test, since verify reports most
  mistakes as warnings and still exits 0;
- packaging/systemd/durable.sysusers through `systemd-sysusers --dry-run`;
- packaging/durable-node.conf, the unit's --config, through
  `durable-node --config FILE --check-config`.

    systemd_unit.py SOURCE_DIR DURABLE_NODE
"""

import os
import shutil
import subprocess
import sys
import tempfile

INSTALLED = "/usr/bin/durable-node"


def fail(message):
    sys.exit("FAIL: " + message)


def tool(name):
    path = shutil.which(name)
    if not path:
        fail(f"{name} not found: install Debian's systemd "
             "(scripts/setup.sh tests)")
    return path


def main():
    source, node = sys.argv[1], os.path.abspath(sys.argv[2])
    unit = os.path.join(source, "packaging", "systemd", "durable-node.service")
    with open(unit) as f:
        text = f.read()
    exec_start = f"ExecStart={INSTALLED} --config /etc/durable/node.conf"
    if exec_start not in text.splitlines():
        fail(f"the unit has no line {exec_start!r}")
    for needed in ("Type=notify", "User=durable", "StateDirectory=durable",
                   "ProtectSystem=strict", "NoNewPrivileges=yes"):
        if needed not in text.splitlines():
            fail(f"the unit has no line {needed!r}")

    with tempfile.TemporaryDirectory(prefix="durable-unit-") as tmp:
        copy = os.path.join(tmp, "durable-node.service")
        with open(copy, "w") as f:
            f.write(text.replace(INSTALLED, node))
        run = subprocess.run(
            [tool("systemd-analyze"), "verify", "--man=no", copy],
            capture_output=True, text=True, timeout=120)
        out = run.stdout + run.stderr
        about_unit = [line for line in out.splitlines()
                      if "durable-node" in line]
        if run.returncode != 0 or about_unit:
            fail(f"systemd-analyze verify exited {run.returncode}:\n{out}")

    sysusers = os.path.join(source, "packaging", "systemd", "durable.sysusers")
    run = subprocess.run([tool("systemd-sysusers"), "--dry-run", sysusers],
                         capture_output=True, text=True, timeout=60)
    out = run.stdout + run.stderr
    if run.returncode != 0 or "ignoring" in out or "Failed" in out:
        fail(f"systemd-sysusers --dry-run exited {run.returncode}:\n{out}")

    conf = os.path.join(source, "packaging", "durable-node.conf")
    run = subprocess.run([node, "--config", conf, "--check-config"],
                         capture_output=True, text=True, timeout=60)
    if run.returncode != 0 or "configuration valid" not in run.stdout:
        fail(f"{conf} is refused ({run.returncode}):\n"
             f"{run.stdout}{run.stderr}")
    print("ok: unit verified, user declared, sample config valid")


if __name__ == "__main__":
    main()
