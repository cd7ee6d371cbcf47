// SPDX-License-Identifier: Apache-2.0
// Shared by the benchmarks in perf/: EAL start-up (hugepages when the machine has them,
// else --no-huge), a generator for the benchmark appliance's configuration (one FullNAT
// TCP service, N backends with static neighbours) and a builder for 64-byte IPv4 TCP
// frames with correct checksums. Addresses follow PLATFORM.md: documentation ranges only.
//
// Relies on: the worker trims Ethernet padding (64-byte frames carry 10 bytes of it), and
// FullNAT's reverse key is (backend -> SNAT address, SNAT port) as received (lb/flow.h).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "lb/checksum.h"

namespace svclb::perf {

// ---- EAL ----

// Free 2 MiB hugepages on this machine (from /proc/meminfo).
inline long free_hugepages() {
    std::ifstream f("/proc/meminfo");
    std::string k;
    long v;
    while (f >> k >> v) {
        if (k == "HugePages_Free:") return v;
        f.ignore(256, '\n');
    }
    return 0;
}

// Initialises EAL once for a benchmark process. `want_mb`: memory to ask for; with
// hugepages it is capped by what is free, without them it is anonymous memory.
// `force_no_huge` (valgrind cannot map hugepages reliably) selects --no-huge; `vdev`: a
// device to probe (e.g. "net_null0,no-rx=1").
// Returns true when running on hugepages. Exits on failure.
inline bool eal_init_bench(const char* argv0, long want_mb, bool force_no_huge = false,
                           const char* vdev = nullptr) {
    const long huge_mb = free_hugepages() * 2;
    const bool huge = !force_no_huge && huge_mb >= 512;
    long mb = huge ? std::min(want_mb, huge_mb - 64) : std::min(want_mb, 4096L);
    std::vector<std::string> args{argv0, "-l", "0", "--no-pci", "--no-telemetry",
                                  "--log-level=*:warning", "-m", std::to_string(mb)};
    if (huge) {
        args.push_back("--in-memory");
    } else {
        args.push_back("--no-huge");
        args.push_back("--no-shconf");
    }
    if (vdev) args.push_back(std::string("--vdev=") + vdev);
    if (const char* l = std::getenv("SVCLB_BENCH_LCORE")) args[2] = l; // pin elsewhere
    std::vector<char*> a;
    for (auto& s : args) a.push_back(s.data());
    if (rte_eal_init(int(a.size()), a.data()) < 0) {
        std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
        std::exit(1);
    }
    std::fprintf(stderr, "bench: EAL with %s, -m %ld\n", huge ? "hugepages (--in-memory)" : "--no-huge", mb);
    return huge;
}

// ---- addresses of the benchmark appliance (network order helpers) ----

inline uint32_t ip4(const char* s) {
    in_addr a{};
    inet_pton(AF_INET, s, &a);
    return a.s_addr;
}
inline uint32_t ip4_host(uint32_t host) { return htonl(host); }

inline constexpr uint8_t kLbMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr uint8_t kPeerMac[6] = {0x02, 0x00, 0x5e, 0x00, 0x53, 0xfe};
inline constexpr const char* kVip = "198.18.0.10";
inline constexpr uint16_t kVipPort = 80;
inline constexpr uint16_t kTargetPort = 8080;
inline constexpr const char* kSnat = "198.51.100.2";
inline constexpr const char* kNonVip = "198.51.100.77"; // in a connected subnet, not ours
// Client k: 203.0.113.(k % 250 + 1), port 1024 + k / 250 (+ a base that separates sets).
inline uint32_t client_ip(uint32_t k) { return htonl((203u << 24) | (0u << 16) | (113u << 8) | (k % 250 + 1)); }
inline uint16_t client_port(uint32_t k, uint16_t base) { return uint16_t(base + k / 250); }
// Backend i (i < 250): 198.51.100.(i + 3)... kept clear of .1 (us), .2 (SNAT), .77, .254.
inline std::string backend_ip(uint32_t i) {
    uint32_t last = 3 + i;
    if (last >= 77) last++;
    return "198.51.100." + std::to_string(last);
}

// One FullNAT TCP service (VIP:80 -> backends:8080), `backends` endpoints and the 250
// clients 203.0.113.1-250 all on connected subnets with static neighbours. (Not behind a
// `gateway`: the compiled default route has prefix length 0, which rte_lpm_add rejects, so
// route4() finds no route for off-link clients; reported to the lead.) `device` is the
// port's devargs (in process the benchmark binds the port itself).
inline std::string bench_config(const std::string& device, uint32_t backends, uint32_t flow_table,
                                bool hugepages = true, uint32_t memory_mb = 1024,
                                const std::string& socket = "/run/svclb/bench.sock",
                                const char* peer_mac = "02:00:5e:00:53:fe") {
    std::string c;
    c += "appliance = {\n  ports = ( { name = \"p0\"; device = \"" + device +
         "\"; addresses = [ \"198.51.100.1/24\", \"203.0.113.254/24\" ]; mac = \"02:00:00:00:00:01\"; } );\n";
    c += "  snatAddresses = [ \"" + std::string(kSnat) + "\" ];\n";
    c += "  neighbours = (\n    { ip = \"198.51.100.254\"; mac = \"" + std::string(peer_mac) + "\"; }";
    for (uint32_t i = 0; i < backends; i++)
        c += ",\n    { ip = \"" + backend_ip(i) + "\"; mac = \"" + peer_mac + "\"; }";
    for (uint32_t k = 0; k < 250; k++)
        c += ",\n    { ip = \"203.0.113." + std::to_string(k + 1) + "\"; mac = \"" + peer_mac + "\"; }";
    c += "\n  );\n";
    c += "  flowTableSize = " + std::to_string(flow_table) + ";\n  idleBackoffUs = 0;\n";
    c += std::string("  hugepages = ") + (hugepages ? "true" : "false") + ";\n  memoryMB = " +
         std::to_string(memory_mb) + ";\n  socket = \"" + socket + "\";\n};\n";
    c += "cluster = { serviceCIDRs = [ \"198.18.0.0/24\" ]; };\n";
    c += "services = ( { metadata = { name = \"bench\"; namespace = \"perf\"; };\n"
         "  spec = { clusterIP = \"" + std::string(kVip) + "\"; ports = ( { name = \"http\"; protocol = "
         "\"TCP\"; port = 80; targetPort = 8080; } ); }; } );\n";
    c += "endpointSlices = ( { metadata = { name = \"bench-1\"; namespace = \"perf\"; }; service = "
         "\"bench\"; addressType = \"IPv4\";\n  ports = ( { name = \"http\"; protocol = \"TCP\"; port = "
         "8080; } );\n  endpoints = (\n";
    for (uint32_t i = 0; i < backends; i++)
        c += std::string(i ? ",\n" : "") + "    { addresses = [ \"" + backend_ip(i) +
             "\" ]; conditions = { ready = true; }; }";
    c += "\n  ); } );\n";
    return c;
}

// ---- frames ----

inline constexpr uint16_t kFrameLen = 64;
struct Frame {
    alignas(64) uint8_t b[kFrameLen];
};

// A 64-byte Ethernet/IPv4/TCP frame (20-byte TCP header, no payload, 10 bytes of padding)
// with correct IPv4 and TCP checksums. Addresses and ports in network order.
inline Frame tcp_frame(const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src, uint32_t dst,
                       uint16_t sport_be, uint16_t dport_be, uint8_t flags, uint32_t seq = 1,
                       uint32_t ack = 0) {
    Frame f{};
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f.b);
    std::memcpy(eth->dst_addr.addr_bytes, dst_mac, 6);
    std::memcpy(eth->src_addr.addr_bytes, src_mac, 6);
    eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    ip->version_ihl = 0x45;
    ip->total_length = htons(40);
    ip->packet_id = htons(1);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = src;
    ip->dst_addr = dst;
    ip->hdr_checksum = csum::finish(csum::partial(ip, 20));
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    tcp->src_port = sport_be;
    tcp->dst_port = dport_be;
    tcp->sent_seq = htonl(seq);
    tcp->recv_ack = htonl(ack);
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = flags;
    tcp->rx_win = htons(65535);
    struct {
        uint32_t s, d;
        uint8_t z, p;
        uint16_t len;
    } ph{src, dst, 0, IPPROTO_TCP, htons(20)};
    tcp->cksum = csum::finish(csum::partial(tcp, 20, csum::partial(&ph, 12)));
    return f;
}

}  // namespace svclb::perf
