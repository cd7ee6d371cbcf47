# SPDX-License-Identifier: Apache-2.0
"""Helpers and the shared appliance for svclb's end-to-end tests.

The tests build a namespace topology with scripts/netns.sh (PREFIX "svt", so that the
demo's "svd" can run at the same time), run the daemon in svt-lb and talk to it from
svt-c. One daemon serves the whole session (fixture "appliance"), with one config
(make_config) holding two services:
  e2e/web   IPv4 single-stack, clusterIP 198.18.0.10: TCP 80 -> 8080, UDP 53 -> 5300
            (test_clusterip.py; its reload test changes this service's endpoints only)
  e2e/dual  RequireDualStack, clusterIPs 198.18.0.20 and 2001:db8:ffff::10: TCP 80 -> 8080,
            UDP 53 -> 5300, SCTP 3868 -> 7; one IPv4 and one IPv6 EndpointSlice, b1..b3
            (test_dualstack.py)
Environment:
  SVCLB_BUILD  build directory holding svclb and svclbctl (default: <repo>/build)
"""
import json
import os
import signal
import subprocess
import tempfile
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


# ------------------------------------------------------------------ the shared appliance

PREFIX = "svt"
NS_LB, NS_C = f"{PREFIX}-lb", f"{PREFIX}-c"
NS_B = [f"{PREFIX}-b{i}" for i in range(1, 5)]
VIP = "198.18.0.10"             # e2e/web
DUAL_VIP4 = "198.18.0.20"       # e2e/dual, IPv4
DUAL_VIP6 = "2001:db8:ffff::10"  # e2e/dual, IPv6
SCTP_PORT = 3868                # e2e/dual's SCTP port; the backends' usrsctp echo_server is on 7
APPLIANCE = "198.51.100.1"
APPLIANCE6 = "2001:db8:100::1"
SNAT4, SNAT6 = "198.51.100.2", "2001:db8:100::2"
SOCKET = "/run/svclb/e2e.sock"
AF_XDP = os.environ.get("SVCLB_E2E_DEVICE", "net_af_xdp0,iface=lb0,start_queue=0,queue_count=1")
AF_PACKET = "net_af_packet0,iface=lb0"
BACKENDS3 = ["198.51.100.11", "198.51.100.12", "198.51.100.13"]
BACKENDS4 = BACKENDS3 + ["198.51.100.14"]
BACKENDS6 = ["2001:db8:100::11", "2001:db8:100::12", "2001:db8:100::13"]
# Backend name by address (both families).
BACKEND_NAME = {**{f"198.51.100.1{i}": f"b{i}" for i in range(1, 5)},
                **{f"2001:db8:100::1{i}": f"b{i}" for i in range(1, 5)}}

CONFIG = """\
# Generated by tests/e2e/conftest.py
appliance = {{
  ports = (
    {{ name = "p0";
      device = "{device}";
      addresses = [ "198.51.100.1/24", "2001:db8:100::1/64" ]; }}
  );
  snatAddresses = [ "198.51.100.2", "2001:db8:100::2" ];
  lcores = {{ main = 0; workers = [ {workers} ]; }};
  flowTableSize = 65536;
  idleBackoffUs = 200;
  socket = "{socket}";{eal}
}};

cluster = {{
  serviceCIDRs = [ "198.18.0.0/24", "2001:db8:ffff::/112" ];
  nodePortRange = "30000-32767";
  nodeNames = [ "appliance-1" ];
}};

services = (
  {{ metadata = {{ name = "web"; namespace = "e2e"; }};
    spec = {{
      clusterIP = "{cluster_ip}";
      ports = (
        {{ name = "http"; protocol = "TCP"; port = {http_port}; targetPort = 8080; }},
        {{ name = "echo"; protocol = "UDP"; port = 53; targetPort = 5300; }}
      );
    }};
  }},
  {{ metadata = {{ name = "dual"; namespace = "e2e"; }};
    spec = {{
      ipFamilies = [ "IPv4", "IPv6" ];
      ipFamilyPolicy = "RequireDualStack";
      clusterIPs = [ "{dual4}", "{dual6}" ];
      ports = (
        {{ name = "http"; protocol = "TCP"; port = 80; targetPort = 8080; }},
        {{ name = "echo"; protocol = "UDP"; port = 53; targetPort = 5300; }},
        {{ name = "sctp"; protocol = "SCTP"; port = {sctp_port}; targetPort = 7; }}
      );
    }};
  }}
);

endpointSlices = (
  {{ metadata = {{ name = "web-1"; namespace = "e2e"; }};
    service = "web";
    addressType = "IPv4";
    ports = (
      {{ name = "http"; protocol = "TCP"; port = 8080; }},
      {{ name = "echo"; protocol = "UDP"; port = 5300; }}
    );
    endpoints = (
{endpoints}
    );
  }},
  {{ metadata = {{ name = "dual-v4"; namespace = "e2e"; }};
    service = "dual";
    addressType = "IPv4";
    ports = (
      {{ name = "http"; protocol = "TCP"; port = 8080; }},
      {{ name = "echo"; protocol = "UDP"; port = 5300; }},
      {{ name = "sctp"; protocol = "SCTP"; port = 7; }}
    );
    endpoints = (
{dual_endpoints4}
    );
  }},
  {{ metadata = {{ name = "dual-v6"; namespace = "e2e"; }};
    service = "dual";
    addressType = "IPv6";
    ports = (
      {{ name = "http"; protocol = "TCP"; port = 8080; }},
      {{ name = "echo"; protocol = "UDP"; port = 5300; }},
      {{ name = "sctp"; protocol = "SCTP"; port = 7; }}
    );
    endpoints = (
{dual_endpoints6}
    );
  }}
);
"""


