// SPDX-License-Identifier: Apache-2.0
// A worker lcore: polls its RX queue on every port, runs the pipeline on each burst,
// transmits through per-port TX buffers, ages its flows in bounded slices. Everything in
// this file runs on the worker's lcore (DESIGN.md, "What may run on a worker lcore"):
// no blocking, no heap allocation, no exceptions, no logging per packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "lb/counters.h"
#include "lb/flow.h"
#include "lb/snapshot.h"

struct rte_mbuf;
struct rte_ring;
struct rte_eth_dev_tx_buffer;
struct rte_ipv4_hdr;

namespace svclb {

class Dataplane;
class NeighTable;

inline constexpr uint16_t kBurst = 32;

// Per-packet metadata in the mbuf private area, used when a packet is handed between the
// worker and the control plane (awaiting ARP, or to be sent by the worker for the CP).
struct PktPriv {
    IpAddr nexthop;
    uint16_t out_port = 0;
    uint8_t kind = 0;
    uint8_t l2 = 14; // Ethernet header length, 18 with an 802.1Q tag
    uint8_t hops = 0; // hand-offs so far of a DNAT reply looking for its flow's worker
};
enum PrivKind : uint8_t {
    kPrivArp = 1,        // ARP or an IPv6 neighbour advertisement to learn from
    kPrivAwaitNeigh = 2, // translated packet waiting for its next hop's MAC
    kPrivSend = 3,       // control plane -> worker: transmit on out_port as is
    kPrivFlowQuery = 4,  // control plane -> worker: look up a FlowQuery's key (live trace)
    kPrivFlowAnswer = 5, // worker -> control plane: the same mbuf, answered
    kPrivPunt = 6,       // worker -> control plane: for the kernel (exception path)
};

// The data of a kPrivFlowQuery / kPrivFlowAnswer mbuf: the worker looks the key up in its
// own flow table (the table's single owner, lb/flow.h) and copies the entry it finds.
struct FlowQuery {
    uint8_t v6 = 0;    // which key and entry
    uint8_t found = 0; // set by the worker
    uint16_t worker = 0;
    uint32_t reverse = 0; // the key matched the flow's reverse (backend -> SNAT) key
    uint64_t seq = 0;     // the asking trace's number: a late answer to an earlier one is ignored
    FlowKey4 key4;
    FlowKey6 key6;
    Flow4 flow4;
    Flow6 flow6;
};
PktPriv* pkt_priv(rte_mbuf* m) noexcept;

class Worker {
public:
    // Runs on: control plane (allocates the flow table, rings and TX buffers).
    // This worker allocates SNAT ports from [snat_lo, snat_hi).
    // A `trace` worker (the live trace, cp/trace.h) is never launched: the control plane
    // calls process_burst on it with one packet, never flush_tx, and takes what it would
    // have sent from take_output() (its index is the worker count: it has no TX queue, so
    // its TX buffers, 32 deep, must never fill and flush). It is not an RCU reader (the publisher itself drives it), hands
    // nothing to other workers, and its rings and tables have names of their own.
    Worker(Dataplane& dp, uint16_t index, uint32_t flow_capacity, uint32_t snat_lo, uint32_t snat_hi,
           bool trace = false);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Runs on: worker lcore. One iteration: RX every port, process, drain control-plane
    // sends, age a slice of flows, flush TX, report quiescence. Returns packets received.
    uint32_t poll_once() noexcept;
    // Runs on: worker lcore. Loops poll_once() until stop is requested.
    void run() noexcept;
    void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }

    // Runs on: worker lcore. The pipeline on one received burst (exposed for benchmarks).
    void process_burst(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n) noexcept;
    // Runs on: worker lcore. Flushes every TX buffer.
    void flush_tx() noexcept;

