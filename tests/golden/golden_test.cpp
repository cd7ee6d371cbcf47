// SPDX-License-Identifier: Apache-2.0
// Golden packets (STYLE.md 7): real mbufs through the real worker pipeline on a net_ring
// port. Each case gets a fresh dataplane and control plane (so SNAT ports start at the
// bottom of worker 0's range and no state leaks between cases), sends its setup packets,
// then its input, and compares the verdict and every transmitted byte with the table.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "cp/config_loader.h"
#include "cp/controller.h"
#include "lb/dataplane.h"
#include "tests/eal_env.h"
#include "tests/golden/pkt.h"
#include "tests/ring_appliance.h"

using namespace svclb;
using namespace svclb::cp;
using namespace svclb::test;

namespace {

using svclb::test::RingAppliance; // not cp::RingAppliance, which it wraps

const MacAddr kLb = *parse_mac("02:00:00:00:00:01");
const MacAddr kClient = *parse_mac("02:00:00:00:00:10");
const MacAddr kB1 = *parse_mac("02:00:00:00:00:11");
const MacAddr kOther = *parse_mac("02:00:00:00:00:99");
const MacAddr kBcast = *parse_mac("ff:ff:ff:ff:ff:ff");
const MacAddr kZero{};

constexpr const char* kClientIp = "198.51.100.10";
constexpr const char* kLbIp = "198.51.100.1";
constexpr const char* kSnat = "198.51.100.2";
constexpr const char* kB1Ip = "198.51.100.11";
constexpr const char* kVip = "198.18.0.10";
constexpr const char* kEmptyVip = "198.18.0.20";

// One backend so that expected outputs are exact; Maglev spread is tested elsewhere.
const char* kConfig = R"(
appliance = {
  ports = ( { name = "p0"; device = "net_ring_golden"; addresses = [ "198.51.100.1/24", "2001:db8:1::1/64" ];
              mac = "02:00:00:00:00:01"; } );
  snatAddresses = [ "198.51.100.2", "2001:db8:1::2" ];
  neighbours = ( { ip = "198.51.100.10"; mac = "02:00:00:00:00:10"; },
                 { ip = "198.51.100.11"; mac = "02:00:00:00:00:11"; },
                 { ip = "2001:db8:1::10"; mac = "02:00:00:00:00:10"; },
                 { ip = "2001:db8:1::11"; mac = "02:00:00:00:00:11"; } );
  lcores = { main = 0; workers = [ 1 ]; };
  flowTableSize = 1024;
};
cluster = { serviceCIDRs = [ "198.18.0.0/24", "2001:db8:ffff::/112" ]; nodeNames = [ "appliance-1" ]; };
services = (
  { metadata = { name = "web"; namespace = "golden"; };
    spec = { clusterIP = "198.18.0.10";
             ports = ( { name = "http"; protocol = "TCP"; port = 80; targetPort = 8080; },
                       { name = "dns"; protocol = "UDP"; port = 53; targetPort = 5300; },
                       { name = "echo"; protocol = "SCTP"; port = 7; targetPort = 7007; } ); }; },
  { metadata = { name = "web6"; namespace = "golden"; };
    spec = { clusterIP = "2001:db8:ffff::10"; ipFamilies = [ "IPv6" ];
             ports = ( { name = "http"; protocol = "TCP"; port = 80; targetPort = 8080; },
                       { name = "dns"; protocol = "UDP"; port = 53; targetPort = 5300; } ); }; },
  { metadata = { name = "local"; namespace = "golden"; };
    spec = { clusterIP = "198.18.0.30"; internalTrafficPolicy = "Local";
             ports = ( { name = "http"; protocol = "TCP"; port = 80; targetPort = 8080; } ); }; },
  { metadata = { name = "remote"; namespace = "golden"; };
    spec = { clusterIP = "198.18.0.31"; internalTrafficPolicy = "Local";
             ports = ( { name = "http"; protocol = "TCP"; port = 80; targetPort = 8080; } ); }; },
  { metadata = { name = "empty"; namespace = "golden"; };
    spec = { clusterIP = "198.18.0.20";
             ports = ( { name = "http"; protocol = "TCP"; port = 80; } ); }; }
);
endpointSlices = (
  { metadata = { name = "web-1"; namespace = "golden"; };
    service = "web";
    ports = ( { name = "http"; protocol = "TCP"; port = 8080; },
              { name = "dns"; protocol = "UDP"; port = 5300; },
              { name = "echo"; protocol = "SCTP"; port = 7007; } );
    endpoints = ( { addresses = [ "198.51.100.11" ]; } ); },
  { metadata = { name = "local-1"; namespace = "golden"; };
    service = "local";
    ports = ( { name = "http"; protocol = "TCP"; port = 8080; } );
    endpoints = ( { addresses = [ "198.51.100.11" ]; nodeName = "appliance-1"; },
                  { addresses = [ "198.51.100.12" ]; nodeName = "node-2"; } ); },
  { metadata = { name = "remote-1"; namespace = "golden"; };
    service = "remote";
    ports = ( { name = "http"; protocol = "TCP"; port = 8080; } );
    endpoints = ( { addresses = [ "198.51.100.12" ]; nodeName = "node-2"; } ); },
  { metadata = { name = "web6-1"; namespace = "golden"; };
    service = "web6"; addressType = "IPv6";
    ports = ( { name = "http"; protocol = "TCP"; port = 8080; },
              { name = "dns"; protocol = "UDP"; port = 5300; } );
    endpoints = ( { addresses = [ "2001:db8:1::11" ]; } ); }
);
)";

