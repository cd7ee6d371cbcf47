# SPDX-License-Identifier: Apache-2.0
"""ClusterIP end to end: a client in svt-c reaches three backends (svt-b1..b3) through
the VIP 198.18.0.10 served by svclb in svt-lb, over a Linux bridge (scripts/netns.sh).
The appliance (topology, daemon, config) is conftest.py's session fixture."""
import json
import signal
import subprocess
import time
from collections import Counter

import pytest

from .clients import HTTP_CLIENT, UDP_CLIENT
from .conftest import (AF_PACKET, APPLIANCE, BACKENDS3, BACKENDS4, NS_C, PY, SOCKET, VIP, binary,
                       make_config, nsrun, ns_python, run)

# ------------------------------------------------------------------ clients (run in svt-c)

# Opens N connections from source ports BASE+i, prints "connected", waits for a line on
# stdin, then sends one request on each and prints the answers as JSON.
HELD_CLIENT = r"""
import json, socket, sys
vip, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(5)
    s.bind(("198.51.100.10", base + i))
    s.connect((vip, 80))
    socks.append(s)
print("connected", flush=True)
sys.stdin.readline()
out = []
for s in socks:
    try:
        s.sendall(b"GET /id HTTP/1.0\r\nHost: svc\r\n\r\n")
        data = b""
        while len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk: break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        out.append(body.decode(errors="replace").strip() if b" 200 " in head[:20]
                   else "ERR:" + head[:40].decode(errors="replace"))
    except OSError as e:
        out.append("ERR:" + type(e).__name__ + ":" + str(e))
    finally:
        s.close()
print(json.dumps(out), flush=True)
"""


def http_requests(n, base):
    return ns_python(NS_C, HTTP_CLIENT, (VIP, "80", str(n), "198.51.100.10", str(base)), timeout=90)


# ------------------------------------------------------------------ tests

def test_http_every_request_answered(appliance):
    answers = []
    for _ in range(30):
        if len(answers) >= 5 and all(a.startswith("ERR") for a in answers[-5:]):
            answers.append("ERR:skipped after 5 consecutive failures")
            continue
        r = nsrun(NS_C, ["curl", "-s", "--max-time", "3", f"http://{VIP}/id"], timeout=10)
        answers.append(r.stdout.strip() if r.returncode == 0 else f"ERR:curl rc {r.returncode}")
    bad = [a for a in answers if a not in ("b1", "b2", "b3")]
    assert not bad, (f"{len(bad)}/30 HTTP requests not answered by b1..b3: {bad[:10]}\n"
                     f"answers: {Counter(answers)}\n{appliance.diag()}")


def test_udp_every_request_answered(appliance):
    res = ns_python(NS_C, UDP_CLIENT, (VIP, "53", "30", "20000", "198.51.100.10"), timeout=90)
    assert len(res) == 30
    bad = []
    for r in res:
        ans = r["answer"]
        ok = ans is not None and any(ans == f"b{i}:{r['payload']}" for i in (1, 2, 3))
        if ok and r["from"] != f"{VIP}:53":
            ok = False  # the answer must come back from the VIP, not the backend
        if not ok:
            bad.append(r)
    assert not bad, (f"{len(bad)}/30 UDP requests not answered correctly: {bad[:5]}\n"
                     f"{appliance.diag()}")


def test_distribution_over_backends(appliance):
    answers = http_requests(300, 21000)
    counts = Counter(answers)
    bad = [a for a in answers if a not in ("b1", "b2", "b3")]
    assert not bad, f"{len(bad)}/300 bad answers: {Counter(bad)}\n{appliance.diag()}"
    for b in ("b1", "b2", "b3"):
        share = counts[b] / 300
        assert 0.20 <= share <= 0.47, f"{b} got {share:.0%} of 300 connections: {counts}"


