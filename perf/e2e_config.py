#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Prints an svclb config for the benchmarks that run the daemon (scripts/bench.sh item 3,
# scripts/loopback-testpmd.sh): one FullNAT TCP+UDP service at 198.18.0.10 with N
# backends (198.51.100.3...), static neighbours for backends and clients (203.0.113.1-250;
# connected, not behind `gateway`: see perf/bench_common.h). Addresses as in
# perf/bench_common.h and scripts/gen-flows-pcap.py. Every neighbour's MAC is --peer-mac:
# the sink (net_null) in bench.sh, testpmd's virtio_user port in the loopback, so all
# translated packets go back to it. svclb's port MAC is fixed (02:00:00:00:00:01).
#   e2e_config.py --rx DEVARGS [--tx DEVARGS] --socket PATH [--backends 100]
#                 [--peer-mac MAC] [--vip-cidr CIDR --vip IP] [--client-net CIDR]
import argparse

ap = argparse.ArgumentParser()
ap.add_argument("--rx", required=True, help="devargs of the client-side port")
ap.add_argument("--tx", help="devargs of the backend-side port (default: one-armed)")
ap.add_argument("--socket", required=True)
ap.add_argument("--backends", type=int, default=100)
ap.add_argument("--peer-mac", default="02:00:5e:00:53:fe")
ap.add_argument("--vip-cidr", default="198.18.0.0/24")
ap.add_argument("--vip", default="198.18.0.10")
ap.add_argument("--client-net", default="203.0.113.254/24",
                help="our address on the clients' subnet (clients are .1-.250 of it)")
ap.add_argument("--client-gw", help="clients are off-link behind this neighbour instead")
ap.add_argument("--lcores", default="main = 0; workers = [ 1 ];")
ap.add_argument("--flows", type=int, default=1048576)
ap.add_argument("--memory", type=int, default=1024)
a = ap.parse_args()


def backend_ip(i: int) -> str:
    last = 3 + i
    if last >= 77:
        last += 1
    return "198.51.100.%d" % last


bports = "p1" if a.tx else "p0"
ports = ['{ name = "p0"; device = "%s"; addresses = [ "%s"%s ]; mac = "02:00:00:00:00:01"; }'
         % (a.rx, a.client_net, "" if a.tx else ', "198.51.100.1/24"')]
if a.tx:
    ports.append('{ name = "p1"; device = "%s"; addresses = [ "198.51.100.1/24" ]; mac = "02:00:00:00:00:02"; }' % a.tx)
neigh = ['{ ip = "%s"; mac = "%s"; port = "%s"; }' % (backend_ip(i), a.peer_mac, bports)
         for i in range(a.backends)]
net = a.client_net.split("/")[0].rsplit(".", 1)[0]
if a.client_gw:
    neigh.append('{ ip = "%s"; mac = "%s"; port = "p0"; }' % (a.client_gw, a.peer_mac))
else:
    neigh += ['{ ip = "%s.%d"; mac = "%s"; port = "p0"; }' % (net, k, a.peer_mac) for k in range(1, 251)]
eps = ",\n    ".join('{ addresses = [ "%s" ]; conditions = { ready = true; }; }' % backend_ip(i)
                     for i in range(a.backends))
print("""appliance = {
  ports = ( %s );
  snatAddresses = [ "198.51.100.2" ];
  neighbours = (
    %s
  );
  lcores = { %s };
  flowTableSize = %d;
  idleBackoffUs = 0;
  hugepages = true;
  memoryMB = %d;
  socket = "%s";
};
cluster = { serviceCIDRs = [ "%s" ]; };
services = ( { metadata = { name = "bench"; namespace = "perf"; };
  spec = { clusterIP = "%s"; ports = (
    { name = "http"; protocol = "TCP"; port = 80; targetPort = 8080; },
    { name = "dns"; protocol = "UDP"; port = 53; targetPort = 5300; } ); }; } );
endpointSlices = ( { metadata = { name = "bench-1"; namespace = "perf"; }; service = "bench";
  addressType = "IPv4";
  ports = ( { name = "http"; protocol = "TCP"; port = 8080; }, { name = "dns"; protocol = "UDP"; port = 5300; } );
  endpoints = (
    %s
  ); } );""" % (",\n    ".join(ports), ",\n    ".join(neigh), a.lcores, a.flows, a.memory, a.socket,
                 a.vip_cidr, a.vip, eps))