enum class Verdict { kTx, kDrop, kToControl, kReject };

struct Case {
    std::string name;
    std::vector<Bytes> setup; // sent first; their outputs are not checked
    Bytes in;
    Verdict verdict;
    Drop reason;             // for kDrop and kReject
    std::vector<Bytes> out;  // for kTx and kReject: every frame transmitted, in order
    RingOptions opts{};      // workers (one RX queue each) and the port's VLAN
    uint16_t in_queue = 0;   // the RX queue (= worker) the input arrives on
    uint16_t setup_queue = 0;
};

// Client -> VIP and backend -> SNAT packets, the two halves of each flow.
Pkt c2v() { return Pkt().eth(kClient, kLb).ipv4(kClientIp, kVip); }
Pkt b2s() { return Pkt().eth(kB1, kLb).ipv4(kB1Ip, kSnat); }
// What svclb sends: towards the backend from the SNAT address, towards the client from the VIP.
Pkt s2b(uint8_t ttl = 63) { return Pkt().eth(kLb, kB1).ipv4(kSnat, kB1Ip, ttl); }
Pkt v2c(uint8_t ttl = 63) { return Pkt().eth(kLb, kClient).ipv4(kVip, kClientIp, ttl); }
// The same four for IPv6.
constexpr const char* kClient6 = "2001:db8:1::10";
constexpr const char* kB16 = "2001:db8:1::11";
constexpr const char* kSnat6 = "2001:db8:1::2";
constexpr const char* kLb6 = "2001:db8:1::1";
constexpr const char* kVip6 = "2001:db8:ffff::10";
const MacAddr kSolicitedLb = *parse_mac("33:33:ff:00:00:01");
Pkt c2v6(uint8_t hl = 64) { return Pkt().eth(kClient, kLb).ipv6(kClient6, kVip6, hl); }
Pkt b2s6() { return Pkt().eth(kB1, kLb).ipv6(kB16, kSnat6); }
Pkt s2b6(uint8_t hl = 63) { return Pkt().eth(kLb, kB1).ipv6(kSnat6, kB16, hl); }
Pkt v2c6(uint8_t hl = 63) { return Pkt().eth(kLb, kClient).ipv6(kVip6, kClient6, hl); }

