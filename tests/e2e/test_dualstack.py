# SPDX-License-Identifier: Apache-2.0
"""Dual-stack and SCTP end to end, on the session's appliance (conftest.py): the service
e2e/dual (RequireDualStack; clusterIPs 198.18.0.20 and 2001:db8:ffff::10) with an IPv4 and
an IPv6 EndpointSlice over b1..b3: HTTP, UDP and ping over IPv6, HTTP over its IPv4
clusterIP, and SCTP associations (usrsctp's client and echo_server; the kernel has no
SCTP) over both families. The backends' echo_server logs name each message's length and
source address, which is how a test learns which backend served an association."""
import re
from collections import Counter
from pathlib import Path

import pytest

from .clients import UDP_CLIENT
from .conftest import (APPLIANCE6, DUAL_VIP4, DUAL_VIP6, NS_B, NS_C, PREFIX,
                       SCTP_PORT, SNAT4, SNAT6, nsrun, ns_python)

SERVED = {"b1", "b2", "b3"}
WWW = Path(f"/tmp/{PREFIX}-www")  # scripts/netns.sh's server directory (logs)

# N SCTP associations to VIP:PORT with usrsctp's example client, PAR at a time. Association
# i binds source port BASE+i, sends one message of LENBASE+i bytes (newline included: the
# echo server logs the length, which names the association), waits for the echo, then
# closes stdin so that the client shuts the association down (SHUTDOWN ... COMPLETE).
SCTP_CLIENT = r"""
import json, os, select, subprocess, sys, time
CLIENT = "/usr/lib/usrsctp/client"
vip, port, base, n, lenbase, par = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def start(i):
    msg = ("a%d-" % i).ljust(lenbase + i - 1, "x")
    # usage: client remote_addr remote_port [local_port] [local_encaps_port]; encaps port 0:
    # no UDP encapsulation socket, so that several clients can run at once.
    p = subprocess.Popen(["stdbuf", "-oL", CLIENT, vip, port, str(base + i), "0"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    p.stdin.write((msg + "\n").encode()); p.stdin.flush()
    return {"i": i, "p": p, "msg": msg, "buf": b"", "t0": time.monotonic(), "echo_s": None}
out = []
pending = list(range(n))
while pending:
    batch = [start(i) for i in pending[:par]]
    pending = pending[par:]
    deadline = time.monotonic() + 15
    live = {c["p"].stdout.fileno(): c for c in batch}
    while live and time.monotonic() < deadline:
        r, _, _ = select.select(list(live), [], [], 0.2)
        for fd in r:
            c = live[fd]
            d = os.read(fd, 4096)
            if not d:
                del live[fd]; continue
            c["buf"] += d
            if c["echo_s"] is None and ("\n" + c["msg"] + "\n").encode() in b"\n" + c["buf"]:
                c["echo_s"] = round(time.monotonic() - c["t0"], 3)
                c["p"].stdin.close()
    for c in batch:
        if not c["p"].stdin.closed: c["p"].stdin.close()
        try: c["p"].wait(timeout=max(0.0, deadline - time.monotonic()) + 3)
        except subprocess.TimeoutExpired: c["p"].kill(); c["p"].wait()
        c["buf"] += c["p"].stdout.read() or b""
        text = c["buf"].decode(errors="replace")
        out.append({"i": c["i"], "sport": base + c["i"], "len": lenbase + c["i"],
                    "echoed": c["echo_s"] is not None, "echo_s": c["echo_s"], "rc": c["p"].returncode,
                    "shutdown_complete": "SCTP_SHUTDOWN_COMP" in text, "out": text[-500:]})
print(json.dumps(out))
"""

MSG_RE = re.compile(r"Msg of length (\d+) received from (\S+):(\d+) on stream")


def sctp_log_messages():
    """{length: [(backend, source address, source port)]} from every backend's echo_server log."""
    seen = {}
    for i in range(1, 5):
        try:
            text = (WWW / f"b{i}-sctp.log").read_text(errors="replace")
        except OSError:
            continue
        for m in MSG_RE.finditer(text):
            seen.setdefault(int(m.group(1)), []).append((f"b{i}", m.group(2), int(m.group(3))))
    return seen


def icmp_unreachables():
    """Per backend namespace: ICMP destination-unreachable and ICMPv6 parameter-problem sent."""
    out = {}
    for ns in NS_B:
        r = nsrun(ns, ["nstat", "-az", "IcmpOutDestUnreachs", "Icmp6OutParmProblems"], timeout=10)
        vals = {}
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 2 and f[1].isdigit():
                vals[f[0]] = int(f[1])
        out[ns] = vals
    return out


def curl_ids(url, n, extra=()):
    answers = []
    for _ in range(n):
        if len(answers) >= 5 and all(a.startswith("ERR") for a in answers[-5:]):
            answers.append("ERR:skipped after 5 consecutive failures")
            continue
        r = nsrun(NS_C, ["curl", *extra, "-s", "--max-time", "3", url], timeout=10)
        answers.append(r.stdout.strip() if r.returncode == 0 else f"ERR:curl rc {r.returncode}")
    return answers


def drops(app):
    st = app.stats() or {}
    return {k: v for k, v in st.get("drops", {}).items() if v}


# ------------------------------------------------------------------ IPv6

