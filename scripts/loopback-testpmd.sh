#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# svclb and one dpdk-testpmd joined by vhost-user / virtio_user (issue 3, item 4).
#
#   testpmd (virtio_user, forwarding lcore on CPU 0) <==vhost-user==> svclb (net_vhost,
#   worker lcore on CPU 1), one-armed FullNAT, backends' next hop = testpmd's MAC.
#
# testpmd seeds the loop with `start tx_first N`: N bursts of UDP from the txonly engine
# (--tx-ip=SRC,VIP --txonly-multi-flow: 256 flows, sources VIP | X<<8 + lcore) to the VIP;
# then it forwards in 5tswap mode, which swaps L2-L4: a translated packet (SNAT -> backend)
# comes back as the backend's reply (backend -> SNAT), which svclb reverse-translates
# (VIP -> client); swapped again it is the client's next request. So every packet svclb
# forwards returns to testpmd and circulates: testpmd's RX counts what returned, its TX
# what it offered; loss = offered - returned. Both processes are busy pollers, one core
# each (two vCPUs: a third poller would not fit); the main lcores share the other CPU and
# mostly sleep.
# Why not flowgen: in DPDK 22.11 flowgen hard-codes 10.254.0.0 -> 10.253.0.x:1001 (private
# ranges, not a VIP) and ignores --tx-ip; txonly honours --tx-ip but never receives, so it
# only seeds the loop here.
#
#   scripts/loopback-testpmd.sh [--duration S] [--bursts N] [--json FILE] [--no-build]
# Root; hugepages and a hugetlbfs mount (set up here if missing, undone at exit). Bounded: about S + 15 s.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DUR=8 BURSTS=8 JSON= BUILD=1
while (($#)); do
  case "$1" in
    --duration) DUR=$2; shift ;;
    --bursts) BURSTS=$2; shift ;;
    --json) JSON=$2; shift ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "loopback-testpmd.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $(id -u) -eq 0 ]] || { echo "loopback-testpmd.sh: run as root" >&2; exit 1; }
((BUILD)) && scripts/build.sh >/dev/null

