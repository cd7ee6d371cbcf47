// SPDX-License-Identifier: Apache-2.0
#include "lb/addr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace svclb {

uint32_t IpAddr::v4_host() const noexcept { return ntohl(v4_be()); }

static std::optional<IpAddr> parse_v4_sloppy(std::string_view s) {
    uint32_t out = 0;
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        size_t j = i;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') j++;
        if (j == i || j - i > 3) return std::nullopt;
        unsigned v = 0;
        std::from_chars(s.data() + i, s.data() + j, v);
        if (v > 255) return std::nullopt;
        out = (out << 8) | v;
        parts++;
        if (parts < 4) {
            if (j >= s.size() || s[j] != '.') return std::nullopt;
            i = j + 1;
        } else if (j != s.size()) {
            return std::nullopt;
        }
    }
    return IpAddr::v4(htonl(out));
}

std::optional<IpAddr> parse_ip(std::string_view s) {
    if (s.empty() || s.size() > 45) return std::nullopt;
    if (s.find(':') == std::string_view::npos) return parse_v4_sloppy(s);
    char buf[64];
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = 0;
    uint8_t b[16];
    if (inet_pton(AF_INET6, buf, b) != 1) return std::nullopt;
    return IpAddr::v6(b);
}

std::string format_ip(const IpAddr& a) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (a.is_v4())
        inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf);
    else if (a.is_v6())
        inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
    else
        return "<none>";
    return buf;
}

std::string format_ip_port(const IpAddr& a, uint16_t port) {
    if (a.is_v6()) return "[" + format_ip(a) + "]:" + std::to_string(port);
    return format_ip(a) + ":" + std::to_string(port);
}

static void mask_bits(IpAddr& a, uint8_t len) {
    const int total = a.is_v4() ? 32 : 128;
    for (int bit = len; bit < total; bit++) a.bytes[bit / 8] &= uint8_t(~(0x80u >> (bit % 8)));
}

bool Cidr::contains(const IpAddr& a) const noexcept {
    if (a.family != addr.family) return false;
    const unsigned full = len / 8, rest = len % 8;
    if (std::memcmp(a.bytes.data(), addr.bytes.data(), full) != 0) return false;
    if (rest == 0) return true;
    const uint8_t mask = uint8_t(0xff00u >> rest);
    return (a.bytes[full] & mask) == addr.bytes[full];
}

std::optional<Cidr> parse_cidr(std::string_view s, IpAddr* host, bool strict) {
    auto slash = s.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto ip = parse_ip(s.substr(0, slash));
    if (!ip) return std::nullopt;
    auto ls = s.substr(slash + 1);
    unsigned len = 0;
    auto [p, ec] = std::from_chars(ls.data(), ls.data() + ls.size(), len);
    if (ec != std::errc() || p != ls.data() + ls.size() || ls.empty()) return std::nullopt;
    if (len > (ip->is_v4() ? 32u : 128u)) return std::nullopt;
    Cidr c{*ip, uint8_t(len)};
    mask_bits(c.addr, c.len);
    if (strict && c.addr != *ip) return std::nullopt;
    if (host) *host = *ip;
    return c;
}

std::string format_cidr(const Cidr& c) { return format_ip(c.addr) + "/" + std::to_string(c.len); }

bool is_loopback(const IpAddr& a) noexcept {
    if (a.is_v4()) return a.bytes[0] == 127;
    static const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return a.is_v6() && std::memcmp(a.bytes.data(), lo, 16) == 0;
}
bool is_link_local_unicast(const IpAddr& a) noexcept {
    if (a.is_v4()) return a.bytes[0] == 169 && a.bytes[1] == 254;
    return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}
bool is_link_local_multicast(const IpAddr& a) noexcept {
    if (a.is_v4()) return a.bytes[0] == 224 && a.bytes[1] == 0 && a.bytes[2] == 0;
    return a.is_v6() && a.bytes[0] == 0xff && (a.bytes[1] & 0x0f) == 0x02;
}
bool is_unspecified(const IpAddr& a) noexcept {
    for (auto b : a.bytes)
        if (b) return false;
    return true;
}

std::optional<MacAddr> parse_mac(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    MacAddr m;
    for (int i = 0; i < 6; i++) {
        if (i && s[i * 3 - 1] != ':') return std::nullopt;
        unsigned v = 0;
        auto [p, ec] = std::from_chars(s.data() + i * 3, s.data() + i * 3 + 2, v, 16);
        if (ec != std::errc() || p != s.data() + i * 3 + 2) return std::nullopt;
        m.b[i] = uint8_t(v);
    }
    return m;
}

std::string format_mac(const MacAddr& m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m.b[0], m.b[1], m.b[2], m.b[3],
                  m.b[4], m.b[5]);
    return buf;
}

}  // namespace svclb
