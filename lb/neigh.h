// SPDX-License-Identifier: Apache-2.0
// The neighbour table the dataplane reads: IP -> MAC for next hops (ARP today, NDP later).
// Invariant: exactly one writer, the control plane; any number of lock-free readers (the
// workers). The index is an rte_hash created with RW_CONCURRENCY_LF. An entry, once
// created for an address, keeps that address and its slot for the life of the process:
// resolution state changes by rewriting `mac_word` atomically, so a worker that cached a
// slot index (flows do) reads either the old or the new MAC, never a torn one.
#pragma once

#include <atomic>
#include <cstdint>

#include <rte_byteorder.h>

#include <rte_common.h>

#include "lb/addr.h"

struct rte_hash;

namespace svclb {

struct alignas(RTE_CACHE_LINE_SIZE) NeighSlot {
    // bits 0..47: MAC in wire order; bit 63: valid (resolved or static).
    std::atomic<uint64_t> mac_word{0};
    IpAddr ip;
    uint16_t port = 0;
};

static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "mac_word packs the MAC little-endian");

class NeighTable {
public:
    static constexpr uint64_t kValid = 1ull << 63;

    // Runs on: control plane. Throws std::runtime_error when DPDK cannot allocate.
    explicit NeighTable(uint32_t capacity, int socket_id);
    ~NeighTable();
    NeighTable(const NeighTable&) = delete;
    NeighTable& operator=(const NeighTable&) = delete;

    // Runs on: any lcore. Slot index for `ip`, or -1.
    int32_t lookup(const IpAddr& ip) const noexcept;
    // Runs on: any lcore. True and the MAC when slot `idx` is resolved.
    bool mac(int32_t idx, MacAddr* out) const noexcept {
        const uint64_t w = slots_[idx].mac_word.load(std::memory_order_acquire);
        if (!(w & kValid)) return false;
        for (int i = 0; i < 6; i++) out->b[i] = uint8_t(w >> (8 * i));
        return true;
    }
    // Runs on: any lcore. The raw word: MAC in bytes 0..5 (little-endian hosts), kValid.
    uint64_t mac_word(int32_t idx) const noexcept { return slots_[idx].mac_word.load(std::memory_order_acquire); }
    const NeighSlot& slot(int32_t idx) const noexcept { return slots_[idx]; }
    uint32_t capacity() const noexcept { return capacity_; }

    // Runs on: control plane only. Finds or creates the slot for `ip`; -1 when full.
    int32_t ensure(const IpAddr& ip, uint16_t port);
    // Runs on: control plane only.
    void set_mac(int32_t idx, const MacAddr& mac) noexcept;
    void invalidate(int32_t idx) noexcept;

private:
    rte_hash* hash_ = nullptr;
    NeighSlot* slots_ = nullptr;
    uint32_t capacity_;
};

}  // namespace svclb
