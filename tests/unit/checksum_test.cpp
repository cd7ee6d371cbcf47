// SPDX-License-Identifier: Apache-2.0
// Incremental checksum helpers (lb/checksum.h, RFC 1624 eqn. 3) and the FullNAT rewrite
// (lb/packet.h nat_rewrite4), each checked against a full recomputation on random headers
// (STYLE.md section 9). Plain byte buffers: no mbuf, no EAL.
#include <gtest/gtest.h>

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "lb/checksum.h"
#include "lb/packet.h"

namespace svclb {
namespace {

constexpr int kIterations = 10000;

uint16_t rd16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
void wr16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
uint32_t rd32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
void wr32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
uint16_t be16(uint16_t host) { return uint16_t((host >> 8) | (host << 8)); }

// One's-complement sum of the IPv4 pseudo-header (RFC 793 section 3.1, RFC 768).
uint32_t pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len) {
    uint8_t ph[12] = {};
    wr32(ph, src);
    wr32(ph + 4, dst);
    ph[9] = proto;
    wr16(ph + 10, be16(l4_len));
    return csum::partial(ph, sizeof ph);
}

// Same for IPv6 (RFC 8200 section 8.1).
uint32_t pseudo6(const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t l4_len) {
    uint8_t ph[40] = {};
    std::memcpy(ph, src, 16);
    std::memcpy(ph + 16, dst, 16);
    const uint32_t len_be = __builtin_bswap32(l4_len);
    std::memcpy(ph + 32, &len_be, 4);
    ph[39] = proto;
    return csum::partial(ph, sizeof ph);
}

// Full checksum of a buffer whose checksum field at `ck_off` is treated as zero.
uint16_t full(const uint8_t* buf, size_t len, size_t ck_off, uint32_t init = 0) {
    std::vector<uint8_t> tmp(buf, buf + len);
    wr16(tmp.data() + ck_off, 0);
    return csum::finish(csum::partial(tmp.data(), len, init));
}

// ---- partial / finish: the oracle every other test relies on ------------------------------

// RFC 1071 written the textbook way: big-endian 16-bit words, an odd last byte padded with
// a zero byte on the right, end-around carry. Returns the checksum in host order.
uint16_t reference_checksum(const uint8_t* p, size_t n) {
    uint64_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

TEST(ChecksumFull, Rfc1071ExampleSum) {
    // RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(be16(csum::fold(csum::partial(b, sizeof b))), 0xddf2);
    EXPECT_EQ(be16(csum::finish(csum::partial(b, sizeof b))), 0x220d);
}

TEST(ChecksumFull, PartialMatchesTextbookReferenceIncludingOddLengths) {
    std::mt19937 rng(1071);
    std::vector<uint8_t> buf(2000);
    for (int i = 0; i < kIterations; i++) {
        const size_t n = rng() % buf.size();
        for (size_t k = 0; k < n; k++) buf[k] = uint8_t(rng());
        if (i % 16 == 0) std::fill(buf.begin(), buf.begin() + ptrdiff_t(n), 0xff); // carries
        // Split at a random even offset: the initial-sum argument chains partial sums.
        const size_t cut = 2 * (rng() % (n / 2 + 1));
        const uint32_t s = csum::partial(buf.data() + cut, n - cut, csum::partial(buf.data(), cut));
        ASSERT_EQ(be16(csum::finish(s)), reference_checksum(buf.data(), n))
            << "length " << n << " cut " << cut;
    }
}

// ---- IPv4 header ------------------------------------------------------------------------------

struct Ip4 {
    std::array<uint8_t, 60> b{};
    size_t len = 20;
};

Ip4 random_ip4(std::mt19937& rng) {
    Ip4 h;
    const unsigned ihl = 5 + rng() % 11; // options included: 20..60 bytes
    h.len = ihl * 4;
    for (size_t i = 0; i < h.len; i++) h.b[i] = uint8_t(rng());
    h.b[0] = uint8_t(0x40 | ihl);
    wr16(h.b.data() + 10, 0);
    wr16(h.b.data() + 10, full(h.b.data(), h.len, 10));
    return h;
}

TEST(ChecksumIpv4, RandomHeadersHaveValidFullChecksum) {
    std::mt19937 rng(1);
    for (int i = 0; i < 1000; i++) {
        const Ip4 h = random_ip4(rng);
        // A receiver's check: the sum over the header including its checksum is -0.
        ASSERT_EQ(csum::fold(csum::partial(h.b.data(), h.len)), 0xffff);
    }
}

TEST(ChecksumIpv4, Update16MatchesRecomputationOnRandomHeaders) {
    std::mt19937 rng(16);
    for (int i = 0; i < kIterations; i++) {
        Ip4 h = random_ip4(rng);
        size_t w;
        do w = 2 * (rng() % (h.len / 2));
        while (w == 10); // not the checksum itself
        const uint16_t old_v = rd16(h.b.data() + w);
        const uint16_t new_v = (i % 8 == 0) ? uint16_t(old_v + 1) : uint16_t(rng());
        wr16(h.b.data() + w, new_v);
        const uint16_t inc = csum::update16(rd16(h.b.data() + 10), old_v, new_v);
        ASSERT_EQ(inc, full(h.b.data(), h.len, 10))
            << "iteration " << i << " word " << w << " " << old_v << "->" << new_v;
    }
}

TEST(ChecksumIpv4, Update32MatchesRecomputationForAddresses) {
    std::mt19937 rng(32);
    for (int i = 0; i < kIterations; i++) {
        Ip4 h = random_ip4(rng);
        const size_t off = (i & 1) ? 16 : 12; // dst or src
        const uint32_t old_v = rd32(h.b.data() + off);
        const uint32_t new_v = uint32_t(rng());
        wr32(h.b.data() + off, new_v);
        const uint16_t inc = csum::update32(rd16(h.b.data() + 10), old_v, new_v);
        ASSERT_EQ(inc, full(h.b.data(), h.len, 10)) << "iteration " << i;
    }
}

TEST(ChecksumIpv4, ChainedUpdatesMatchRecomputation) {
    // Several fields changed in turn, each update applied to the previous result, as
    // nat_rewrite4 does.
    std::mt19937 rng(99);
    for (int i = 0; i < kIterations; i++) {
        Ip4 h = random_ip4(rng);
        uint16_t ck = rd16(h.b.data() + 10);
        for (int k = 0; k < 4; k++) {
            const size_t off = 12 + 4 * (rng() % 2);
            const uint32_t o = rd32(h.b.data() + off), n = uint32_t(rng());
            wr32(h.b.data() + off, n);
            ck = csum::update32(ck, o, n);
        }
        const uint16_t ttl_old = rd16(h.b.data() + 8);
        h.b[8]--;
        ck = csum::update16(ck, ttl_old, rd16(h.b.data() + 8));
        ASSERT_EQ(ck, full(h.b.data(), h.len, 10)) << "iteration " << i;
    }
}

// ---- TCP and UDP with pseudo-header -------------------------------------------------------

struct L4 {
    std::vector<uint8_t> b;
    size_t ck_off;
    uint8_t proto;
};

// A TCP segment (header with random options + payload) or UDP datagram, random payload
// length (odd lengths included), with a correct checksum for the given pseudo-header sum.
L4 random_l4(std::mt19937& rng, uint8_t proto, size_t payload) {
    L4 s;
    s.proto = proto;
    const size_t hl = proto == IPPROTO_TCP ? 4 * (5 + rng() % 11) : 8;
    s.b.resize(hl + payload);
    for (auto& c : s.b) c = uint8_t(rng());
    s.ck_off = proto == IPPROTO_TCP ? 16 : 6;
    if (proto == IPPROTO_TCP) s.b[12] = uint8_t((hl / 4) << 4);
    else wr16(s.b.data() + 4, be16(uint16_t(s.b.size())));
    return s;
}

void set_l4_checksum(L4& s, uint32_t ph) {
    wr16(s.b.data() + s.ck_off, full(s.b.data(), s.b.size(), s.ck_off, ph));
}

class ChecksumL4 : public ::testing::TestWithParam<uint8_t> {};

TEST_P(ChecksumL4, PortAndAddressUpdatesMatchRecomputationIpv4) {
    const uint8_t proto = GetParam();
    std::mt19937 rng(proto);
    for (int i = 0; i < kIterations; i++) {
        uint32_t src = uint32_t(rng()), dst = uint32_t(rng());
        L4 s = random_l4(rng, proto, rng() % 1501); // 0..1500, odd lengths included
        const uint16_t len = uint16_t(s.b.size());
        set_l4_checksum(s, pseudo4(src, dst, proto, len));
        uint16_t ck = rd16(s.b.data() + s.ck_off);
        switch (i % 4) {
        case 0: { // source port
            const uint16_t o = rd16(s.b.data()), n = uint16_t(rng());
            wr16(s.b.data(), n);
            ck = csum::update16(ck, o, n);
            break;
        }
        case 1: { // destination port
            const uint16_t o = rd16(s.b.data() + 2), n = uint16_t(rng());
            wr16(s.b.data() + 2, n);
            ck = csum::update16(ck, o, n);
            break;
        }
        case 2: { // pseudo-header source address
            const uint32_t n = uint32_t(rng());
            ck = csum::update32(ck, src, n);
            src = n;
            break;
        }
        case 3: { // pseudo-header destination address
            const uint32_t n = uint32_t(rng());
            ck = csum::update32(ck, dst, n);
            dst = n;
            break;
        }
        }
        ASSERT_EQ(ck, full(s.b.data(), s.b.size(), s.ck_off, pseudo4(src, dst, proto, len)))
            << "iteration " << i << " length " << s.b.size();
    }
}

TEST_P(ChecksumL4, Update128MatchesRecomputationForIpv6PseudoHeader) {
    const uint8_t proto = GetParam();
    std::mt19937 rng(1000 + proto);
    for (int i = 0; i < kIterations; i++) {
        uint8_t src[16], dst[16];
        for (auto& c : src) c = uint8_t(rng());
        for (auto& c : dst) c = uint8_t(rng());
        L4 s = random_l4(rng, proto, rng() % 1501);
        const uint32_t len = uint32_t(s.b.size());
        set_l4_checksum(s, pseudo6(src, dst, proto, len));
        uint8_t n[16];
        for (auto& c : n) c = uint8_t(rng());
        if (i % 5 == 0) { // change only one byte: the common case of a nearby address
            std::memcpy(n, (i & 1) ? src : dst, 16);
            n[rng() % 16] ^= uint8_t(1 + rng() % 255);
        }
        uint8_t* changed = (i & 1) ? src : dst;
        const uint16_t ck = csum::update128(rd16(s.b.data() + s.ck_off), changed, n);
        std::memcpy(changed, n, 16);
        ASSERT_EQ(ck, full(s.b.data(), s.b.size(), s.ck_off, pseudo6(src, dst, proto, len)))
            << "iteration " << i;
    }
}

TEST_P(ChecksumL4, Update32MatchesRecomputationForSequenceLikeFieldsAtOddLengths) {
    // A 32-bit field inside the segment (the TCP sequence number, the first UDP payload
    // word); the payload length is odd so the trailing pad byte is always exercised.
    const uint8_t proto = GetParam();
    std::mt19937 rng(2000 + proto);
    for (int i = 0; i < kIterations; i++) {
        const uint32_t src = uint32_t(rng()), dst = uint32_t(rng());
        L4 s = random_l4(rng, proto, 2 * (rng() % 700) + 1 + 4);
        const uint16_t len = uint16_t(s.b.size());
        const uint32_t ph = pseudo4(src, dst, proto, len);
        set_l4_checksum(s, ph);
        const size_t off = proto == IPPROTO_TCP ? 4 : 8; // TCP seq, UDP first payload word
        const uint32_t o = rd32(s.b.data() + off), n = uint32_t(rng());
        wr32(s.b.data() + off, n);
        const uint16_t ck = csum::update32(rd16(s.b.data() + s.ck_off), o, n);
        ASSERT_EQ(ck, full(s.b.data(), s.b.size(), s.ck_off, ph)) << "iteration " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Protocols, ChecksumL4,
                         ::testing::Values(uint8_t(IPPROTO_TCP), uint8_t(IPPROTO_UDP)),
                         [](const auto& info) {
                             return info.param == IPPROTO_TCP ? std::string("Tcp")
                                                              : std::string("Udp");
                         });

// ---- RFC 1624 corner cases -----------------------------------------------------------------

TEST(ChecksumRfc1624, SectionFourExampleYieldsPlusZero) {
    // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555, m' = 0x3285. Eqn. 2 gives 0xFFFF (-0),
    // which a full computation over non-zero data can never produce; eqn. 3 gives 0x0000.
    // The values are host-order words in the RFC; the one's-complement sum is
    // byte-order independent, so swapping all three swaps the result.
    EXPECT_EQ(csum::update16(0xDD2F, 0x5555, 0x3285), 0x0000);
    EXPECT_EQ(csum::update16(be16(0xDD2F), be16(0x5555), be16(0x3285)), 0x0000);
}

// Builds a random IPv4 header whose identification field is `id` and whose full checksum
// would be 0x0000 with that id, by adjusting the fragment-offset word.
Ip4 header_with_zero_checksum(std::mt19937& rng, uint16_t id) {
    for (;;) {
        Ip4 h = random_ip4(rng);
        wr16(h.b.data() + 4, id);
        wr16(h.b.data() + 10, 0);
        const uint16_t c = csum::finish(csum::partial(h.b.data(), h.len));
        // Adding c to one word makes the folded sum 0xffff, so the checksum is 0x0000.
        const uint16_t w = rd16(h.b.data() + 6);
        wr16(h.b.data() + 6, csum::fold(uint32_t(w) + c));
        if (csum::finish(csum::partial(h.b.data(), h.len)) == 0x0000) return h;
    }
}

TEST(ChecksumRfc1624, UpdateIntoZeroChecksumMatchesRecomputation) {
    // After the change the correct checksum is 0x0000: eqn. 2 would give 0xffff here.
    std::mt19937 rng(1624);
    for (int i = 0; i < 1000; i++) {
        const uint16_t m = uint16_t(rng()), m_new = uint16_t(rng());
        Ip4 h = header_with_zero_checksum(rng, m_new);
        ASSERT_EQ(full(h.b.data(), h.len, 10), 0x0000);
        wr16(h.b.data() + 4, m); // the header before the change
        const uint16_t hc = full(h.b.data(), h.len, 10);
        ASSERT_EQ(csum::update16(hc, m, m_new), 0x0000) << "iteration " << i;
    }
}

TEST(ChecksumRfc1624, UpdateFromZeroChecksumMatchesRecomputation) {
    // The checksum is 0x0000 before the change (the field ~HC = 0xffff enters as -0).
    std::mt19937 rng(4261);
    for (int i = 0; i < 1000; i++) {
        const uint16_t m = uint16_t(rng()), m_new = uint16_t(rng());
        Ip4 h = header_with_zero_checksum(rng, m);
        wr16(h.b.data() + 10, 0x0000);
        wr16(h.b.data() + 4, m_new);
        ASSERT_EQ(csum::update16(0x0000, m, m_new), full(h.b.data(), h.len, 10))
            << "iteration " << i;
        // Also through update32 on the addresses.
        Ip4 g = header_with_zero_checksum(rng, m);
        const uint32_t o = rd32(g.b.data() + 12), n = uint32_t(rng());
        wr32(g.b.data() + 12, n);
        ASSERT_EQ(csum::update32(0x0000, o, n), full(g.b.data(), g.len, 10)) << i;
    }
}

TEST(ChecksumRfc1624, ChangingAWordToItsOnesComplementNegativeZero) {
    // m = 0x0000 -> m' = 0xffff and back: +0 and -0 are the same number, so the checksum
    // must not change, in either direction.
    std::mt19937 rng(7);
    for (int i = 0; i < 1000; i++) {
        Ip4 h = random_ip4(rng);
        wr16(h.b.data() + 4, 0x0000);
        wr16(h.b.data() + 10, full(h.b.data(), h.len, 10));
        const uint16_t hc = rd16(h.b.data() + 10);
        wr16(h.b.data() + 4, 0xffff);
        EXPECT_EQ(csum::update16(hc, 0x0000, 0xffff), full(h.b.data(), h.len, 10));
        EXPECT_EQ(csum::update16(hc, 0xffff, 0x0000), hc);
    }
}

TEST(ChecksumRfc1624, AllZeroDataIsTheOnlyCaseWhereEqn3GivesPlusZeroForMinusZero) {
    // A full computation gives 0xffff only when every word is zero; eqn. 3 then gives the
    // equivalent 0x0000. No IPv4 header (version 4) nor pseudo-header (protocol != 0) is
    // ever all zero, so this never reaches the wire; pinned so the behaviour is known.
    uint8_t buf[20] = {};
    wr16(buf + 4, 0x1234);
    const uint16_t hc = full(buf, sizeof buf, 10);
    wr16(buf + 4, 0);
    EXPECT_EQ(full(buf, sizeof buf, 10), 0xffff);
    EXPECT_EQ(csum::update16(hc, 0x1234, 0), 0x0000);
}

// ---- nat_rewrite4 ----------------------------------------------------------------------------

struct Packet {
    alignas(8) std::array<uint8_t, 2048> b{};
    size_t ihl = 20, len = 0;
    uint8_t proto = 0;
    rte_ipv4_hdr* ip() { return reinterpret_cast<rte_ipv4_hdr*>(b.data()); }
    uint8_t* l4() { return b.data() + ihl; }
    size_t l4_len() const { return len - ihl; }
    size_t ck_off() const { return proto == IPPROTO_TCP ? 16 : 6; }
    uint16_t l4_ck() { return rd16(l4() + ck_off()); }
    uint16_t recompute_ip() { return full(b.data(), ihl, 10); }
    // What a sender would put in the L4 checksum field: UDP's computed 0 is sent as 0xffff.
    uint16_t recompute_l4() {
        const uint16_t c = full(l4(), l4_len(), ck_off(),
                                pseudo4(ip()->src_addr, ip()->dst_addr, proto, uint16_t(l4_len())));
        return (proto == IPPROTO_UDP && c == 0) ? 0xffff : c;
    }
    void fill_checksums() {
        wr16(b.data() + 10, recompute_ip());
        wr16(l4() + ck_off(), recompute_l4());
    }
};

Packet random_packet(std::mt19937& rng, uint8_t proto) {
    Packet p;
    p.proto = proto;
    p.ihl = 4 * (5 + rng() % 4);
    const size_t hl = proto == IPPROTO_TCP ? 4 * (5 + rng() % 11) : 8;
    const size_t payload = rng() % 1401;
    p.len = p.ihl + hl + payload;
    for (size_t i = 0; i < p.len; i++) p.b[i] = uint8_t(rng());
    p.b[0] = uint8_t(0x40 | (p.ihl / 4));
    p.b[8] = uint8_t(2 + rng() % 254); // TTL > 1, the caller's precondition
    p.b[9] = proto;
    wr16(p.b.data() + 2, be16(uint16_t(p.len)));
    if (proto == IPPROTO_TCP) p.l4()[12] = uint8_t((hl / 4) << 4);
    else wr16(p.l4() + 4, be16(uint16_t(p.l4_len())));
    p.fill_checksums();
    return p;
}

struct Rewrite {
    uint32_t src, dst;
    uint16_t sport, dport;
};

Rewrite random_rewrite(std::mt19937& rng) {
    return {uint32_t(rng()), uint32_t(rng()), uint16_t(rng()), uint16_t(rng())};
}

// Rewrites and checks everything nat_rewrite4 promises.
void rewrite_and_check(Packet& p, const Rewrite& r, int iteration) {
    const Packet before = p;
    const uint8_t ttl = p.b[8];
    nat_rewrite4(p.ip(), p.l4(), p.proto, r.src, r.dst, r.sport, r.dport);
    ASSERT_EQ(p.b[8], uint8_t(ttl - 1)) << iteration;
    ASSERT_EQ(p.ip()->src_addr, r.src) << iteration;
    ASSERT_EQ(p.ip()->dst_addr, r.dst) << iteration;
    ASSERT_EQ(rd16(p.l4()), r.sport) << iteration;
    ASSERT_EQ(rd16(p.l4() + 2), r.dport) << iteration;
    ASSERT_EQ(p.ip()->hdr_checksum, p.recompute_ip()) << "IPv4 checksum, iteration " << iteration;
    ASSERT_EQ(p.l4_ck(), p.recompute_l4())
        << (p.proto == IPPROTO_TCP ? "TCP" : "UDP") << " checksum, iteration " << iteration;
    // Nothing else changed: compare every byte outside the rewritten fields.
    for (size_t i = 0; i < p.len; i++) {
        const bool rewritten = i == 8 || i == 10 || i == 11 || (i >= 12 && i < 20) ||
                               (i >= p.ihl && i < p.ihl + 4) || i == p.ihl + p.ck_off() ||
                               i == p.ihl + p.ck_off() + 1;
        if (!rewritten) {
            ASSERT_EQ(p.b[i], before.b[i]) << "byte " << i << ", iteration " << iteration;
        }
    }
}

class NatRewrite4 : public ::testing::TestWithParam<uint8_t> {};

TEST_P(NatRewrite4, RandomPacketsMatchFullRecomputation) {
    std::mt19937 rng(4000 + GetParam());
    for (int i = 0; i < kIterations; i++) {
        Packet p = random_packet(rng, GetParam());
        Rewrite r = random_rewrite(rng);
        if (i % 10 == 0) r.sport = rd16(p.l4()); // unchanged fields are a no-op
        if (i % 10 == 1) r.src = p.ip()->src_addr;
        rewrite_and_check(p, r, i);
        if (HasFatalFailure()) return;
    }
}

TEST_P(NatRewrite4, RewriteThenReverseRestoresThePacketExceptTtl) {
    std::mt19937 rng(5000 + GetParam());
    for (int i = 0; i < 1000; i++) {
        Packet p = random_packet(rng, GetParam());
        Packet orig = p;
        const Rewrite r = random_rewrite(rng);
        nat_rewrite4(p.ip(), p.l4(), p.proto, r.src, r.dst, r.sport, r.dport);
        nat_rewrite4(p.ip(), p.l4(), p.proto, orig.ip()->src_addr, orig.ip()->dst_addr,
                     rd16(orig.b.data() + orig.ihl), rd16(orig.b.data() + orig.ihl + 2));
        ASSERT_EQ(p.b[8], uint8_t(orig.b[8] - 2));
        ASSERT_EQ(p.ip()->hdr_checksum, p.recompute_ip()) << i;
        ASSERT_EQ(p.l4_ck(), p.recompute_l4()) << i;
        ASSERT_EQ(std::memcmp(p.l4(), orig.b.data() + orig.ihl, p.l4_len()), 0) << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Protocols, NatRewrite4,
                         ::testing::Values(uint8_t(IPPROTO_TCP), uint8_t(IPPROTO_UDP)),
                         [](const auto& info) {
                             return info.param == IPPROTO_TCP ? std::string("Tcp")
                                                              : std::string("Udp");
                         });

TEST(NatRewrite4Udp, ZeroChecksumStaysZero) {
    // RFC 768: a UDP checksum of 0 means "none"; the rewrite must not invent one.
    std::mt19937 rng(768);
    for (int i = 0; i < 1000; i++) {
        Packet p = random_packet(rng, IPPROTO_UDP);
        wr16(p.l4() + 6, 0);
        const Rewrite r = random_rewrite(rng);
        nat_rewrite4(p.ip(), p.l4(), p.proto, r.src, r.dst, r.sport, r.dport);
        ASSERT_EQ(p.l4_ck(), 0) << i;
        ASSERT_EQ(p.ip()->hdr_checksum, p.recompute_ip()) << i;
        ASSERT_EQ(rd16(p.l4()), r.sport);
        ASSERT_EQ(rd16(p.l4() + 2), r.dport);
    }
}

// A UDP packet with a payload word chosen so that, after rewriting to `r`, the computed
// checksum is 0x0000 (which RFC 768 says must be sent as 0xffff).
Packet udp_computing_zero_after(std::mt19937& rng, const Rewrite& r) {
    for (;;) {
        Packet p = random_packet(rng, IPPROTO_UDP);
        if (p.l4_len() < 10) continue;
        Packet post = p;
        post.ip()->src_addr = r.src;
        post.ip()->dst_addr = r.dst;
        wr16(post.l4(), r.sport);
        wr16(post.l4() + 2, r.dport);
        wr16(post.l4() + 8, 0); // the tweak word, first payload word
        const uint16_t c = full(post.l4(), post.l4_len(), 6,
                                pseudo4(r.src, r.dst, IPPROTO_UDP, uint16_t(post.l4_len())));
        wr16(p.l4() + 8, c); // the sum now folds to 0xffff after the rewrite
        p.fill_checksums();
        if (p.l4_ck() != 0xffff) return p; // pre-rewrite checksum an ordinary value
    }
}

TEST(NatRewrite4Udp, ComputedZeroBecomesFfff) {
    std::mt19937 rng(0xffff);
    for (int i = 0; i < 1000; i++) {
        const Rewrite r = random_rewrite(rng);
        Packet p = udp_computing_zero_after(rng, r);
        nat_rewrite4(p.ip(), p.l4(), p.proto, r.src, r.dst, r.sport, r.dport);
        // The raw recomputation is 0 (this is the constructed case) ...
        ASSERT_EQ(full(p.l4(), p.l4_len(), 6,
                       pseudo4(r.src, r.dst, IPPROTO_UDP, uint16_t(p.l4_len()))),
                  0x0000);
        // ... and the rewrite sends it as 0xffff, which a receiver verifies as valid.
        ASSERT_EQ(p.l4_ck(), 0xffff) << i;
        ASSERT_EQ(csum::fold(csum::partial(p.l4(), p.l4_len(),
                                           pseudo4(r.src, r.dst, IPPROTO_UDP,
                                                   uint16_t(p.l4_len())))),
                  0xffff);
    }
}

TEST(NatRewrite4Udp, FfffChecksumOnInputIsUpdatedCorrectly) {
    // The reverse: a datagram whose computed checksum is 0 arrives carrying 0xffff (-0).
    // The rewrite must treat it as a real checksum, not as "none", and get it right.
    std::mt19937 rng(0xfffe);
    for (int i = 0; i < 1000; i++) {
        Packet p = random_packet(rng, IPPROTO_UDP);
        if (p.l4_len() < 10) continue;
        // Every fourth: only the source port changes, from 0xffff to its +0 partner 0x0000
        // (m = -0, m' = +0 on a checksum field holding -0).
        const bool ports_only = i % 4 == 0;
        if (ports_only) wr16(p.l4(), 0xffff);
        // Make the current computed checksum 0 by tweaking the first payload word.
        wr16(p.l4() + 8, 0);
        wr16(p.l4() + 8, full(p.l4(), p.l4_len(), 6,
                              pseudo4(p.ip()->src_addr, p.ip()->dst_addr, IPPROTO_UDP,
                                      uint16_t(p.l4_len()))));
        p.fill_checksums();
        ASSERT_EQ(p.l4_ck(), 0xffff);
        Rewrite r = random_rewrite(rng);
        if (ports_only) {
            r = {p.ip()->src_addr, p.ip()->dst_addr, 0x0000, rd16(p.l4() + 2)};
        }
        rewrite_and_check(p, r, i);
        if (HasFatalFailure()) return;
    }
}

TEST(NatRewrite4Tcp, ZeroChecksumIsAnOrdinaryValue) {
    // TCP has no "no checksum" value: a segment whose checksum is 0x0000 is updated like
    // any other, and a computed 0 stays 0.
    std::mt19937 rng(793);
    int checked = 0;
    for (int i = 0; checked < 200 && i < 100000; i++) {
        Packet p = random_packet(rng, IPPROTO_TCP);
        // Make the checksum 0x0000 by adjusting the urgent pointer word.
        const uint16_t c = p.l4_ck();
        wr16(p.l4() + 18, csum::fold(uint32_t(rd16(p.l4() + 18)) + c));
        p.fill_checksums();
        if (p.l4_ck() != 0) continue;
        checked++;
        rewrite_and_check(p, random_rewrite(rng), i);
        if (HasFatalFailure()) return;
    }
    EXPECT_EQ(checked, 200);
}

}  // namespace
}  // namespace svclb

// SCTP's CRC32c (lb/packet.h) against the CRC catalogue's check value and a bitwise
// reference, and its placement in the packet (RFC 9260 appendix A byte order).
static uint32_t crc32c_bitwise(const uint8_t* p, size_t n) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
    }
    return ~crc;
}

