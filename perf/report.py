#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Collects what scripts/bench.sh measured in its work directory into
# perf/results/latest.json (machine, every figure, the baselines) and latest.png (Mpps per
# case, matplotlib when installed), and prints the table. Not meant to be run by hand.
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import time

ap = argparse.ArgumentParser()
ap.add_argument("--work", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--e2e-secs", type=float, default=10)
ap.add_argument("--quick", type=int, default=0)
a = ap.parse_args()
W = a.work


def read(name, default=""):
    try:
        with open(os.path.join(W, name)) as f:
            return f.read()
    except OSError:
        return default


def machine():
    cpu = read("/proc/cpuinfo") or open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    flags = re.search(r"flags\s*:\s*(.*)", cpu)
    fl = flags.group(1).split() if flags else []
    mem = open("/proc/meminfo").read().split("\n")[0].split()[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "nproc": os.cpu_count(),
        "avx512": "avx512f" in fl,
        "mem_gib": round(int(mem) / 1048576, 1),
        "kernel": platform.release(),
        "os": (re.search(r'PRETTY_NAME="(.*)"', open("/etc/os-release").read()) or [None, "?"])[1],
        "hypervisor": "hypervisor" in fl,
        "commit": commit,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


res = {"machine": machine(), "quick": bool(a.quick)}

# 1. micro
micro = []
try:
    mj = json.loads(read("micro.json", '{"benchmarks": []}'))
except json.JSONDecodeError:
    mj = {"benchmarks": []}
for b in mj.get("benchmarks", []):
    e = {"name": b["name"], "ns": b.get("real_time"), "unit": b.get("time_unit"),
         "items_per_second": b.get("items_per_second")}
    if b.get("error_occurred"):
        e["skipped"] = b.get("error_message")
    for k in ("flows", "moved_pct", "ideal_pct", "moved_vs_ideal", "imbalance", "M", "backends",
              "services", "maglev_entries"):
        if k in b:
            e[k] = b[k]
    micro.append(e)
res["micro"] = micro

# 2. pipeline + callgrind
try:
    pj = json.loads(read("pipeline.json", "{}"))
except json.JSONDecodeError:
    pj = {}
cg = {}
for line in read("callgrind.txt").splitlines():
    c, n, ir = line.split()
    cg[c] = {"packets": int(n), "instructions": int(ir), "ir_per_pkt": round(int(ir) / int(n), 1)}
for c in pj.get("cases", []):
    if c["case"] in cg:
        c["ir_per_pkt"] = cg[c["case"]]["ir_per_pkt"]
res["pipeline"] = pj
res["callgrind"] = cg

# 3. end to end
e2e = {}
try:
    s0 = json.loads(read("svclb.s0.json"))
    s1 = json.loads(read("svclb.s1.json"))
    t0, t1 = map(float, read("svclb.t").split())
    dt = t1 - t0
    drops = {k: s1["drops"][k] - s0["drops"].get(k, 0) for k in s1["drops"] if s1["drops"][k] - s0["drops"].get(k, 0)}
    e2e["svclb"] = {"rx_mpps": (s1["rx"] - s0["rx"]) / dt / 1e6, "tx_mpps": (s1["tx"] - s0["tx"]) / dt / 1e6,
                    "seconds": dt, "flows": s1.get("flows"), "drops": drops}
except (json.JSONDecodeError, ValueError, KeyError):
    e2e["svclb"] = None
tp = read("testpmd.log")
pps = {}
port = None
for line in tp.splitlines():
    m = re.search(r"NIC statistics for port (\d+)", line)
    if m:
        port = int(m.group(1))
    m = re.search(r"Tx-pps:\s+(\d+)", line)
    if m and port is not None:
        pps.setdefault(port, []).append(int(m.group(1)))
tx1 = pps.get(1, [])[2:]  # skip the first two periods (start-up)
e2e["testpmd_5tswap"] = {"tx_mpps": statistics.median(tx1) / 1e6, "samples": len(tx1)} if tx1 else None
if e2e.get("svclb") and e2e.get("testpmd_5tswap"):
    e2e["ratio"] = e2e["svclb"]["tx_mpps"] / e2e["testpmd_5tswap"]["tx_mpps"]
e2e["input"] = read("pcap.txt").strip()
res["e2e"] = e2e

# 4. loopback
try:
    res["loopback"] = json.loads(read("loopback.json"))
except json.JSONDecodeError:
    res["loopback"] = None

os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "latest.json"), "w") as f:
    json.dump(res, f, indent=1)

