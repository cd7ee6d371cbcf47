// SPDX-License-Identifier: Apache-2.0
// Tests for the weighted Maglev builder (lb/maglev.h, DESIGN.md "Backend choice").
// The golden tables below pin the exact output for small primes (STYLE.md section 6): a
// diff there means deployed flows would move between svclb versions or between instances
// of an ECMP fleet. That is a behaviour change, not a test to update.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "lb/addr.h"
#include "lb/maglev.h"

namespace svclb {
namespace {

IpAddr ip(const char* s) {
    auto a = parse_ip(s);
    EXPECT_TRUE(a.has_value()) << s;
    return a.value_or(IpAddr{});
}

// Backends sorted by identity (stable), as the control plane sorts them before a build.
std::vector<MaglevBackend> sorted(std::vector<MaglevBackend> v) {
    std::stable_sort(v.begin(), v.end(),
                     [](const MaglevBackend& a, const MaglevBackend& b) { return a.id < b.id; });
    return v;
}

// The three documentation backends used by the golden tables: 198.51.100.11..13:8080.
std::vector<MaglevBackend> golden_backends(std::vector<uint32_t> weights) {
    const char* addrs[] = {"198.51.100.11", "198.51.100.12", "198.51.100.13"};
    std::vector<MaglevBackend> v;
    for (size_t i = 0; i < 3; i++) v.push_back({backend_identity(ip(addrs[i]), 8080), weights[i]});
    return sorted(v);
}

// n backends 10.x.y.z:80 with equal weight, sorted by id.
std::vector<MaglevBackend> many_backends(size_t n, uint32_t weight = 1) {
    std::vector<MaglevBackend> v;
    for (size_t i = 0; i < n; i++) {
        const uint32_t host = (10u << 24) | uint32_t(i + 1);
        v.push_back({backend_identity(IpAddr::v4(__builtin_bswap32(host)), 80), weight});
    }
    return sorted(v);
}

std::vector<size_t> slot_counts(const std::vector<uint32_t>& table, size_t n) {
    std::vector<size_t> c(n, 0);
    for (uint32_t b : table) {
        EXPECT_LT(b, n);
        if (b < n) c[b]++;
    }
    return c;
}

bool is_prime(uint32_t p) {
    if (p < 2) return false;
    for (uint32_t d = 2; uint64_t(d) * d <= p; d++)
        if (p % d == 0) return false;
    return true;
}

std::string table_str(const std::vector<uint32_t>& t) {
    std::string s;
    for (uint32_t v : t) s += std::to_string(v) + ",";
    return s;
}

// ---- Identity -----------------------------------------------------------------------------

TEST(MaglevIdentity, DependsOnAddressPortAndFamily) {
    const IpAddr a = ip("198.51.100.11"), b = ip("198.51.100.12");
    EXPECT_EQ(backend_identity(a, 8080), backend_identity(a, 8080));
    EXPECT_NE(backend_identity(a, 8080), backend_identity(b, 8080));
    EXPECT_NE(backend_identity(a, 8080), backend_identity(a, 8081));
    // ::ffff:198.51.100.11 is a different backend from 198.51.100.11.
    EXPECT_NE(backend_identity(a, 8080), backend_identity(ip("::ffff:198.51.100.11"), 8080));
    EXPECT_NE(backend_identity(ip("2001:db8::1"), 80), backend_identity(ip("2001:db8::2"), 80));
}

TEST(MaglevIdentity, PinnedValues) {
    // The identity feeds every Maglev table: changing the hash moves every deployed flow.
    EXPECT_EQ(backend_identity(ip("198.51.100.11"), 8080), 2531589184666503737ull);
    EXPECT_EQ(backend_identity(ip("2001:db8::1"), 443), 3295920649981869973ull);
}

// ---- Golden tables --------------------------------------------------------------------------

// A diff here means deployed flows would move: a behaviour change, not a test to update.
TEST(MaglevGolden, ThreeEqualBackendsM13) {
    const auto be = golden_backends({1, 1, 1});
    const std::vector<uint32_t> want = {0, 2, 1, 0, 0, 1, 2, 0, 2, 1, 2, 0, 1};
    const auto got = maglev_build(be, 13);
    EXPECT_EQ(got, want) << table_str(got);
}

// A diff here means deployed flows would move: a behaviour change, not a test to update.
TEST(MaglevGolden, ThreeEqualBackendsM251) {
    const auto be = golden_backends({1, 1, 1});
    const auto got = maglev_build(be, 251);
    // Pinned via a checksum of the 251 entries (the full table is pinned at M = 13).
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t v : got) h = (h ^ v) * 0x100000001b3ull;
    EXPECT_EQ(got.size(), 251u);
    EXPECT_EQ(h, 11599358518479110489ull) << table_str(got);
}

// A diff here means deployed flows would move: a behaviour change, not a test to update.
TEST(MaglevGolden, ThreeWeightedBackendsM17) {
    // Weights 1, 2, 3 for .11, .12, .13 (before sorting by id).
    const auto be = golden_backends({1, 2, 3});
    const std::vector<uint32_t> want = {1, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 1, 2, 2, 2, 1};
    const auto got = maglev_build(be, 17);
    EXPECT_EQ(got, want) << table_str(got);
}

// ---- Determinism ----------------------------------------------------------------------------

TEST(MaglevDeterminism, SameInputSameTable) {
    const auto be = many_backends(37);
    const auto a = maglev_build(be, 4099);
    const auto b = maglev_build(be, 4099);
    ASSERT_EQ(a.size(), 4099u);
    EXPECT_EQ(a, b);
}

TEST(MaglevDeterminism, ConfigOrderDoesNotMatterOnceSorted) {
    // Two instances that list the same backends in different orders fill identical tables
    // (compared by backend identity, since the index is into each instance's own list).
    auto fwd = many_backends(20);
    std::vector<MaglevBackend> rev(fwd.rbegin(), fwd.rend());
    std::vector<MaglevBackend> shuffled;
    for (size_t i = 0; i < fwd.size(); i += 2) shuffled.push_back(fwd[i]);
    for (size_t i = 1; i < fwd.size(); i += 2) shuffled.push_back(fwd[i]);
    for (auto* cfg : {&rev, &shuffled}) {
        const auto s = sorted(*cfg);
        const auto a = maglev_build(fwd, 2053);
        const auto b = maglev_build(s, 2053);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); i++) ASSERT_EQ(fwd[a[i]].id, s[b[i]].id) << i;
    }
}

