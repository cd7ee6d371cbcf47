// SPDX-License-Identifier: Apache-2.0
// Named drop reasons and per-lcore counters. Each counter has exactly one writer (its
// lcore); the control plane sums them with relaxed loads. No locked instruction per packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include <rte_common.h>

namespace svclb {

#define SVCLB_DROPS(X)                                                                      \
    X(kEthTruncated, "eth_truncated", "frame shorter than an Ethernet header")              \
    X(kEthUnsupported, "eth_unsupported", "EtherType not handled")                          \
    X(kNotForUs, "not_for_us", "destination MAC is neither ours nor broadcast")             \
    X(kVlanMismatch, "vlan_mismatch", "802.1Q tag missing, unexpected or of another VLAN")   \
    X(kArpMalformed, "arp_malformed", "ARP packet truncated or not Ethernet/IPv4")          \
    X(kArpNotOurs, "arp_not_ours", "ARP request for an address svclb does not own")         \
    X(kNdNotOurs, "nd_not_ours", "neighbour solicitation for an address svclb does not own") \
    X(kNdMalformed, "nd_malformed", "neighbour discovery message truncated or invalid")      \
    X(kIpTruncated, "ip_truncated", "IPv4 header truncated or invalid length")              \
    X(kIpBadVersion, "ip_bad_version", "IP version field does not match the EtherType")     \
    X(kIpFragment, "ip_fragment", "IP fragments are not reassembled")                        \
    X(kIpv6ExtHeaders, "ipv6_ext_headers", "IPv6 extension header chain too long, truncated or routed") \
    X(kTtlExceeded, "ttl_exceeded", "TTL or hop limit would reach 0")                       \
    X(kL4Truncated, "l4_truncated", "TCP/UDP/ICMP header truncated")                        \
    X(kProtoUnsupported, "proto_unsupported", "IP protocol not served")                     \
    X(kNoService, "no_service", "no service for address/protocol/port")                     \
    X(kUnallocated, "unallocated", "service-CIDR address that no service owns")             \
    X(kNoEndpoints, "no_endpoints", "service has no usable endpoints")                      \
    X(kSourceRange, "source_range", "client outside loadBalancerSourceRanges")              \
    X(kNoLocalEndpoints, "no_local_endpoints", "traffic policy Local: no endpoint on this node") \
    X(kNoFlow, "no_flow", "TCP non-SYN packet without a flow")                              \
    X(kFlowTableFull, "flow_table_full", "flow table full: new connection refused")          \
    X(kNoSnatPort, "no_snat_port", "no free SNAT port for the backend")                     \
    X(kNoRoute, "no_route", "no route to the next hop")                                     \
    X(kNeighQueueFull, "neigh_queue_full", "queue of packets awaiting ARP is full")         \
    X(kNeighUnresolved, "neigh_unresolved", "next hop did not answer ARP")                  \
    X(kIcmpUnhandled, "icmp_unhandled", "ICMP message svclb does not answer or translate")  \
    X(kIcmpMalformed, "icmp_malformed", "ICMP echo with a bad length")                      \
    X(kTxFull, "tx_full", "transmit queue full")                                            \
    X(kRedirectFull, "redirect_full", "hand-off ring to the owning worker full")            \
    X(kNoMbuf, "no_mbuf", "no mbuf for a generated reply")                                  \
    X(kExceptionFull, "exception_full", "ring to the control plane full")                   \
    X(kExceptionLimited, "exception_limited", "over the exception path's rate limit (per worker)")

enum class Drop : uint16_t {
#define SVCLB_X(id, name, desc) id,
    SVCLB_DROPS(SVCLB_X)
#undef SVCLB_X
        kCount
};
inline constexpr size_t kNumDrops = size_t(Drop::kCount);

inline constexpr std::string_view drop_name(Drop d) {
    constexpr std::string_view names[] = {
#define SVCLB_X(id, name, desc) name,
        SVCLB_DROPS(SVCLB_X)
#undef SVCLB_X
    };
    return names[size_t(d)];
}
inline constexpr std::string_view drop_desc(Drop d) {
    constexpr std::string_view descs[] = {
#define SVCLB_X(id, name, desc) desc,
        SVCLB_DROPS(SVCLB_X)
#undef SVCLB_X
    };
    return descs[size_t(d)];
}

#define SVCLB_EVENTS(X)                                                           \
    X(kRx, "rx", "packets received")                                              \
    X(kTx, "tx", "packets transmitted")                                           \
    X(kFwdNew, "flows_created", "new flows scheduled to a backend")               \
    X(kFwdEstablished, "fwd_packets", "client-to-backend packets translated")     \
    X(kRevPackets, "rev_packets", "backend-to-client packets translated")         \
    X(kFlowsExpired, "flows_expired", "flows removed by aging")                   \
    X(kFlowsRescheduled, "flows_rescheduled", "flows moved off a departed backend") \
    X(kFlowsFlushed, "flows_flushed", "UDP flows of a departed backend removed on publish") \
    X(kArpReplies, "arp_replies", "ARP replies sent for owned addresses")         \
    X(kNdAdverts, "nd_adverts", "neighbour advertisements sent for owned addresses") \
    X(kIcmpEchoReplies, "icmp_echo_replies", "ICMP echo replies sent")            \
    X(kToControl, "to_control", "packets handed to the control plane")            \
    X(kPunted, "punted", "packets for the appliance's own addresses sent to the kernel (exception path)") \
    X(kRedirected, "redirected", "packets handed to their owning worker")         \
    X(kAffinityHits, "affinity_hits", "new connections sent to their client's affinity backend") \
    X(kAffinityFull, "affinity_full", "affinity table full: connection balanced without an entry") \
    X(kRejectsSent, "rejects_sent", "TCP RST / ICMP port unreachable sent for refused packets") \
    X(kRejectsLimited, "rejects_limited", "refused packets dropped silently over the reply rate limit") \
    X(kIdleSleeps, "idle_sleeps", "idle back-off sleeps")

enum class Ev : uint16_t {
#define SVCLB_X(id, name, desc) id,
    SVCLB_EVENTS(SVCLB_X)
#undef SVCLB_X
        kCount
};
inline constexpr size_t kNumEvents = size_t(Ev::kCount);
inline constexpr std::string_view event_name(Ev e) {
    constexpr std::string_view names[] = {
#define SVCLB_X(id, name, desc) name,
        SVCLB_EVENTS(SVCLB_X)
#undef SVCLB_X
    };
    return names[size_t(e)];
}

// One writer (the owning lcore), many relaxed readers (the control plane).
struct alignas(RTE_CACHE_LINE_SIZE) LcoreCounters {
    std::atomic<uint64_t> drops[kNumDrops]{};
    std::atomic<uint64_t> events[kNumEvents]{};

    // Runs on: the owning lcore only.
    void drop(Drop d, uint64_t n = 1) noexcept { bump(drops[size_t(d)], n); }
    void ev(Ev e, uint64_t n = 1) noexcept { bump(events[size_t(e)], n); }

private:
    static void bump(std::atomic<uint64_t>& c, uint64_t n) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
};

}  // namespace svclb