std::vector<Case> cases() {
    const uint16_t kSnatPort = 1024;  // worker 0's first SNAT port
    const uint16_t kSnatPort2 = 1024 + (65536 - 1024) / 2; // worker 1's, with two workers
    const Bytes syn = c2v().tcp(40000, 80, kSyn, 100).bytes();
    const Bytes synack = b2s().tcp(8080, kSnatPort, kSyn | kAck, 500, 101).bytes();
    const Bytes udp_req = c2v().udp(41000, 53).payload("query").bytes();
    const Bytes sctp_init = c2v().sctp(5000, 7, 0, 1).payload("init-params!").bytes();
    const Bytes local_syn = Pkt().eth(kClient, kLb).ipv4(kClientIp, "198.18.0.30").tcp(40000, 80, kSyn, 100).bytes();
    const Bytes udp_to_80 = c2v().udp(40000, 80).payload("0123456789abcdef").bytes();
    const Bytes udp6_to_80 = c2v6().udp(40000, 80).payload("0123456789abcdef").bytes();
    return {
        // ---- ARP and ICMP answered by the appliance itself ----
        {"arp_request_for_interface_address_answered", {},
         Pkt().eth(kClient, kBcast).arp(1, kClient, kClientIp, kZero, kLbIp).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).arp(2, kLb, kLbIp, kClient, kClientIp).bytes()}},
        {"arp_request_for_vip_answered", {},
         Pkt().eth(kClient, kBcast).arp(1, kClient, kClientIp, kZero, kVip).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).arp(2, kLb, kVip, kClient, kClientIp).bytes()}},
        {"arp_request_for_snat_address_answered", {},
         Pkt().eth(kB1, kBcast).arp(1, kB1, kB1Ip, kZero, kSnat).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kB1).arp(2, kLb, kSnat, kB1, kB1Ip).bytes()}},
        {"arp_request_for_foreign_address_dropped", {},
         Pkt().eth(kClient, kBcast).arp(1, kClient, kClientIp, kZero, "198.51.100.99").bytes(), Verdict::kDrop,
         Drop::kArpNotOurs, {}},
        {"arp_reply_goes_to_control_plane", {},
         Pkt().eth(kB1, kLb).arp(2, kB1, kB1Ip, kLb, kLbIp).bytes(), Verdict::kToControl, {}, {}},
        {"arp_truncated_dropped", {},
         Pkt().eth(kClient, kBcast).arp(1, kClient, kClientIp, kZero, kLbIp).truncate(14 + 20).bytes(),
         Verdict::kDrop, Drop::kArpMalformed, {}},
        {"icmp_echo_to_vip_answered", {}, c2v().icmp_echo(true, 7, 1).payload("ping!").bytes(), Verdict::kTx,
         {}, {v2c(64).icmp_echo(false, 7, 1).payload("ping!").bytes()}},
        {"icmp_echo_to_interface_address_answered", {},
         Pkt().eth(kClient, kLb).ipv4(kClientIp, kLbIp).icmp_echo(true, 9, 3).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).ipv4(kLbIp, kClientIp).icmp_echo(false, 9, 3).bytes()}},
        {"icmp_echo_reply_to_vip_dropped", {}, c2v().icmp_echo(false, 7, 1).bytes(), Verdict::kDrop,
         Drop::kIcmpUnhandled, {}},

        // ---- TCP through the VIP: FullNAT both ways ----
        {"tcp_syn_to_vip_is_nat_to_backend", {}, syn, Verdict::kTx, {},
         {s2b().tcp(kSnatPort, 8080, kSyn, 100).bytes()}},
        {"tcp_synack_from_backend_is_reversed_to_client", {syn}, synack, Verdict::kTx, {},
         {v2c().tcp(80, 40000, kSyn | kAck, 500, 101).bytes()}},
        {"tcp_ack_with_payload_on_established_flow", {syn, synack},
         c2v().tcp(40000, 80, kAck | kPsh, 101, 501).payload("GET / HTTP/1.0\r\n\r\n").bytes(), Verdict::kTx, {},
         {s2b().tcp(kSnatPort, 8080, kAck | kPsh, 101, 501).payload("GET / HTTP/1.0\r\n\r\n").bytes()}},
        {"tcp_second_flow_gets_next_snat_port", {syn},
         c2v().tcp(40001, 80, kSyn, 100).bytes(), Verdict::kTx, {},
         {s2b().tcp(kSnatPort + 1, 8080, kSyn, 100).bytes()}},
        {"tcp_syn_retransmit_keeps_flow", {syn}, syn, Verdict::kTx, {},
         {s2b().tcp(kSnatPort, 8080, kSyn, 100).bytes()}},
        {"tcp_ack_without_flow_dropped", {}, c2v().tcp(40000, 80, kAck, 100, 1).bytes(), Verdict::kDrop,
         Drop::kNoFlow, {}},
        {"tcp_reply_without_flow_dropped", {}, synack, Verdict::kDrop, Drop::kNoFlow, {}},
        {"tcp_syn_in_time_wait_is_rescheduled",
         {syn, synack, c2v().tcp(40000, 80, kFin | kAck, 101, 501).bytes(),
          b2s().tcp(8080, kSnatPort, kFin | kAck, 501, 102).bytes()},
         syn, Verdict::kTx, {}, {s2b().tcp(kSnatPort + 1, 8080, kSyn, 100).bytes()}},
        {"tcp_syn_after_one_fin_keeps_flow", {syn, synack, c2v().tcp(40000, 80, kFin | kAck, 101, 501).bytes()},
         syn, Verdict::kTx, {}, {s2b().tcp(kSnatPort, 8080, kSyn, 100).bytes()}},
        {"tcp_syn_after_rst_is_rescheduled", {syn, synack, c2v().tcp(40000, 80, kRst, 101).bytes()},
         syn, Verdict::kTx, {}, {s2b().tcp(kSnatPort + 1, 8080, kSyn, 100).bytes()}},

        // ---- UDP ----
        {"udp_request_to_vip_is_nat_to_backend", {}, udp_req, Verdict::kTx, {},
         {s2b().udp(kSnatPort, 5300).payload("query").bytes()}},
        {"udp_reply_from_backend_is_reversed", {udp_req},
         b2s().udp(5300, kSnatPort).payload("answer").bytes(), Verdict::kTx, {},
         {v2c().udp(53, 41000).payload("answer").bytes()}},
        {"udp_without_checksum_stays_without", {}, c2v().udp(41001, 53).udp_no_checksum().payload("q").bytes(),
         Verdict::kTx, {}, {s2b().udp(kSnatPort, 5300).udp_no_checksum().payload("q").bytes()}},

        // ---- SCTP: FullNAT with the CRC32c recomputed, association state by chunk ----
        {"sctp_init_to_vip_is_nat_with_crc32c", {}, sctp_init, Verdict::kTx, {},
         {s2b().sctp(kSnatPort, 7007, 0, 1).payload("init-params!").bytes()}},
        {"sctp_init_ack_from_backend_is_reversed", {sctp_init},
         b2s().sctp(7007, kSnatPort, 0xabcd, 2).payload("cookie").bytes(), Verdict::kTx, {},
         {v2c().sctp(7, 5000, 0xabcd, 2).payload("cookie").bytes()}},
        {"sctp_data_on_association_forwarded", {sctp_init, b2s().sctp(7007, kSnatPort, 0xabcd, 2).bytes()},
         c2v().sctp(5000, 7, 0x1234, 0).payload("hello sctp").bytes(), Verdict::kTx, {},
         {s2b().sctp(kSnatPort, 7007, 0x1234, 0).payload("hello sctp").bytes()}},
        {"sctp_data_without_association_dropped", {}, c2v().sctp(5000, 7, 0x1234, 0).payload("x").bytes(),
         Verdict::kDrop, Drop::kNoFlow, {}},
        {"sctp_init_after_abort_is_rescheduled", {sctp_init, c2v().sctp(5000, 7, 0x1234, 6).bytes()}, sctp_init,
         Verdict::kTx, {}, {s2b().sctp(kSnatPort + 1, 7007, 0, 1).payload("init-params!").bytes()}},
        {"sctp_init_retransmit_keeps_association", {sctp_init}, sctp_init, Verdict::kTx, {},
         {s2b().sctp(kSnatPort, 7007, 0, 1).payload("init-params!").bytes()}},
        {"sctp_without_chunk_dropped", {}, c2v().sctp(5000, 7, 0, 1).truncate(14 + 20 + 12).ip_total_length(32).bytes(),
         Verdict::kDrop, Drop::kL4Truncated, {}},

        // ---- traffic policy Local: this node's endpoints only, client address kept (DNAT) ----
        {"local_policy_keeps_the_client_address", {}, local_syn, Verdict::kTx, {},
         {Pkt().eth(kLb, kB1).ipv4(kClientIp, kB1Ip, 63).tcp(40000, 8080, kSyn, 100).bytes()}},
        {"local_policy_reply_from_backend_to_client_is_reversed", {local_syn},
         Pkt().eth(kB1, kLb).ipv4(kB1Ip, kClientIp).tcp(8080, 40000, kSyn | kAck, 500, 101).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).ipv4("198.18.0.30", kClientIp, 63).tcp(80, 40000, kSyn | kAck, 500, 101).bytes()}},
        {"local_policy_reply_on_the_wrong_worker_finds_its_flow", {local_syn},
         Pkt().eth(kB1, kLb).ipv4(kB1Ip, kClientIp).tcp(8080, 40000, kSyn | kAck, 500, 101).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).ipv4("198.18.0.30", kClientIp, 63).tcp(80, 40000, kSyn | kAck, 500, 101).bytes()},
         {2, 0}, 1, 0},
        {"local_policy_without_a_local_endpoint_drops", {},
         Pkt().eth(kClient, kLb).ipv4(kClientIp, "198.18.0.31").tcp(40000, 80, kSyn).bytes(), Verdict::kDrop,
         Drop::kNoLocalEndpoints, {}},
        {"packet_to_a_client_without_a_flow_dropped", {},
         Pkt().eth(kB1, kLb).ipv4(kB1Ip, kClientIp).tcp(8080, 40000, kSyn | kAck, 500, 101).bytes(), Verdict::kDrop,
         Drop::kNoService, {}, {2, 0}, 0, 0},

        // ---- packets that match nothing ----
        {"vip_unknown_port_rejected_with_rst", {}, c2v().tcp(40000, 81, kSyn, 100).bytes(), Verdict::kReject,
         Drop::kNoService, {v2c(64).ident(0).tcp(81, 40000, kRst | kAck, 0, 101).window(0).bytes()}},
        {"vip_unknown_protocol_port_rejected_with_icmp", {}, udp_to_80, Verdict::kReject, Drop::kNoService,
         {v2c(64).ident(0).frag(0).icmp_error(3, 3, Bytes(udp_to_80.begin() + 14, udp_to_80.begin() + 14 + 28)).bytes()}},
        {"ipv6_vip_unknown_port_rejected_with_rst", {}, c2v6().tcp(40000, 81, kSyn, 100).bytes(), Verdict::kReject,
         Drop::kNoService, {v2c6(64).tcp(81, 40000, kRst | kAck, 0, 101).window(0).bytes()}},
        {"ipv6_vip_unknown_udp_port_rejected_with_icmpv6", {}, udp6_to_80, Verdict::kReject, Drop::kNoService,
         {v2c6(64).icmp_error(1, 4, Bytes(udp6_to_80.begin() + 14, udp6_to_80.end())).bytes()}},
        {"unallocated_service_cidr_address_dropped", {},
         Pkt().eth(kClient, kLb).ipv4(kClientIp, "198.18.0.99").tcp(40000, 80, kSyn).bytes(), Verdict::kDrop,
         Drop::kUnallocated, {}},
        {"address_outside_everything_dropped", {},
         Pkt().eth(kClient, kLb).ipv4(kClientIp, "203.0.113.5").tcp(40000, 80, kSyn).bytes(), Verdict::kDrop,
         Drop::kNoService, {}},
        {"service_without_endpoints_rejected_with_rst", {},
         Pkt().eth(kClient, kLb).ipv4(kClientIp, kEmptyVip).tcp(40000, 80, kSyn, 100).bytes(), Verdict::kReject,
         Drop::kNoEndpoints,
         {Pkt().eth(kLb, kClient).ipv4(kEmptyVip, kClientIp, 64).ident(0).tcp(80, 40000, kRst | kAck, 0, 101).window(0).bytes()}},
        {"ack_to_service_without_endpoints_rejected_with_rst_at_its_ack", {},
         Pkt().eth(kClient, kLb).ipv4(kClientIp, kEmptyVip).tcp(40000, 80, kAck | kPsh, 5, 77).payload("data").bytes(),
         Verdict::kReject, Drop::kNoEndpoints,
         {Pkt().eth(kLb, kClient).ipv4(kEmptyVip, kClientIp, 64).ident(0).tcp(80, 40000, kRst, 77, 0).window(0).bytes()}},
        {"ttl_1_dropped", {}, Pkt().eth(kClient, kLb).ipv4(kClientIp, kVip, 1).tcp(40000, 80, kSyn).bytes(),
         Verdict::kDrop, Drop::kTtlExceeded, {}},
        {"ttl_1_on_established_flow_dropped", {syn},
         Pkt().eth(kClient, kLb).ipv4(kClientIp, kVip, 1).tcp(40000, 80, kSyn).bytes(), Verdict::kDrop,
         Drop::kTtlExceeded, {}},
        {"ttl_2_forwarded_with_ttl_1", {}, Pkt().eth(kClient, kLb).ipv4(kClientIp, kVip, 2).tcp(40000, 80, kSyn, 100).bytes(),
         Verdict::kTx, {}, {s2b(1).tcp(kSnatPort, 8080, kSyn, 100).bytes()}},
        {"ipv4_fragment_dropped", {}, c2v().frag(0x2000).udp(41000, 53).payload("x").bytes(), Verdict::kDrop,
         Drop::kIpFragment, {}},
        {"foreign_destination_mac_dropped", {}, Pkt().eth(kClient, kOther).ipv4(kClientIp, kVip).tcp(1, 80, kSyn).bytes(),
         Verdict::kDrop, Drop::kNotForUs, {}},
        {"unknown_ethertype_dropped", {}, Pkt().eth(kClient, kLb, 0x88cc).payload("0123456789").bytes(),
         Verdict::kDrop, Drop::kEthUnsupported, {}},

        // ---- IPv6: FullNAT, extension headers, neighbour discovery, ICMPv6 echo ----
        {"ipv6_tcp_syn_to_vip_is_nat_to_backend", {}, c2v6().tcp(40000, 80, kSyn, 100).bytes(), Verdict::kTx, {},
         {s2b6().tcp(kSnatPort, 8080, kSyn, 100).bytes()}},
        {"ipv6_synack_from_backend_is_reversed", {c2v6().tcp(40000, 80, kSyn, 100).bytes()},
         b2s6().tcp(8080, kSnatPort, kSyn | kAck, 500, 101).bytes(), Verdict::kTx, {},
         {v2c6().tcp(80, 40000, kSyn | kAck, 500, 101).bytes()}},
        {"ipv6_udp_request_is_nat_to_backend", {}, c2v6().udp(41000, 53).payload("q6").bytes(), Verdict::kTx, {},
         {s2b6().udp(kSnatPort, 5300).payload("q6").bytes()}},
        {"ipv6_udp_reply_is_reversed", {c2v6().udp(41000, 53).payload("q6").bytes()},
         b2s6().udp(5300, kSnatPort).payload("a6").bytes(), Verdict::kTx, {},
         {v2c6().udp(53, 41000).payload("a6").bytes()}},
        {"ipv6_extension_headers_walked_and_kept", {},
         c2v6().ext(0).ext(60, 2).ext(43, 1, 0).udp(41000, 53).payload("ext").bytes(), Verdict::kTx, {},
         {s2b6().ext(0).ext(60, 2).ext(43, 1, 0).udp(kSnatPort, 5300).payload("ext").bytes()}},
        {"ipv6_routing_header_with_segments_left_dropped", {},
         c2v6().ext(43, 3, 1).udp(41000, 53).bytes(), Verdict::kDrop, Drop::kIpv6ExtHeaders, {}},
        {"ipv6_extension_chain_too_long_dropped", {},
         c2v6().ext(60).ext(60).ext(60).ext(60).ext(60).ext(60).ext(60).ext(60).ext(60).udp(41000, 53).bytes(),
         Verdict::kDrop, Drop::kIpv6ExtHeaders, {}},
        {"ipv6_extension_header_truncated_dropped", {},
         c2v6().ext(60, 4).udp(41000, 53).ip_total_length(16).truncate(14 + 40 + 16).bytes(), Verdict::kDrop,
         Drop::kIpv6ExtHeaders, {}},
        {"ipv6_fragment_dropped", {}, c2v6().ext(44).udp(41000, 53).bytes(), Verdict::kDrop, Drop::kIpFragment, {}},
        {"ipv6_hop_limit_1_dropped", {}, c2v6(1).tcp(40000, 80, kSyn).bytes(), Verdict::kDrop, Drop::kTtlExceeded, {}},
        {"ipv6_header_truncated", {}, c2v6().tcp(40000, 80, kSyn).truncate(14 + 30).bytes(), Verdict::kDrop,
         Drop::kIpTruncated, {}},
        {"ipv6_payload_length_beyond_frame", {}, c2v6().tcp(40000, 80, kSyn).ip_total_length(400).bytes(),
         Verdict::kDrop, Drop::kIpTruncated, {}},
        {"ipv6_unallocated_service_cidr_address_dropped", {},
         Pkt().eth(kClient, kLb).ipv6(kClient6, "2001:db8:ffff::99").tcp(40000, 80, kSyn).bytes(), Verdict::kDrop,
         Drop::kUnallocated, {}},
        {"ipv6_multicast_udp_dropped", {},
         Pkt().eth(kClient, *parse_mac("33:33:00:00:00:01")).ipv6(kClient6, "ff02::1").udp(1, 53).bytes(),
         Verdict::kDrop, Drop::kNotForUs, {}},
        {"ndp_solicitation_for_interface_address_answered", {},
         Pkt().eth(kClient, kSolicitedLb).ipv6(kClient6, "ff02::1:ff00:1", 255).nd(true, kLb6, kClient).bytes(),
         Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).ipv6(kLb6, kClient6, 255).nd(false, kLb6, kLb, 0x60).bytes()}},
        {"ndp_solicitation_for_vip_answered", {},
         Pkt().eth(kClient, kLb).ipv6(kClient6, kVip6, 255).nd(true, kVip6, kClient).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).ipv6(kVip6, kClient6, 255).nd(false, kVip6, kLb, 0x60).bytes()}},
        {"ndp_solicitation_without_option_answered", {},
         Pkt().eth(kClient, kLb).ipv6(kClient6, kSnat6, 255).nd(true, kSnat6, kZero).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).ipv6(kSnat6, kClient6, 255).nd(false, kSnat6, kLb, 0x60).bytes()}},
        {"ndp_solicitation_for_foreign_target_dropped", {},
         Pkt().eth(kClient, kSolicitedLb).ipv6(kClient6, "ff02::1:ff00:99", 255).nd(true, "2001:db8:1::99", kClient).bytes(),
         Verdict::kDrop, Drop::kNdNotOurs, {}},
        {"ndp_solicitation_with_hop_limit_below_255_dropped", {},
         Pkt().eth(kClient, kLb).ipv6(kClient6, kLb6, 64).nd(true, kLb6, kClient).bytes(), Verdict::kDrop,
         Drop::kNdMalformed, {}},
        {"ndp_advertisement_goes_to_control_plane", {},
         Pkt().eth(kB1, kLb).ipv6(kB16, kLb6, 255).nd(false, kB16, kB1, 0x60).bytes(), Verdict::kToControl, {}, {}},
        {"icmpv6_echo_to_vip_answered", {}, c2v6().icmp_echo(true, 7, 1).payload("ping6").bytes(), Verdict::kTx, {},
         {v2c6(64).icmp_echo(false, 7, 1).payload("ping6").bytes()}},
        {"icmpv6_echo_to_foreign_address_dropped", {},
         Pkt().eth(kClient, kLb).ipv6(kClient6, "2001:db8:1::99").icmp_echo(true, 7, 1).bytes(), Verdict::kDrop,
         Drop::kNoService, {}},
        {"icmpv6_echo_to_unallocated_service_address_dropped", {},
         Pkt().eth(kClient, kLb).ipv6(kClient6, "2001:db8:ffff::99").icmp_echo(true, 7, 1).bytes(), Verdict::kDrop,
         Drop::kUnallocated, {}},
        {"icmpv6_unhandled_type_dropped", {},
         Pkt().eth(kClient, kLb).ipv6(kClient6, kVip6).icmp_error(1, 4, Bytes(48, 0)).bytes(), Verdict::kDrop,
         Drop::kIcmpUnhandled, {}},

        // ---- truncated and malformed headers ----
        {"ethernet_truncated", {}, c2v().tcp(1, 80, kSyn).truncate(10).bytes(), Verdict::kDrop,
         Drop::kEthTruncated, {}},
        {"ipv4_header_truncated", {}, c2v().tcp(1, 80, kSyn).truncate(14 + 12).bytes(), Verdict::kDrop,
         Drop::kIpTruncated, {}},
        {"ipv4_total_length_beyond_frame", {}, c2v().tcp(1, 80, kSyn).ip_total_length(1400).bytes(),
         Verdict::kDrop, Drop::kIpTruncated, {}},
        {"ipv4_total_length_below_header", {}, c2v().tcp(1, 80, kSyn).ip_total_length(12).bytes(),
         Verdict::kDrop, Drop::kIpTruncated, {}},
        {"tcp_header_truncated", {}, c2v().tcp(1, 80, kSyn).truncate(14 + 20 + 10).ip_total_length(30).bytes(),
         Verdict::kDrop, Drop::kL4Truncated, {}},
        {"udp_header_truncated", {}, c2v().udp(1, 53).truncate(14 + 20 + 4).ip_total_length(24).bytes(),
         Verdict::kDrop, Drop::kL4Truncated, {}},
        {"icmp_header_truncated", {}, c2v().icmp_echo(true, 1, 1).truncate(14 + 20 + 4).ip_total_length(24).bytes(),
         Verdict::kDrop, Drop::kL4Truncated, {}},
        // ---- 802.1Q: a tagged port keeps the tag on everything it sends ----
        {"vlan_arp_request_answered_with_tag", {},
         Pkt().eth(kClient, kBcast).vlan(100).arp(1, kClient, kClientIp, kZero, kVip).bytes(), Verdict::kTx, {},
         {Pkt().eth(kLb, kClient).vlan(100).arp(2, kLb, kVip, kClient, kClientIp).bytes()}, {1, 100}},
        {"vlan_tcp_syn_nat_keeps_tag", {}, c2v().vlan(100).tcp(40000, 80, kSyn, 100).bytes(), Verdict::kTx, {},
         {s2b().vlan(100).tcp(kSnatPort, 8080, kSyn, 100).bytes()}, {1, 100}},
        {"vlan_reply_reversed_keeps_tag", {c2v().vlan(100).tcp(40000, 80, kSyn, 100).bytes()},
         b2s().vlan(100).tcp(8080, kSnatPort, kSyn | kAck, 500, 101).bytes(), Verdict::kTx, {},
         {v2c().vlan(100).tcp(80, 40000, kSyn | kAck, 500, 101).bytes()}, {1, 100}},
        {"vlan_icmp_echo_answered_with_tag", {}, c2v().vlan(100).icmp_echo(true, 7, 1).bytes(), Verdict::kTx, {},
         {v2c(64).vlan(100).icmp_echo(false, 7, 1).bytes()}, {1, 100}},
        {"vlan_untagged_frame_on_tagged_port_dropped", {}, syn, Verdict::kDrop, Drop::kVlanMismatch, {}, {1, 100}},
        {"vlan_other_vid_dropped", {}, c2v().vlan(200).tcp(40000, 80, kSyn).bytes(), Verdict::kDrop,
         Drop::kVlanMismatch, {}, {1, 100}},
        {"vlan_tagged_frame_on_untagged_port_dropped", {}, c2v().vlan(100).tcp(40000, 80, kSyn).bytes(),
         Verdict::kDrop, Drop::kVlanMismatch, {}},
        {"vlan_truncated_tag_dropped", {}, c2v().vlan(100).tcp(40000, 80, kSyn).truncate(16).bytes(),
         Verdict::kDrop, Drop::kEthTruncated, {}, {1, 100}},

        // ---- several workers: a reply may reach any worker; its SNAT port names the owner ----
        {"reply_on_the_wrong_worker_is_handed_to_the_owner", {syn}, synack, Verdict::kTx, {},
         {v2c().tcp(80, 40000, kSyn | kAck, 500, 101).bytes()}, {2, 0}, 1, 0},
        {"flow_of_worker_1_answered_through_worker_0", {syn},
         b2s().tcp(8080, kSnatPort2, kSyn | kAck, 500, 101).bytes(), Verdict::kTx, {},
         {v2c().tcp(80, 40000, kSyn | kAck, 500, 101).bytes()}, {2, 0}, 0, 1},
        {"reply_for_a_port_below_every_range_dropped", {syn},
         b2s().tcp(8080, 1000, kSyn | kAck, 500, 101).bytes(), Verdict::kDrop, Drop::kNoFlow, {}, {2, 0}, 1, 0},
        {"reply_handed_over_without_a_flow_dropped_by_owner", {},
         synack, Verdict::kDrop, Drop::kNoFlow, {}, {2, 0}, 1, 0},

        {"ip_version_6_in_ipv4_frame_dropped", {},
         [] {
             Bytes b = c2v().tcp(1, 80, kSyn).bytes();
             b[14] = 0x65;
             return b;
         }(),
         Verdict::kDrop, Drop::kIpBadVersion, {}},
    };
}

