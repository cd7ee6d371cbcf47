// SPDX-License-Identifier: Apache-2.0
// Bounds-checked header access and the IPv4 L4 rewrite used by FullNAT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "lb/checksum.h"

namespace svclb {

// Runs on: any lcore. The header at byte offset `off`, or nullptr when the first segment
// is too short to hold it.
template <typename Hdr>
inline Hdr* header_at(rte_mbuf* m, uint32_t off) noexcept {
    if (unlikely(off + sizeof(Hdr) > rte_pktmbuf_data_len(m))) return nullptr;
    return rte_pktmbuf_mtod_offset(m, Hdr*, off);
}

// The field-by-field reference rewrite: an IPv4 packet's addresses and L4 ports, TTL
// decremented, IPv4 and TCP/UDP checksums updated incrementally (RFC 1624 eqn. 3), one
// field at a time. All arguments in network byte order; `l4` points at the TCP or UDP
// header; TTL > 1. The worker applies per-flow precomputed terms instead (nat_apply4,
// below); tests/unit/checksum_test.cpp pins the two equal on random packets.
inline void nat_rewrite4(rte_ipv4_hdr* ip, uint8_t* l4, uint8_t proto, uint32_t src, uint32_t dst,
                         uint16_t sport, uint16_t dport) noexcept {
    const uint32_t osrc = ip->src_addr, odst = ip->dst_addr;
    // IP header: addresses and the (TTL, protocol) word.
    uint16_t ttl_word_old, ttl_word_new;
    std::memcpy(&ttl_word_old, &ip->time_to_live, 2);
    ip->time_to_live--;
    std::memcpy(&ttl_word_new, &ip->time_to_live, 2);
    uint16_t ck = ip->hdr_checksum;
    ck = csum::update32(ck, osrc, src);
    ck = csum::update32(ck, odst, dst);
    ck = csum::update16(ck, ttl_word_old, ttl_word_new);
    ip->hdr_checksum = ck;
    ip->src_addr = src;
    ip->dst_addr = dst;

    if (proto == IPPROTO_SCTP) { // no pseudo-header: the caller recomputes the CRC32c
        std::memcpy(l4, &sport, 2);
        std::memcpy(l4 + 2, &dport, 2);
        return;
    }
    // L4: pseudo-header addresses and the ports.
    uint8_t* ckp = l4 + (proto == IPPROTO_TCP ? offsetof(rte_tcp_hdr, cksum)
                                              : offsetof(rte_udp_hdr, dgram_cksum));
    uint16_t c, osport, odport;
    std::memcpy(&c, ckp, 2);
    std::memcpy(&osport, l4, 2);
    std::memcpy(&odport, l4 + 2, 2);
    std::memcpy(l4, &sport, 2);
    std::memcpy(l4 + 2, &dport, 2);
    if (proto == IPPROTO_UDP && c == 0) return; // UDP without checksum stays without
    c = csum::update32(c, osrc, src);
    c = csum::update32(c, odst, dst);
    c = csum::update16(c, osport, sport);
    c = csum::update16(c, odport, dport);
    if (proto == IPPROTO_UDP && c == 0) c = 0xffff; // RFC 768: 0 means "no checksum"
    std::memcpy(ckp, &c, 2);
}

// The IPv6 counterpart of nat_rewrite4 (the reference for nat_apply6): addresses (16 bytes each),
// ports, hop limit; the TCP/UDP checksum covers the addresses through the pseudo-header
// (RFC 8200 section 8.1), so it is updated for all four fields. IPv6 has no header
// checksum. SCTP ports are set; its CRC is the caller's.
inline void nat_rewrite6(rte_ipv6_hdr* ip, uint8_t* l4, uint8_t proto, const uint8_t* src, const uint8_t* dst,
                         uint16_t sport, uint16_t dport) noexcept {
    ip->hop_limits--;
    uint16_t osport, odport;
    std::memcpy(&osport, l4, 2);
    std::memcpy(&odport, l4 + 2, 2);
    std::memcpy(l4, &sport, 2);
    std::memcpy(l4 + 2, &dport, 2);
    if (proto != IPPROTO_SCTP) {
        uint8_t* ckp = l4 + (proto == IPPROTO_TCP ? offsetof(rte_tcp_hdr, cksum) : offsetof(rte_udp_hdr, dgram_cksum));
        uint16_t c;
        std::memcpy(&c, ckp, 2);
        c = csum::update128(c, ip->src_addr, src);
        c = csum::update128(c, ip->dst_addr, dst);
        c = csum::update16(c, osport, sport);
        c = csum::update16(c, odport, dport);
        if (proto == IPPROTO_UDP && c == 0) c = 0xffff;
        std::memcpy(ckp, &c, 2);
    }
    std::memcpy(ip->src_addr, src, 16);
    std::memcpy(ip->dst_addr, dst, 16);
}

// ---- Per-flow precomputed checksum deltas --------------------------------------------
// A flow rewrites the same fields from the same old values to the same new values on
// every packet of a direction (the old values are the flow key it matched). So the RFC
// 1624 eqn. 3 term sum(~m + m') over all changed words is a per-direction constant,
// computed once when the flow is created; per packet the update is one fold.

// Sum of (~old + new) over the 16-bit words of two equally long fields.
inline uint32_t csum_diff(const void* oldp, const void* newp, size_t len) noexcept {
    const uint8_t* o = static_cast<const uint8_t*>(oldp);
    const uint8_t* n = static_cast<const uint8_t*>(newp);
    uint32_t s = 0;
    for (size_t i = 0; i < len; i += 2) {
        uint16_t a, b;
        std::memcpy(&a, o + i, 2);
        std::memcpy(&b, n + i, 2);
        s += uint16_t(~a) + uint32_t(b);
    }
    return s;
}
// The term for "TTL / hop limit minus one": the (TTL, protocol) word drops by the word
// whose first byte is 1, so ~m + m' = ~that word (byte-order independent).
inline uint16_t csum_ttl_dec() noexcept {
    const uint8_t one[2] = {1, 0};
    uint16_t w;
    std::memcpy(&w, one, 2);
    return uint16_t(~w);
}
// RFC 1624 eqn. 3 with a precomputed term: HC' = ~(~HC + delta).
inline uint16_t csum_apply(uint16_t check, uint16_t delta) noexcept {
    return uint16_t(~csum::fold(uint32_t(uint16_t(~check)) + delta));
}

// What one direction of a flow rewrites to, and the checksum terms for it.
struct NatDelta {
    uint16_t ip = 0; // IPv4 header checksum term (addresses and TTL); unused for IPv6
    uint16_t l4 = 0; // TCP/UDP checksum term (pseudo-header addresses and ports)
};

// The L4 half of nat_apply4/6: ports, and the TCP/UDP checksum with the flow's term. A
// UDP checksum of 0 ("none") stays 0; a computed 0 is sent as 0xffff (RFC 768). SCTP's
// CRC is recomputed by the caller.
inline void nat_apply_l4(uint8_t* l4, uint8_t proto, uint16_t sport, uint16_t dport, uint16_t delta) noexcept {
    std::memcpy(l4, &sport, 2);
    std::memcpy(l4 + 2, &dport, 2);
    if (proto == IPPROTO_SCTP) return;
    uint8_t* ckp = l4 + (proto == IPPROTO_TCP ? offsetof(rte_tcp_hdr, cksum) : offsetof(rte_udp_hdr, dgram_cksum));
    uint16_t c;
    std::memcpy(&c, ckp, 2);
    if (proto == IPPROTO_UDP && c == 0) return;
    c = csum_apply(c, delta);
    if (proto == IPPROTO_UDP && c == 0) c = 0xffff;
    std::memcpy(ckp, &c, 2);
}

// Runs on: worker lcore, at flow creation. Addresses of `alen` bytes (4 or 16) and ports
// in network order, as in the packet.
inline NatDelta nat_delta(const void* osrc, const void* odst, uint16_t osport, uint16_t odport, const void* nsrc,
                          const void* ndst, uint16_t nsport, uint16_t ndport, size_t alen) noexcept {
    const uint32_t addrs = csum_diff(osrc, nsrc, alen) + csum_diff(odst, ndst, alen);
    NatDelta d;
    d.ip = csum::fold(addrs + csum_ttl_dec());
    d.l4 = csum::fold(addrs + csum_diff(&osport, &nsport, 2) + csum_diff(&odport, &ndport, 2));
    return d;
}

// Runs on: worker lcore. nat_rewrite4 with the flow's precomputed terms: same result,
// a handful of instructions instead of a dozen RFC 1624 updates.
inline void nat_apply4(rte_ipv4_hdr* ip, uint8_t* l4, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport,
                       uint16_t dport, NatDelta d) noexcept {
    ip->time_to_live--;
    ip->hdr_checksum = csum_apply(ip->hdr_checksum, d.ip);
    ip->src_addr = src;
    ip->dst_addr = dst;
    nat_apply_l4(l4, proto, sport, dport, d.l4);
}

inline void nat_apply6(rte_ipv6_hdr* ip, uint8_t* l4, uint8_t proto, const uint8_t* src, const uint8_t* dst,
                       uint16_t sport, uint16_t dport, NatDelta d) noexcept {
    ip->hop_limits--;
    std::memcpy(ip->src_addr, src, 16);
    std::memcpy(ip->dst_addr, dst, 16);
    nat_apply_l4(l4, proto, sport, dport, d.l4);
}

// The ICMPv6 checksum of `len` bytes at `icmp` (checksum field zero) under `ip6`'s
// pseudo-header (RFC 4443 section 2.3), for messages svclb builds.
inline uint16_t icmp6_checksum(const rte_ipv6_hdr* ip6, const uint8_t* icmp, uint32_t len) noexcept {
    uint32_t sum = csum::partial(ip6->src_addr, 32); // source and destination, contiguous
    const uint16_t len_next[4] = {rte_cpu_to_be_16(uint16_t(len >> 16)), rte_cpu_to_be_16(uint16_t(len)), 0,
                                  RTE_BE16(IPPROTO_ICMPV6)};
    sum = csum::partial(len_next, sizeof len_next, sum);
    return csum::finish(csum::partial(icmp, len, sum));
}

// SCTP's checksum (RFC 9260 appendix A): CRC32c over the whole SCTP packet with the
// checksum field zero, stored in the byte order the reflected algorithm produces (the
// little-endian image of the inverted CRC). rte_hash_crc computes CRC32c.
inline uint32_t sctp_crc32c(const uint8_t* sctp, uint32_t len) noexcept {
    // rte_hash_crc reads 64-bit words: bring the pointer to an 8-byte boundary first.
    uint32_t crc = 0xffffffffu;
    while (len && (reinterpret_cast<uintptr_t>(sctp) & 7)) {
        crc = rte_hash_crc_1byte(*sctp++, crc);
        len--;
    }
    return ~rte_hash_crc(sctp, len, crc);
}
inline void sctp_set_checksum(uint8_t* sctp, uint32_t len) noexcept {
    std::memset(sctp + 8, 0, 4);
    const uint32_t le = rte_cpu_to_le_32(sctp_crc32c(sctp, len));
    std::memcpy(sctp + 8, &le, 4);
}

}  // namespace svclb
