// SPDX-License-Identifier: Apache-2.0
// Incremental Internet checksum updates, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
// All values are in network byte order as they sit in the packet; the one's-complement
// sum is byte-order independent, so no swaps are needed.
#pragma once

#include <cstdint>
#include <cstring>

namespace svclb::csum {

// Folds a 32-bit one's-complement accumulator to 16 bits.
inline uint16_t fold(uint32_t s) noexcept {
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return uint16_t(s);
}

// RFC 1624 eqn. 3 for one 16-bit field changing from `old_v` to `new_v`.
inline uint16_t update16(uint16_t check, uint16_t old_v, uint16_t new_v) noexcept {
    uint32_t s = uint16_t(~check) + uint32_t(uint16_t(~old_v)) + new_v;
    return uint16_t(~fold(s));
}

// Same for a 32-bit field (an IPv4 address), as two 16-bit words.
inline uint16_t update32(uint16_t check, uint32_t old_v, uint32_t new_v) noexcept {
    uint32_t s = uint16_t(~check);
    s += uint16_t(~uint16_t(old_v)) + uint32_t(uint16_t(~uint16_t(old_v >> 16)));
    s += uint16_t(new_v) + uint32_t(uint16_t(new_v >> 16));
    return uint16_t(~fold(s));
}

// For a 128-bit field (an IPv6 address).
inline uint16_t update128(uint16_t check, const uint8_t old_v[16], const uint8_t new_v[16]) noexcept {
    uint32_t s = uint16_t(~check);
    for (int i = 0; i < 16; i += 2) {
        uint16_t o, n;
        std::memcpy(&o, old_v + i, 2);
        std::memcpy(&n, new_v + i, 2);
        s += uint16_t(~o) + uint32_t(n);
    }
    return uint16_t(~fold(s));
}

// Full checksum over a buffer (one's complement of the one's-complement sum), with an
// initial partial sum (e.g. a pseudo-header). Used for generated packets and in tests.
inline uint32_t partial(const void* data, size_t len, uint32_t sum = 0) noexcept {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    while (len > 1) {
        uint16_t w;
        std::memcpy(&w, p, 2);
        sum += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint16_t w = 0;
        std::memcpy(&w, p, 1);
        sum += w;
    }
    return sum;
}
inline uint16_t finish(uint32_t sum) noexcept { return uint16_t(~fold(sum)); }

}  // namespace svclb::csum
