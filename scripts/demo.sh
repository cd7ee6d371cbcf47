#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# svclb demo, as root on a fresh Debian 12 machine:
#   installs dependencies, builds, creates the "svd" namespace topology (scripts/netns.sh),
#   starts three-plus-one backends and svclb with config/demo.conf, sends 30 HTTP and
#   30 UDP requests to the ClusterIP 198.18.0.10 from the client namespace, and prints
#   which backend answered each. Everything is torn down on exit.
# Exit 0 only if every request was answered and at least two backends answered each
# protocol. Nothing is written into the repository except the build directory.
# shellcheck disable=SC2317  # functions run from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
PREFIX=svd
CONF=config/demo.conf
LOG=/tmp/$PREFIX-svclb.log
VIP=198.18.0.10
N=30
WAIT_S=30
AF_PACKET="net_af_packet0,iface=lb0"

say() { printf '\n== %s\n' "$*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (it creates network namespaces and attaches AF_XDP)"

SVCLB_PID=
CLEANED=0
cleanup() {
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM  # finish tearing down even if interrupted again
  if [[ -n "$SVCLB_PID" ]] && kill -0 "$SVCLB_PID" 2>/dev/null; then
    kill -TERM "$SVCLB_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$SVCLB_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SVCLB_PID" 2>/dev/null; then
      echo "demo.sh: svclb (pid $SVCLB_PID) ignored SIGTERM for 10 s; killing it" >&2
      kill -KILL "$SVCLB_PID" 2>/dev/null || true
    fi
    wait "$SVCLB_PID" 2>/dev/null || true
  fi
  scripts/netns.sh servers "$PREFIX" stop >/dev/null 2>&1 || true
  scripts/netns.sh down "$PREFIX" >/dev/null 2>&1 || true
  rm -f "/tmp/$PREFIX-demo-"*.conf
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "dependencies"
scripts/deps.sh
say "build"
scripts/build.sh >/tmp/$PREFIX-build.log 2>&1 || { tail -40 /tmp/$PREFIX-build.log >&2; die "build failed (log: /tmp/$PREFIX-build.log)"; }
echo "ok (log: /tmp/$PREFIX-build.log)"

find_bin() {
  local b
  for b in build/$1 build/cp/$1; do [[ -x $b ]] && { echo "$b"; return 0; }; done
  die "$1 not found under build/ (is it declared in meson.build?)"
}
SVCLB=$(find_bin svclb)
SVCLBCTL=$(find_bin svclbctl)

SOCK=$(sed -n 's/^[[:space:]]*socket[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$CONF" | head -1)
SOCK=${SOCK:-/run/svclb/demo.sock}
mkdir -p "$(dirname "$SOCK")"

# The topology gives the appliance the interface lb0. If the shipped config names
# another interface, run a copy (in /tmp) that names lb0.
RUNCONF=$CONF
if grep -q 'iface=' "$CONF" && ! grep -q 'iface=lb0[,"]' "$CONF"; then
  RUNCONF=/tmp/$PREFIX-demo-lb0.conf
  sed -E 's/iface=[A-Za-z0-9_.-]+/iface=lb0/g' "$CONF" >"$RUNCONF"
  echo "note: $CONF does not name iface=lb0; running a copy that does: $RUNCONF"
fi

say "topology (namespaces $PREFIX-*) and backends"
scripts/netns.sh up "$PREFIX"
scripts/netns.sh servers "$PREFIX" start
echo "client $PREFIX-c 198.51.100.10, backends $PREFIX-b1..b4 198.51.100.11-14, appliance $PREFIX-lb (lb0)"

# Starts svclb with config $1; returns 0 once "svclbctl stats" answers, 1 if svclb
# exits first, 2 on timeout.
start_svclb() {
  : >"$LOG"
  ip netns exec "$PREFIX-lb" "$SVCLB" -c "$1" </dev/null >>"$LOG" 2>&1 &
  SVCLB_PID=$!
  local i
  for ((i = 0; i < WAIT_S * 4; i++)); do
    kill -0 "$SVCLB_PID" 2>/dev/null || { wait "$SVCLB_PID" 2>/dev/null || true; SVCLB_PID=; return 1; }
    timeout 2 "$SVCLBCTL" -s "$SOCK" stats >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 2
}

say "svclb ($SVCLB -c $RUNCONF, log $LOG)"
if start_svclb "$RUNCONF"; then
  echo "svclb is up (pid $SVCLB_PID)"
else
  rc=$?
  ((rc == 2)) && { tail -30 "$LOG" >&2; die "svclb did not answer stats within ${WAIT_S} s"; }
  echo "svclb exited early; last lines of its log:"
  tail -15 "$LOG" | sed 's/^/    /'
  AFP=/tmp/$PREFIX-demo-afpacket.conf
  sed -E "s/device[[:space:]]*=[[:space:]]*\"[^\"]*\"/device = \"$AF_PACKET\"/" "$RUNCONF" >"$AFP"
  echo "AF_XDP did not work here: retrying once with device \"$AF_PACKET\" ($AFP)"
  cp "$LOG" "$LOG.af_xdp"
  if start_svclb "$AFP"; then
    echo "svclb is up with af_packet (pid $SVCLB_PID)"
  else
    tail -30 "$LOG" >&2
    die "svclb did not start with af_packet either (log: $LOG, first try: $LOG.af_xdp)"
  fi
fi

say "$N HTTP requests: curl http://$VIP/id (from $PREFIX-c)"
declare -A HTTP=() UDP=()
http_fail=0
for ((i = 0; i < N; i++)); do
  if a=$(ip netns exec "$PREFIX-c" curl -s --max-time 3 "http://$VIP/id") && [[ "$a" =~ ^b[0-9]+$ ]]; then
    HTTP[$a]=$((${HTTP[$a]:-0} + 1))
  else
    http_fail=$((http_fail + 1))
  fi
done

say "$N UDP requests to $VIP:53 (from $PREFIX-c, one source port each)"
udp_out=$(ip netns exec "$PREFIX-c" timeout 120 "$PY" - "$VIP" "$N" <<'PYEOF' || true
import socket, sys
vip, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    payload = "demo-%d" % i
    try:
        s.bind(("198.51.100.10", 0))
        s.sendto(payload.encode(), (vip, 53))
        data = s.recv(2048).decode(errors="replace")
        name, sep, rest = data.partition(":")
        print(name if sep and rest == payload else "BAD")
    except OSError:
        print("NONE")
    finally:
        s.close()
PYEOF
)
udp_fail=0
udp_seen=0
while read -r a; do
  [[ -z "$a" ]] && continue
  udp_seen=$((udp_seen + 1))
  if [[ "$a" =~ ^b[0-9]+$ ]]; then UDP[$a]=$((${UDP[$a]:-0} + 1)); else udp_fail=$((udp_fail + 1)); fi
done <<<"$udp_out"
udp_fail=$((udp_fail + N - udp_seen))

say "answers per backend"
printf '%-10s %14s %14s\n' backend "HTTP answers" "UDP answers"
for b in b1 b2 b3 b4; do
  printf '%-10s %14d %14d\n' "$b" "${HTTP[$b]:-0}" "${UDP[$b]:-0}"
done
printf '%-10s %14d %14d\n' unanswered "$http_fail" "$udp_fail"

say "$SVCLBCTL -s $SOCK stats"
timeout 5 "$SVCLBCTL" -s "$SOCK" stats || echo "(svclbctl stats failed)"
echo

ok=1
((http_fail == 0 && udp_fail == 0)) || { ok=0; echo "FAIL: $http_fail HTTP and $udp_fail UDP requests unanswered"; }
((${#HTTP[@]} >= 2)) || { ok=0; echo "FAIL: HTTP answers came from ${#HTTP[@]} backend(s), want at least 2"; }
((${#UDP[@]} >= 2)) || { ok=0; echo "FAIL: UDP answers came from ${#UDP[@]} backend(s), want at least 2"; }
if ((ok)); then
  echo; echo "demo OK: all $((2 * N)) requests answered by ${#HTTP[@]} (HTTP) / ${#UDP[@]} (UDP) backends"
  exit 0
fi
echo "svclb log: $LOG"
exit 1
