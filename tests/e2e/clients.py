# SPDX-License-Identifier: Apache-2.0
"""The client programs the e2e suites run inside the client namespace (with ns_python)."""

# N HTTP/1.0 GET /id, each on a new connection from SRC:BASE+i to DST:PORT; prints the
# bodies ("bN") or "ERR:..." as JSON. Bounded: 3 s per connection, 60 s in all, and it
# gives up after 5 failures in a row.
HTTP_CLIENT = r"""
import json, socket, sys, time
dst, port, n, src, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
deadline = time.monotonic() + 60
out = []
for i in range(n):
    if time.monotonic() > deadline:
        out.append("ERR:deadline"); continue
    if len(out) >= 5 and all(a.startswith("ERR") for a in out[-5:]):
        out.append("ERR:skipped after 5 consecutive failures"); continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(3)
    try:
        s.bind((src, base + i))
        s.connect((dst, port))
        s.sendall(b"GET /id HTTP/1.0\r\nHost: svc\r\n\r\n")
        data = b""
        while len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk: break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        ok = head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
        out.append(body.decode(errors="replace").strip() if ok else "ERR:" + head[:40].decode(errors="replace"))
    except OSError as e:
        out.append("ERR:" + type(e).__name__ + ":" + str(e))
    finally:
        s.close()
print(json.dumps(out))
"""

# N UDP datagrams to DST:PORT, each from its own source port BASE+i (of SRC, default: any
# address of DST's family); one answer awaited per datagram (2 s). Gives up after 5
# unanswered in a row.
UDP_CLIENT = r"""
import json, socket, sys
dst, port, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
src = sys.argv[5] if len(sys.argv) > 5 else ("::" if fam == socket.AF_INET6 else "0.0.0.0")
out = []
for i in range(n):
    payload = "req-%d" % i
    if len(out) >= 5 and all(o["answer"] is None for o in out[-5:]):
        out.append({"payload": payload, "answer": None, "error": "skipped after 5 consecutive failures"})
        continue
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(2)
    try:
        s.bind((src, base + i))
        s.sendto(payload.encode(), (dst, port))
        data, peer = s.recvfrom(2048)
        out.append({"payload": payload, "answer": data.decode(errors="replace"),
                    "from": "%s:%d" % peer[:2]})
    except OSError as e:
        out.append({"payload": payload, "answer": None, "error": str(e)})
    finally:
        s.close()
print(json.dumps(out))
"""
