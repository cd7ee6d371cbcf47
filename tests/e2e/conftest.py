# SPDX-License-Identifier: Apache-2.0
"""Helpers for svclb's end-to-end tests.

The tests build a namespace topology with scripts/netns.sh (PREFIX "svt", so that the
demo's "svd" can run at the same time), run the daemon in svt-lb and talk to it from
svt-c. Environment:
  SVCLB_BUILD  build directory holding svclb and svclbctl (default: <repo>/build)
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PY = "/usr/bin/python3"
NETNS = str(REPO / "scripts" / "netns.sh")


def build_dir() -> Path:
    b = Path(os.environ.get("SVCLB_BUILD", "build"))
    return b if b.is_absolute() else REPO / b


def binary(name: str) -> Path:
    """build/NAME, or build/cp/NAME if the executable is declared in cp/meson.build."""
    for cand in (build_dir() / name, build_dir() / "cp" / name):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    pytest.fail(f"{name} not found in {build_dir()} (build it: scripts/build.sh)")


def pytest_runtest_setup(item):
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (network namespaces, AF_XDP)")


def run(cmd, timeout=30, check=False, **kw):
    """subprocess.run with captured text output and a time bound."""
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=timeout, check=check, **kw)


def nsrun(ns, cmd, timeout=30, check=False, **kw):
    return run(["ip", "netns", "exec", ns, *cmd], timeout=timeout, check=check, **kw)


def ns_python(ns, code, args=(), timeout=60):
    """Runs a Python snippet in namespace NS; returns its stdout parsed as JSON."""
    r = nsrun(ns, [PY, "-c", code, *args], timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"python in {ns} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout)


def tail(path, n=60) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError as e:
        return f"<no log: {e}>"
    return "\n".join(lines[-n:])


class Daemon:
    """One svclb process running in a namespace."""

    def __init__(self, ns, config, socket_path, log):
        self.ns, self.config, self.socket, self.log = ns, Path(config), socket_path, Path(log)
        self.proc = None

    def start(self):
        self.logf = open(self.log, "ab")
        # "ip netns exec" execs the command: proc.pid is the daemon's own PID.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, str(binary("svclb")), "-c", str(self.config)],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stats(self, timeout=5):
        """The daemon's counters as a dict, or None if it does not answer."""
        try:
            r = run([binary("svclbctl"), "-s", self.socket, "stats"], timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def wait_ready(self, timeout=30.0) -> bool:
        """True once stats answer; False if the daemon exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            if self.stats(timeout=2) is not None:
                return True
            time.sleep(0.25)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM, then wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return 0
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                rc = None
        self.logf.close()
        return rc

    def log_tail(self, n=60) -> str:
        return f"--- {self.log} (last {n} lines) ---\n{tail(self.log, n)}"
