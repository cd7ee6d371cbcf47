// SPDX-License-Identifier: Apache-2.0
// Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4).
// The builder is a pure, deterministic function of (backends sorted by identity, weights,
// M): two svclb instances with the same configuration fill identical tables, so an ECMP
// fleet can lose an instance without moving flows. tests/unit/maglev_test.cpp pins the
// exact table for a small prime: a diff there means deployed flows would move.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lb/addr.h"

namespace svclb {

struct MaglevBackend {
    uint64_t id = 0;     // stable identity, see backend_identity()
    uint32_t weight = 1; // 0 = drain: no new flows
};

// Stable identity of a backend: a 64-bit hash of its address and port. Independent of the
// order of the configuration and of anything local to this instance.
uint64_t backend_identity(const IpAddr& addr, uint16_t port) noexcept;

// The table sizes svclb uses: primes, from a fixed list.
std::span<const uint32_t> maglev_primes() noexcept;
// The smallest listed prime that is at least 100 x n_backends (the largest one beyond).
uint32_t maglev_table_size(size_t n_backends) noexcept;

// Fills a table of M entries, each an index into `backends`. Backend i receives about
// M * w_i / sum(w) entries; with equal weights the counts differ by at most one. Backends
// with weight 0 get none. Returns an empty table when no backend has a positive weight.
// `backends` is used in the given order: callers sort by id (stable) first.
// Runs on: control plane.
std::vector<uint32_t> maglev_build(std::span<const MaglevBackend> backends, uint32_t M);

}  // namespace svclb