def test_ipv6_http_every_request_answered(appliance):
    answers = curl_ids(f"http://[{DUAL_VIP6}]/id", 30, extra=("-g", "-6"))
    bad = [a for a in answers if a not in SERVED]
    assert not bad, (f"{len(bad)}/30 IPv6 HTTP requests to [{DUAL_VIP6}]:80 not answered by "
                     f"b1..b3: {bad[:10]}\nanswers: {Counter(answers)}\nnon-zero drops: "
                     f"{drops(appliance)}\n{appliance.diag()}")
    assert len(set(answers)) >= 2, f"all 30 IPv6 connections went to one backend: {Counter(answers)}"


def test_ipv6_udp_every_request_answered(appliance):
    res = ns_python(NS_C, UDP_CLIENT, (DUAL_VIP6, "53", "30", "23000"), timeout=90)
    assert len(res) == 30
    bad = []
    for r in res:
        ans = r["answer"]
        ok = ans is not None and any(ans == f"{b}:{r['payload']}" for b in SERVED)
        if ok and r["from"] != f"{DUAL_VIP6}:53":
            ok = False  # the answer must come back from the VIP, not the backend
        if not ok:
            bad.append(r)
    assert not bad, (f"{len(bad)}/30 IPv6 UDP requests not answered correctly: {bad[:5]}\n"
                     f"non-zero drops: {drops(appliance)}\n{appliance.diag()}")
    names = Counter(r["answer"].split(":")[0] for r in res)
    assert len(names) >= 2, f"all 30 IPv6 datagrams went to one backend: {names}"


def test_ipv6_ping_appliance_and_vip(appliance):
    for dst in (APPLIANCE6, DUAL_VIP6):
        r = nsrun(NS_C, ["ping", "-6", "-c", "2", "-W", "1", dst], timeout=15)
        assert r.returncode == 0, f"ping -6 {dst}:\n{r.stdout}{r.stderr}\n{appliance.diag()}"


def test_dualstack_ipv4_clusterip_answered(appliance):
    # The same service through its IPv4 clusterIP: IPv4 endpoints only (an IPv4 client
    # cannot be translated to an IPv6 backend).
    answers = curl_ids(f"http://{DUAL_VIP4}/id", 30)
    bad = [a for a in answers if a not in SERVED]
    assert not bad, (f"{len(bad)}/30 HTTP requests to the dual-stack service's IPv4 clusterIP "
                     f"{DUAL_VIP4} not answered: {bad[:10]}\nanswers: {Counter(answers)}\n"
                     f"non-zero drops: {drops(appliance)}\n{appliance.diag()}")


# ------------------------------------------------------------------ SCTP

@pytest.mark.parametrize("family", ["IPv4", "IPv6"])
def test_sctp_associations_through_vip(appliance, family):
    vip, snat = (DUAL_VIP4, SNAT4) if family == "IPv4" else (DUAL_VIP6, SNAT6)
    n = 8
    base, lenbase = (24000, 40) if family == "IPv4" else (24100, 60)
    icmp0 = icmp_unreachables()
    # One client process at a time: usrsctp runs over raw sockets, so every SCTP process in
    # the client namespace sees every packet, and a sibling answers another's INIT ACK with
    # an "out of the blue" ABORT that kills the association at the backend (seen in
    # captures). Sequential clients keep the test about svclb.
    res = ns_python(NS_C, SCTP_CLIENT, (vip, str(SCTP_PORT), str(base), str(n), str(lenbase), "1"),
                    timeout=120)
    assert len(res) == n
    logs = sctp_log_messages()
    icmp1 = icmp_unreachables()

    failed = [r for r in res if not r["echoed"]]
    assert not failed, (
        f"{len(failed)}/{n} SCTP associations to {vip}:{SCTP_PORT} got no echo:\n"
        + "\n".join(f"  sport {r['sport']} rc {r['rc']}: {r['out'][-300:]!r}" for r in failed[:3])
        + f"\nnon-zero drops: {drops(appliance)}\n{appliance.diag()}")
    assert len({r["sport"] for r in res}) == n  # distinct client source ports

    served = {}
    for r in res:
        hits = logs.get(r["len"], [])
        assert len(hits) == 1, (f"association from source port {r['sport']} (message of "
                                f"{r['len']} bytes): the backends logged it {len(hits)} times: {hits}")
        backend, src, _sport = hits[0]
        src = src.removeprefix("::ffff:")
        assert backend in SERVED, f"association {r['sport']} served by {backend}, not b1..b3"
        assert src == snat, (f"backend {backend} saw association {r['sport']} from {src}, "
                             f"want the SNAT address {snat} (FullNAT)")
        served[r["sport"]] = backend
    assert len(set(served.values())) >= 2, (
        f"all {n} SCTP associations went to one backend: {Counter(served.values())}")
    # Graceful shutdown through the VIP (SHUTDOWN / SHUTDOWN-ACK / SHUTDOWN-COMPLETE).
    not_closed = [r["sport"] for r in res if not r["shutdown_complete"]]
    assert not not_closed, f"associations without SHUTDOWN_COMP: {not_closed}"
    # The backends' kernels (no SCTP) must not have answered SCTP with ICMP errors.
    for ns in NS_B:
        for k, v in icmp1[ns].items():
            assert v == icmp0[ns].get(k, 0), f"{ns}: {k} went {icmp0[ns].get(k)} -> {v}"