TEST(SctpCrc32c, MatchesCheckValueAndBitwiseReference) {
    const char* check = "123456789";
    EXPECT_EQ(svclb::sctp_crc32c(reinterpret_cast<const uint8_t*>(check), 9), 0xe3069283u);
    std::mt19937 rng(1624);
    for (int i = 0; i < 2000; i++) {
        std::vector<uint8_t> buf(16 + rng() % 1400);
        for (auto& b : buf) b = uint8_t(rng());
        ASSERT_EQ(svclb::sctp_crc32c(buf.data(), uint32_t(buf.size())), crc32c_bitwise(buf.data(), buf.size()));
    }
}

TEST(SctpCrc32c, StoredLittleEndianOverZeroedField) {
    // An SCTP packet captured from scapy 2.5 (IP 198.51.100.10 -> 198.18.0.10, ports
    // 5000 -> 7, tag 0x01020304, one chunk type 1 "abcd"): checksum bytes d4 63 39 0f.
    std::vector<uint8_t> p = {0x13, 0x88, 0x00, 0x07, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xff,
                              0x01, 0x00, 0x00, 0x08, 'a', 'b', 'c', 'd'};
    svclb::sctp_set_checksum(p.data(), uint32_t(p.size()));
    EXPECT_EQ(p[8], 0xd4);
    EXPECT_EQ(p[9], 0x63);
    EXPECT_EQ(p[10], 0x39);
    EXPECT_EQ(p[11], 0x0f);
}

