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
Pkt& Pkt::ipv6(const std::string& src, const std::string& dst, uint8_t hop_limit) {
    has_ip_ = true;
    v6_ = true;
    src_ = ip_or_throw(src);
    dst_ = ip_or_throw(dst);
    ttl_ = hop_limit;
    return *this;
}
Pkt& Pkt::ext(uint8_t type, uint8_t len8, uint8_t segments_left) {
    exts_.push_back({type, len8, segments_left});
    return *this;
}
Pkt& Pkt::nd(bool solicitation, const std::string& target, const MacAddr& ll, uint8_t na_flags) {
    l4_ = L4::kNd;
    icmp_request_ = solicitation;
    nd_target_ = ip_or_throw(target);
    nd_ll_ = ll;
    nd_flags_ = na_flags;
    return *this;
}
Pkt& Pkt::ident(uint16_t id) {
    ident_ = id;
    return *this;
}
Pkt& Pkt::window(uint16_t w) {
    window_ = w;
    return *this;
}
Pkt& Pkt::icmp_error(uint8_t type, uint8_t code, const Bytes& quoted) {
    l4_ = L4::kIcmpErr;
    err_type_ = type;
    err_code_ = code;
    payload_.assign(quoted.begin(), quoted.end());
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

uint8_t Pkt::l4_proto() const {
    switch (l4_) {
    case L4::kTcp: return 6;
    case L4::kUdp: return 17;
    case L4::kSctp: return 132;
    case L4::kIcmp:
    case L4::kIcmpErr: return v6_ ? 58 : 1;
    case L4::kNd: return 58;
    default: return 59; // IPv6 "no next header"
    }
}

Bytes Pkt::l4_bytes() const {
    Bytes b;
    switch (l4_) {
    case L4::kTcp:
        put16(b, sport_);
        put16(b, dport_);
        put32(b, seq_);
        put32(b, ack_);
        b.push_back(0x50);
        b.push_back(flags_);
        put16(b, window_);
        put16(b, 0); // checksum
        put16(b, 0); // urgent
        break;
    case L4::kUdp:
        put16(b, sport_);
        put16(b, dport_);
        put16(b, uint16_t(8 + payload_.size()));
        put16(b, 0);
        break;
    case L4::kSctp:
        put16(b, sport_);
        put16(b, dport_);
        put32(b, vtag_);
        put32(b, 0);
        b.push_back(chunk_);
        b.push_back(0);
        put16(b, uint16_t(4 + payload_.size()));
        break;
    case L4::kIcmp:
        b.push_back(v6_ ? (icmp_request_ ? 128 : 129) : (icmp_request_ ? 8 : 0));
        b.push_back(0);
        put16(b, 0);
        put16(b, sport_);
        put16(b, dport_);
        break;
    case L4::kIcmpErr:
        b.push_back(err_type_);
        b.push_back(err_code_);
        put16(b, 0);
        put32(b, 0);
        break;
    case L4::kNd:
        b.push_back(icmp_request_ ? 135 : 136);
        b.push_back(0);
        put16(b, 0);
        b.push_back(icmp_request_ ? 0 : nd_flags_);
        b.insert(b.end(), {0, 0, 0});
        b.insert(b.end(), nd_target_.bytes.begin(), nd_target_.bytes.end());
        if (!nd_ll_.is_zero()) {
            b.push_back(icmp_request_ ? 1 : 2);
            b.push_back(1);
            b.insert(b.end(), nd_ll_.b.begin(), nd_ll_.b.end());
        }
        break;
    default: break;
    }
    b.insert(b.end(), payload_.begin(), payload_.end());
    if (l4_ == L4::kSctp)
        while (b.size() % 4) b.push_back(0); // chunks are padded to 4 bytes
    // Checksums, computed in full.
    if (l4_ == L4::kSctp) {
        const uint32_t c = crc32c_reference(b.data(), b.size());
        for (int i = 0; i < 4; i++) b[8 + i] = uint8_t(c >> (8 * i)); // RFC 9260 appendix A
    } else if ((l4_ == L4::kIcmp || l4_ == L4::kIcmpErr) && !v6_) {
        const uint16_t c = csum::finish(csum::partial(b.data(), b.size()));
        std::memcpy(&b[2], &c, 2);
    } else if (l4_ != L4::kNone && !(l4_ == L4::kUdp && udp_nocsum_)) {
        uint32_t sum;
        if (v6_) {
            uint8_t pseudo[40] = {};
            std::memcpy(pseudo, src_.bytes.data(), 16);
            std::memcpy(pseudo + 16, dst_.bytes.data(), 16);
            pseudo[34] = uint8_t(b.size() >> 8);
            pseudo[35] = uint8_t(b.size());
            pseudo[39] = l4_proto();
            sum = csum::partial(pseudo, 40);
        } else {
            uint8_t pseudo[12];
            std::memcpy(pseudo, src_.bytes.data(), 4);
            std::memcpy(pseudo + 4, dst_.bytes.data(), 4);
            pseudo[8] = 0;
            pseudo[9] = l4_proto();
            pseudo[10] = uint8_t(b.size() >> 8);
            pseudo[11] = uint8_t(b.size());
            sum = csum::partial(pseudo, 12);
        }
        uint16_t c = csum::finish(csum::partial(b.data(), b.size(), sum));
        if (l4_ == L4::kUdp && c == 0) c = 0xffff;
        const size_t ck_off = l4_ == L4::kTcp ? 16 : l4_ == L4::kUdp ? 6 : 2;  // ICMPv6: 2
        std::memcpy(&b[ck_off], &c, 2);
    }
    return b;
}

Bytes Pkt::bytes() const {
    Bytes b;
    b.insert(b.end(), dst_mac_.b.begin(), dst_mac_.b.end());
    b.insert(b.end(), src_mac_.b.begin(), src_mac_.b.end());
    uint16_t type = ethertype_;
    if (!type) type = l4_ == L4::kArp ? 0x0806 : v6_ ? 0x86dd : 0x0800;
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
    } else if (has_ip_ && v6_) {
        const size_t ip_off = b.size();
        put32(b, 6u << 28);
        put16(b, 0); // payload length, below
        b.push_back(exts_.empty() ? l4_proto() : exts_[0].type);
        b.push_back(ttl_);
        b.insert(b.end(), src_.bytes.begin(), src_.bytes.end());
        b.insert(b.end(), dst_.bytes.begin(), dst_.bytes.end());
        for (size_t i = 0; i < exts_.size(); i++) {
            const Ext& e = exts_[i];
            const uint8_t next = i + 1 < exts_.size() ? exts_[i + 1].type : l4_proto();
            const size_t start = b.size();
            b.push_back(next);
            if (e.type == 44) { // fragment header: fixed 8 bytes, offset 0, more fragments
                b.insert(b.end(), {0, 0, 1, 0, 0, 0, 1});
                continue;
            }
            b.push_back(uint8_t(e.len8 - 1));
            if (e.type == 43) { // routing header type 4 (segment routing), segments left
                b.push_back(4);
                b.push_back(e.segleft);
            }
            // PadN option (RFC 8200 section 4.2) filling the rest of the header.
            const size_t total = size_t(e.len8) * 8, used = b.size() - start;
            if (total - used >= 2) {
                b.push_back(1);
                b.push_back(uint8_t(total - used - 2));
            }
            while (b.size() - start < total) b.push_back(0);
        }
        const Bytes l4 = l4_bytes();
        b.insert(b.end(), l4.begin(), l4.end());
        set16(b, ip_off + 4, uint16_t(b.size() - ip_off - 40));
        if (total_len_override_ >= 0) set16(b, ip_off + 4, uint16_t(total_len_override_));
    } else if (has_ip_) {
        const size_t ip_off = b.size();
        b.insert(b.end(), {0x45, 0, 0, 0});
        put16(b, ident_);
        put16(b, frag_);
        b.push_back(ttl_);
        b.push_back(l4_proto() == 59 ? 1 : l4_proto());
        put16(b, 0);
        put_ip4(b, src_);
        put_ip4(b, dst_);
        const Bytes l4 = l4_bytes();
        b.insert(b.end(), l4.begin(), l4.end());
        set16(b, ip_off + 2, uint16_t(b.size() - ip_off));
        const uint16_t ipck = csum::finish(csum::partial(&b[ip_off], 20));
        std::memcpy(&b[ip_off + 10], &ipck, 2);
        if (total_len_override_ >= 0) set16(b, ip_off + 2, uint16_t(total_len_override_));
    } else {
        b.insert(b.end(), payload_.begin(), payload_.end());
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