W=$(mktemp -d /tmp/svclb-loop.XXXXXX)
PREV_HUGE=$(cat /proc/sys/vm/nr_hugepages)
SV= TP= MOUNTED=0 HUGEDIR=
cleanup() {
  [[ -n $TP ]] && kill -INT "$TP" 2>/dev/null || true
  [[ -n $SV ]] && kill -INT "$SV" 2>/dev/null || true
  sleep 1
  [[ -n $TP ]] && kill -KILL "$TP" 2>/dev/null || true
  [[ -n $SV ]] && kill -KILL "$SV" 2>/dev/null || true
  ((MOUNTED)) && umount "$HUGEDIR" 2>/dev/null && rmdir "$HUGEDIR" 2>/dev/null || true
  echo "$PREV_HUGE" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  [[ -n ${KEEP:-} ]] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
FREE=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
((FREE >= 1024)) || echo $((PREV_HUGE + 1024 - FREE)) > /proc/sys/vm/nr_hugepages
# virtio_user shares its memory with the vhost side by fd: testpmd needs file-backed
# hugepages (a hugetlbfs mount; --in-memory's memfd fails in set_memory_table here).
if ! grep -q " hugetlbfs " /proc/mounts; then
  HUGEDIR=$W/huge; mkdir -p "$HUGEDIR"
  mount -t hugetlbfs nodev "$HUGEDIR" && MOUNTED=1
fi

VIP=198.18.0.10
TP_MAC=02:00:5e:00:53:fe
TP_FWD_LCORE=2   # testpmd's forwarding lcore id (on CPU 0); txonly sources end in .(10+2)
mkdir -p "$W/run" && chmod 700 "$W/run"
/usr/bin/python3 perf/e2e_config.py --rx "net_vhost0,iface=$W/vhost.sock,queues=1" --socket "$W/run/svclb.sock" \
  --peer-mac $TP_MAC --vip $VIP --client-net 198.18.255.254/16 --txonly-clients $TP_FWD_LCORE \
  --flows 65536 --memory 512 > "$W/svclb.conf"

echo "loopback: svclb worker lcore 1 on CPU 1, main lcore 0 on CPU 0 (sleeps in the control loop)"
echo "loopback: testpmd forwarding lcore $TP_FWD_LCORE on CPU 0, main lcore 1 on CPU 1 (sleeps)"
build/svclb -c "$W/svclb.conf" >"$W/svclb.log" 2>&1 &
SV=$!
for _ in $(seq 100); do [[ -S $W/run/svclb.sock && -S $W/vhost.sock ]] && break; sleep 0.1; done
[[ -S $W/vhost.sock ]] || { cat "$W/svclb.log"; exit 1; }

# testpmd reads its commands from a FIFO (interactive mode), bounded by timeout.
mkfifo "$W/cmd"
timeout -s INT $((DUR + 12)) dpdk-testpmd --lcores "1@1,$TP_FWD_LCORE@0" --main-lcore 1 --file-prefix svclb-loop-tp \
  -m 512 --no-pci --no-telemetry --single-file-segments \
  --vdev="virtio_user0,path=$W/vhost.sock,queues=1,queue_size=1024,mac=$TP_MAC" -- -i \
  --forward-mode=5tswap --eth-peer=0,02:00:00:00:00:01 --tx-ip=198.18.0.100,$VIP --tx-udp=40000,53 \
  --txonly-multi-flow --txpkts=60 --rxd=1024 --txd=1024 --total-num-mbufs=16384 <"$W/cmd" >"$W/testpmd.log" 2>&1 &
TP=$!
exec 3>"$W/cmd"
sleep 3
echo "start tx_first $BURSTS" >&3
sleep 2
echo "clear port stats all" >&3
s0=$(build/svclbctl -s "$W/run/svclb.sock" stats)
t0=$(date +%s.%N)
sleep "$DUR"
echo "show port stats all" >&3
s1=$(build/svclbctl -s "$W/run/svclb.sock" stats)
t1=$(date +%s.%N)
sleep 1
echo "stop" >&3
echo "quit" >&3
exec 3>&-
wait "$TP" 2>/dev/null || true
TP=

/usr/bin/python3 - "$W/testpmd.log" "$t0" "$t1" "$s0" "$s1" "$BURSTS" "$JSON" <<'PY'
import json, re, sys
log, t0, t1, s0, s1, bursts, out = sys.argv[1:8]
dt = float(t1) - float(t0)
txt = open(log).read()
blk = txt[txt.rfind("NIC statistics for port 0"):]
rx = int(re.search(r"RX-packets:\s+(\d+)", blk).group(1)) if blk else 0
tx = int(re.search(r"TX-packets:\s+(\d+)", blk).group(1)) if blk else 0
a, b = json.loads(s0), json.loads(s1)
drops = {k: b["drops"][k] - a["drops"].get(k, 0) for k in b["drops"] if b["drops"][k] - a["drops"].get(k, 0)}
r = {"seconds": round(dt, 2), "seed_packets": int(bursts) * 32, "offered_mpps": tx / dt / 1e6,
     "returned_mpps": rx / dt / 1e6, "loss_pct": 100.0 * (tx - rx) / tx if tx else 0.0,
     "svclb": {"rx_mpps": (b["rx"] - a["rx"]) / dt / 1e6, "tx_mpps": (b["tx"] - a["tx"]) / dt / 1e6,
               "fwd_mpps": (b["events"]["fwd_packets"] - a["events"]["fwd_packets"]) / dt / 1e6,
               "rev_mpps": (b["events"]["rev_packets"] - a["events"]["rev_packets"]) / dt / 1e6,
               "flows": b["flows"], "drops": drops},
     "cores": "svclb worker on CPU 1, testpmd forwarding on CPU 0"}
print("loopback (%.1f s, %d packets circulating, %s):" % (dt, r["seed_packets"], r["cores"]))
print("  testpmd offered   %7.3f Mpps" % r["offered_mpps"])
print("  testpmd returned  %7.3f Mpps   loss %.3f%% (in flight at the end counts as loss)" % (r["returned_mpps"], r["loss_pct"]))
s = r["svclb"]
print("  svclb rx %.3f Mpps, tx %.3f Mpps (forward %.3f, reverse %.3f), flows %d, drops %s" %
      (s["rx_mpps"], s["tx_mpps"], s["fwd_mpps"], s["rev_mpps"], s["flows"], drops or "none"))
if out:
    json.dump(r, open(out, "w"), indent=1)
PY