TEST(MaglevDeterminism, UnsortedInputIsUsedAsGiven) {
    // The builder uses the given order; the same backends in another order yield a table
    // that differs by identity, which is why callers must sort first.
    const auto fwd = many_backends(20);
    std::vector<MaglevBackend> rev(fwd.rbegin(), fwd.rend());
    const auto a = maglev_build(fwd, 2053);
    const auto b = maglev_build(rev, 2053);
    size_t same = 0;
    for (size_t i = 0; i < a.size(); i++) same += fwd[a[i]].id == rev[b[i]].id;
    EXPECT_LT(same, a.size());
}

// ---- Balance --------------------------------------------------------------------------------

class MaglevEqualWeights : public ::testing::TestWithParam<std::pair<size_t, uint32_t>> {};

TEST_P(MaglevEqualWeights, SlotCountsDifferByAtMostOne) {
    const auto [n, m_param] = GetParam();
    const uint32_t M = m_param ? m_param : maglev_table_size(n);
    const auto be = many_backends(n);
    const auto t = maglev_build(be, M);
    ASSERT_EQ(t.size(), M);
    const auto c = slot_counts(t, n);
    const auto [lo, hi] = std::minmax_element(c.begin(), c.end());
    EXPECT_LE(*hi - *lo, 1u) << "n=" << n << " M=" << M;
    EXPECT_GT(*lo, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, MaglevEqualWeights,
    ::testing::Values(std::pair<size_t, uint32_t>{3, 0}, std::pair<size_t, uint32_t>{10, 0},
                      std::pair<size_t, uint32_t>{100, 0}, std::pair<size_t, uint32_t>{1000, 0},
                      std::pair<size_t, uint32_t>{3, 65537}, std::pair<size_t, uint32_t>{10, 65537},
                      std::pair<size_t, uint32_t>{100, 65537},
                      std::pair<size_t, uint32_t>{1000, 65537}),
    [](const auto& info) {
        return "N" + std::to_string(info.param.first) + "_M" +
               (info.param.second ? std::to_string(info.param.second) : std::string("auto"));
    });

// ---- Disruption -----------------------------------------------------------------------------

// Of the slots owned by backends that survive the removal of one of 100, the fraction that
// changed owner (by identity). The removed backend's own slots must move and are not counted.
double disruption_after_removal(uint32_t M, size_t removed) {
    const auto before = many_backends(100);
    std::vector<MaglevBackend> after = before;
    const uint64_t gone = before[removed].id;
    after.erase(after.begin() + ptrdiff_t(removed));
    const auto t0 = maglev_build(before, M);
    const auto t1 = maglev_build(after, M);
    EXPECT_EQ(t0.size(), M);
    EXPECT_EQ(t1.size(), M);
    size_t surviving = 0, moved = 0;
    for (uint32_t i = 0; i < M; i++) {
        const uint64_t old_id = before[t0[i]].id;
        const uint64_t new_id = after[t1[i]].id;
        EXPECT_NE(new_id, gone);
        if (old_id == gone) continue;
        surviving++;
        moved += old_id != new_id;
    }
    return 100.0 * double(moved) / double(surviving);
}

// Every one of the 100 backends is removed in turn. At M = 65537 (655 slots per backend)
// every single removal moves at most 1.5 % of the surviving flows. At M = 16411, the size
// maglev_table_size(100) picks (164 slots per backend), the mean stays under 1.5 % but a
// few removals reach about 1.6 %: that is Maglev itself (a reference implementation of
// the paper's algorithm with random permutations measures the same, mean 1.34 %), not
// this builder, so there each removal is held to 2 % and the mean to 1.5 %.
struct DisruptionCase {
    uint32_t M; // 0: maglev_table_size(100)
    double max_each_pct;
    double max_mean_pct;
};

class MaglevDisruption : public ::testing::TestWithParam<DisruptionCase> {};

TEST_P(MaglevDisruption, RemovingOneOf100MovesFewSurvivingFlows) {
    const auto [m_param, max_each, max_mean] = GetParam();
    const uint32_t M = m_param ? m_param : maglev_table_size(100);
    double worst = 0, total = 0;
    size_t worst_idx = 0, over_1_5 = 0;
    for (size_t removed = 0; removed < 100; removed++) {
        const double pct = disruption_after_removal(M, removed);
        total += pct;
        over_1_5 += pct > 1.5;
        if (pct > worst) {
            worst = pct;
            worst_idx = removed;
        }
        EXPECT_LE(pct, max_each) << "M=" << M << " removed index " << removed;
    }
    EXPECT_LE(total / 100, max_mean) << "M=" << M;
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "mean %.3f%%, worst %.3f%% (removing index %zu), %zu of 100 removals > 1.5%%",
                  total / 100, worst, worst_idx, over_1_5);
    RecordProperty("M", std::to_string(M));
    RecordProperty("disruption", buf);
    std::printf("Maglev M=%u, remove 1 of 100, moved share of surviving flows: %s\n", M, buf);
}

