// SPDX-License-Identifier: Apache-2.0
#include "tests/golden/pkt.h"

#include <cstdio>
#include <stdexcept>

#include "lb/checksum.h"

namespace svclb::test {

static IpAddr ip_or_throw(const std::string& s) {
    auto a = parse_ip(s);
    if (!a) throw std::invalid_argument("bad IP " + s);
    return *a;
}

Pkt& Pkt::eth(const MacAddr& src, const MacAddr& dst, uint16_t type) {
    src_mac_ = src;
    dst_mac_ = dst;
    ethertype_ = type;
    return *this;
}
Pkt& Pkt::vlan(uint16_t vid) {
    vlan_ = vid;
    return *this;
}
Pkt& Pkt::ipv4(const std::string& src, const std::string& dst, uint8_t ttl) {
    has_ip_ = true;
    src_ = ip_or_throw(src);
    dst_ = ip_or_throw(dst);
    ttl_ = ttl;
    return *this;
}
Pkt& Pkt::frag(uint16_t f) {
    frag_ = f;
    return *this;
}
Pkt& Pkt::tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack) {
    l4_ = L4::kTcp;
    sport_ = sport;
    dport_ = dport;
    flags_ = flags;
    seq_ = seq;
    ack_ = ack;
    return *this;
}
Pkt& Pkt::udp(uint16_t sport, uint16_t dport) {
    l4_ = L4::kUdp;
    sport_ = sport;
    dport_ = dport;
    return *this;
}
Pkt& Pkt::udp_no_checksum() {
    udp_nocsum_ = true;
    return *this;
}
Pkt& Pkt::icmp_echo(bool request, uint16_t id, uint16_t seq) {
    l4_ = L4::kIcmp;
    icmp_request_ = request;
    sport_ = id;
    dport_ = seq;
    return *this;
}
Pkt& Pkt::sctp(uint16_t sport, uint16_t dport, uint32_t vtag, uint8_t chunk_type) {
    l4_ = L4::kSctp;
    sport_ = sport;
    dport_ = dport;
    vtag_ = vtag;
    chunk_ = chunk_type;
    return *this;
}
Pkt& Pkt::arp(uint16_t op, const MacAddr& sha, const std::string& sip, const MacAddr& tha,
              const std::string& tip) {
    l4_ = L4::kArp;
    arp_op_ = op;
    sha_ = sha;
    sip_ = ip_or_throw(sip);
    tha_ = tha;
    tip_ = ip_or_throw(tip);
    return *this;
}
Pkt& Pkt::payload(const std::string& p) {
    payload_ = p;
    return *this;
}
Pkt& Pkt::truncate(size_t n) {
    truncate_ = n;
    return *this;
}
Pkt& Pkt::ip_total_length(uint16_t len) {
    total_len_override_ = len;
    return *this;
}

static void put16(Bytes& b, uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}
static void put32(Bytes& b, uint32_t v) {
    put16(b, uint16_t(v >> 16));
    put16(b, uint16_t(v));
}
static void set16(Bytes& b, size_t off, uint16_t v) {
    b[off] = uint8_t(v >> 8);
    b[off + 1] = uint8_t(v);
}
static void put_ip4(Bytes& b, const IpAddr& a) { b.insert(b.end(), a.bytes.begin(), a.bytes.begin() + 4); }

