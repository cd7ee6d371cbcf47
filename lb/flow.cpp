// SPDX-License-Identifier: Apache-2.0
#include "lb/flow.h"

#include <stdexcept>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace svclb {

const char* flow_state_name(FlowState s) noexcept {
    switch (s) {
    case FlowState::kTcpSynSent: return "SYN_SENT";
    case FlowState::kTcpEstablished: return "ESTABLISHED";
    case FlowState::kTcpFinWait: return "FIN_WAIT";
    case FlowState::kTcpTimeWait: return "TIME_WAIT";
    case FlowState::kTcpClose: return "CLOSE";
    case FlowState::kUdp: return "UDP";
    case FlowState::kIcmp: return "ICMP";
    case FlowState::kSctp: return "SCTP_ESTABLISHED";
    case FlowState::kSctpInit: return "SCTP_INIT";
    case FlowState::kSctpClosed: return "SCTP_CLOSED";
    case FlowState::kCount: break;
    }
    return "?";
}

template <typename A>
FlowTableT<A>::FlowTableT(uint32_t capacity, int socket_id, const std::string& name) : capacity_(capacity) {
    rte_hash_parameters p{};
    p.name = name.c_str();
    p.entries = capacity * 2; // two keys per flow
    p.key_len = sizeof(Key);
    p.hash_func = rte_hash_crc;
    p.socket_id = socket_id;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE; // capacity is guaranteed, not statistical
    hash_ = rte_hash_create(&p);
    if (!hash_) throw std::runtime_error("cannot create flow table " + name + ": " + rte_strerror(rte_errno));
    flows_ = static_cast<Flow*>(
        rte_zmalloc_socket("flows", sizeof(Flow) * capacity, RTE_CACHE_LINE_SIZE, socket_id));
    free_ = static_cast<uint32_t*>(rte_malloc_socket("flow_free", sizeof(uint32_t) * capacity, 0, socket_id));
    if (!flows_ || !free_) {
        rte_hash_free(hash_);
        rte_free(flows_);
        rte_free(free_);
        throw std::runtime_error("cannot allocate flow table " + name);
    }
    for (uint32_t i = 0; i < capacity; i++) {
        new (&flows_[i]) Flow();
        free_[i] = capacity - 1 - i; // pop order 0, 1, 2, ...
    }
    nfree_ = capacity;
}

template <typename A>
FlowTableT<A>::~FlowTableT() {
    rte_hash_free(hash_);
    rte_free(flows_);
    rte_free(free_);
}

template <typename A>
void FlowTableT<A>::lookup_bulk(const Key* const* keys, uint32_t n, int32_t* out) const noexcept {
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(hash_, reinterpret_cast<const void**>(const_cast<const Key**>(keys)),
                              n, &hits, data);
    for (uint32_t i = 0; i < n; i++)
        out[i] = (hits >> i) & 1 ? int32_t(reinterpret_cast<uintptr_t>(data[i])) : -1;
}

template <typename A>
int32_t FlowTableT<A>::lookup(const Key& k) const noexcept {
    void* d = nullptr;
    if (rte_hash_lookup_data(hash_, &k, &d) < 0) return -1;
    return int32_t(reinterpret_cast<uintptr_t>(d));
}

template <typename A>
int32_t FlowTableT<A>::create(const Key& fwd, const Key& rev) noexcept {
    if (nfree_ == 0) return kFull;
    const hash_sig_t hrev = rte_hash_hash(hash_, &rev);
    if (rte_hash_lookup_with_hash(hash_, &rev, hrev) >= 0) return kExists; // SNAT port in use
    const hash_sig_t hfwd = rte_hash_hash(hash_, &fwd);
    // Adding an existing key would silently repoint it: refuse, whatever the caller knows.
    if (rte_hash_lookup_with_hash(hash_, &fwd, hfwd) >= 0) return kExists;
    const uint32_t idx = free_[nfree_ - 1];
    if (rte_hash_add_key_with_hash_data(hash_, &fwd, hfwd, reinterpret_cast<void*>(uintptr_t(idx << 1))) < 0)
        return kFull;
    if (rte_hash_add_key_with_hash_data(hash_, &rev, hrev, reinterpret_cast<void*>(uintptr_t(idx << 1 | 1))) < 0) {
        rte_hash_del_key_with_hash(hash_, &fwd, hfwd);
        return kFull;
    }
    nfree_--;
    used_++;
    Flow& f = flows_[idx];
    f = Flow();
    f.fwd = fwd;
    f.rev = rev;
    f.in_use = true;
    return int32_t(idx);
}

template <typename A>
void FlowTableT<A>::remove(uint32_t idx) noexcept {
    Flow& f = flows_[idx];
    if (!f.in_use) return;
    rte_hash_del_key(hash_, &f.fwd);
    rte_hash_del_key(hash_, &f.rev);
    f.in_use = false;
    free_[nfree_++] = idx;
    used_--;
}

template <typename A>
uint32_t FlowTableT<A>::expire(uint64_t now, const uint64_t* timeout_tsc, uint32_t budget) noexcept {
    uint32_t removed = 0;
    for (uint32_t i = 0; i < budget && used_ > 0; i++) {
        const uint32_t idx = cursor_;
        cursor_ = cursor_ + 1 == capacity_ ? 0 : cursor_ + 1;
        Flow& f = flows_[idx];
        if (f.in_use && ((now > f.last_seen && now - f.last_seen > timeout_tsc[size_t(f.state)]) ||
                         (f.draining && now >= f.drain_deadline))) { // the cold line only then
            remove(idx);
            removed++;
        }
    }
    return removed;
}

template class FlowTableT<uint32_t>;
template class FlowTableT<Addr6>;

}  // namespace svclb
