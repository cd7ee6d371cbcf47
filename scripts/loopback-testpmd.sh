#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# svclb and one dpdk-testpmd joined by vhost-user / virtio_user (issue 3, item 4).
#
#   testpmd: port 0 virtio_user (to svclb), port 1 net_pcap (the flow source); one
#            forwarding lcore on CPU 0, io mode, ports paired:
#              pcap RX (UDP flows, infinite replay) -> virtio TX   = offered to svclb
#              virtio RX (what svclb forwarded)     -> pcap TX     = returned (dropped there)
#   svclb:   net_vhost, worker lcore on CPU 1; one-armed FullNAT: client -> VIP:53 becomes
#            SNAT -> backend:5300, and every backend's next hop is testpmd's MAC (static
#            neighbours), so each translated packet comes back to testpmd's virtio port.
# testpmd counts both directions on its virtio port: offered = TX, returned = RX,
# loss = offered - returned. Both processes are busy pollers, one core each (two vCPUs: a
# third poller would not fit); the two main lcores share the CPUs and mostly sleep.
#
# Why not flowgen: DPDK 22.11's flowgen hard-codes 10.254.0.0 -> 10.253.0.x:1001 (private
# ranges, which these machines must not send; --tx-ip is txonly's, flowgen ignores it, and
# there is no runtime command to change them). Why not txonly + 5tswap (seed with
# `start tx_first`, then swap L2-L4 so every forwarded packet returns as the backend's
# reply): 5tswap keeps the TTL, and svclb decrements it on both passes of a round trip,
# so each seed packet dies after 32 round trips (ttl_exceeded) and the loop is empty
# milliseconds after it starts. txonly alone never receives. So the flows come from a
# pcap written here (UDP, 203.0.113.x -> VIP 198.18.0.10:53, TTL 64), replayed by net_pcap
# infinite_rx=1 inside testpmd, exactly as svclb's own end-to-end benchmark does.
#
# Baseline, same run: the same generator against dpdk-testpmd --forward-mode=5tswap in
# svclb's place (net_vhost, forwarding lcore on CPU 1), i.e. the vhost-user path and a
# stateless L2-L4 rewrite: the ratio says what svclb's work costs on top of vhost's copies.
#
#   scripts/loopback-testpmd.sh [--duration S] [--flows N] [--json FILE] [--no-baseline] [--no-build]
# Root; 1024 free 2 MiB hugepages (raised here if fewer, restored at exit) and a private
# hugetlbfs mount (unmounted at exit). Bounded: about 2 x (S + 5) s (default S = 8: ~26 s);
# KEEP=1 keeps the work directory and logs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DUR=8 FLOWS=8192 JSON= BUILD=1 BASELINE=1
while (($#)); do
  case "$1" in
    --duration) DUR=$2; shift ;;
    --flows) FLOWS=$2; shift ;;
    --json) JSON=$2; shift ;;
    --no-build) BUILD=0 ;;
    --no-baseline) BASELINE=0 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "loopback-testpmd.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $(id -u) -eq 0 ]] || { echo "loopback-testpmd.sh: run as root" >&2; exit 1; }
((DUR >= 1 && DUR <= 20)) || { echo "loopback-testpmd.sh: --duration 1..20" >&2; exit 2; }
((FLOWS >= 1 && FLOWS <= 16384)) || { echo "loopback-testpmd.sh: --flows 1..16384" >&2; exit 2; }
if ((BUILD)); then scripts/build.sh >/dev/null; fi