def wait_generation(app, before, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        st = app.stats()
        if st is not None:
            last = st.get("generation")
            if isinstance(last, int) and last > before:
                return last
        if not app.daemon.alive():
            break
        time.sleep(0.2)
    raise AssertionError(f"generation did not pass {before} within {timeout} s "
                         f"(last seen {last}, alive {app.daemon.alive()})\n{app.diag()}")


def test_reload_keeps_established_connections(appliance):
    st = appliance.stats()
    assert st is not None and isinstance(st.get("generation"), int), f"stats: {st}"
    gen0 = st["generation"]
    held = 10  # several, so that some of them would move if flows were not pinned
    client = subprocess.Popen(
        ["ip", "netns", "exec", NS_C, PY, "-c", HELD_CLIENT, VIP, str(held), "22000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = client.stdout.readline()  # bounded: every connect() has a 5 s timeout
        assert line.strip() == "connected", (
            f"could not open {held} connections: {line!r} {client.stderr.read()[-2000:]}"
            f"\n{appliance.diag()}")

        appliance.write_config(BACKENDS4)
        appliance.daemon.signal(signal.SIGHUP)
        gen1 = wait_generation(appliance, gen0)

        out, err = client.communicate("go\n", timeout=30)
        answers = json.loads(out.strip().splitlines()[-1]) if out.strip() else []
        assert len(answers) == held, f"client output {out!r} {err[-2000:]}"
        bad = [a for a in answers if a not in ("b1", "b2", "b3")]
        assert not bad, (f"connections opened before the reload (generation {gen0} -> "
                         f"{gen1}) answered wrongly: {answers}\n{appliance.diag()}")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=10)

    answers = http_requests(60, 22100)
    counts = Counter(answers)
    bad = [a for a in answers if a not in ("b1", "b2", "b3", "b4")]
    assert not bad, f"after reload: bad answers {Counter(bad)}\n{appliance.diag()}"
    assert counts["b4"] >= 1, f"no new connection reached the new backend b4: {counts}"


def test_live_trace_reports_the_flow_table(appliance):
    """`svclbctl trace` without -c/-f asks the daemon: for the 5-tuple of an open connection
    it reports the live flow and the backend that connection really reached (which the
    backend names when asked), for an unused source port no flow."""
    held, base = 3, 23000
    client = subprocess.Popen(
        ["ip", "netns", "exec", NS_C, PY, "-c", HELD_CLIENT, VIP, str(held), str(base)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    traces = []
    try:
        line = client.stdout.readline()  # bounded: every connect() has a 5 s timeout
        assert line.strip() == "connected", f"{line!r} {client.stderr.read()[-2000:]}\n{appliance.diag()}"
        for i in range(held):
            r = run([binary("svclbctl"), "-s", SOCKET, "trace", "--proto", "tcp",
                     "--src", f"198.51.100.10:{base + i}", "--dst", f"{VIP}:80"], timeout=10)
            assert r.returncode == 0, f"live trace failed: {r.stderr}\n{appliance.diag()}"
            traces.append(json.loads(r.stdout))
        out, err = client.communicate("go\n", timeout=30)
        answers = json.loads(out.strip().splitlines()[-1]) if out.strip() else []
        assert len(answers) == held, f"client output {out!r} {err[-2000:]}"
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=10)
    for t, answer in zip(traces, answers):
        assert t["verdict"] == "forward" and t["frontend"] == "e2e/web:http", t
        assert t["flow"] is not None and t["flow"]["state"] == "ESTABLISHED", t
        # 198.51.100.1N:8080 is bN (scripts/netns.sh)
        assert "b" + t["backend"].split(":")[0].rsplit(".", 1)[1][1:] == answer, (t, answer)
    r = run([binary("svclbctl"), "-s", SOCKET, "trace", "--proto", "tcp",
             "--src", "198.51.100.10:23999", "--dst", f"{VIP}:80"], timeout=10)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    assert t["flow"] is None and t["verdict"] == "forward" and t["snat"] is True, t
    r = run([binary("svclbctl"), "-s", SOCKET, "trace", "--proto", "tcp",
             "--src", "198.51.100.10", "--dst", f"{VIP}:80", "--ingress", "nope"], timeout=10)
    assert r.returncode == 2 and "no port named" in r.stderr, (r.returncode, r.stderr)


def test_check_rejects_broken_config(tmp_path):
    import os
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    good = tmp_path / "good.conf"
    good.write_text(make_config(AF_PACKET, BACKENDS3))
    r = run([binary("svclb"), "--check", "-c", good], timeout=30)
    assert r.returncode == 0, f"--check rejected a valid config (rc {r.returncode}):\n{r.stderr}"

    bad = tmp_path / "bad.conf"
    bad.write_text(make_config(AF_PACKET, BACKENDS3, cluster_ip="198.18.0.999", http_port=0))
    r = run([binary("svclb"), "--check", "-c", bad], timeout=30)
    assert r.returncode == 1, f"--check exit code {r.returncode}, want 1:\n{r.stderr}"
    for field in ("spec.ports[0].port", "spec.clusterIPs"):
        assert field in r.stderr, f"--check stderr does not name {field}:\n{r.stderr}"


def test_appliance_answers_arp_and_ping(appliance):
    r = nsrun(NS_C, ["ping", "-c", "3", "-W", "1", APPLIANCE], timeout=15)
    assert r.returncode == 0, f"ping {APPLIANCE}:\n{r.stdout}\n{appliance.diag()}"
    r = nsrun(NS_C, ["ping", "-c", "2", "-W", "1", VIP], timeout=15)
    assert r.returncode == 0, f"ping {VIP}:\n{r.stdout}\n{appliance.diag()}"