    uint16_t index() const noexcept { return index_; }
    LcoreCounters& counters() noexcept { return counters_; }
    const LcoreCounters& counters() const noexcept { return counters_; }
    FlowTable& flows() noexcept { return flows_; }
    FlowTable6& flows6() noexcept { return flows6_; }
    rte_ring* to_cp() const noexcept { return to_cp_; }
    // Runs on: control plane, trace workers only (poll_once, which takes them from each new
    // snapshot, never runs there): the snapshot's reject and punt rates.
    void adopt_rates(const Snapshot& s) noexcept;
    // Runs on: control plane, trace workers only. Everything process_burst sent or handed
    // to the control plane, in that order; the caller frees the mbufs.
    std::vector<rte_mbuf*> take_output();
    rte_ring* from_cp() const noexcept { return from_cp_; }
    // Replies that reached another worker, handed to this one (multi-producer).
    rte_ring* redirect() const noexcept { return redirect_; }
    uint32_t flow_count() const noexcept { return flow_count_.load(std::memory_order_relaxed); }

private:
    template <typename A> struct CandT;
    template <typename A> FlowTableT<A>& table() noexcept;
    void handle_arp(const Snapshot& s, uint16_t in_port, rte_mbuf* m, uint32_t l2) noexcept;
    void handle_icmp(uint16_t in_port, rte_mbuf* m, rte_ipv4_hdr* ip) noexcept;
    void handle_icmp6(const Snapshot& s, uint16_t in_port, rte_mbuf* m, uint32_t l3, uint8_t* icmp,
                      uint32_t len, bool mcast) noexcept;
    template <typename A>
    void lookup_and_dispatch(const Snapshot& s, CandT<A>* cand, uint32_t n, uint64_t now) noexcept;
    template <typename A> void on_hit(const Snapshot& s, CandT<A>& c, int32_t res, uint64_t now) noexcept;
    template <typename A> void on_miss(const Snapshot& s, CandT<A>& c, uint64_t now) noexcept;
    enum class Recheck : uint8_t { kKept, kDrained, kGone };
    template <typename A> Recheck recheck(const Snapshot& s, FlowT<A>& f, uint64_t now) noexcept;
    template <typename A> void translate(CandT<A>& c, FlowT<A>& f, bool reverse_dir) noexcept;
    template <typename A>
    void emit(rte_mbuf* m, uint16_t in_port, uint16_t out_port, const A& nexthop, int16_t& neigh) noexcept;
    bool retag(rte_mbuf* m, uint16_t in_port, uint16_t out_port) noexcept;
    void redirect_to(int owner, rte_mbuf* m, uint16_t in_port, uint8_t hops = 0) noexcept;
    template <typename A> void reject(CandT<A>& c, Drop why) noexcept;
    // A token bucket of `rate` tokens a second (burst: one second's worth); rate 0 = none.
    struct TokenBucket {
        uint32_t tokens = 0;
        uint64_t refill = 0; // TSC
        bool take(uint32_t rate, uint64_t now) noexcept;
    };
    const BackendRt* affinity_pick(const ServicePortRt& sp, const IpAddr& client, uint64_t now) noexcept;
    void affinity_store(const ServicePortRt& sp, const IpAddr& client, uint64_t backend_id, uint64_t now) noexcept;
    unsigned drain_redirects(const Snapshot& s) noexcept;
    template <typename A> void flush_slice(const Snapshot& s, FlowTableT<A>& t, int which) noexcept;
    void tx(uint16_t port, rte_mbuf* m) noexcept;
    void to_control(rte_mbuf* m, uint8_t kind) noexcept;
    void answer_flow_query(rte_mbuf* m) noexcept;
    void punt(rte_mbuf* m) noexcept;
    void drop(rte_mbuf* m, Drop why) noexcept;
    void free_dropped() noexcept;
    uint16_t next_snat_port() noexcept;

    Dataplane& dp_;
    NeighTable& neigh_;
    const uint16_t index_;
    FlowTable flows_;
    FlowTable6 flows6_;
    LcoreCounters counters_;
    rte_ring* to_cp_ = nullptr;
    rte_ring* from_cp_ = nullptr;
    rte_ring* redirect_ = nullptr;
    // ClientIP affinity: (service port, client address) -> backend, last new connection.
    // Per worker, like the flows; the choice without an entry hashes the client address
    // only, so every worker (and every instance) makes the same first choice.
    struct AffinityEntry {
        uint64_t backend_id;
        uint64_t last_used; // TSC
        uint64_t expires;   // TSC: last_used + the service's timeout
        bool used;
    };
    uint32_t affinity_cursor_ = 0;
    void age_affinity(uint64_t now, uint32_t budget) noexcept;
    rte_hash* affinity_ = nullptr;
    AffinityEntry* affinity_entries_ = nullptr;
    std::vector<rte_eth_dev_tx_buffer*> txbuf_; // by port id
    std::vector<MacAddr> port_mac_;             // by port id
    std::vector<uint16_t> port_vlan_;           // by port id; 0 = untagged
    uint64_t timeout_tsc_[size_t(FlowState::kCount)] = {};
    uint64_t timeouts_gen_ = UINT64_MAX;
    uint64_t last_aging_ = 0, aging_interval_ = 0;
    uint32_t flush_left_[2] = {}, flush_cursor_[2] = {}; // UDP flush sweep, IPv4 / IPv6
    uint32_t snat_lo_, snat_hi_, snat_next_;
    uint32_t idle_polls_ = 0;
    bool in_redirect_ = false; // processing packets handed over by another worker
    uint32_t reject_rate_ = 1000, punt_rate_ = 10000;
    TokenBucket rejects_, punts_;
    rte_mbuf* dropped_[kBurst];
    uint16_t ndropped_ = 0;
    bool online_ = false;
    const bool trace_;
    std::atomic<bool> stop_{false};
    std::atomic<uint32_t> flow_count_{0};
};

}  // namespace svclb