// The worker applies per-flow precomputed terms (nat_delta + nat_apply4/6); they must
// give byte-for-byte what the field-by-field RFC 1624 rewrite gives.
TEST(NatDelta, ApplyMatchesFieldByFieldRewriteOnRandomPackets) {
    std::mt19937 rng(0x1624);
    for (int iter = 0; iter < 5000; iter++) {
        for (uint8_t proto : {uint8_t(IPPROTO_TCP), uint8_t(IPPROTO_UDP)}) {
            uint8_t a[20 + 40], b[20 + 40];
            for (auto& x : a) x = uint8_t(rng());
            a[0] = 0x45;
            a[8] = uint8_t(2 + rng() % 250);
            a[9] = proto;
            auto* ipa = reinterpret_cast<rte_ipv4_hdr*>(a);
            ipa->hdr_checksum = 0;
            ipa->hdr_checksum = svclb::csum::finish(svclb::csum::partial(a, 20));
            if (proto == IPPROTO_UDP && rng() % 8 == 0) std::memset(a + 26, 0, 2); // no checksum
            std::memcpy(b, a, sizeof a);
            const uint32_t nsrc = rng(), ndst = rng();
            const uint16_t nsp = uint16_t(rng()), ndp = uint16_t(rng());
            uint16_t osp, odp;
            std::memcpy(&osp, a + 20, 2);
            std::memcpy(&odp, a + 22, 2);
            const uint32_t osrc = ipa->src_addr, odst = ipa->dst_addr;
            svclb::nat_rewrite4(ipa, a + 20, proto, nsrc, ndst, nsp, ndp);
            const auto d = svclb::nat_delta(&osrc, &odst, osp, odp, &nsrc, &ndst, nsp, ndp, 4);
            svclb::nat_apply4(reinterpret_cast<rte_ipv4_hdr*>(b), b + 20, proto, nsrc, ndst, nsp, ndp, d);
            ASSERT_EQ(0, std::memcmp(a, b, sizeof a)) << "iteration " << iter;
        }
    }
}

