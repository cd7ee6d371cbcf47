// SPDX-License-Identifier: Apache-2.0
// The per-lcore flow table (lb/flow.h, DESIGN.md "Flows"): two keys per flow, a fixed
// capacity where "full" is an answer and never a resize, and bounded aging by state. Needs
// the EAL (rte_hash, rte_malloc), hence SVCLB_EAL_TEST_MAIN at the bottom.
#include <gtest/gtest.h>

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <rte_memory.h>

#include "lb/flow.h"
#include "tests/eal_env.h"

namespace svclb {
namespace {

uint32_t be32(uint32_t host) { return __builtin_bswap32(host); }
uint16_t be16(uint16_t host) { return uint16_t((host >> 8) | (host << 8)); }

// rte_hash names are process-global: every table gets its own.
std::string unique_name() {
    static std::atomic<int> n{0};
    return "flowtest" + std::to_string(n++);
}

// Client 10.x.y.z:sport -> VIP 203.0.113.10:80, flow number i.
FlowKey4 fwd_key(uint32_t i, uint8_t proto = IPPROTO_TCP) {
    FlowKey4 k;
    k.src = be32(0x0a000000u | (i >> 8));
    k.dst = be32(0xcb00710au);
    k.sport = be16(uint16_t(1024 + (i & 0xff)));
    k.dport = be16(80);
    k.proto = proto;
    return k;
}

// Backend 203.0.113.1:8080 -> SNAT 198.51.100.1:port, flow number i.
FlowKey4 rev_key(uint32_t i, uint8_t proto = IPPROTO_TCP) {
    FlowKey4 k;
    k.src = be32(0xcb007101u);
    k.dst = be32(0xc6336400u | (i >> 16));
    k.sport = be16(8080);
    k.dport = be16(uint16_t(i & 0xffff));
    k.proto = proto;
    return k;
}

constexpr size_t kStates = size_t(FlowState::kCount);

// Distinct timeouts per state so that a lookup by the wrong state would show.
std::array<uint64_t, kStates> timeouts() {
    std::array<uint64_t, kStates> t{};
    for (size_t s = 0; s < kStates; s++) t[s] = 1000 * (s + 1) + 7 * s;
    return t;
}

constexpr uint64_t kNow = 1'000'000'000;

TEST(FlowTable, CreateThenLookupBothDirections) {
    FlowTable ft(64, SOCKET_ID_ANY, unique_name());
    EXPECT_EQ(ft.capacity(), 64u);
    const FlowKey4 f = fwd_key(1), r = rev_key(1);
    const int32_t idx = ft.create(f, r);
    ASSERT_GE(idx, 0);
    ASSERT_LT(uint32_t(idx), ft.capacity());
    EXPECT_EQ(ft.lookup(f), idx << 1);
    EXPECT_EQ(ft.lookup(r), idx << 1 | 1);
    const Flow4& fl = ft.at(uint32_t(idx));
    EXPECT_TRUE(fl.in_use);
    EXPECT_EQ(std::memcmp(&fl.fwd, &f, sizeof f), 0);
    EXPECT_EQ(std::memcmp(&fl.rev, &r, sizeof r), 0);
    // A different protocol on the same addresses and ports is a different flow.
    EXPECT_EQ(ft.lookup(fwd_key(1, IPPROTO_UDP)), -1);
    EXPECT_EQ(ft.lookup(fwd_key(2)), -1);
}

TEST(FlowTable, CreateResetsTheEntry) {
    // A slot reused after remove() starts from a default Flow4, not the old flow's state.
    FlowTable ft(4, SOCKET_ID_ANY, unique_name());
    const int32_t a = ft.create(fwd_key(1), rev_key(1));
    ASSERT_GE(a, 0);
    ft.at(uint32_t(a)).state = FlowState::kTcpEstablished;
    ft.at(uint32_t(a)).backend_id = 42;
    ft.at(uint32_t(a)).fins = 3;
    ft.remove(uint32_t(a));
    const int32_t b = ft.create(fwd_key(2), rev_key(2));
    ASSERT_EQ(b, a);
    EXPECT_EQ(ft.at(uint32_t(b)).backend_id, 0u);
    EXPECT_EQ(ft.at(uint32_t(b)).fins, 0);
    EXPECT_EQ(ft.at(uint32_t(b)).state, Flow4().state);
    EXPECT_EQ(ft.at(uint32_t(b)).fwd_neigh, -1);
}

TEST(FlowTable, LookupBulkMixesHitsAndMisses) {
    FlowTable ft(256, SOCKET_ID_ANY, unique_name());
    std::vector<int32_t> idx(100);
    for (uint32_t i = 0; i < 100; i++) {
        idx[i] = ft.create(fwd_key(i), rev_key(i));
        ASSERT_GE(idx[i], 0);
    }
    // 64 keys: forward hits, reverse hits and misses (flows 100.. were never created).
    std::vector<FlowKey4> keys;
    std::vector<int32_t> want;
    for (uint32_t j = 0; j < 64; j++) {
        const uint32_t i = (j * 37) % 100;
        if (j % 3 == 0) {
            keys.push_back(fwd_key(i));
            want.push_back(idx[i] << 1);
        } else if (j % 3 == 1) {
            keys.push_back(rev_key(i));
            want.push_back(idx[i] << 1 | 1);
        } else {
            keys.push_back(j % 2 ? fwd_key(100 + j) : rev_key(100 + j));
            want.push_back(-1);
        }
    }
    std::vector<const FlowKey4*> ptrs;
    for (const auto& k : keys) ptrs.push_back(&k);
    for (uint32_t n : {64u, 63u, 17u, 1u}) {
        std::vector<int32_t> out(64, 12345);
        ft.lookup_bulk(ptrs.data(), n, out.data());
        for (uint32_t j = 0; j < n; j++) {
            EXPECT_EQ(out[j], want[j]) << "n=" << n << " key " << j;
            EXPECT_EQ(out[j], ft.lookup(keys[j])) << "n=" << n << " key " << j;
        }
        for (uint32_t j = n; j < 64; j++) EXPECT_EQ(out[j], 12345) << "wrote past n=" << n;
    }
    // All misses.
    std::vector<FlowKey4> miss;
    for (uint32_t j = 0; j < 8; j++) miss.push_back(fwd_key(1000 + j));
    std::vector<const FlowKey4*> mp;
    for (const auto& k : miss) mp.push_back(&k);
    int32_t out[8];
    ft.lookup_bulk(mp.data(), 8, out);
    for (int32_t v : out) EXPECT_EQ(v, -1);
}

TEST(FlowTable, CreateRefusesDuplicateForwardOrReverseKey) {
    FlowTable ft(16, SOCKET_ID_ANY, unique_name());
    const int32_t a = ft.create(fwd_key(1), rev_key(1));
    ASSERT_GE(a, 0);
    EXPECT_EQ(ft.create(fwd_key(1), rev_key(2)), FlowTable::kExists); // same forward
    EXPECT_EQ(ft.create(fwd_key(2), rev_key(1)), FlowTable::kExists); // same reverse
    EXPECT_EQ(ft.create(fwd_key(1), rev_key(1)), FlowTable::kExists); // both
    // One flow's reverse key as another's forward key (and vice versa) is a clash too.
    EXPECT_EQ(ft.create(rev_key(1), rev_key(3)), FlowTable::kExists);
    EXPECT_EQ(ft.create(fwd_key(3), fwd_key(1)), FlowTable::kExists);
    EXPECT_EQ(ft.size(), 1u);
    // The refused attempts left nothing behind.
    EXPECT_EQ(ft.lookup(fwd_key(1)), a << 1);
    EXPECT_EQ(ft.lookup(rev_key(1)), a << 1 | 1);
    EXPECT_EQ(ft.lookup(fwd_key(2)), -1);
    EXPECT_EQ(ft.lookup(rev_key(2)), -1);
    EXPECT_EQ(ft.lookup(rev_key(3)), -1);
    EXPECT_EQ(ft.lookup(fwd_key(3)), -1);
    EXPECT_GE(ft.create(fwd_key(2), rev_key(2)), 0);
    EXPECT_EQ(ft.size(), 2u);
}

TEST(FlowTable, RemoveFreesBothKeysAndTheSlotIsReused) {
    FlowTable ft(8, SOCKET_ID_ANY, unique_name());
    const int32_t a = ft.create(fwd_key(1), rev_key(1));
    const int32_t b = ft.create(fwd_key(2), rev_key(2));
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    ASSERT_NE(a, b);
    ft.remove(uint32_t(a));
    EXPECT_FALSE(ft.at(uint32_t(a)).in_use);
    EXPECT_EQ(ft.lookup(fwd_key(1)), -1);
    EXPECT_EQ(ft.lookup(rev_key(1)), -1);
    EXPECT_EQ(ft.lookup(fwd_key(2)), b << 1); // the other flow is untouched
    EXPECT_EQ(ft.lookup(rev_key(2)), b << 1 | 1);
    EXPECT_EQ(ft.size(), 1u);
    // The same keys can be created again, and the freed slot is what they get.
    const int32_t c = ft.create(fwd_key(1), rev_key(1));
    EXPECT_EQ(c, a);
    EXPECT_EQ(ft.lookup(fwd_key(1)), c << 1);
    EXPECT_EQ(ft.lookup(rev_key(1)), c << 1 | 1);
    // A different flow also reuses a freed slot.
    ft.remove(uint32_t(b));
    EXPECT_EQ(ft.create(fwd_key(9), rev_key(9)), b);
    EXPECT_EQ(ft.size(), 2u);
}

TEST(FlowTable, RemovingTwiceIsHarmless) {
    FlowTable ft(4, SOCKET_ID_ANY, unique_name());
    const int32_t a = ft.create(fwd_key(1), rev_key(1));
    const int32_t b = ft.create(fwd_key(2), rev_key(2));
    ft.remove(uint32_t(a));
    ft.remove(uint32_t(a));
    EXPECT_EQ(ft.size(), 1u);
    // The slot went onto the free list once: four creates fit in a 4-slot table with one
    // flow, the fourth does not, and no two flows share a slot.
    std::set<int32_t> got{b};
    for (uint32_t i = 10; i < 13; i++) {
        const int32_t x = ft.create(fwd_key(i), rev_key(i));
        ASSERT_GE(x, 0);
        EXPECT_TRUE(got.insert(x).second) << "slot " << x << " handed out twice";
    }
    EXPECT_EQ(ft.create(fwd_key(20), rev_key(20)), FlowTable::kFull);
    EXPECT_EQ(ft.size(), 4u);
}

class FlowTableFull : public ::testing::TestWithParam<uint32_t> {};

TEST_P(FlowTableFull, CapacityCreatesSucceedThenFullThenRoomAfterRemove) {
    const uint32_t C = GetParam();
    FlowTable ft(C, SOCKET_ID_ANY, unique_name());
    std::vector<bool> seen(C, false);
    for (uint32_t i = 0; i < C; i++) {
        const int32_t idx = ft.create(fwd_key(i), rev_key(i));
        ASSERT_GE(idx, 0) << "create " << i << " of " << C;
        ASSERT_LT(uint32_t(idx), C);
        ASSERT_FALSE(seen[uint32_t(idx)]) << "slot " << idx << " handed out twice";
        seen[uint32_t(idx)] = true;
    }
    EXPECT_EQ(ft.size(), C);
    EXPECT_EQ(ft.create(fwd_key(C), rev_key(C)), FlowTable::kFull);
    EXPECT_EQ(ft.create(fwd_key(C + 1), rev_key(C + 1)), FlowTable::kFull);
    EXPECT_EQ(ft.size(), C);
    EXPECT_EQ(ft.lookup(fwd_key(C)), -1);
    // Every one of the 2C keys is still there (the hash holds both keys of every flow).
    for (uint32_t i = 0; i < C; i++) {
        const int32_t f = ft.lookup(fwd_key(i));
        ASSERT_GE(f, 0) << i;
        ASSERT_EQ(f & 1, 0);
        ASSERT_EQ(ft.lookup(rev_key(i)), f | 1) << i;
    }
    const uint32_t victim = uint32_t(ft.lookup(fwd_key(C / 2))) >> 1;
    ft.remove(victim);
    EXPECT_EQ(ft.size(), C - 1);
    EXPECT_EQ(ft.create(fwd_key(C), rev_key(C)), int32_t(victim));
    EXPECT_EQ(ft.size(), C);
    EXPECT_EQ(ft.create(fwd_key(C + 1), rev_key(C + 1)), FlowTable::kFull);
}

// 4 is the smallest capacity rte_hash accepts (8 entries, two keys per flow); 1000 is not a
// power of two, which rte_hash rounds up internally: the table must still stop at 1000.
INSTANTIATE_TEST_SUITE_P(Capacities, FlowTableFull, ::testing::Values(4u, 1000u, 1024u, 65536u),
                         [](const auto& info) { return "C" + std::to_string(info.param); });

TEST(FlowTableExpire, EachStateTimesOutAfterItsOwnTimeout) {
    const auto t = timeouts();
    FlowTable ft(256, SOCKET_ID_ANY, unique_name());
    struct Case {
        int32_t idx;
        bool expect_removed;
        std::string what;
    };
    std::vector<Case> cases;
    uint32_t n = 0;
    for (size_t s = 0; s < kStates; s++) {
        const auto st = FlowState(s);
        auto add = [&](uint64_t last_seen, bool removed, const char* what) {
            const int32_t idx = ft.create(fwd_key(n), rev_key(n));
            n++;
            ASSERT_GE(idx, 0);
            ft.at(uint32_t(idx)).state = st;
            ft.at(uint32_t(idx)).last_seen = last_seen;
            cases.push_back({idx, removed, std::string(flow_state_name(st)) + " " + what});
        };
        add(kNow - (t[s] + 1), true, "idle timeout+1");
        add(kNow - (t[s] - 1), false, "idle timeout-1");
        add(kNow - t[s], false, "idle exactly timeout");
        add(kNow, false, "seen now");
        add(kNow + 5, false, "seen slightly in the future (TSC of another lcore)");
        add(kNow - 100 * t[kStates - 1], true, "idle far longer than every timeout");
        // A timeout belonging to another state must not be used: idle between this state's
        // timeout and the next larger one is expired only by this state's rule.
        if (s + 1 < kStates) add(kNow - (t[s] + t[s + 1]) / 2, true, "idle between timeouts");
    }
    const uint32_t want_removed = uint32_t(std::count_if(
        cases.begin(), cases.end(), [](const Case& c) { return c.expect_removed; }));
    const uint32_t before = ft.size();
    EXPECT_EQ(ft.expire(kNow, t.data(), ft.capacity()), want_removed);
    EXPECT_EQ(ft.size(), before - want_removed);
    for (const auto& c : cases) {
        EXPECT_EQ(ft.at(uint32_t(c.idx)).in_use, !c.expect_removed) << c.what;
        const Flow4& f = ft.at(uint32_t(c.idx));
        if (c.expect_removed) {
            EXPECT_EQ(ft.lookup(f.fwd), -1) << c.what;
            EXPECT_EQ(ft.lookup(f.rev), -1) << c.what;
        } else {
            EXPECT_EQ(ft.lookup(f.fwd), c.idx << 1) << c.what;
        }
    }
    // A second sweep finds nothing more.
    EXPECT_EQ(ft.expire(kNow, t.data(), ft.capacity()), 0u);
}

TEST(FlowTableExpire, TimeoutsAreReadPerState) {
    // Only UDP has a short timeout here: an idle TCP flow survives, an idle UDP one goes.
    std::array<uint64_t, kStates> t{};
    t.fill(1'000'000);
    t[size_t(FlowState::kUdp)] = 10;
    FlowTable ft(8, SOCKET_ID_ANY, unique_name());
    const int32_t tcp = ft.create(fwd_key(1), rev_key(1));
    const int32_t udp = ft.create(fwd_key(2, IPPROTO_UDP), rev_key(2, IPPROTO_UDP));
    ft.at(uint32_t(tcp)).state = FlowState::kTcpEstablished;
    ft.at(uint32_t(udp)).state = FlowState::kUdp;
    ft.at(uint32_t(tcp)).last_seen = kNow - 1000;
    ft.at(uint32_t(udp)).last_seen = kNow - 1000;
    EXPECT_EQ(ft.expire(kNow, t.data(), 8), 1u);
    EXPECT_TRUE(ft.at(uint32_t(tcp)).in_use);
    EXPECT_FALSE(ft.at(uint32_t(udp)).in_use);
}

TEST(FlowTableExpire, RespectsBudgetAndAFullSweepRemovesAllExpired) {
    // Every slot in use, every other flow expired: a budget of B scans B slots, so it can
    // remove at most B (and here exactly B/2); ceil(C/B) calls sweep the whole table.
    constexpr uint32_t C = 1024, B = 100;
    const auto t = timeouts();
    FlowTable ft(C, SOCKET_ID_ANY, unique_name());
    for (uint32_t i = 0; i < C; i++) {
        const int32_t idx = ft.create(fwd_key(i), rev_key(i));
        ASSERT_GE(idx, 0);
        Flow4& f = ft.at(uint32_t(idx));
        f.state = FlowState::kUdp;
        f.last_seen = (idx % 2) ? kNow - t[size_t(FlowState::kUdp)] - 1 : kNow;
    }
    uint32_t total = 0;
    const uint32_t calls = (C + B - 1) / B;
    for (uint32_t c = 0; c < calls; c++) {
        const uint32_t r = ft.expire(kNow, t.data(), B);
        EXPECT_LE(r, B / 2) << "call " << c << " removed more than it may have scanned";
        if (c + 1 < calls) {
            EXPECT_EQ(r, B / 2) << "call " << c;
        }
        total += r;
    }
    EXPECT_EQ(total, C / 2);
    EXPECT_EQ(ft.size(), C / 2);
    for (uint32_t i = 0; i < C; i++) {
        const Flow4& f = ft.at(i);
        EXPECT_EQ(f.in_use, i % 2 == 0) << i;
    }
    EXPECT_EQ(ft.expire(kNow, t.data(), C), 0u);
}

TEST(FlowTableExpire, BudgetOfOneScansOneSlotAndTheCursorWraps) {
    const auto t = timeouts();
    constexpr uint32_t C = 16;
    FlowTable ft(C, SOCKET_ID_ANY, unique_name());
    for (uint32_t i = 0; i < C; i++) {
        const int32_t idx = ft.create(fwd_key(i), rev_key(i));
        ASSERT_EQ(idx, int32_t(i)); // slots are handed out 0, 1, 2, ...
        ft.at(i).state = FlowState::kTcpClose;
        ft.at(i).last_seen = kNow; // fresh
    }
    // Advance the cursor to the middle with nothing to expire.
    for (uint32_t i = 0; i < C / 2; i++) EXPECT_EQ(ft.expire(kNow, t.data(), 1), 0u);
    // Now everything is old; each budget-1 call removes exactly one, in cursor order,
    // wrapping around to slot 0.
    const uint64_t later = kNow + t[size_t(FlowState::kTcpClose)] + 1;
    for (uint32_t k = 0; k < C; k++) {
        const uint32_t slot = (C / 2 + k) % C;
        EXPECT_EQ(ft.expire(later, t.data(), 1), 1u) << k;
        EXPECT_FALSE(ft.at(slot).in_use) << "slot " << slot;
        EXPECT_EQ(ft.size(), C - 1 - k);
    }
    EXPECT_EQ(ft.expire(later, t.data(), C), 0u);
}

TEST(FlowTableExpire, ZeroBudgetOrEmptyTableDoesNothing) {
    const auto t = timeouts();
    FlowTable ft(8, SOCKET_ID_ANY, unique_name());
    EXPECT_EQ(ft.expire(kNow, t.data(), 8), 0u);
    const int32_t a = ft.create(fwd_key(1), rev_key(1));
    ft.at(uint32_t(a)).last_seen = 0;
    EXPECT_EQ(ft.expire(kNow, t.data(), 0), 0u);
    EXPECT_TRUE(ft.at(uint32_t(a)).in_use);
    EXPECT_EQ(ft.expire(kNow, t.data(), 8), 1u);
    EXPECT_EQ(ft.size(), 0u);
}

TEST(FlowTable, SizeBookkeeping) {
    FlowTable ft(32, SOCKET_ID_ANY, unique_name());
    EXPECT_EQ(ft.size(), 0u);
    std::vector<int32_t> idx;
    for (uint32_t i = 0; i < 32; i++) {
        idx.push_back(ft.create(fwd_key(i), rev_key(i)));
        ASSERT_GE(idx.back(), 0);
        EXPECT_EQ(ft.size(), i + 1);
    }
    EXPECT_EQ(ft.create(fwd_key(100), rev_key(100)), FlowTable::kFull);
    EXPECT_EQ(ft.size(), 32u); // kFull changes nothing
    for (uint32_t i = 0; i < 32; i += 2) ft.remove(uint32_t(idx[i]));
    EXPECT_EQ(ft.size(), 16u);
    EXPECT_EQ(ft.create(fwd_key(1), rev_key(1)), FlowTable::kExists);
    EXPECT_EQ(ft.size(), 16u); // kExists changes nothing
    ft.remove(uint32_t(idx[0])); // already free
    EXPECT_EQ(ft.size(), 16u);
    const auto t = timeouts();
    for (uint32_t i = 1; i < 32; i += 2) ft.at(uint32_t(idx[i])).last_seen = 0;
    EXPECT_EQ(ft.expire(kNow, t.data(), 32), 16u);
    EXPECT_EQ(ft.size(), 0u);
    EXPECT_GE(ft.create(fwd_key(0), rev_key(0)), 0);
    EXPECT_EQ(ft.size(), 1u);
}

TEST(FlowTable, TwoTablesAreIndependent) {
    // One table per worker: the same key in two tables maps to each table's own entry.
    FlowTable a(8, SOCKET_ID_ANY, unique_name()), b(8, SOCKET_ID_ANY, unique_name());
    ASSERT_GE(b.create(fwd_key(5), rev_key(5)), 0);
    EXPECT_EQ(a.lookup(fwd_key(5)), -1);
    ASSERT_GE(a.create(fwd_key(5), rev_key(5)), 0);
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(b.size(), 1u);
}

TEST(FlowTable, DuplicateNameThrows) {
    // (rte_hash logs a "cannot reserve memory" line for the refused ring: expected.)
    const std::string name = unique_name();
    FlowTable a(8, SOCKET_ID_ANY, name);
    EXPECT_THROW(FlowTable(8, SOCKET_ID_ANY, name), std::runtime_error);
}

}  // namespace
}  // namespace svclb

SVCLB_EAL_TEST_MAIN()
