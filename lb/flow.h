// SPDX-License-Identifier: Apache-2.0
// Per-lcore flow table (DESIGN.md, "Flows"). Invariant: one table per worker, read and
// written by that worker only (plain rte_hash, no concurrency flags). Each flow has two
// keys, the client->VIP tuple as received (forward) and the backend->SNAT tuple as
// received (reverse); both map to one entry. A reply that reaches another worker is
// handed to the owner, which the reply's destination port names (per-lcore SNAT ranges).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <rte_common.h>

#include "lb/packet.h"

struct rte_hash;

namespace svclb {

// An IPv6 address as it sits in a header (network byte order).
struct Addr6 {
    uint8_t b[16];
    bool operator==(const Addr6&) const = default;
};
static_assert(sizeof(Addr6) == 16);

// A flow key: addresses and ports in network byte order, exactly as on the wire. 8-byte
// aligned and padding-free: rte_hash_crc reads 64-bit words and compares bytes.
// A = uint32_t (IPv4, 16 bytes) or Addr6 (IPv6, 40 bytes).
template <typename A>
struct alignas(8) FlowKeyT {
    A src{}, dst{};
    uint16_t sport = 0, dport = 0;
    uint8_t proto = 0;
    uint8_t zero[3] = {};
};
using FlowKey4 = FlowKeyT<uint32_t>;
using FlowKey6 = FlowKeyT<Addr6>;
static_assert(sizeof(FlowKey4) == 16);
static_assert(sizeof(FlowKey6) == 40);
static_assert(std::has_unique_object_representations_v<FlowKey4>);
static_assert(std::has_unique_object_representations_v<FlowKey6>);

enum class FlowState : uint8_t {
    kTcpSynSent,     // client SYN seen
    kTcpEstablished, // backend answered SYN-ACK
    kTcpFinWait,     // a FIN seen in one direction
    kTcpTimeWait,    // FINs seen in both directions
    kTcpClose,       // RST seen
    kUdp,
    kIcmp,
    kSctp,           // INIT-ACK seen: the association is up
    kSctpInit,       // client INIT seen
    kSctpClosed,     // ABORT or SHUTDOWN COMPLETE seen
    kCount
};
const char* flow_state_name(FlowState s) noexcept;

// The fields every packet touches come first: for IPv4 they fill exactly one cache line
// (the worker prefetches it right after the bulk lookup).
template <typename A>
struct alignas(RTE_CACHE_LINE_SIZE) FlowT {
    FlowKeyT<A> fwd;        // client -> VIP
    FlowKeyT<A> rev;        // backend -> SNAT
    uint64_t last_seen = 0; // TSC
    uint32_t generation = 0; // snapshot generation (low 32 bits) the backend was checked against
    int16_t fwd_neigh = -1, rev_neigh = -1;    // neighbour slots, -1 = not known yet
    uint16_t fwd_port = 0, rev_port = 0;       // egress ports
    NatDelta fwd_delta, rev_delta;             // checksum terms per direction (lb/packet.h)
    FlowState state = FlowState::kUdp;
    uint8_t fins = 0; // bit 0: FIN from client, bit 1: FIN from backend
    bool in_use = false;
    bool draining = false; // its backend drains: aging also checks drain_deadline (cold)
    // Cold: consulted on a new snapshot generation or an unresolved next hop.
    uint64_t backend_id = 0;
    A fwd_nexthop{}, rev_nexthop{}; // next-hop IPs (network order)
    uint32_t sp_index = 0;
    uint64_t drain_deadline = 0; // TSC, while `draining`: aging ends the flow then
};
static_assert(offsetof(FlowT<uint32_t>, backend_id) <= RTE_CACHE_LINE_SIZE);
using Flow4 = FlowT<uint32_t>;
using Flow6 = FlowT<Addr6>;

template <typename A>
class FlowTableT {
public:
    using Key = FlowKeyT<A>;
    using Flow = FlowT<A>;

    static constexpr int32_t kFull = -1;
    static constexpr int32_t kExists = -2;

    // Runs on: control plane (construction allocates).
    FlowTableT(uint32_t capacity, int socket_id, const std::string& name);
    ~FlowTableT();
    FlowTableT(const FlowTableT&) = delete;
    FlowTableT& operator=(const FlowTableT&) = delete;

    // Runs on: owning worker. For each key, (index << 1 | reverse) or -1 for a miss.
    // n <= 64.
    void lookup_bulk(const Key* const* keys, uint32_t n, int32_t* out) const noexcept;
    int32_t lookup(const Key& k) const noexcept;
    // Runs on: owning worker. Creates a flow with both keys; index, kFull, or kExists when
    // either key is taken (each key is hashed once).
    int32_t create(const Key& fwd, const Key& rev) noexcept;
    void remove(uint32_t idx) noexcept;
    Flow& at(uint32_t idx) noexcept { return flows_[idx]; }
    const Flow& at(uint32_t idx) const noexcept { return flows_[idx]; }

    // Runs on: owning worker. Scans up to `budget` slots from the aging cursor and removes
    // flows idle for longer than their state's timeout (TSC cycles, indexed by FlowState).
    // Returns the number removed.
    uint32_t expire(uint64_t now, const uint64_t* timeout_tsc, uint32_t budget) noexcept;

    uint32_t size() const noexcept { return used_; }
    uint32_t capacity() const noexcept { return capacity_; }

private:
    rte_hash* hash_ = nullptr;
    Flow* flows_ = nullptr;
    uint32_t* free_ = nullptr; // stack of free indices
    uint32_t nfree_ = 0;
    uint32_t used_ = 0;
    uint32_t capacity_;
    uint32_t cursor_ = 0;
};
using FlowTable = FlowTableT<uint32_t>;
using FlowTable6 = FlowTableT<Addr6>;
extern template class FlowTableT<uint32_t>;
extern template class FlowTableT<Addr6>;

}  // namespace svclb
