#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One command for issue 3's measurements (docs/performance.md explains each figure):
#   1. micro-benchmarks (build/perf/micro_bench, Google Benchmark)
#   2. pipeline cost in process (build/perf/pipeline_bench) + instructions/packet (callgrind)
#   3. end to end through DPDK ports on one worker core: svclb vs dpdk-testpmd 5tswap on
#      the same pcap, same core, same run -> ratio
#   4. scripts/loopback-testpmd.sh: svclb and testpmd over vhost-user (--no-loopback skips it)
# Writes perf/results/latest.json and perf/results/latest.png, prints a table.
# Sets up hugepages (idempotent) and restores the previous nr_hugepages at exit.
#   scripts/bench.sh [--quick] [--loopback|--no-loopback] [--no-build] [--out DIR]
# Runs as root (hugepages, the daemon). Takes about 3 minutes (--quick: about 1.5).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3

QUICK=0 LOOPBACK=auto BUILD=1 OUT=perf/results
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --loopback) LOOPBACK=1 ;;
    --no-loopback) LOOPBACK=0 ;;
    --no-build) BUILD=0 ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $LOOPBACK == auto ]] && LOOPBACK=1  # on by default once the loopback returns packets
[[ $(id -u) -eq 0 ]] || { echo "bench.sh: run as root (hugepages, DPDK)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/svclb-bench.XXXXXX)
PIDS=()
PREV_HUGE=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  echo "$PREV_HUGE" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 4 GiB of 2 MiB hugepages: 4 M flows in the micro-benchmarks, 1.3 M in the pipeline.
WANT_HUGE=2048
if ((PREV_HUGE < WANT_HUGE)); then
  echo "$WANT_HUGE" > /proc/sys/vm/nr_hugepages
fi
echo "bench: hugepages $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) free (was nr_hugepages=$PREV_HUGE)"

if ((BUILD)); then
  scripts/build.sh >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
fi
B=build
[[ -x $B/perf/pipeline_bench ]] || { echo "bench.sh: $B/perf/pipeline_bench missing" >&2; exit 1; }
mkdir -p "$OUT"

# Worker core for every measurement: CPU 1 (CPU 0 keeps the main lcores and the shell).
CORE=1

# ---- 1. micro-benchmarks
if [[ -x $B/perf/micro_bench ]]; then
  MIN=$([[ $QUICK == 1 ]] && echo 0.05 || echo 0.2)
  echo "bench: micro-benchmarks (min time ${MIN}s each)"
  taskset -c $CORE $B/perf/micro_bench --benchmark_min_time=$MIN \
    --benchmark_out="$WORK/micro.json" --benchmark_out_format=json >"$WORK/micro.txt" 2>&1 ||
    { cat "$WORK/micro.txt"; exit 1; }
else
  echo "bench: micro_bench not built (libbenchmark-dev missing?)"
  echo '{"benchmarks": []}' > "$WORK/micro.json"
fi

# ---- 2. pipeline in process
if ((QUICK)); then PARGS=(--flows 1000000 --syn 150000 --packets 1000000 --reps 3)
else PARGS=(--flows 1000000 --syn 300000 --packets 4000000 --reps 3); fi
echo "bench: pipeline_bench ${PARGS[*]}"
taskset -c $CORE $B/perf/pipeline_bench "${PARGS[@]}" --json "$WORK/pipeline.json" >"$WORK/pipeline.txt" 2>&1 ||
  { cat "$WORK/pipeline.txt"; exit 1; }

# Instructions per packet: callgrind collects only process_burst + flush_tx (valgrind 3.19
# cannot run AVX-512; the project builds without -march=native, keep it so).
: >"$WORK/callgrind.txt"
if command -v valgrind >/dev/null; then
  for c in established_1flow established_1m syn_new non_vip; do
    n=20000
    echo "bench: callgrind $c ($n packets)"
    if valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
        --callgrind-out-file="$WORK/cg.$c" $B/perf/pipeline_bench --callgrind $c $n \
        >"$WORK/cg.$c.log" 2>&1; then
      ir=$(awk '/^totals:/ {print $2}' "$WORK/cg.$c")
      echo "$c $n $ir" >>"$WORK/callgrind.txt"
    else
      echo "bench: callgrind $c failed:"; tail -5 "$WORK/cg.$c.log"
    fi
  done
fi

# ---- 3. end to end: svclb vs testpmd 5tswap, same pcap, same core
E2E_SECS=$([[ $QUICK == 1 ]] && echo 6 || echo 10)
$PY scripts/gen-flows-pcap.py "$WORK/flows.pcap" --flows 10000 >"$WORK/pcap.txt"
cat "$WORK/pcap.txt"
mkdir -p "$WORK/run" && chmod 700 "$WORK/run"
$PY perf/e2e_config.py --rx "net_pcap0,rx_pcap=$WORK/flows.pcap,infinite_rx=1" --tx "net_null0,no-rx=1" \
  --socket "$WORK/run/svclb.sock" --memory 1024 > "$WORK/e2e.conf"

stats() { $B/svclbctl -s "$WORK/run/svclb.sock" stats; }
echo "bench: end to end, svclb (worker on lcore $CORE), ${E2E_SECS}s"
$B/svclb -c "$WORK/e2e.conf" >"$WORK/svclb.log" 2>&1 &
SVPID=$!; PIDS+=("$SVPID")
for _ in $(seq 100); do [[ -S $WORK/run/svclb.sock ]] && break; sleep 0.1; done
[[ -S $WORK/run/svclb.sock ]] || { cat "$WORK/svclb.log"; exit 1; }
sleep 2                                      # warm-up: flows created, caches warm
s0=$(stats); t0=$(date +%s.%N)
sleep $((E2E_SECS - 2))
s1=$(stats); t1=$(date +%s.%N)
kill -INT "$SVPID"; wait "$SVPID" 2>/dev/null || true
echo "$s0" >"$WORK/svclb.s0.json"; echo "$s1" >"$WORK/svclb.s1.json"; echo "$t0 $t1" >"$WORK/svclb.t"

echo "bench: end to end, dpdk-testpmd 5tswap (forwarding lcore $CORE), ${E2E_SECS}s"
timeout -s INT $((E2E_SECS + 1)) dpdk-testpmd -l 0-1 --in-memory -m 1024 --no-pci --no-telemetry \
  --vdev="net_pcap0,rx_pcap=$WORK/flows.pcap,infinite_rx=1" --vdev=net_null0,no-rx=1 -- \
  --forward-mode=5tswap --port-topology=chained --no-flush-rx --stats-period 1 \
  >"$WORK/testpmd.log" 2>&1 || true

# ---- 4. loopback
if ((LOOPBACK)); then
  echo "bench: loopback (svclb <-> testpmd over vhost-user)"
  scripts/loopback-testpmd.sh --duration 8 --json "$WORK/loopback.json" --no-build >"$WORK/loopback.txt" 2>&1 ||
    { echo "bench: loopback failed:"; tail -20 "$WORK/loopback.txt"; }
fi

# ---- results
$PY perf/report.py --work "$WORK" --out "$OUT" --e2e-secs "$E2E_SECS" --quick "$QUICK"