# ---- table
M = res["machine"]
print()
print("svclb benchmarks  %s  (%s, %d vCPU, %s, kernel %s, commit %s)" %
      (M["date"], M["cpu"], M["nproc"], "AVX-512" if M["avx512"] else "no AVX-512", M["kernel"], M["commit"]))
print()
print("Pipeline in process (Worker::process_burst + TX to net_null, 1 core, best of %s):" % pj.get("reps", "?"))
print("  %-20s %9s %8s %9s %8s %10s" % ("case", "ns/pkt", "Mpps", "target", "verdict", "instr/pkt"))
bars = []
for c in pj.get("cases", []):
    print("  %-20s %9.1f %8.2f %9s %8s %10s" % (c["case"], c["ns_per_pkt"], c["mpps"], "<= %d" % c["target_ns"],
                                               "met" if c["met"] else "MISSED", c.get("ir_per_pkt", "-")))
    bars.append(("pipeline\n" + c["case"], c["mpps"]))
if pj:
    print("  %-20s %9.1f %8s   (baseline: mbuf alloc + 64-byte copy per packet, not in the figures above)"
          % ("rearm", pj["rearm_ns"], ""))
print()
print("End to end, one worker core, net_pcap (infinite_rx) -> net_null, %s:" % e2e["input"].split(":", 1)[-1].strip())
sv, tpm = e2e.get("svclb"), e2e.get("testpmd_5tswap")
if sv:
    print("  svclb                 %7.2f Mpps  (rx %.2f Mpps, %d flows, drops %s)" %
          (sv["tx_mpps"], sv["rx_mpps"], sv["flows"] or 0, sv["drops"] or "none"))
    bars.append(("e2e\nsvclb", sv["tx_mpps"]))
if tpm:
    print("  testpmd 5tswap        %7.2f Mpps  (baseline, same pcap, same core)" % tpm["tx_mpps"])
    bars.append(("e2e\ntestpmd 5tswap", tpm["tx_mpps"]))
if "ratio" in e2e:
    print("  ratio svclb/testpmd   %7.2f        (target >= 0.5: %s)" % (e2e["ratio"], "met" if e2e["ratio"] >= 0.5 else "MISSED"))
lb = res.get("loopback")
if lb:
    print()
    print("Loopback svclb <-> testpmd (vhost-user): offered %.2f Mpps, returned %.2f Mpps, loss %.3f%%" %
          (lb.get("offered_mpps", 0), lb.get("returned_mpps", 0), lb.get("loss_pct", 0)))
    bars.append(("loopback\nreturned", lb.get("returned_mpps", 0)))
print()
print("Micro-benchmarks:")
for e in micro:
    if "skipped" in e:
        print("  %-42s skipped: %s" % (e["name"], e["skipped"]))
        continue
    extra = ""
    if "moved_pct" in e:
        extra = "moved %.2f%% vs ideal %.2f%% (x%.2f), imbalance %.3f" % (
            e["moved_pct"], e["ideal_pct"], e["moved_vs_ideal"], e["imbalance"])
    elif e.get("items_per_second"):
        extra = "%.1f M/s" % (e["items_per_second"] / 1e6)
    print("  %-42s %10.2f %-2s  %s" % (e["name"], e["ns"], e["unit"], extra))
print()
print("written: %s/latest.json" % a.out)

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 4.5))
    names = [b[0] for b in bars]
    vals = [b[1] for b in bars]
    colors = ["#4c72b0" if n.startswith("pipeline") else "#dd8452" if n.startswith("e2e") else "#55a868"
              for n in names]
    ax.bar(range(len(vals)), vals, color=colors)
    ax.set_xticks(range(len(vals)))
    ax.set_xticklabels(names, fontsize=8)
    for i, v in enumerate(vals):
        ax.text(i, v, "%.1f" % v, ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("Mpps (one core)")
    ax.set_title("svclb, %s, %d vCPU, %s" % (M["cpu"], M["nproc"], M["date"][:10]), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "latest.png"), dpi=110)
    print("written: %s/latest.png" % a.out)
except ImportError:
    print("no PNG: python3-matplotlib is not installed")
