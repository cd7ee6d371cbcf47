// SPDX-License-Identifier: Apache-2.0
#include "lb/neigh.h"

#include <stdexcept>
#include <string>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

namespace svclb {

static std::atomic<int> g_neigh_seq{0};

NeighTable::NeighTable(uint32_t capacity, int socket_id) : capacity_(capacity) {
    const std::string name = "neigh" + std::to_string(g_neigh_seq++);
    rte_hash_parameters p{};
    p.name = name.c_str();
    p.entries = capacity;
    p.key_len = sizeof(IpAddr);
    p.hash_func = rte_jhash;
    p.socket_id = socket_id;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    hash_ = rte_hash_create(&p);
    if (!hash_) throw std::runtime_error("cannot create the neighbour hash: " + std::string(rte_strerror(rte_errno)));
    slots_ = static_cast<NeighSlot*>(
        rte_zmalloc_socket("neigh_slots", sizeof(NeighSlot) * capacity, RTE_CACHE_LINE_SIZE, socket_id));
    if (!slots_) {
        rte_hash_free(hash_);
        throw std::runtime_error("cannot allocate neighbour slots");
    }
    for (uint32_t i = 0; i < capacity; i++) new (&slots_[i]) NeighSlot();
}

NeighTable::~NeighTable() {
    rte_hash_free(hash_);
    rte_free(slots_);
}

int32_t NeighTable::lookup(const IpAddr& ip) const noexcept {
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &ip, &data) < 0) return -1;
    return int32_t(reinterpret_cast<uintptr_t>(data));
}

int32_t NeighTable::ensure(const IpAddr& ip, uint16_t port) {
    int32_t idx = lookup(ip);
    if (idx >= 0) return idx;
    // Slots are handed out in order and never reused (see the file comment).
    const int32_t next = rte_hash_count(hash_);
    if (uint32_t(next) >= capacity_) return -1;
    slots_[next].ip = ip;
    slots_[next].port = port;
    slots_[next].mac_word.store(0, std::memory_order_release);
    if (rte_hash_add_key_data(hash_, &ip, reinterpret_cast<void*>(uintptr_t(next))) < 0) return -1;
    return next;
}

void NeighTable::set_mac(int32_t idx, const MacAddr& mac) noexcept {
    uint64_t w = kValid;
    for (int i = 0; i < 6; i++) w |= uint64_t(mac.b[i]) << (8 * i);
    slots_[idx].mac_word.store(w, std::memory_order_release);
}

void NeighTable::invalidate(int32_t idx) noexcept {
    slots_[idx].mac_word.store(0, std::memory_order_release);
}

}  // namespace svclb
