// SPDX-License-Identifier: Apache-2.0
// A small packet builder for golden tests: layers are described, then assembled with
// lengths and checksums computed in full (independently of the dataplane's incremental
// updates, so an expected packet checks them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lb/addr.h"

namespace svclb::test {

using Bytes = std::vector<uint8_t>;

inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

class Pkt {
public:
    Pkt& eth(const MacAddr& src, const MacAddr& dst, uint16_t type = 0);
    // An 802.1Q tag (TPID 0x8100, priority 0) between the MACs and the EtherType.
    Pkt& vlan(uint16_t vid);
    Pkt& ipv4(const std::string& src, const std::string& dst, uint8_t ttl = 64);
    Pkt& ipv6(const std::string& src, const std::string& dst, uint8_t hop_limit = 64);
    // An IPv6 extension header (0 hop-by-hop, 60 destination options, 43 routing with
    // `segments_left`, 44 fragment) of `len8` 8-octet units, in order before the L4 header.
    Pkt& ext(uint8_t type, uint8_t len8 = 1, uint8_t segments_left = 0);
    // IPv4 flags/fragment offset word (host order), e.g. 0x2000 = MF.
    Pkt& frag(uint16_t flags_offset);
    Pkt& ident(uint16_t id); // IPv4 identification (default 0x1234)
    Pkt& window(uint16_t w); // TCP window (default 65535)
    // An ICMP (type 3 / ICMPv6 type 1 style) error of `type`/`code` quoting `quoted`.
    Pkt& icmp_error(uint8_t type, uint8_t code, const Bytes& quoted);
    Pkt& tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq = 1000, uint32_t ack = 0);
    Pkt& udp(uint16_t sport, uint16_t dport);
    Pkt& udp_no_checksum();
    Pkt& icmp_echo(bool request, uint16_t id, uint16_t seq); // ICMPv6 echo under ipv6()
    // Neighbour solicitation / advertisement (RFC 4861) for `target`, with a source or
    // target link-layer address option when `ll` is not zero; `na_flags` e.g. 0x60 = S|O.
    Pkt& nd(bool solicitation, const std::string& target, const MacAddr& ll, uint8_t na_flags = 0);
    // An SCTP packet with one chunk of `type` (flags 0) carrying `payload()` as its value;
    // the CRC32c is computed bit by bit here, independently of the dataplane's.
    Pkt& sctp(uint16_t sport, uint16_t dport, uint32_t vtag, uint8_t chunk_type);
    Pkt& arp(uint16_t op, const MacAddr& sha, const std::string& sip, const MacAddr& tha, const std::string& tip);
    Pkt& payload(const std::string& p);
    // Cuts the assembled frame to n bytes (after checksums): a truncated packet.
    Pkt& truncate(size_t n);
    // Overrides the IPv4 total length field (after checksums are computed with it).
    Pkt& ip_total_length(uint16_t len);

    Bytes bytes() const;

private:
    uint8_t l4_proto() const;
    std::vector<uint8_t> l4_bytes() const;
    enum class L4 { kNone, kTcp, kUdp, kIcmp, kArp, kSctp, kNd, kIcmpErr };
    MacAddr src_mac_, dst_mac_;
    uint16_t ethertype_ = 0;
    int vlan_ = -1;
    bool has_ip_ = false;
    bool v6_ = false;
    struct Ext {
        uint8_t type, len8, segleft;
    };
    std::vector<Ext> exts_;
    IpAddr nd_target_;
    MacAddr nd_ll_;
    uint8_t nd_flags_ = 0;
    IpAddr src_, dst_;
    uint8_t ttl_ = 64;
    uint16_t frag_ = 0x4000; // DF
    uint16_t ident_ = 0x1234;
    uint16_t window_ = 65535;
    uint8_t err_type_ = 0, err_code_ = 0;
    L4 l4_ = L4::kNone;
    uint16_t sport_ = 0, dport_ = 0;
    uint8_t flags_ = 0;
    uint32_t seq_ = 0, ack_ = 0;
    uint32_t vtag_ = 0;
    uint8_t chunk_ = 0;
    bool udp_nocsum_ = false;
    bool icmp_request_ = true;
    uint16_t arp_op_ = 1;
    MacAddr sha_, tha_;
    IpAddr sip_, tip_;
    std::string payload_;
    size_t truncate_ = SIZE_MAX;
    int total_len_override_ = -1;
};

std::string hex(const Bytes& b);
// CRC32c (Castagnoli, reflected, bit by bit), for SCTP.
uint32_t crc32c_reference(const uint8_t* p, size_t n);

}  // namespace svclb::test
