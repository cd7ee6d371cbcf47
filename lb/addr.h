// SPDX-License-Identifier: Apache-2.0
// Address types shared by the dataplane and the control plane. Family-generic on purpose:
// every interface that may see IPv6 takes IpAddr; the dataplane specialises per family
// internally (e.g. FlowKey4) where a fixed-size key is worth it.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace svclb {

enum class Family : uint8_t { kNone = 0, kV4 = 4, kV6 = 6 };

// An IP address in network byte order. IPv4 lives in bytes[0..4), the rest zero, so the
// struct is hashable bytewise.
struct IpAddr {
    Family family = Family::kNone;
    uint8_t pad[3] = {};
    std::array<uint8_t, 16> bytes{};

    static IpAddr v4(uint32_t be) noexcept {
        IpAddr a;
        a.family = Family::kV4;
        std::memcpy(a.bytes.data(), &be, 4);
        return a;
    }
    static IpAddr v6(const uint8_t b[16]) noexcept {
        IpAddr a;
        a.family = Family::kV6;
        std::memcpy(a.bytes.data(), b, 16);
        return a;
    }
    bool is_v4() const noexcept { return family == Family::kV4; }
    bool is_v6() const noexcept { return family == Family::kV6; }
    bool valid() const noexcept { return family != Family::kNone; }
    // Network byte order IPv4 value; only meaningful when is_v4().
    uint32_t v4_be() const noexcept {
        uint32_t v;
        std::memcpy(&v, bytes.data(), 4);
        return v;
    }
    // Host byte order IPv4 value.
    uint32_t v4_host() const noexcept;
    auto operator<=>(const IpAddr&) const = default;
    bool operator==(const IpAddr&) const = default;
};
static_assert(sizeof(IpAddr) == 20);

// Parses an IPv4 or IPv6 literal. IPv4 octets with leading zeros are read as decimal
// ("172.30.0.041" is 172.30.0.41), as Kubernetes' ParseIPSloppy does.
std::optional<IpAddr> parse_ip(std::string_view s);
std::string format_ip(const IpAddr& a);
// "ip:port" or "[v6]:port".
std::string format_ip_port(const IpAddr& a, uint16_t port);

struct Cidr {
    IpAddr addr;     // network address (host bits cleared)
    uint8_t len = 0; // prefix length
    bool contains(const IpAddr& a) const noexcept;
    auto operator<=>(const Cidr&) const = default;
};
// Parses "a.b.c.d/n" or "v6/n". With strict=false the host bits may be set (an
// interface address such as 198.51.100.1/24); `host` then receives the full address.
std::optional<Cidr> parse_cidr(std::string_view s, IpAddr* host = nullptr, bool strict = false);
std::string format_cidr(const Cidr& c);

// Special ranges (Kubernetes' endpoint/externalIP rules).
bool is_loopback(const IpAddr& a) noexcept;
bool is_link_local_unicast(const IpAddr& a) noexcept;
bool is_link_local_multicast(const IpAddr& a) noexcept;
bool is_unspecified(const IpAddr& a) noexcept;

struct MacAddr {
    std::array<uint8_t, 6> b{};
    bool is_zero() const noexcept { return (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0; }
    auto operator<=>(const MacAddr&) const = default;
};
std::optional<MacAddr> parse_mac(std::string_view s);
std::string format_mac(const MacAddr& m);

}  // namespace svclb
