#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Test topology for svclb: one L2 segment (a Linux bridge) joining the appliance,
# a client and four backends, each in its own network namespace.
#
#   scripts/netns.sh up PREFIX             (re)create the topology (does "down" first)
#   scripts/netns.sh down PREFIX           remove it; tolerates missing pieces
#   scripts/netns.sh servers PREFIX start  on every backend, both families (bound to ::):
#                                          HTTP :8080, UDP echo :5300, SCTP echo :7 (usrsctp)
#   scripts/netns.sh servers PREFIX stop
#   scripts/netns.sh status PREFIX         show what exists
#
#   PREFIX-fab  bridge br0; ports p-lb, p-c, p-b1..p-b4 (peers of the interfaces below)
#   PREFIX-lb   lb0: up, no address, IPv6 disabled, rp_filter strict -- svclb attaches
#               af_xdp/af_packet here;
#               LB_QUEUES=N in the environment of "up" gives the lb0 pair N queues (default 1;
#               one per svclb worker: af_xdp queue_count=N, af_packet qpairs=N)
#   PREFIX-c    eth0 198.51.100.10/24, 2001:db8:100::10/64;
#               198.18.0.0/16 via 198.51.100.1, 2001:db8:ffff::/112 via 2001:db8:100::1
#   PREFIX-bN   eth0 198.51.100.1N/24, 2001:db8:100::1N/64 (N = 1..4)
#
# SCTP: the kernel has no SCTP; usrsctp's echo_server runs SCTP over raw IP (protocol 132).
# Its log (/tmp/PREFIX-www/bN-sctp.log, line-buffered) names each message's length and
# source, which is how a test tells which backend served an association. While a raw
# socket for protocol 132 is open in a namespace (always, on the backends), the kernel
# delivers SCTP to it and sends no ICMP "protocol unreachable" (checked: nstat's
# IcmpOutDestUnreachs / Icmp6OutParmProblems stay 0). usrsctp lists every local address in
# INIT / INIT-ACK and probes them; svclb translates only the packets' addresses, so the
# client and the backends blackhole SCTP to each other's real addresses ("ip rule
# ipproto sctp ... blackhole"; no nftables/tc-flower here) and an association stays
# single-homed through the VIP.
#
# Only addresses from 198.51.100.0/24, 198.18.0.0/15 and 2001:db8::/32; nothing is
# created in the caller's namespace.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
NBACKENDS=4
APPLIANCE_IP=198.51.100.1
CLIENT_IP=198.51.100.10
CLIENT_IP6=2001:db8:100::10/64
APPLIANCE_IP6=2001:db8:100::1
SERVICE_ROUTE=198.18.0.0/16
SERVICE_ROUTE6=2001:db8:ffff::/112
HTTP_PORT=8080
UDP_PORT=5300
SCTP_PORT=7  # usrsctp's echo_server listens on 7 (fixed in the program)
SCTP_ECHO=${SCTP_ECHO:-/usr/lib/usrsctp/echo_server}
LB_QUEUES=${LB_QUEUES:-1}
SERVER_LIFETIME_S=3600

die() { echo "netns.sh: $*" >&2; exit 1; }
usage() {
  echo "usage: $0 up|down|status PREFIX | $0 servers PREFIX start|stop" >&2
  exit 2
}

check_prefix() {
  [[ "$1" =~ ^[a-z][a-z0-9]{0,7}$ ]] ||
    die "bad PREFIX '$1' (1-8 chars, lower-case letters and digits, starting with a letter)"
}
need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$1"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

namespaces() {
  local p=$1 i
  echo "$p-fab" "$p-lb" "$p-c"
  for ((i = 1; i <= NBACKENDS; i++)); do echo "$p-b$i"; done
}

# ---------------------------------------------------------------- servers

pidfile() { echo "/tmp/$1-pids"; }
wwwdir() { echo "/tmp/$1-www"; }

# True if PID is alive and its command line mentions the expected program.
pid_is_ours() {
  local pid=$1 cmd
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [[ "$cmd" == *http.server* || "$cmd" == *udp_echo.py* || "$cmd" == *usrsctp/echo_server* ]]
}

