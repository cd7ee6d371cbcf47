#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# svclb demo, as root on a fresh Debian 12 machine:
#   installs dependencies, builds, creates the "svd" namespace topology (scripts/netns.sh),
#   starts three-plus-one backends and svclb with config/demo.conf (a dual-stack service),
#   sends 30 HTTP and 30 UDP requests to each of its clusterIPs, 198.18.0.10 and
#   2001:db8:ffff::10, from the client namespace, and prints which backend answered each.
#   Everything is torn down on exit.
# Exit 0 only if every request was answered and at least two backends answered each
# protocol in each family. Nothing is written into the repository except the build directory.
# shellcheck disable=SC2317  # functions run from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
PREFIX=svd
CONF=config/demo.conf
LOG=/tmp/$PREFIX-svclb.log
VIP=198.18.0.10
VIP6=2001:db8:ffff::10
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
echo "client $PREFIX-c 198.51.100.10 / 2001:db8:100::10, backends $PREFIX-b1..b4 198.51.100.11-14 / 2001:db8:100::11-14, appliance $PREFIX-lb (lb0)"

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

# Answers per "backend,column"; columns: http4 http6 udp4 udp6.
declare -A ANS=() FAIL=()

# http_round COLUMN URL CURL-ARGS...: N requests, one connection each.
http_round() {
  local col=$1 url=$2 i a
  shift 2
  for ((i = 0; i < N; i++)); do
    if a=$(ip netns exec "$PREFIX-c" curl "$@" -s --max-time 3 "$url") && [[ "$a" =~ ^b[0-9]+$ ]]; then
      ANS[$a,$col]=$((${ANS[$a,$col]:-0} + 1))
    else
      FAIL[$col]=$((${FAIL[$col]:-0} + 1))
    fi
  done
}

# udp_round COLUMN VIP: N datagrams, one source port each.
udp_round() {
  local col=$1 vip=$2 out a seen=0
  out=$(ip netns exec "$PREFIX-c" timeout 120 "$PY" - "$vip" "$N" <<'PYEOF' || true
import socket, sys
vip, n = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
for i in range(n):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    payload = "demo-%d" % i
    try:
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
  while read -r a; do
    [[ -z "$a" ]] && continue
    seen=$((seen + 1))
    if [[ "$a" =~ ^b[0-9]+$ ]]; then
      ANS[$a,$col]=$((${ANS[$a,$col]:-0} + 1))
    else
      FAIL[$col]=$((${FAIL[$col]:-0} + 1))
    fi
  done <<<"$out"
  FAIL[$col]=$((${FAIL[$col]:-0} + N - seen))
}

say "$N HTTP requests over IPv4: curl http://$VIP/id (from $PREFIX-c)"
http_round http4 "http://$VIP/id"
say "$N HTTP requests over IPv6: curl -g -6 http://[$VIP6]/id"
http_round http6 "http://[$VIP6]/id" -g -6
say "$N UDP requests to $VIP:53 and $N to [$VIP6]:53 (one source port each)"
udp_round udp4 "$VIP"
udp_round udp6 "$VIP6"

say "answers per backend"
printf '%-10s %12s %12s %12s %12s\n' backend "HTTP IPv4" "HTTP IPv6" "UDP IPv4" "UDP IPv6"
for b in b1 b2 b3 b4; do
  printf '%-10s %12d %12d %12d %12d\n' "$b" "${ANS[$b,http4]:-0}" "${ANS[$b,http6]:-0}" \
    "${ANS[$b,udp4]:-0}" "${ANS[$b,udp6]:-0}"
done
printf '%-10s %12d %12d %12d %12d\n' unanswered "${FAIL[http4]:-0}" "${FAIL[http6]:-0}" \
  "${FAIL[udp4]:-0}" "${FAIL[udp6]:-0}"

say "$SVCLBCTL -s $SOCK stats"
timeout 5 "$SVCLBCTL" -s "$SOCK" stats || echo "(svclbctl stats failed)"
echo

# Which backend would a new connection from the client get, and why: the live trace runs
# one synthesised packet through the daemon's pipeline on its current snapshot.
say "$SVCLBCTL -s $SOCK trace --proto tcp --src 198.51.100.10:45000 --dst $VIP:80"
timeout 5 "$SVCLBCTL" -s "$SOCK" trace --proto tcp --src 198.51.100.10:45000 --dst "$VIP:80" ||
  echo "(svclbctl trace failed)"

ok=1
total=0
for col in http4 http6 udp4 udp6; do
  total=$((total + ${FAIL[$col]:-0}))
  nb=0
  for b in b1 b2 b3 b4; do ((${ANS[$b,$col]:-0} > 0)) && nb=$((nb + 1)); done
  ((nb >= 2)) || { ok=0; echo "FAIL: $col answers came from $nb backend(s), want at least 2"; }
done
((total == 0)) || { ok=0; echo "FAIL: $total of $((4 * N)) requests unanswered"; }
if ((ok)); then
  echo; echo "demo OK: all $((4 * N)) requests (HTTP and UDP, IPv4 and IPv6) answered"
  exit 0
fi
echo "svclb log: $LOG"
exit 1