class GoldenPacket : public ::testing::TestWithParam<size_t> {};

TEST_P(GoldenPacket, Case) {
    static const std::vector<Case> table = cases();
    const Case& c = table[GetParam()];
    RingAppliance a(kConfig, kLb, c.opts);
    for (const auto& s : c.setup) a.send(s, c.setup_queue);
    const auto r = a.send(c.in, c.in_queue);
    switch (c.verdict) {
    case Verdict::kTx:
        EXPECT_TRUE(r.drops.empty()) << "dropped as " << drop_name(r.drops.begin()->first);
        ASSERT_EQ(r.out.size(), c.out.size());
        for (size_t i = 0; i < c.out.size(); i++)
            EXPECT_EQ(hex(r.out[i]), hex(c.out[i])) << "frame " << i;
        break;
    case Verdict::kDrop:
        EXPECT_TRUE(r.out.empty());
        ASSERT_EQ(r.drops.size(), 1u);
        EXPECT_EQ(drop_name(r.drops.begin()->first), drop_name(c.reason));
        EXPECT_EQ(r.drops.begin()->second, 1u);
        break;
    case Verdict::kReject:
        ASSERT_EQ(r.drops.size(), 1u);
        EXPECT_EQ(drop_name(r.drops.begin()->first), drop_name(c.reason));
        ASSERT_EQ(r.out.size(), c.out.size());
        for (size_t i = 0; i < c.out.size(); i++)
            EXPECT_EQ(hex(r.out[i]), hex(c.out[i])) << "frame " << i;
        break;
    case Verdict::kToControl:
        EXPECT_TRUE(r.out.empty());
        EXPECT_TRUE(r.drops.empty());
        EXPECT_EQ(r.to_control, 1u);
        break;
    }
}