Bytes Pkt::bytes() const {
    Bytes b;
    b.insert(b.end(), dst_mac_.b.begin(), dst_mac_.b.end());
    b.insert(b.end(), src_mac_.b.begin(), src_mac_.b.end());
    uint16_t type = ethertype_;
    if (!type) type = l4_ == L4::kArp ? 0x0806 : 0x0800;
    if (vlan_ >= 0) {
        put16(b, 0x8100);
        put16(b, uint16_t(vlan_));
    }
    put16(b, type);
    if (l4_ == L4::kArp) {
        put16(b, 1);
        put16(b, 0x0800);
        b.push_back(6);
        b.push_back(4);
        put16(b, arp_op_);
        b.insert(b.end(), sha_.b.begin(), sha_.b.end());
        put_ip4(b, sip_);
        b.insert(b.end(), tha_.b.begin(), tha_.b.end());
        put_ip4(b, tip_);
    } else if (has_ip_) {
        const size_t ip_off = b.size();
        b.insert(b.end(), {0x45, 0, 0, 0, 0x12, 0x34});
        put16(b, frag_);
        b.push_back(ttl_);
        b.push_back(l4_ == L4::kTcp ? 6 : l4_ == L4::kUdp ? 17 : l4_ == L4::kSctp ? 132 : 1);
        put16(b, 0);
        put_ip4(b, src_);
        put_ip4(b, dst_);
        const size_t l4_off = b.size();
        if (l4_ == L4::kTcp) {
            put16(b, sport_);
            put16(b, dport_);
            put32(b, seq_);
            put32(b, ack_);
            b.push_back(0x50);
            b.push_back(flags_);
            put16(b, 65535);
            put16(b, 0); // checksum
            put16(b, 0); // urgent
        } else if (l4_ == L4::kUdp) {
            put16(b, sport_);
            put16(b, dport_);
            put16(b, uint16_t(8 + payload_.size()));
            put16(b, 0);
        } else if (l4_ == L4::kSctp) {
            put16(b, sport_);
            put16(b, dport_);
            put32(b, vtag_);
            put32(b, 0); // checksum, below
            b.push_back(chunk_);
            b.push_back(0);
            put16(b, uint16_t(4 + payload_.size()));
        } else if (l4_ == L4::kIcmp) {
            b.push_back(icmp_request_ ? 8 : 0);
            b.push_back(0);
            put16(b, 0);
            put16(b, sport_);
            put16(b, dport_);
        }
        b.insert(b.end(), payload_.begin(), payload_.end());
        if (l4_ == L4::kSctp)
            while ((b.size() - l4_off) % 4) b.push_back(0); // chunks are padded to 4 bytes
        const size_t l4_len = b.size() - l4_off;
        set16(b, ip_off + 2, uint16_t(b.size() - ip_off));
        set16(b, ip_off + 10, 0);
        const uint16_t ipck = csum::finish(csum::partial(&b[ip_off], 20));
        std::memcpy(&b[ip_off + 10], &ipck, 2);
        if (l4_ == L4::kSctp) {
            const uint32_t c = crc32c_reference(&b[l4_off], l4_len);
            for (int i = 0; i < 4; i++) b[l4_off + 8 + i] = uint8_t(c >> (8 * i)); // RFC 9260 appendix A
        } else if (l4_ == L4::kIcmp) {
            const uint16_t c = csum::finish(csum::partial(&b[l4_off], l4_len));
            std::memcpy(&b[l4_off + 2], &c, 2);
        } else if (l4_ != L4::kNone && !(l4_ == L4::kUdp && udp_nocsum_)) {
            uint8_t pseudo[12];
            std::memcpy(pseudo, src_.bytes.data(), 4);
            std::memcpy(pseudo + 4, dst_.bytes.data(), 4);
            pseudo[8] = 0;
            pseudo[9] = l4_ == L4::kTcp ? 6 : 17;
            pseudo[10] = uint8_t(l4_len >> 8);
            pseudo[11] = uint8_t(l4_len);
            uint16_t c = csum::finish(csum::partial(&b[l4_off], l4_len, csum::partial(pseudo, 12)));
            if (l4_ == L4::kUdp && c == 0) c = 0xffff;
            const size_t ck_off = l4_off + (l4_ == L4::kTcp ? 16 : 6);
            std::memcpy(&b[ck_off], &c, 2);
        }
        if (total_len_override_ >= 0) set16(b, ip_off + 2, uint16_t(total_len_override_));
    }
    if (truncate_ < b.size()) b.resize(truncate_);
    return b;
}

uint32_t crc32c_reference(const uint8_t* p, size_t n) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
    }
    return ~crc;
}

std::string hex(const Bytes& b) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < b.size(); i++) {
        std::snprintf(buf, sizeof buf, "%02x", b[i]);
        s += buf;
        if (i % 2 == 1) s += ' ';
    }
    return s;
}

}  // namespace svclb::test