# SIGTERM the given PIDs, wait up to ~5 s, then SIGKILL whatever is left.
kill_pids() {
  local pids=("$@") pid i alive
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

servers_stop() {
  local p=$1 f pid pids=()
  f=$(pidfile "$p")
  if [[ -f "$f" ]]; then
    while read -r pid _; do
      pid_is_ours "$pid" && pids+=("$pid")
    done <"$f"
    kill_pids "${pids[@]}"
    rm -f "$f"
  fi
  rm -rf "$(wwwdir "$p")"
}

servers_start() {
  local p=$1 i ns dir www f pid ok
  for ((i = 1; i <= NBACKENDS; i++)); do
    ns_exists "$p-b$i" || die "namespace $p-b$i missing: run '$0 up $p' first"
  done
  [[ -x "$SCTP_ECHO" ]] || die "$SCTP_ECHO missing (Debian: apt-get install libusrsctp-examples)"
  servers_stop "$p"
  www=$(wwwdir "$p")
  f=$(pidfile "$p")
  mkdir -p "$www"
  : >"$f"
  for ((i = 1; i <= NBACKENDS; i++)); do
    ns=$p-b$i
    dir=$www/b$i
    mkdir -p "$dir"
    printf 'b%d\n' "$i" >"$dir/id"
    # Bound to "::" with IPV6_V6ONLY off: one socket serves IPv4 and IPv6.
    # timeout(1) bounds the server's life and forwards SIGTERM to it.
    ip netns exec "$ns" timeout -k 5 "$SERVER_LIFETIME_S" \
      "$PY" -m http.server "$HTTP_PORT" --bind :: --directory "$dir" \
      </dev/null >"$www/b$i-http.log" 2>&1 &
    echo "$! $ns http" >>"$f"
    ip netns exec "$ns" "$PY" "$ROOT/tests/e2e/udp_echo.py" \
      --name "b$i" --bind :: --port "$UDP_PORT" --lifetime "$SERVER_LIFETIME_S" \
      </dev/null >"$www/b$i-udp.log" 2>&1 &
    echo "$! $ns udp" >>"$f"
    # usrsctp's echo server: SCTP over raw IP on port 7, both families. stdbuf makes its
    # "Msg of length N received from A:P ..." lines reach the log at once. Its argument
    # is the UDP encapsulation port it binds (unused here).
    ip netns exec "$ns" timeout -k 5 "$SERVER_LIFETIME_S" \
      stdbuf -oL -eL "$SCTP_ECHO" 9899 \
      </dev/null >"$www/b$i-sctp.log" 2>&1 &
    echo "$! $ns sctp" >>"$f"
  done
  # Wait (bounded) until every backend listens on every port (raw IP protocol 132 for SCTP).
  for ((i = 1; i <= NBACKENDS; i++)); do
    ns=$p-b$i
    ok=0
    for ((t = 0; t < 100; t++)); do
      if nsx "$ns" ss -Hltn "sport = :$HTTP_PORT" | grep -q . &&
        nsx "$ns" ss -Hlun "sport = :$UDP_PORT" | grep -q . &&
        nsx "$ns" ss -Hwan | grep -q ':132\b'; then
        ok=1
        break
      fi
      sleep 0.1
    done
    if ((!ok)); then
      cat "$www/b$i-http.log" "$www/b$i-udp.log" "$www/b$i-sctp.log" >&2 || true
      servers_stop "$p"
      die "servers in $ns did not start listening within 10 s"
    fi
  done
}

# ---------------------------------------------------------------- topology

topo_down() {
  local p=$1 ns pids
  servers_stop "$p"
  for ns in $(namespaces "$p"); do
    ns_exists "$ns" || continue
    # Anything still running in our namespace (e.g. a crashed test's svclb) would keep
    # the interfaces alive; stop it by PID.
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
    if [[ -n "${pids// /}" ]]; then
      echo "netns.sh: stopping processes left in $ns: $pids" >&2
      # shellcheck disable=SC2086
      kill_pids $pids
    fi
    ip netns del "$ns" 2>/dev/null || true
  done
}

ns_sysctls() {
  # Before any interface exists in the namespace, so new ones inherit "default".
  local ns=$1
  nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  nsx "$ns" sysctl -qw net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0
  nsx "$ns" ip link set lo up
}

txoff() { nsx "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || die "ethtool -K $2 tx off failed in $1"; }

# veth pair: PORT inside PREFIX-fab (enslaved to br0), IFACE inside NS.
plug() {
  local p=$1 port=$2 ns=$3 ifc=$4 q=${5:-1}
  ip -n "$p-fab" link add "$port" numtxqueues "$q" numrxqueues "$q" type veth \
    peer name "$ifc" netns "$ns" numtxqueues "$q" numrxqueues "$q"
  nsx "$p-fab" ip link set "$port" master br0
  txoff "$p-fab" "$port"
  txoff "$ns" "$ifc"
  nsx "$p-fab" ip link set "$port" up
}

# Policy routing in NS: SCTP to the peers in V4 / V6 (space-separated CIDRs) is
# blackholed, so that an association runs only through the VIP (see the header). The
# kernel has no tc flower/gact or nftables userland here; "ip rule ipproto" needs neither.
sctp_rules() {
  local ns=$1 v4=$2 v6=$3 a
  for a in $v4; do nsx "$ns" ip -4 rule add pref 100 ipproto sctp to "$a" blackhole; done
  for a in $v6; do nsx "$ns" ip -6 rule add pref 100 ipproto sctp to "$a" blackhole; done
}

topo_up() {
  local p=$1 ns i
  topo_down "$p"
  # On any failure below (set -e or die), remove the half-built topology.
  trap 'rc=$?; if ((rc)); then echo "netns.sh: up failed; cleaning up" >&2; topo_down "'"$p"'"; fi' EXIT
  for ns in $(namespaces "$p"); do
    ip netns add "$ns"
    ns_sysctls "$ns"
  done
  # The bridge and its ports stay silent at L3; so does the appliance's kernel.
  nsx "$p-fab" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx "$p-lb" sysctl -qw net.ipv6.conf.default.disable_ipv6=1

  # The segment.
  nsx "$p-fab" ip link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  nsx "$p-fab" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
  nsx "$p-fab" ethtool -K br0 tx off >/dev/null 2>&1 || true
  nsx "$p-fab" ip link set br0 up

  # Appliance: an address-less interface that only DPDK uses.
  [[ "$LB_QUEUES" =~ ^[1-8]$ ]] || die "LB_QUEUES must be 1..8, not '$LB_QUEUES'"
  plug "$p" p-lb "$p-lb" lb0 "$LB_QUEUES"
  nsx "$p-lb" sysctl -qw net.ipv6.conf.lb0.disable_ipv6=1
  # lb0 belongs to svclb. On af_packet the kernel sees its frames too; once svclb's exception
  # path puts the appliance's addresses on its TAP interface (policy-routed back through it),
  # strict reverse-path filtering makes the kernel drop what arrives on lb0 for them instead
  # of answering a second time (IPv6 is off on lb0 altogether).
  nsx "$p-lb" sysctl -qw net.ipv4.conf.lb0.rp_filter=1
  nsx "$p-lb" ip link set lb0 up

  # Client.
  plug "$p" p-c "$p-c" eth0
  nsx "$p-c" ip addr add "$CLIENT_IP/24" dev eth0
  nsx "$p-c" ip -6 addr add "$CLIENT_IP6" dev eth0 nodad
  nsx "$p-c" ip link set eth0 up
  nsx "$p-c" ip route add "$SERVICE_ROUTE" via "$APPLIANCE_IP"
  nsx "$p-c" ip -6 route add "$SERVICE_ROUTE6" via "$APPLIANCE_IP6"
  sctp_rules "$p-c" "198.51.100.11/32 198.51.100.12/32 198.51.100.13/32 198.51.100.14/32" \
    "2001:db8:100::11/128 2001:db8:100::12/128 2001:db8:100::13/128 2001:db8:100::14/128 fe80::/10"

  # Backends.
  for ((i = 1; i <= NBACKENDS; i++)); do
    plug "$p" "p-b$i" "$p-b$i" eth0
    nsx "$p-b$i" ip addr add "198.51.100.1$i/24" dev eth0
    nsx "$p-b$i" ip -6 addr add "2001:db8:100::1$i/64" dev eth0 nodad
    nsx "$p-b$i" ip link set eth0 up
    sctp_rules "$p-b$i" "198.51.100.10/32" "2001:db8:100::10/128 fe80::/10"
  done
  trap - EXIT
}

topo_status() {
  local p=$1 ns
  for ns in $(namespaces "$p"); do
    if ns_exists "$ns"; then
      echo "== $ns"
      nsx "$ns" ip -br addr show | grep -v '^lo ' || true
    else
      echo "== $ns (missing)"
    fi
  done
  [[ -f "$(pidfile "$p")" ]] && { echo "== servers ($(pidfile "$p"))"; cat "$(pidfile "$p")"; }
  return 0
}

# ---------------------------------------------------------------- main

(($# >= 2)) || usage
cmd=$1
case "$cmd" in
  up | down | status)
    (($# == 2)) || usage
    check_prefix "$2"
    [[ "$cmd" == status ]] || need_root
    "topo_$cmd" "$2"
    ;;
  servers)
    (($# == 3)) || usage
    check_prefix "$2"
    need_root
    case "$3" in
      start) servers_start "$2" ;;
      stop) servers_stop "$2" ;;
      *) usage ;;
    esac
    ;;
  *) usage ;;
esac
