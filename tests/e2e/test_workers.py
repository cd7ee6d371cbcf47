# SPDX-License-Identifier: Apache-2.0
"""Two workers end to end: a second topology ("svw", so that it does not disturb the
session's appliance) and a second svclb with lcores { main = 0; workers = [ 1, 2 ]; } on
af_packet with qpairs=2. The kernel's PACKET_FANOUT hash spreads the packets over the two
queues (one per worker) by their 5-tuple, so a reply, whose 5-tuple differs from its
request's after FullNAT, often reaches the worker that does not own its flow; svclb hands
it over ("events.redirected"). af_xdp cannot be used here: DPDK 22.11 sizes its queues
from the device's *combined* channels, which a veth does not have ("Specified queue
count 2 is larger than combined queue count 1").

On a machine with fewer than 3 CPUs, lcore 2 needs an EAL mapping:
appliance.eal = [ "--lcores=0@0,1@1,2@0" ]."""
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from .conftest import BACKENDS3, Daemon, binary, make_config, netns, ns_python, run, NETNS
from .clients import HTTP_CLIENT

PREFIX = "svw"
NS_LB, NS_C = f"{PREFIX}-lb", f"{PREFIX}-c"
VIP = "198.18.0.10"
SOCKET = "/run/svclb/e2e-workers.sock"
DEVICE = "net_af_packet0,iface=lb0,qpairs=2"
LCORE_MAP = "--lcores=0@0,1@1,2@0"


@pytest.fixture(scope="module")
def two_workers():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (network namespaces)")
    binary("svclb"), binary("svclbctl")
    tmp = Path(tempfile.mkdtemp(prefix="svclb-e2e-w-"))
    Path(SOCKET).parent.mkdir(parents=True, exist_ok=True)
    eal = () if (os.cpu_count() or 1) >= 3 else (LCORE_MAP,)
    conf = tmp / "workers.conf"
    conf.write_text(make_config(DEVICE, BACKENDS3, workers=(1, 2), eal=eal, socket_path=SOCKET))
    daemon = Daemon(NS_LB, conf, SOCKET, tmp / "svclb-2w.log")
    try:
        netns("up", PREFIX, env={**os.environ, "LB_QUEUES": "2"})
        netns("servers", PREFIX, "start")
        daemon.start()
        if not daemon.wait_ready(timeout=30):
            log = daemon.log_tail(30)
            full = daemon.log_tail(100000)  # EAL's usage text pushes its reason far up
            if eal and ("lcore 2 unavailable" in full or "invalid core list" in full):
                pytest.skip(f"{os.cpu_count()} CPUs: two workers need the EAL mapping "
                            f"'{LCORE_MAP}' (appliance.eal), and this svclb still passes its "
                            f"own '-l 0,1,2' too, which EAL rejects (cp/main.cpp eal_args: "
                            f"leave out -l when appliance.eal has --lcores)")
            pytest.fail(f"svclb with two workers did not answer stats within 30 s\n{log}")
        print(f"\n[e2e] two-worker svclb on {DEVICE}, eal {list(eal)}; logs in {tmp}")
        yield daemon
        rc = daemon.stop(timeout=10)
        assert rc == 0, f"two-worker svclb did not exit 0 on SIGTERM (rc {rc})\n{daemon.log_tail()}"
    finally:
        if daemon.alive():
            daemon.stop(timeout=10)
        run([NETNS, "servers", PREFIX, "stop"], timeout=60)
        run([NETNS, "down", PREFIX], timeout=60)


def test_two_workers_every_connection_answered(two_workers):
    st0 = two_workers.stats()
    assert st0 is not None and st0.get("workers") == 2, f"stats: {st0}"
    answers = ns_python(NS_C, HTTP_CLIENT, (VIP, "80", "100", "198.51.100.10", "25000"), timeout=120)
    st1 = two_workers.stats()
    counts = Counter(answers)
    bad = [a for a in answers if a not in ("b1", "b2", "b3")]
    assert not bad, (f"{len(bad)}/100 connections not answered with two workers: "
                     f"{Counter(bad)}\nstats: {st1}\n{two_workers.log_tail()}")
    assert len(counts) >= 2, f"one backend took every connection: {counts}"
    redirected = st1["events"]["redirected"] - st0["events"]["redirected"]
    print(f"\n[e2e] two workers: {counts}, replies handed between workers: {redirected}")
    assert redirected > 0, (f"no reply crossed workers in 100 connections (events: "
                            f"{st1['events']}): is the port's traffic spread over both queues?")
    assert st1["drops"].get("redirect_full", 0) == 0, f"drops: {st1['drops']}"