TEST(NatDelta, Ipv6ApplyMatchesFieldByFieldRewrite) {
    std::mt19937 rng(0x8200);
    for (int iter = 0; iter < 5000; iter++) {
        uint8_t a[40 + 20], b[40 + 20];
        for (auto& x : a) x = uint8_t(rng());
        auto* ipa = reinterpret_cast<rte_ipv6_hdr*>(a);
        ipa->hop_limits = uint8_t(2 + rng() % 250);
        std::memcpy(b, a, sizeof a);
        uint8_t nsrc[16], ndst[16], osrc[16], odst[16];
        for (auto& x : nsrc) x = uint8_t(rng());
        for (auto& x : ndst) x = uint8_t(rng());
        std::memcpy(osrc, ipa->src_addr, 16);
        std::memcpy(odst, ipa->dst_addr, 16);
        const uint16_t nsp = uint16_t(rng()), ndp = uint16_t(rng());
        uint16_t osp, odp;
        std::memcpy(&osp, a + 40, 2);
        std::memcpy(&odp, a + 42, 2);
        svclb::nat_rewrite6(ipa, a + 40, IPPROTO_TCP, nsrc, ndst, nsp, ndp);
        const auto d = svclb::nat_delta(osrc, odst, osp, odp, nsrc, ndst, nsp, ndp, 16);
        svclb::nat_apply6(reinterpret_cast<rte_ipv6_hdr*>(b), b + 40, IPPROTO_TCP, nsrc, ndst, nsp, ndp, d);
        ASSERT_EQ(0, std::memcmp(a, b, sizeof a)) << "iteration " << iter;
    }
}
