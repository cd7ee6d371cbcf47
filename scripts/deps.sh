#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages svclb needs to build, test and run its demo.
# Idempotent and quiet: prints nothing when everything is already installed.
set -euo pipefail

PKGS=(
  dpdk dpdk-dev libdpdk-dev
  meson ninja-build pkg-config g++
  libconfig++-dev libpcap-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libbpf-dev libxdp-dev
  iproute2 ethtool tcpdump curl ncat socat iputils-ping
  python3 python3-pytest python3-scapy python3-matplotlib
  libusrsctp-dev libusrsctp-examples valgrind
)

missing=()
for p in "${PKGS[@]}"; do
  # "dpkg -s" succeeds for removed-but-not-purged packages too; look at the status.
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done

((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  echo "deps.sh: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi

echo "deps.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