def _endpoints(addrs):
    return ",\n".join(
        f'      {{ addresses = [ "{a}" ]; conditions = {{ ready = true; }}; '
        f'nodeName = "appliance-1"; }}' for a in addrs)


def make_config(device, backends, cluster_ip=VIP, http_port=80, workers=(1,), eal=(),
                socket_path=SOCKET):
    """The session's config: e2e/web on BACKENDS (IPv4), e2e/dual on b1..b3 (both families)."""
    eal_line = ("\n  eal = [ " + ", ".join(f'"{e}"' for e in eal) + " ];") if eal else ""
    return CONFIG.format(device=device, socket=socket_path, endpoints=_endpoints(backends),
                         cluster_ip=cluster_ip, http_port=http_port,
                         workers=", ".join(str(w) for w in workers), eal=eal_line,
                         dual4=DUAL_VIP4, dual6=DUAL_VIP6, sctp_port=SCTP_PORT,
                         dual_endpoints4=_endpoints(BACKENDS3),
                         dual_endpoints6=_endpoints(BACKENDS6))


class Appliance:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.config = tmp / "e2e.conf"
        self.device = None
        self.daemon = None
        self.notes = []

    def write_config(self, backends):
        self.config.write_text(make_config(self.device, backends))

    def start(self, device):
        self.device = device
        self.write_config(BACKENDS3)
        self.daemon = Daemon(NS_LB, self.config, SOCKET,
                             self.tmp / f"svclb-{device.split(',')[0]}.log")
        self.daemon.start()
        return self.daemon.wait_ready(timeout=30)

    def stats(self):
        return self.daemon.stats()

    def diag(self):
        notes = "".join(f"note: {n}\n" for n in self.notes)
        return f"{notes}device: {self.device}\n{self.daemon.log_tail()}"


def start_with_fallback(app, pings) -> bool:
    """Starts `app` (anything with start(device), daemon and notes) on AF_XDP; falls back to
    AF_PACKET when the daemon exits early or runs but does not answer `pings()`. Returns
    whether svclb answers svclbctl stats."""
    ready = app.start(AF_XDP)
    if not ready and not app.daemon.alive():
        app.notes.append(f"af_xdp: svclb exited early (rc {app.daemon.proc.returncode}); "
                         f"fell back to af_packet\n{app.daemon.log_tail(20)}")
        app.daemon.stop()
        ready = app.start(AF_PACKET)
    elif ready and not pings():
        # Runs but moves no packets: try the other PMD before blaming the dataplane.
        rc = app.daemon.stop()
        app.notes.append(f"af_xdp: appliance did not answer ping; fell back to "
                         f"af_packet (af_xdp daemon exit code {rc})")
        ready = app.start(AF_PACKET)
    return ready


def appliance_pings(count=3) -> bool:
    for _ in range(count):
        if nsrun(NS_C, ["ping", "-c", "1", "-W", "1", APPLIANCE], timeout=5).returncode == 0:
            return True
    return False


def netns(*args, timeout=60, env=None):
    r = run([NETNS, *args], timeout=timeout, env=env)
    assert r.returncode == 0, f"netns.sh {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"


@pytest.fixture(scope="session")
def appliance():
    """The topology "svt" with its servers, and one svclb on it for the whole session."""
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (network namespaces, AF_XDP)")
    binary("svclb"), binary("svclbctl")
    tmp = Path(tempfile.mkdtemp(prefix="svclb-e2e-"))
    Path(SOCKET).parent.mkdir(parents=True, exist_ok=True)
    app = Appliance(tmp)
    try:
        netns("up", PREFIX)
        netns("servers", PREFIX, "start")
        ready = start_with_fallback(app, appliance_pings)
        if not ready:
            pytest.fail(f"svclb did not answer 'svclbctl stats' within 30 s "
                        f"(alive: {app.daemon.alive()})\n{app.diag()}")
        for n in app.notes:
            print(f"\n[e2e] {n}")
        print(f"\n[e2e] svclb running with {app.device}; logs in {tmp}")
        yield app
        rc = app.daemon.stop(timeout=10)
        assert rc == 0, f"svclb did not exit 0 within 10 s of SIGTERM (rc {rc})\n{app.diag()}"
    finally:
        if app.daemon is not None and app.daemon.alive():
            app.daemon.stop(timeout=10)
        run([NETNS, "servers", PREFIX, "stop"], timeout=60)
        run([NETNS, "down", PREFIX], timeout=60)
