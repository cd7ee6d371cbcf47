// SPDX-License-Identifier: Apache-2.0
#include "lb/maglev.h"

#include <algorithm>

namespace svclb {

static uint64_t splitmix64(uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t backend_identity(const IpAddr& addr, uint16_t port) noexcept {
    // FNV-1a over (family, address bytes, port in network order), then a finaliser.
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](uint8_t b) { h = (h ^ b) * 0x100000001b3ull; };
    mix(uint8_t(addr.family));
    const int n = addr.is_v4() ? 4 : 16;
    for (int i = 0; i < n; i++) mix(addr.bytes[i]);
    mix(uint8_t(port >> 8));
    mix(uint8_t(port));
    return splitmix64(h);
}

static constexpr uint32_t kPrimes[] = {251,   521,    1031,   2053,   4099,   8209,  16411,
                                       32771, 65537, 131101, 262147, 524309, 655373};

std::span<const uint32_t> maglev_primes() noexcept { return kPrimes; }

uint32_t maglev_table_size(size_t n_backends) noexcept {
    const uint64_t want = uint64_t(n_backends) * 100;
    for (uint32_t p : kPrimes)
        if (p >= want) return p;
    return kPrimes[std::size(kPrimes) - 1];
}

std::vector<uint32_t> maglev_build(std::span<const MaglevBackend> backends, uint32_t M) {
    const size_t n = backends.size();
    uint32_t wmax = 0;
    for (const auto& b : backends) wmax = std::max(wmax, b.weight);
    if (n == 0 || wmax == 0 || M < 2) return {};

    std::vector<uint64_t> offset(n), skip(n), next(n, 0), credit(n, 0);
    for (size_t i = 0; i < n; i++) {
        offset[i] = splitmix64(backends[i].id ^ 0x6d61676c65762d6full) % M;
        skip[i] = splitmix64(backends[i].id ^ 0x736b69702d736b69ull) % (M - 1) + 1;
    }
    constexpr uint32_t kEmpty = UINT32_MAX;
    std::vector<uint32_t> table(M, kEmpty);
    uint32_t filled = 0;
    // Each round every backend earns credit equal to its weight; a backend places its next
    // preferred free slot whenever its credit reaches the largest weight. The heaviest
    // backend places one slot per round, the others in proportion (weighted Maglev).
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            if (backends[i].weight == 0) continue;
            credit[i] += backends[i].weight;
            if (credit[i] < wmax) continue;
            credit[i] -= wmax;
            uint64_t c;
            do {
                c = (offset[i] + next[i] * skip[i]) % M;
                next[i]++;
            } while (table[c] != kEmpty);
            table[c] = uint32_t(i);
            if (++filled == M) return table;
        }
    }
}

}  // namespace svclb