TEST(GoldenWorkers, HandOffIsCountedOnce) {
    RingAppliance a(kConfig, kLb, {2, 0});
    a.send(c2v().tcp(40000, 80, kSyn, 100).bytes(), 0);
    const auto r = a.send(b2s().tcp(8080, 1024, kSyn | kAck, 500, 101).bytes(), 1);
    EXPECT_EQ(r.redirected, 1u);
    EXPECT_EQ(r.out.size(), 1u);
    // The owner's flow got the state change: an ACK from the client still maps to it.
    const auto ack = a.send(c2v().tcp(40000, 80, kAck, 101, 501).bytes(), 0);
    EXPECT_EQ(ack.redirected, 0u);
    ASSERT_EQ(ack.out.size(), 1u);
    EXPECT_EQ(a.dp().worker(0).flows().size(), 1u);
    EXPECT_EQ(a.dp().worker(1).flows().size(), 0u);
}

// The exception path: a SYN to an unserved port of the appliance's own address goes to the
// control plane unchanged (as received, for the kernel), at most `rateLimit` a second per
// worker; the rest is dropped and counted. Without an exception path it is dropped (the
// address serves no frontend here, so there is no port to refuse).
TEST(GoldenExceptionPath, PuntsOwnAddressTrafficRateLimited) {
    std::string conf = kConfig;
    conf.replace(conf.find("  flowTableSize = 1024;"), 0, "  exceptionPath = { interface = \"svclb0\"; rateLimit = 3; };\n");
    const Bytes syn = Pkt().eth(kClient, kLb).ipv4(kClientIp, kLbIp).tcp(40000, 179, kSyn, 100).bytes();
    {
    RingAppliance a(conf, kLb);
    uint64_t punted = 0, limited = 0;
    for (int i = 0; i < 6; i++) {
        const auto r = a.send(syn);
        EXPECT_TRUE(r.out.empty()) << "nothing is sent back by the dataplane itself";
        punted += r.to_control;
        if (auto it = r.drops.find(Drop::kExceptionLimited); it != r.drops.end()) limited += it->second;
    }
    EXPECT_EQ(punted, 3u);  // the bucket starts full: one second's worth
    EXPECT_EQ(limited, 3u);
    // The punted frames wait on the worker's ring for the control plane, byte for byte.
    rte_mbuf* m = nullptr;
    ASSERT_EQ(rte_ring_dequeue(a.dp().worker(0).to_cp(), reinterpret_cast<void**>(&m)), 0);
    EXPECT_EQ(pkt_priv(m)->kind, kPrivPunt);
    EXPECT_EQ(Bytes(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_mtod(m, uint8_t*) + rte_pktmbuf_pkt_len(m)), syn);
    rte_pktmbuf_free(m);
    }

    {
    // A rate above the TSC's frequency (one token per cycle at most): no division by zero.
    std::string fast = kConfig;
    fast.replace(fast.find("  flowTableSize = 1024;"), 0,
                 "  exceptionPath = { interface = \"svclb0\"; rateLimit = 4000000000L; };\n");
    RingAppliance a(fast, kLb);
    for (int i = 0; i < 3; i++) EXPECT_EQ(a.send(syn).to_control, 1u);
    }

    RingAppliance plain(kConfig, kLb); // one appliance at a time: names of rings and tables
    const auto r = plain.send(syn);
    EXPECT_EQ(r.to_control, 0u);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.drops.count(Drop::kNoService), 1u);
}

INSTANTIATE_TEST_SUITE_P(Table, GoldenPacket, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& i) { return cases()[i.param].name; });

}  // namespace

SVCLB_EAL_TEST_MAIN()