W=$(mktemp -d /tmp/svclb-loop.XXXXXX)
PREV_HUGE=$(cat /proc/sys/vm/nr_hugepages)
SV= TP= MOUNTED=0 HUGEDIR=
cleanup() {
  exec 3>&- 2>/dev/null || true
  if [[ -n $TP ]]; then kill -INT "$TP" 2>/dev/null || true; fi
  if [[ -n $SV ]]; then kill -INT "$SV" 2>/dev/null || true; fi
  for _ in $(seq 20); do
    { [[ -n $TP ]] && kill -0 "$TP" 2>/dev/null; } || { [[ -n $SV ]] && kill -0 "$SV" 2>/dev/null; } || break
    sleep 0.1
  done
  if [[ -n $TP ]]; then kill -KILL "$TP" 2>/dev/null || true; fi
  if [[ -n $SV ]]; then kill -KILL "$SV" 2>/dev/null || true; fi
  if ((MOUNTED)); then umount "$HUGEDIR" 2>/dev/null && rmdir "$HUGEDIR" 2>/dev/null || true; fi
  rm -rf "/var/run/dpdk/svclb-loop-$$" "/var/run/dpdk/svclb-loop-b-$$"
  echo "$PREV_HUGE" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  if [[ -z ${KEEP:-} ]]; then rm -rf "$W"; else echo "loopback: kept $W" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# svclb 512 MiB (--in-memory) + testpmd 512 MiB (file-backed): 1024 free 2 MiB pages.
FREE=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
((FREE >= 1024)) || echo $((PREV_HUGE + 1024 - FREE)) > /proc/sys/vm/nr_hugepages
# virtio_user shares its memory with the vhost side by fd: testpmd needs file-backed
# hugepages (a hugetlbfs mount; --in-memory's memfd fails in set_memory_table here). Its own
# mount (--huge-dir): testpmd leaves its map file behind, and unmounting frees the pages.
HUGEDIR=$W/huge; mkdir -p "$HUGEDIR"
mount -t hugetlbfs -o pagesize=2M nodev "$HUGEDIR" && MOUNTED=1
((MOUNTED)) || { echo "loopback-testpmd.sh: cannot mount hugetlbfs on $HUGEDIR" >&2; exit 1; }

VIP=198.18.0.10
TP_MAC=02:00:5e:00:53:fe   # testpmd's virtio_user port: the clients' and backends' next hop
LB_MAC=02:00:00:00:00:01   # svclb's port (config `mac`; net_vhost keeps it in software)

# The flows: UDP 60-byte frames (64 with FCS), client 203.0.113.(1..250):(1024+k/250) ->
# VIP:53, one packet per flow, to svclb's MAC. net_pcap infinite_rx holds the whole file
# in mbufs of testpmd's pool (sized below).
/usr/bin/python3 - "$W/flows.pcap" "$FLOWS" "$VIP" "$LB_MAC" "$TP_MAC" <<'PY'
import socket, struct, sys
out, n, vip, dmac, smac = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
mac = lambda s: bytes(int(x, 16) for x in s.split(":"))
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for k in range(n):
        src, dst = socket.inet_aton("203.0.113.%d" % (k % 250 + 1)), socket.inet_aton(vip)
        payload = b"\0" * 18                          # 14 + 20 + 8 + 18 = 60 bytes
        ulen = 8 + len(payload)
        udp = struct.pack("!HHHH", 1024 + k // 250, 53, ulen, 0) + payload
        uck = csum(src + dst + struct.pack("!BBH", 0, 17, ulen) + udp) or 0xffff
        udp = udp[:6] + struct.pack("!H", uck) + udp[8:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, k & 0xffff, 0, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        fr = mac(dmac) + mac(smac) + b"\x08\x00" + ip + udp
        f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)
PY

mkdir -p "$W/run" && chmod 700 "$W/run"
/usr/bin/python3 perf/e2e_config.py --rx "net_vhost0,iface=$W/vhost-svclb.sock,queues=1" \
  --socket "$W/run/svclb.sock" --peer-mac $TP_MAC --vip $VIP --flows 65536 --memory 512 > "$W/svclb.conf"

echo "loopback: one core each (2 vCPUs; a third busy poller would not fit):"
echo "loopback:   svclb worker lcore 1 on CPU 1 (main lcore 0 on CPU 0, sleeps in the control loop)"
echo "loopback:   testpmd generator: forwarding lcore 2 on CPU 0 (main lcore 1 on CPU 1, sleeps)"
echo "loopback: $FLOWS UDP flows 203.0.113.x -> $VIP:53 from a pcap replayed by testpmd (flowgen's"
echo "loopback:   addresses are fixed private ranges in DPDK 22.11); svclb -> backends 198.51.100.x:5300 -> testpmd"
((BASELINE)) && echo "loopback: then the baseline: svclb replaced by dpdk-testpmd 5tswap (same vhost path, CPU 1)"

# One measurement: $1 = svclb | baseline (the vhost side), ${DUR}s after 2 s of warm-up.
phase() {
  local k=$1 sock=$W/vhost-$1.sock
  if [[ $k == svclb ]]; then
    build/svclb -c "$W/svclb.conf" >"$W/svclb.log" 2>&1 &
    SV=$!
    for _ in $(seq 100); do [[ -S $W/run/svclb.sock && -S $sock ]] && break; sleep 0.1; done
    [[ -S $sock && -S $W/run/svclb.sock ]] || { echo "loopback: svclb did not start:"; cat "$W/svclb.log"; exit 1; }
  else
    # Non-interactive testpmd runs until SIGINT when --stats-period is set.
    timeout -s INT $((DUR + 10)) dpdk-testpmd --lcores "0@0,1@1" --main-lcore 0 --file-prefix "svclb-loop-b-$$" \
      --in-memory -m 512 --no-pci --no-telemetry --vdev="net_vhost0,iface=$sock,queues=1" -- \
      --forward-mode=5tswap --nb-cores=1 --rxd=1024 --txd=1024 --stats-period 60 \
      </dev/null >"$W/baseline.log" 2>&1 &
    SV=$!
    for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
    [[ -S $sock ]] || { echo "loopback: baseline testpmd did not start:"; cat "$W/baseline.log"; exit 1; }
  fi
  # The generator reads its commands from a FIFO (interactive mode), bounded by timeout.
  rm -f "$W/cmd"; mkfifo "$W/cmd"
  timeout -s INT $((DUR + 10)) dpdk-testpmd --lcores "1@1,2@0" --main-lcore 1 \
    --file-prefix "svclb-loop-$$" --huge-dir "$HUGEDIR" -m 512 --no-pci --no-telemetry --single-file-segments \
    --vdev="virtio_user0,path=$sock,queues=1,queue_size=4096,mac=$TP_MAC" \
    --vdev="net_pcap0,rx_pcap=$W/flows.pcap,infinite_rx=1" -- -i \
    --forward-mode=io --port-topology=paired --nb-cores=1 --rxd=4096 --txd=4096 \
    --total-num-mbufs=$((FLOWS + 32768)) <"$W/cmd" >"$W/testpmd-$k.log" 2>&1 &
  TP=$!
  exec 3>"$W/cmd"
  # Ready when testpmd has configured its ports (virtio_user has connected).
  for _ in $(seq 100); do grep -q "Checking link statuses" "$W/testpmd-$k.log" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
  echo start >&3
  sleep 2                                   # warm-up: every flow created
  echo "clear port stats all" >&3
  [[ $k == svclb ]] && build/svclbctl -s "$W/run/svclb.sock" stats >"$W/s0.json"
  date +%s.%N >"$W/t0-$k"
  sleep "$DUR"
  echo "show port stats all" >&3
  [[ $k == svclb ]] && build/svclbctl -s "$W/run/svclb.sock" stats >"$W/s1.json"
  date +%s.%N >"$W/t1-$k"
  sleep 0.5
  echo stop >&3
  echo quit >&3
  exec 3>&-
  wait "$TP" 2>/dev/null || true
  TP=
  kill -INT "$SV" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$SV" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SV" 2>/dev/null || true
  wait "$SV" 2>/dev/null || true
  SV=
}
phase svclb
if ((BASELINE)); then phase baseline; fi

/usr/bin/python3 - "$W" "$FLOWS" "$BASELINE" "$JSON" <<'PY'
import json, os, re, sys
w, flows, baseline, out = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]

def measure(k):
    dt = float(open("%s/t1-%s" % (w, k)).read()) - float(open("%s/t0-%s" % (w, k)).read())
    txt = open("%s/testpmd-%s.log" % (w, k)).read()
    def port(p):
        i = txt.rfind("NIC statistics for port %d " % p)
        if i < 0:
            sys.exit("loopback: no port statistics from testpmd (%s/testpmd-%s.log)" % (w, k))
        g = lambda f: int(re.search(f + r":\s+(\d+)", txt[i:]).group(1))
        return g("RX-packets"), g("TX-packets")
    rx0, tx0 = port(0)   # virtio_user: TX = offered, RX = returned
    gen, _ = port(1)     # net_pcap: RX = generated (offered + what the full vring refused)
    return {"seconds": round(dt, 2), "generated_mpps": gen / dt / 1e6, "offered_mpps": tx0 / dt / 1e6,
            "returned_mpps": rx0 / dt / 1e6, "loss_pct": 100.0 * (tx0 - rx0) / tx0 if tx0 else 0.0}

r = measure("svclb")
dt = r["seconds"]
a, b = json.load(open(w + "/s0.json")), json.load(open(w + "/s1.json"))
d = lambda x, y: y - x
drops = {k: d(a["drops"].get(k, 0), v) for k, v in b["drops"].items() if d(a["drops"].get(k, 0), v)}
ev = lambda k: d(a["events"][k], b["events"][k]) / dt / 1e6
r.update({"flows": flows, "cores": "svclb worker on CPU 1, testpmd forwarding lcore on CPU 0 (one core each)",
          "svclb": {"rx_mpps": d(a["rx"], b["rx"]) / dt / 1e6, "tx_mpps": d(a["tx"], b["tx"]) / dt / 1e6,
                    "fwd_mpps": ev("fwd_packets"), "rev_mpps": ev("rev_packets"),
                    "flows": b["flows"], "drops": drops}})
if baseline:
    r["baseline"] = measure("baseline")
    r["baseline"]["what"] = "dpdk-testpmd 5tswap in svclb's place (same vhost path, CPU 1)"
    r["ratio"] = r["returned_mpps"] / r["baseline"]["returned_mpps"] if r["baseline"]["returned_mpps"] else 0.0

print("loopback (%.1f s, %d UDP flows; %s):" % (dt, flows, r["cores"]))
rows = [("svclb", r)] + ([("testpmd 5tswap", r["baseline"])] if baseline else [])
print("  %-16s %10s %10s %10s %9s" % ("vhost side", "generated", "offered", "returned", "loss"))
for name, x in rows:
    print("  %-16s %10.3f %10.3f %10.3f %8.3f%%" % (name, x["generated_mpps"], x["offered_mpps"],
                                                  x["returned_mpps"], x["loss_pct"]))
print("  (Mpps; generated = testpmd's pcap replay, offered = accepted into the vhost ring, i.e. the")
print("   vhost side's input rate; returned = came back to testpmd; in flight at the end counts as loss)")
s = r["svclb"]
print("  svclb counters: rx %.3f Mpps, tx %.3f Mpps (forward %.3f, reverse %.3f), flows %d, drops %s" %
      (s["rx_mpps"], s["tx_mpps"], s["fwd_mpps"], s["rev_mpps"], s["flows"],
       ", ".join("%s %d" % kv for kv in drops.items()) or "none"))
if baseline:
    print("  ratio svclb / testpmd 5tswap (returned): %.2f" % r["ratio"])
if out:
    json.dump(r, open(out, "w"), indent=1)
if r["returned_mpps"] == 0:
    sys.exit("loopback: nothing returned to testpmd")
PY
