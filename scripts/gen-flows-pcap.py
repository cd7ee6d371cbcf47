#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Writes the end-to-end benchmark's input (issue 3, item 3): N TCP flows of 64-byte frames
# from clients 203.0.113.1-250 to the VIP 198.18.0.10:80, beginning with the SYN of every
# flow (so each flow exists before its ACKs arrive), then R rounds of one ACK per flow.
# Replayed with net_pcap infinite_rx=1, later rounds of SYNs hit their existing flow
# (a SYN to a SYN_SENT flow is forwarded on the flow), so the steady state is all hits.
# Addresses match perf/bench_common.h and the config scripts/bench.sh writes.
# --max-packets caps the file (ACK rounds are cut): net_pcap infinite_rx keeps every packet
# of the file in an mbuf of the port's pool, and svclb's pool has 16383 mbufs (not
# configurable yet), so the default file is 10,000 SYNs + 2,000 ACKs.
#   scripts/gen-flows-pcap.py OUT.pcap [--flows 10000] [--rounds 4] [--max-packets 12000]
import argparse

from scapy.all import IP, TCP, Ether, Padding, raw
from scapy.utils import PcapWriter

LB_MAC = "02:00:00:00:00:01"
PEER_MAC = "02:00:5e:00:53:fe"
VIP = "198.18.0.10"


def frame(k: int, flags: str) -> bytes:
    src = "203.0.113.%d" % (k % 250 + 1)
    sport = 1024 + k // 250
    p = Ether(dst=LB_MAC, src=PEER_MAC) / IP(src=src, dst=VIP, ttl=64) / TCP(
        sport=sport, dport=80, flags=flags, seq=1000 + k, ack=5000 if "A" in flags else 0)
    b = raw(p)
    return b + b"\0" * (64 - 4 - len(b))  # 60 bytes on the wire + 4 of FCS = 64


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--max-packets", type=int, default=12000)
    a = ap.parse_args()
    syns = [frame(k, "S") for k in range(a.flows)]
    acks = [frame(k, "A") for k in range(a.flows)]
    w = PcapWriter(a.out, linktype=1, sync=False)
    out = (syns + acks * a.rounds)[:max(a.max_packets, a.flows)]
    for b in out:
        w.write(b)
    w.close()
    print("%s: %d flows, %d packets (%d SYN + %d ACK), %d bytes each (+4 FCS = 64 on the wire)" %
          (a.out, a.flows, len(out), a.flows, len(out) - a.flows, len(syns[0])))


if __name__ == "__main__":
    main()
