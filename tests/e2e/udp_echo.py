#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""UDP echo server for svclb's end-to-end tests: answers every datagram with
"<name>:" + payload, from the address it was sent to. Exits after --lifetime
seconds (default one hour) or on SIGTERM/SIGINT."""
import argparse
import signal
import socket
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True, help="prefix of every answer, e.g. b1")
    ap.add_argument("--bind", required=True, help="address to listen on")
    ap.add_argument("--port", type=int, default=5300)
    ap.add_argument("--lifetime", type=float, default=3600.0, help="seconds before exiting")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        # "::" serves both families (IPv4 peers appear as ::ffff:a.b.c.d).
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((args.bind, args.port))
    prefix = (args.name + ":").encode()
    deadline = time.monotonic() + args.lifetime
    print(f"udp_echo {args.name} on {args.bind}:{args.port}", flush=True)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return 0
            sock.settimeout(min(left, 1.0))
            try:
                data, peer = sock.recvfrom(65535)
            except socket.timeout:
                continue
            try:
                sock.sendto(prefix + data, peer)
            except OSError as e:  # e.g. no neighbour yet; keep serving
                print(f"sendto {peer}: {e}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