INSTANTIATE_TEST_SUITE_P(TableSizes, MaglevDisruption,
                         ::testing::Values(DisruptionCase{65537, 1.5, 1.5},
                                           DisruptionCase{0, 2.0, 1.5}),
                         [](const auto& info) {
                             return info.param.M ? "M" + std::to_string(info.param.M)
                                                 : std::string("MaglevTableSize100");
                         });

// ---- Weights --------------------------------------------------------------------------------

void expect_shares(const std::vector<uint32_t>& weights, uint32_t M) {
    std::vector<MaglevBackend> be;
    for (size_t i = 0; i < weights.size(); i++) {
        const uint32_t host = (192u << 24) | (0u << 16) | (2u << 8) | uint32_t(i + 1);
        be.push_back({backend_identity(IpAddr::v4(__builtin_bswap32(host)), 443), weights[i]});
    }
    be = sorted(be);
    const auto t = maglev_build(be, M);
    ASSERT_EQ(t.size(), M);
    const auto c = slot_counts(t, be.size());
    double sum = 0;
    for (const auto& b : be) sum += b.weight;
    for (size_t i = 0; i < be.size(); i++) {
        const double ideal = be[i].weight / sum;
        const double share = double(c[i]) / M;
        EXPECT_LE(std::abs(share - ideal), 0.02 * ideal)
            << "weight " << be[i].weight << " share " << share << " ideal " << ideal;
    }
}

TEST(MaglevWeights, OneTwoThreeFourWithin2Percent) { expect_shares({1, 2, 3, 4}, 65537); }
TEST(MaglevWeights, OneVersusTenWithin2Percent) { expect_shares({1, 10}, 65537); }
TEST(MaglevWeights, ManyMixedWeightsWithin2Percent) {
    std::vector<uint32_t> w;
    for (uint32_t i = 0; i < 30; i++) w.push_back(1 + i % 5);
    expect_shares(w, 65537);
}

TEST(MaglevWeights, ZeroWeightGetsNoSlots) {
    auto be = many_backends(10);
    be[3].weight = 0;
    be[7].weight = 0;
    const auto t = maglev_build(be, 1031);
    ASSERT_EQ(t.size(), 1031u);
    const auto c = slot_counts(t, be.size());
    EXPECT_EQ(c[3], 0u);
    EXPECT_EQ(c[7], 0u);
    // The remaining eight share the table evenly.
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < be.size(); i++) {
        if (i == 3 || i == 7) continue;
        lo = std::min(lo, c[i]);
        hi = std::max(hi, c[i]);
    }
    EXPECT_LE(hi - lo, 1u);
}

TEST(MaglevWeights, DrainingOneBackendMovesOnlyItsFlows) {
    // Weight 0 (drain) keeps the backend in the sorted list; only its slots should move
    // plus Maglev's usual small disruption.
    const auto be = many_backends(100);
    auto drained = be;
    drained[42].weight = 0;
    const auto t0 = maglev_build(be, 65537);
    const auto t1 = maglev_build(drained, 65537);
    ASSERT_EQ(t1.size(), 65537u);
    size_t surviving = 0, moved = 0;
    for (size_t i = 0; i < t0.size(); i++) {
        EXPECT_NE(t1[i], 42u);
        if (t0[i] == 42) continue;
        surviving++;
        moved += t0[i] != t1[i];
    }
    EXPECT_LE(100.0 * double(moved) / double(surviving), 1.5);
}

TEST(MaglevWeights, EmptyOrAllZeroGivesEmptyTable) {
    EXPECT_TRUE(maglev_build({}, 13).empty());
    std::vector<MaglevBackend> zero = many_backends(3, 0);
    EXPECT_TRUE(maglev_build(zero, 13).empty());
    EXPECT_TRUE(maglev_build(zero, 65537).empty());
}

TEST(MaglevWeights, SingleBackendOwnsEveryslot) {
    const auto be = many_backends(1);
    const auto t = maglev_build(be, 251);
    ASSERT_EQ(t.size(), 251u);
    EXPECT_TRUE(std::all_of(t.begin(), t.end(), [](uint32_t v) { return v == 0; }));
}

// ---- Table sizes ----------------------------------------------------------------------------

TEST(MaglevTableSize, EveryListedSizeIsPrimeAndAscending) {
    const auto p = maglev_primes();
    ASSERT_FALSE(p.empty());
    for (size_t i = 0; i < p.size(); i++) {
        EXPECT_TRUE(is_prime(p[i])) << p[i];
        if (i) {
            EXPECT_LT(p[i - 1], p[i]);
        }
    }
    EXPECT_NE(std::find(p.begin(), p.end(), 65537u), p.end()) << "65537 is the usual size";
}

TEST(MaglevTableSize, SmallestListedPrimeAtLeast100PerBackend) {
    const auto p = maglev_primes();
    for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(10), size_t(11),
                     size_t(100), size_t(101), size_t(655), size_t(656), size_t(1000),
                     size_t(5000)}) {
        const uint32_t m = maglev_table_size(n);
        EXPECT_NE(std::find(p.begin(), p.end(), m), p.end()) << n;
        if (uint64_t(m) >= 100 * uint64_t(n)) {
            // No smaller listed prime would do.
            for (uint32_t q : p) {
                if (q < m) {
                    EXPECT_LT(uint64_t(q), 100 * uint64_t(n)) << n;
                }
            }
        } else {
            EXPECT_EQ(m, p.back()) << n;
        }
    }
    EXPECT_EQ(maglev_table_size(3), 521u);
    EXPECT_EQ(maglev_table_size(100), 16411u);
    EXPECT_EQ(maglev_table_size(655), 65537u);
}

TEST(MaglevTableSize, CappedAtTheLargest) {
    const uint32_t largest = maglev_primes().back();
    EXPECT_EQ(maglev_table_size(100000), largest);
    EXPECT_EQ(maglev_table_size(SIZE_MAX / 1000), largest);
}

}  // namespace
}  // namespace svclb
