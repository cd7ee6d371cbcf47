// SPDX-License-Identifier: Apache-2.0
// The per-packet pipeline. Runs on: worker lcore (everything below except the
// constructor and destructor).
#include "lb/worker.h"

#include <stdexcept>
#include <type_traits>
#include <string>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "lb/dataplane.h"
#include "lb/packet.h"

namespace svclb {

PktPriv* pkt_priv(rte_mbuf* m) noexcept { return static_cast<PktPriv*>(rte_mbuf_to_priv(m)); }

// Address helpers for the two families (FlowKeyT<uint32_t> / FlowKeyT<Addr6>).
static inline IpAddr to_ip(uint32_t a) noexcept { return IpAddr::v4(a); }
static inline IpAddr to_ip(const Addr6& a) noexcept { return IpAddr::v6(a.b); }
static inline void from_ip(const IpAddr& ip, uint32_t& out) noexcept { out = ip.v4_be(); }
static inline void from_ip(const IpAddr& ip, Addr6& out) noexcept { std::memcpy(out.b, ip.bytes.data(), 16); }

// A packet that passed parsing and may hit a flow.
template <typename A>
struct Worker::CandT {
    rte_mbuf* m;
    void* ip;        // rte_ipv4_hdr or rte_ipv6_hdr
    uint8_t* hops;   // TTL / hop limit
    uint8_t* l4;
    uint16_t in_port;
    uint8_t local_kinds;
    uint8_t flags;   // TCP flags, or the first SCTP chunk type
    uint16_t l4len;
    FlowKeyT<A> key;
};

template <>
FlowTableT<uint32_t>& Worker::table<uint32_t>() noexcept { return flows_; }
template <>
FlowTableT<Addr6>& Worker::table<Addr6>() noexcept { return flows6_; }

struct alignas(8) AffinityKey {
    uint64_t service_port; // ServicePortRt::stable_id
    uint8_t addr[16];
    uint8_t family;
    uint8_t zero[7];
};
static_assert(std::has_unique_object_representations_v<AffinityKey>);
static constexpr uint32_t kAffinityEntries = 65536;

static AffinityKey affinity_key(const ServicePortRt& sp, const IpAddr& client) noexcept {
    AffinityKey k{};
    k.service_port = sp.stable_id;
    std::memcpy(k.addr, client.bytes.data(), 16);
    k.family = uint8_t(client.family);
    return k;
}

// What every reply svclb makes of a received packet shares: source and destination
// swapped, a fresh TTL / hop limit. (IPv4 callers recompute the header checksum after
// their own changes.)
static void turn_around(rte_ipv4_hdr* ip) noexcept {
    const uint32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
    ip->time_to_live = 64;
}
static void turn_around(rte_ipv6_hdr* ip6) noexcept {
    uint8_t tmp[16];
    std::memcpy(tmp, ip6->src_addr, 16);
    std::memcpy(ip6->src_addr, ip6->dst_addr, 16);
    std::memcpy(ip6->dst_addr, tmp, 16);
    ip6->hop_limits = 64;
}

static void tx_error_cb(rte_mbuf** pkts, uint16_t unsent, void* userdata) {
    auto* c = static_cast<LcoreCounters*>(userdata);
    c->drop(Drop::kTxFull, unsent);
    rte_pktmbuf_free_bulk(pkts, unsent);
}

Worker::Worker(Dataplane& dp, uint16_t index, uint32_t flow_capacity, uint32_t snat_lo, uint32_t snat_hi,
               bool trace)
    : dp_(dp), neigh_(dp.neigh()), index_(index),
      flows_(flow_capacity, dp.config().socket_id, (trace ? "tflows" : "flows") + std::to_string(index)),
      flows6_(flow_capacity, dp.config().socket_id, (trace ? "tflows6_" : "flows6_") + std::to_string(index)),
      snat_lo_(snat_lo), snat_hi_(snat_hi), snat_next_(snat_lo), trace_(trace) {
    const std::string n = (trace ? "t" : "") + std::to_string(index);
    to_cp_ = rte_ring_create(("tocp" + n).c_str(), 1024, dp.config().socket_id,
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
    from_cp_ = rte_ring_create(("fromcp" + n).c_str(), 1024, dp.config().socket_id,
                               RING_F_SP_ENQ | RING_F_SC_DEQ);
    // Any worker may hand this one a reply: multi-producer, single consumer.
    redirect_ = rte_ring_create(("redir" + n).c_str(), 1024, dp.config().socket_id, RING_F_SC_DEQ);
    if (!to_cp_ || !from_cp_ || !redirect_) throw std::runtime_error("cannot create worker rings");
    rte_hash_parameters ap{};
    const std::string an = "affinity" + n;
    ap.name = an.c_str();
    ap.entries = kAffinityEntries;
    ap.key_len = sizeof(AffinityKey);
    ap.hash_func = rte_hash_crc;
    ap.socket_id = dp.config().socket_id;
    affinity_ = rte_hash_create(&ap);
    affinity_entries_ = static_cast<AffinityEntry*>(
        rte_zmalloc_socket("affinity", sizeof(AffinityEntry) * (kAffinityEntries + 1), 0, dp.config().socket_id));
    if (!affinity_ || !affinity_entries_) throw std::runtime_error("cannot create the affinity table");
    uint16_t maxport = 0;
    for (uint16_t p : dp.ports()) maxport = std::max<uint16_t>(maxport, p);
    txbuf_.assign(maxport + 1, nullptr);
    port_mac_.assign(maxport + 1, MacAddr{});
    port_vlan_.assign(maxport + 1, 0);
    for (uint16_t p : dp.ports()) {
        auto* b = static_cast<rte_eth_dev_tx_buffer*>(
            rte_zmalloc_socket("txbuf", RTE_ETH_TX_BUFFER_SIZE(kBurst), 0, dp.config().socket_id));
        if (!b) throw std::runtime_error("cannot allocate TX buffer");
        rte_eth_tx_buffer_init(b, kBurst);
        rte_eth_tx_buffer_set_err_callback(b, tx_error_cb, &counters_);
        txbuf_[p] = b;
        port_mac_[p] = dp.port_mac(p);
        port_vlan_[p] = dp.port_vlan(p);
    }
    if (!trace_) rte_rcu_qsbr_thread_register(dp.qsv(), index);
}

Worker::~Worker() {
    for (auto* b : txbuf_) {
        if (!b) continue;
        rte_pktmbuf_free_bulk(b->pkts, b->length);
        rte_free(b);
    }
    free_dropped();
    rte_mbuf* m;
    while (rte_ring_dequeue(to_cp_, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    while (rte_ring_dequeue(from_cp_, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    while (rte_ring_dequeue(redirect_, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(to_cp_);
    rte_ring_free(from_cp_);
    rte_ring_free(redirect_);
    rte_hash_free(affinity_);
    rte_free(affinity_entries_);
    if (!trace_) rte_rcu_qsbr_thread_unregister(dp_.qsv(), index_);
}

std::vector<rte_mbuf*> Worker::take_output() {
    std::vector<rte_mbuf*> out;
    for (auto* b : txbuf_) {
        if (!b) continue;
        out.insert(out.end(), b->pkts, b->pkts + b->length);
        b->length = 0;
    }
    rte_mbuf* m;
    while (rte_ring_dequeue(to_cp_, reinterpret_cast<void**>(&m)) == 0) out.push_back(m);
    free_dropped();
    return out;
}

// Runs on: worker lcore, for the live trace (rare). The key is looked up in this worker's
// own tables; the answer goes back in the same mbuf.
void Worker::answer_flow_query(rte_mbuf* m) noexcept {
    FlowQuery q; // the mbuf's data is not aligned for the entries: work on a copy
    std::memcpy(&q, rte_pktmbuf_mtod(m, const void*), sizeof q);
    q.worker = index_;
    q.found = 0;
    const int32_t r = q.v6 ? flows6_.lookup(q.key6) : flows_.lookup(q.key4);
    if (r >= 0) {
        q.found = 1;
        q.reverse = uint32_t(r & 1);
        if (q.v6) q.flow6 = flows6_.at(uint32_t(r) >> 1);
        else q.flow4 = flows_.at(uint32_t(r) >> 1);
    }
    std::memcpy(rte_pktmbuf_mtod(m, void*), &q, sizeof q);
    pkt_priv(m)->kind = kPrivFlowAnswer;
    if (rte_ring_sp_enqueue(to_cp_, m) != 0) rte_pktmbuf_free(m); // the trace times out
}

void Worker::drop(rte_mbuf* m, Drop why) noexcept {
    counters_.drop(why);
    if (unlikely(ndropped_ == kBurst)) free_dropped();
    dropped_[ndropped_++] = m; // freed in bulk at the end of the burst
}

void Worker::free_dropped() noexcept {
    rte_pktmbuf_free_bulk(dropped_, ndropped_);
    ndropped_ = 0;
}

// Counted when the buffer goes to the PMD (what it refuses is counted as tx_full).
void Worker::tx(uint16_t port, rte_mbuf* m) noexcept {
    if (const uint16_t sent = rte_eth_tx_buffer(port, index_, txbuf_[port], m)) counters_.ev(Ev::kTx, sent);
}

void Worker::flush_tx() noexcept {
    for (uint16_t p : dp_.ports())
        if (const uint16_t sent = rte_eth_tx_buffer_flush(p, index_, txbuf_[p])) counters_.ev(Ev::kTx, sent);
}

// Runs on: worker lcore. To the kernel through the control plane's TAP port: the frame as
// received (the control plane strips a VLAN tag). Rate-limited: punts share the ring to the
// control plane with ARP and packets awaiting a neighbour, which a flood to an unserved
// port of the appliance must not starve.
void Worker::punt(rte_mbuf* m) noexcept {
    if (!punts_.take(punt_rate_, rte_rdtsc())) {
        drop(m, Drop::kExceptionLimited);
        return;
    }
    pkt_priv(m)->kind = kPrivPunt;
    if (rte_ring_sp_enqueue(to_cp_, m) != 0) {
        drop(m, Drop::kExceptionFull);
        return;
    }
    counters_.ev(Ev::kToControl);
    counters_.ev(Ev::kPunted);
}

void Worker::to_control(rte_mbuf* m, uint8_t kind) noexcept {
    pkt_priv(m)->kind = kind;
    if (rte_ring_sp_enqueue(to_cp_, m) != 0) {
        drop(m, kind == kPrivAwaitNeigh ? Drop::kNeighQueueFull : Drop::kExceptionFull);
        return;
    }
    counters_.ev(Ev::kToControl);
}

uint16_t Worker::next_snat_port() noexcept {
    const uint16_t p = snat_next_;
    snat_next_ = snat_next_ + 1 >= snat_hi_ ? snat_lo_ : snat_next_ + 1;
    return p;
}

uint32_t Worker::poll_once() noexcept {
    const Snapshot* s = dp_.current();
    uint32_t total = 0;
    if (s) {
        if (timeouts_gen_ != s->generation) { // convert the snapshot's timeouts once
            const uint64_t hz = rte_get_tsc_hz();
            const auto& t = s->timeouts;
            timeout_tsc_[size_t(FlowState::kTcpSynSent)] = t.tcp_syn * hz;
            timeout_tsc_[size_t(FlowState::kTcpEstablished)] = t.tcp_established * hz;
            timeout_tsc_[size_t(FlowState::kTcpFinWait)] = t.tcp_fin * hz;
            timeout_tsc_[size_t(FlowState::kTcpTimeWait)] = t.tcp_time_wait * hz;
            timeout_tsc_[size_t(FlowState::kTcpClose)] = t.tcp_close * hz;
            timeout_tsc_[size_t(FlowState::kUdp)] = t.udp * hz;
            timeout_tsc_[size_t(FlowState::kIcmp)] = t.icmp * hz;
            timeout_tsc_[size_t(FlowState::kSctp)] = t.sctp * hz;
            timeout_tsc_[size_t(FlowState::kSctpInit)] = t.tcp_syn * hz;
            timeout_tsc_[size_t(FlowState::kSctpClosed)] = t.tcp_close * hz;
            timeouts_gen_ = s->generation;
            reject_rate_ = s->reject_rate;
            punt_rate_ = s->punt_rate;
            // A new generation: sweep both tables for UDP flows whose backend left.
            flush_left_[0] = flows_.capacity();
            flush_left_[1] = flows6_.capacity();
            aging_interval_ = hz / 20000;
        }
        rte_mbuf* pkts[kBurst];
        for (uint16_t p : dp_.ports()) {
            const uint16_t n = rte_eth_rx_burst(p, index_, pkts, kBurst);
            if (n == 0) continue;
            counters_.ev(Ev::kRx, n);
            total += n;
            process_burst(*s, p, pkts, n);
        }
        total += drain_redirects(*s);
        if (unlikely(flush_left_[0] | flush_left_[1])) {
            flush_slice(*s, flows_, 0);
            flush_slice(*s, flows6_, 1);
        }
        // Aging in bounded slices, paced by time rather than by iteration so that a busy
        // worker does not pay a scan per burst: 64 slots per table every 50 us sweeps
        // 1.3 M slots a second.
        const uint64_t t = rte_rdtsc();
        if (t - last_aging_ >= aging_interval_) {
            last_aging_ = t;
            const uint32_t expired = flows_.expire(t, timeout_tsc_, 64) + flows6_.expire(t, timeout_tsc_, 64);
            if (expired) counters_.ev(Ev::kFlowsExpired, expired);
            age_affinity(t, 64);
        }
    }
    // What the control plane asked this worker to send.
    rte_mbuf* cp[kBurst];
    const unsigned nc = rte_ring_sc_dequeue_burst(from_cp_, reinterpret_cast<void**>(cp), kBurst, nullptr);
    for (unsigned i = 0; i < nc; i++) {
        if (likely(pkt_priv(cp[i])->kind == kPrivSend)) tx(pkt_priv(cp[i])->out_port, cp[i]);
        else answer_flow_query(cp[i]);
    }
    if (ndropped_) free_dropped();
    flush_tx();
    flow_count_.store(flows_.size() + flows6_.size(), std::memory_order_relaxed);
    if (online_) rte_rcu_qsbr_quiescent(dp_.qsv(), index_);
    return total + nc;
}

// Runs on: worker lcore, once per flow and snapshot generation. Is the flow's backend still
// in its frontend's table? kKept: yes (the flow takes the new generation, its table index
// and its backend's drain state); kDrained: it drains and its deadline has passed; kGone: it
// left, or it drains and the flow is UDP (which moves at once).
template <typename A>
Worker::Recheck Worker::recheck(const Snapshot& s, FlowT<A>& f, uint64_t now) noexcept {
    const auto* sp =
        s.lookup_frontend(Snapshot::frontend_key(to_ip(f.fwd.dst), f.fwd.proto, rte_be_to_cpu_16(f.fwd.dport)));
    const int32_t bi = sp ? sp->find_backend(f.backend_id) : -1;
    if (bi < 0) return Recheck::kGone;
    const BackendRt& b = sp->backends[size_t(bi)];
    if (b.draining && f.fwd.proto == IPPROTO_UDP) return Recheck::kGone;
    if (b.draining && now >= b.drain_deadline) return Recheck::kDrained;
    f.generation = uint32_t(s.generation);
    f.sp_index = sp->index;
    f.draining = b.draining;
    f.drain_deadline = b.drain_deadline;
    return Recheck::kKept;
}

// UDP flows of a backend that left (or stopped serving, or drains) go at once on a new
// generation, not at their idle timeout (SEMANTICS.md "Flows"); TCP and SCTP keep theirs
// until their next SYN / INIT, and learn their drain deadline here if their backend drains,
// idle or not. Bounded: 256 slots per table per iteration.
template <typename A>
void Worker::flush_slice(const Snapshot& s, FlowTableT<A>& t, int which) noexcept {
    uint32_t n = std::min<uint32_t>(flush_left_[which], 256);
    flush_left_[which] -= n;
    const uint32_t gen = uint32_t(s.generation);
    const uint64_t now = rte_rdtsc();
    while (n--) {
        const uint32_t idx = flush_cursor_[which];
        flush_cursor_[which] = idx + 1 == t.capacity() ? 0 : idx + 1;
        FlowT<A>& f = t.at(idx);
        if (!f.in_use || f.generation == gen) continue;
        switch (recheck(s, f, now)) {
        case Recheck::kKept: break;
        case Recheck::kDrained: // a drain timeout of 0, or a reload after the deadline
            t.remove(idx);
            counters_.ev(Ev::kFlowsExpired);
            break;
        case Recheck::kGone: // TCP / SCTP: rescheduled on their next SYN / INIT (on_hit)
            if (f.fwd.proto == IPPROTO_UDP) {
                t.remove(idx);
                counters_.ev(Ev::kFlowsFlushed);
            }
            break;
        }
    }
}

void Worker::run() noexcept {
    rte_rcu_qsbr_thread_online(dp_.qsv(), index_);
    online_ = true;
    const uint32_t backoff = dp_.idle_backoff_us();
    while (!stop_.load(std::memory_order_relaxed)) {
        if (poll_once() != 0) {
            idle_polls_ = 0;
            continue;
        }
        if (backoff && ++idle_polls_ >= 256) {
            // Two vCPUs run svclb and its peers here: yield briefly when idle (DESIGN.md).
            rte_rcu_qsbr_thread_offline(dp_.qsv(), index_);
            rte_delay_us_sleep(backoff);
            rte_rcu_qsbr_thread_online(dp_.qsv(), index_);
            counters_.ev(Ev::kIdleSleeps);
        }
    }
    online_ = false;
    rte_rcu_qsbr_thread_offline(dp_.qsv(), index_);
}

// IPv6 extension headers svclb walks (RFC 8200 section 4): hop-by-hop, routing,
// destination options, AH. The chain is bounded; fragments are not reassembled.
static constexpr int kMaxExtHeaders = 8;

void Worker::process_burst(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n) noexcept {
    CandT<uint32_t> c4[kBurst];
    CandT<Addr6> c6[kBurst];
    uint32_t n4 = 0, n6 = 0;
    const uint64_t now = rte_rdtsc();
    const MacAddr& pmac = port_mac_[in_port];

    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
        auto* eth = header_at<rte_ether_hdr>(m, 0);
        if (unlikely(!eth)) {
            drop(m, Drop::kEthTruncated);
            continue;
        }
        uint16_t type = eth->ether_type;
        uint32_t l2 = sizeof(rte_ether_hdr);
        uint16_t vid = 0;
        if (type == RTE_BE16(RTE_ETHER_TYPE_VLAN)) { // 802.1Q: the tag stays on the frame
            auto* vh = header_at<rte_vlan_hdr>(m, l2);
            if (unlikely(!vh)) {
                drop(m, Drop::kEthTruncated);
                continue;
            }
            vid = rte_be_to_cpu_16(vh->vlan_tci) & 0xfff;
            type = vh->eth_proto;
            l2 += sizeof(rte_vlan_hdr);
        }
        if (unlikely(vid != port_vlan_[in_port])) {
            drop(m, Drop::kVlanMismatch);
            continue;
        }
        if (type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
            handle_arp(s, in_port, m, l2);
            continue;
        }
        // Unicast to us; IPv6 multicast only for neighbour discovery (checked below).
        const bool mcast = eth->dst_addr.addr_bytes[0] & 1;
        if (unlikely(!mcast && std::memcmp(eth->dst_addr.addr_bytes, pmac.b.data(), 6) != 0)) {
            drop(m, Drop::kNotForUs);
            continue;
        }
        const uint32_t l3 = l2;
        uint8_t* l4;
        uint32_t l4len;
        uint8_t proto;
        int32_t local;
        rte_ipv4_hdr* ip = nullptr;
        rte_ipv6_hdr* ip6 = nullptr;
        if (type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
            if (unlikely(mcast)) {
                drop(m, Drop::kNotForUs);
                continue;
            }
            ip = header_at<rte_ipv4_hdr>(m, l3);
            if (unlikely(!ip)) {
                drop(m, Drop::kIpTruncated);
                continue;
            }
            if (unlikely((ip->version_ihl >> 4) != 4)) {
                drop(m, Drop::kIpBadVersion);
                continue;
            }
            const uint32_t ihl = uint32_t(ip->version_ihl & 0xf) * 4;
            const uint32_t tot = rte_be_to_cpu_16(ip->total_length);
            if (unlikely(ihl < 20 || tot < ihl || l3 + tot > rte_pktmbuf_data_len(m))) {
                drop(m, Drop::kIpTruncated);
                continue;
            }
            if (unlikely(ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))) {
                drop(m, Drop::kIpFragment);
                continue;
            }
            // Trim Ethernet padding so the length we forward is the IP length.
            if (l3 + tot < rte_pktmbuf_data_len(m)) rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) - (l3 + tot));
            local = s.lookup_local4(ip->dst_addr);
            if (unlikely(local < 0) && !(local == -1 && s.has_dnat)) {
                drop(m, local == Snapshot::kUnallocated ? Drop::kUnallocated : Drop::kNoService);
                continue;
            }
            proto = ip->next_proto_id;
            if (proto == IPPROTO_ICMP) {
                if (unlikely(local < 0)) { // not ours: only DNAT replies pass through
                    drop(m, Drop::kNoService);
                    continue;
                }
                handle_icmp(in_port, m, ip);
                continue;
            }
            l4 = reinterpret_cast<uint8_t*>(ip) + ihl;
            l4len = tot - ihl;
        } else if (type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
            ip6 = header_at<rte_ipv6_hdr>(m, l3);
            if (unlikely(!ip6)) {
                drop(m, Drop::kIpTruncated);
                continue;
            }
            if (unlikely((rte_be_to_cpu_32(ip6->vtc_flow) >> 28) != 6)) {
                drop(m, Drop::kIpBadVersion);
                continue;
            }
            const uint32_t end = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip6->payload_len);
            if (unlikely(l3 + end > rte_pktmbuf_data_len(m))) {
                drop(m, Drop::kIpTruncated);
                continue;
            }
            if (l3 + end < rte_pktmbuf_data_len(m)) rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) - (l3 + end));
            uint8_t* base = reinterpret_cast<uint8_t*>(ip6);
            uint32_t off = sizeof(rte_ipv6_hdr);
            proto = ip6->proto;
            bool bad = false;
            for (int k = 0; k <= kMaxExtHeaders; k++) {
                if (proto != IPPROTO_HOPOPTS && proto != IPPROTO_ROUTING && proto != IPPROTO_DSTOPTS &&
                    proto != IPPROTO_AH)
                    break;
                if (k == kMaxExtHeaders || off + 8 > end) {
                    bad = true;
                    break;
                }
                const uint8_t* ext = base + off;
                // A routing header with segments left would change the final destination
                // (and the pseudo-header): svclb is not a router of source routes.
                if (proto == IPPROTO_ROUTING && ext[3] != 0) {
                    bad = true;
                    break;
                }
                const uint32_t len = proto == IPPROTO_AH ? (ext[1] + 2u) * 4 : (ext[1] + 1u) * 8;
                proto = ext[0];
                off += len;
            }
            if (unlikely(bad || off > end)) {
                drop(m, Drop::kIpv6ExtHeaders);
                continue;
            }
            if (unlikely(proto == IPPROTO_FRAGMENT)) {
                drop(m, Drop::kIpFragment);
                continue;
            }
            l4 = base + off;
            l4len = end - off;
            if (proto == IPPROTO_ICMPV6) {
                handle_icmp6(s, in_port, m, l3, l4, l4len, mcast);
                continue;
            }
            if (unlikely(mcast)) {
                drop(m, Drop::kNotForUs);
                continue;
            }
            local = s.lookup_local6(ip6->dst_addr);
            if (unlikely(local < 0) && !(local == -1 && s.has_dnat)) {
                drop(m, local == Snapshot::kUnallocated ? Drop::kUnallocated : Drop::kNoService);
                continue;
            }
        } else {
            drop(m, Drop::kEthUnsupported);
            continue;
        }

        uint8_t flags = 0;
        if (proto == IPPROTO_TCP) {
            if (unlikely(l4len < sizeof(rte_tcp_hdr) ||
                         ((reinterpret_cast<rte_tcp_hdr*>(l4)->data_off >> 4) * 4u) < 20 ||
                         ((reinterpret_cast<rte_tcp_hdr*>(l4)->data_off >> 4) * 4u) > l4len)) {
                drop(m, Drop::kL4Truncated);
                continue;
            }
            flags = reinterpret_cast<rte_tcp_hdr*>(l4)->tcp_flags;
        } else if (proto == IPPROTO_UDP) {
            if (unlikely(l4len < sizeof(rte_udp_hdr))) {
                drop(m, Drop::kL4Truncated);
                continue;
            }
        } else if (proto == IPPROTO_SCTP) {
            // Common header and at least one chunk header (RFC 9260 section 3); the CRC
            // is recomputed over the whole packet, so it must sit in one segment.
            if (unlikely(l4len < 16 || !rte_pktmbuf_is_contiguous(m))) {
                drop(m, Drop::kL4Truncated);
                continue;
            }
            flags = l4[12];
        } else {
            drop(m, Drop::kProtoUnsupported);
            continue;
        }
        auto fill = [&](auto& c, void* iph, uint8_t* hops) {
            c.m = m;
            c.ip = iph;
            c.hops = hops;
            c.l4 = l4;
            c.in_port = in_port;
            c.local_kinds = local >= 0 ? s.locals[local].kinds : 0; // 0: maybe a DNAT reply
            c.flags = flags;
            c.l4len = uint16_t(l4len);
            c.key = {};
            std::memcpy(&c.key.sport, l4, 4); // source and destination ports, wire order
            c.key.proto = proto;
        };
        if (ip) {
            auto& c = c4[n4++];
            fill(c, ip, &ip->time_to_live);
            c.key.src = ip->src_addr;
            c.key.dst = ip->dst_addr;
        } else {
            auto& c = c6[n6++];
            fill(c, ip6, &ip6->hop_limits);
            std::memcpy(c.key.src.b, ip6->src_addr, 16);
            std::memcpy(c.key.dst.b, ip6->dst_addr, 16);
        }
    }
    if (n4) lookup_and_dispatch(s, c4, n4, now);
    if (n6) lookup_and_dispatch(s, c6, n6, now);
    if (ndropped_) free_dropped();
}

template <typename A>
void Worker::lookup_and_dispatch(const Snapshot& s, CandT<A>* cand, uint32_t n, uint64_t now) noexcept {
    const FlowKeyT<A>* keys[kBurst];
    int32_t res[kBurst];
    for (uint32_t i = 0; i < n; i++) keys[i] = &cand[i].key;
    auto& t = table<A>();
    t.lookup_bulk(keys, n, res);
    // Start every hit's flow entry on its way from memory before touching the first.
    for (uint32_t i = 0; i < n; i++)
        if (res[i] >= 0) rte_prefetch0(&t.at(uint32_t(res[i]) >> 1));
    for (uint32_t i = 0; i < n; i++) {
        if (res[i] >= 0)
            on_hit(s, cand[i], res[i], now);
        else
            on_miss(s, cand[i], now);
    }
}

static bool is_pure_syn(uint8_t flags) noexcept {
    return (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)) ==
           RTE_TCP_SYN_FLAG;
}

// SCTP chunk types (RFC 9260 section 3.2).
constexpr uint8_t kSctpInit = 1, kSctpInitAck = 2, kSctpAbort = 6, kSctpShutdownComplete = 14;

// Whether a packet may create a flow: a TCP SYN, an SCTP INIT, any UDP datagram.
static bool opens_flow(uint8_t proto, uint8_t flags) noexcept {
    if (proto == IPPROTO_TCP) return is_pure_syn(flags);
    if (proto == IPPROTO_SCTP) return flags == kSctpInit;
    return true;
}

static bool is_closed(FlowState st) noexcept {
    return st == FlowState::kTcpTimeWait || st == FlowState::kTcpClose || st == FlowState::kSctpClosed;
}

template <typename A>
void Worker::on_hit(const Snapshot& s, CandT<A>& c, int32_t res, uint64_t now) noexcept {
    const uint32_t idx = uint32_t(res) >> 1;
    FlowT<A>& f = table<A>().at(idx);
    const bool reverse_dir = res & 1;
    const uint8_t fl = c.flags;
    const uint8_t proto = f.fwd.proto;
    if (!reverse_dir) {
        bool reschedule = false;
        if (f.generation != uint32_t(s.generation)) {
            // The snapshot changed since this flow last checked.
            const Recheck r = recheck(s, f, now);
            if (r == Recheck::kDrained) { // the flow is over, whatever aging has not seen yet
                table<A>().remove(idx);
                counters_.ev(Ev::kFlowsExpired);
                on_miss(s, c, now);
                return;
            }
            // UDP moves at once; TCP and SCTP on their next SYN / INIT (SEMANTICS.md).
            if (r == Recheck::kGone) reschedule = opens_flow(proto, fl);
        }
        // A new connection reusing the tuple; also a fresh SYN / INIT (not a retransmission of
        // the opening one) towards a draining backend, which takes no new connection.
        if (proto != IPPROTO_UDP && opens_flow(proto, fl) &&
            (is_closed(f.state) ||
             (f.draining && f.state != FlowState::kTcpSynSent && f.state != FlowState::kSctpInit)))
            reschedule = true;
        if (reschedule) {
            table<A>().remove(idx);
            counters_.ev(Ev::kFlowsRescheduled);
            on_miss(s, c, now);
            return;
        }
    }
    if (unlikely(*c.hops <= 1)) {
        drop(c.m, Drop::kTtlExceeded);
        return;
    }
    f.last_seen = now;
    if (proto == IPPROTO_SCTP) {
        if (fl == kSctpAbort || fl == kSctpShutdownComplete)
            f.state = FlowState::kSctpClosed;
        else if (reverse_dir && fl == kSctpInitAck && f.state == FlowState::kSctpInit)
            f.state = FlowState::kSctp;
    } else if (proto == IPPROTO_TCP) {
        if (fl & RTE_TCP_RST_FLAG) {
            f.state = FlowState::kTcpClose;
        } else if (fl & RTE_TCP_FIN_FLAG) {
            f.fins |= reverse_dir ? 2 : 1;
            f.state = f.fins == 3 ? FlowState::kTcpTimeWait : FlowState::kTcpFinWait;
        } else if (reverse_dir && f.state == FlowState::kTcpSynSent &&
                   (fl & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) {
            f.state = FlowState::kTcpEstablished;
        }
    }
    translate(c, f, reverse_dir);
}

static inline void rewrite(void* ip, uint8_t* l4, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport,
                           uint16_t dport, NatDelta d) noexcept {
    nat_apply4(static_cast<rte_ipv4_hdr*>(ip), l4, proto, src, dst, sport, dport, d);
}
static inline void rewrite(void* ip, uint8_t* l4, uint8_t proto, const Addr6& src, const Addr6& dst,
                           uint16_t sport, uint16_t dport, NatDelta d) noexcept {
    nat_apply6(static_cast<rte_ipv6_hdr*>(ip), l4, proto, src.b, dst.b, sport, dport, d);
}

// The checksum terms of both directions of a new flow (lb/packet.h).
template <typename A>
static void set_deltas(FlowT<A>& f) noexcept {
    const auto& a = f.fwd;
    const auto& b = f.rev;
    f.fwd_delta = nat_delta(&a.src, &a.dst, a.sport, a.dport, &b.dst, &b.src, b.dport, b.sport, sizeof(A));
    f.rev_delta = nat_delta(&b.src, &b.dst, b.sport, b.dport, &a.dst, &a.src, a.dport, a.sport, sizeof(A));
}

// FullNAT both ways: client->VIP becomes SNAT->backend; backend->SNAT becomes VIP->client.
template <typename A>
void Worker::translate(CandT<A>& c, FlowT<A>& f, bool reverse_dir) noexcept {
    const uint8_t proto = f.fwd.proto;
    if (!reverse_dir) {
        rewrite(c.ip, c.l4, proto, f.rev.dst, f.rev.src, f.rev.dport, f.rev.sport, f.fwd_delta);
        counters_.ev(Ev::kFwdEstablished);
    } else {
        rewrite(c.ip, c.l4, proto, f.fwd.dst, f.fwd.src, f.fwd.dport, f.fwd.sport, f.rev_delta);
        counters_.ev(Ev::kRevPackets);
    }
    if (proto == IPPROTO_SCTP) sctp_set_checksum(c.l4, c.l4len);
    if (!reverse_dir)
        emit(c.m, c.in_port, f.fwd_port, f.fwd_nexthop, f.fwd_neigh);
    else
        emit(c.m, c.in_port, f.rev_port, f.rev_nexthop, f.rev_neigh);
}

template <typename A>
void Worker::on_miss(const Snapshot& s, CandT<A>& c, uint64_t now) noexcept {
    // An address of the appliance itself (a port's or a NodePort address): what no
    // frontend or flow here takes goes to the kernel when there is an exception path.
    const bool own = c.local_kinds & (kAddrInterface | kAddrNode);
    if (!(c.local_kinds & kAddrVip)) {
        // A reply to a SNAT address with no flow here: its destination port names the
        // worker that owns the flow (per-lcore SNAT ranges). Hand it over once. (A trace
        // worker has every live flow it could need copied in already: it is the owner.)
        if (c.local_kinds & kAddrSnat) {
            const int owner = dp_.snat_owner(rte_be_to_cpu_16(c.key.dport));
            if (owner >= 0 && owner != index_ && !trace_) {
                redirect_to(owner, c.m, c.in_port);
                return;
            }
        }
        if (c.local_kinds == 0) {
            // Addressed to a client, not to us: only a DNAT reply belongs here. Nothing in
            // it names the worker whose flow it is, so it visits the others in turn, at
            // most once each (bounded: workers - 1 hand-offs).
            const uint8_t hops = in_redirect_ ? pkt_priv(c.m)->hops : 0;
            if (hops + 1u < dp_.worker_count() && !trace_) {
                redirect_to(int((index_ + 1) % dp_.worker_count()), c.m, c.in_port, uint8_t(hops + 1));
                return;
            }
            drop(c.m, Drop::kNoService);
            return;
        }
        if (own && s.exception_path) {
            punt(c.m);
            return;
        }
        // A reply to a SNAT address without its flow; anything else to an address of ours
        // that no frontend serves.
        drop(c.m, (c.local_kinds & kAddrSnat) ? Drop::kNoFlow : Drop::kNoService);
        return;
    }
    const uint16_t dport = rte_be_to_cpu_16(c.key.dport);
    const IpAddr client = to_ip(c.key.src);
    const auto* sp = s.lookup_frontend(Snapshot::frontend_key(to_ip(c.key.dst), c.key.proto, dport));
    if (!sp) {
        if (own && s.exception_path) { // e.g. a healthCheckNodePort: the kernel's
            punt(c.m);
            return;
        }
        reject(c, Drop::kNoService); // a VIP, but not this protocol and port: refused, not ignored
        return;
    }
    if (unlikely(!sp->source_ranges.empty()) && !sp->source_allowed(to_ip(c.key.dst), client)) {
        drop(c.m, Drop::kSourceRange); // silently (SEMANTICS.md "Verdicts")
        return;
    }
    if (sp->maglev.empty()) { // no usable endpoint: refused promptly (SEMANTICS.md "Verdicts")
        if (sp->drop_if_empty) // Local policy, endpoints on other nodes: dropped, not refused
            drop(c.m, Drop::kNoLocalEndpoints);
        else
            reject(c, Drop::kNoEndpoints);
        return;
    }
    if (!opens_flow(c.key.proto, c.flags)) {
        drop(c.m, Drop::kNoFlow);
        return;
    }
    if (unlikely(*c.hops <= 1)) {
        drop(c.m, Drop::kTtlExceeded);
        return;
    }
    const BackendRt* pick = sp->affinity_timeout_s ? affinity_pick(*sp, client, now) : nullptr;
    if (!pick) {
        // Affinity services hash the client address alone, so that every worker and every
        // instance makes the same first choice for a client; others the whole 5-tuple.
        uint32_t h;
        if (sp->affinity_timeout_s) {
            alignas(8) uint8_t addr[16]; // rte_hash_crc reads 64-bit words
            std::memcpy(addr, client.bytes.data(), 16);
            h = rte_hash_crc(addr, 16, client.is_v6());
        } else {
            h = rte_hash_crc(&c.key, sizeof c.key, 0);
        }
        pick = &sp->backends[sp->maglev[h % sp->maglev.size()]];
    }
    const BackendRt& b = *pick;
    if (unlikely(b.addr.family != client.family)) { // no NAT46/64
        drop(c.m, Drop::kNoRoute);
        return;
    }
    const NextHop* back = s.route(client);
    if (!back) {
        drop(c.m, Drop::kNoRoute);
        return;
    }
    FlowKeyT<A> rev{};
    from_ip(b.addr, rev.src);
    rev.sport = rte_cpu_to_be_16(b.port);
    rev.proto = c.key.proto;
    auto& t = table<A>();
    int32_t idx = FlowTable::kExists;
    if (sp->snat) {
        from_ip(b.snat, rev.dst);
        for (int tries = 0; tries < 16 && idx == FlowTable::kExists; tries++) {
            rev.dport = rte_cpu_to_be_16(next_snat_port());
            idx = t.create(c.key, rev);
        }
    } else { // DNAT: the backend answers the client itself, through us
        rev.dst = c.key.src;
        rev.dport = c.key.sport;
        idx = t.create(c.key, rev);
    }
    if (idx < 0) {
        drop(c.m, idx == FlowTable::kFull ? Drop::kFlowTableFull : Drop::kNoSnatPort);
        return;
    }
    FlowT<A>& f = t.at(uint32_t(idx));
    f.backend_id = b.id;
    f.generation = uint32_t(s.generation);
    f.sp_index = sp->index;
    f.last_seen = now;
    from_ip(b.nexthop, f.fwd_nexthop);
    f.fwd_port = b.out_port;
    f.fwd_neigh = b.neigh;
    if (back->connected)
        f.rev_nexthop = c.key.src;
    else
        from_ip(back->gateway, f.rev_nexthop);
    f.rev_port = back->port;
    f.state = c.key.proto == IPPROTO_TCP    ? FlowState::kTcpSynSent
              : c.key.proto == IPPROTO_SCTP ? FlowState::kSctpInit
                                            : FlowState::kUdp;
    set_deltas(f);
    if (sp->affinity_timeout_s) affinity_store(*sp, client, b.id, now);
    sp->count_flow(index_);
    counters_.ev(Ev::kFwdNew);
    translate(c, f, false);
}

// Runs on: worker lcore, new flows of ClientIP-affinity services. The backend this client
// used within the timeout, if it is still usable.
const BackendRt* Worker::affinity_pick(const ServicePortRt& sp, const IpAddr& client, uint64_t now) noexcept {
    const AffinityKey k = affinity_key(sp, client);
    const int32_t pos = rte_hash_lookup(affinity_, &k);
    if (pos < 0) return nullptr;
    const AffinityEntry& e = affinity_entries_[pos];
    if (now - e.last_used > uint64_t(sp.affinity_timeout_s) * rte_get_tsc_hz()) return nullptr;
    const int32_t i = sp.find_backend(e.backend_id); // gone: the entry is forgotten
    if (i < 0 || sp.backends[size_t(i)].weight == 0) return nullptr;
    counters_.ev(Ev::kAffinityHits);
    return &sp.backends[size_t(i)];
}

void Worker::affinity_store(const ServicePortRt& sp, const IpAddr& client, uint64_t backend_id,
                            uint64_t now) noexcept {
    const AffinityKey k = affinity_key(sp, client);
    const int32_t pos = rte_hash_add_key(affinity_, &k);
    if (pos < 0) {
        counters_.ev(Ev::kAffinityFull);
        return;
    }
    affinity_entries_[pos] = {backend_id, now, now + uint64_t(sp.affinity_timeout_s) * rte_get_tsc_hz(), true};
}

// Runs on: worker lcore, with flow aging. Looks at `budget` slots of the affinity table
// (by key position, so the work is bounded whatever the table holds) and forgets the
// expired entries.
void Worker::age_affinity(uint64_t now, uint32_t budget) noexcept {
    for (uint32_t i = 0; i < budget; i++) {
        const uint32_t pos = affinity_cursor_;
        affinity_cursor_ = pos + 1 > kAffinityEntries ? 0 : pos + 1;
        AffinityEntry& e = affinity_entries_[pos];
        if (!e.used || e.expires >= now) continue;
        void* key;
        if (rte_hash_get_key_with_position(affinity_, int32_t(pos), &key) == 0) rte_hash_del_key(affinity_, key);
        e.used = false;
    }
}

// Per-worker token bucket for generated replies (appliance.rejectRateLimit per second).
bool Worker::TokenBucket::take(uint32_t rate, uint64_t now) noexcept {
    if (rate == 0) return false;
    const uint64_t per_token = std::max<uint64_t>(1, rte_get_tsc_hz() / rate); // rate may exceed the TSC's
    if (tokens >= rate) {
        refill = now; // full: time spent full earns nothing
    } else if (now - refill >= per_token) {
        const uint64_t add = (now - refill) / per_token;
        tokens = uint32_t(std::min<uint64_t>(rate, tokens + add));
        refill += add * per_token; // keep the part of an interval not yet earned
    }
    if (tokens == 0) return false;
    tokens--;
    return true;
}

void Worker::adopt_rates(const Snapshot& s) noexcept {
    reject_rate_ = s.reject_rate;
    punt_rate_ = s.punt_rate;
}

// Refuses a packet the way a host refuses a closed port: TCP gets a RST (RFC 9293
// section 3.10.7.1), UDP and SCTP an ICMP / ICMPv6 port unreachable quoting the packet
// (RFC 792, RFC 4443 section 3.1), sent back out of the port it came in on, in place (no
// allocation: the headroom takes the new headers). The reason is counted either way.
template <typename A>
void Worker::reject(CandT<A>& c, Drop why) noexcept {
    rte_mbuf* m = c.m;
    if (!rejects_.take(reject_rate_, rte_rdtsc())) {
        counters_.ev(Ev::kRejectsLimited);
        drop(m, why);
        return;
    }
    counters_.drop(why);
    constexpr bool v6 = sizeof(A) == 16;
    uint8_t* l2p = rte_pktmbuf_mtod(m, uint8_t*);
    const uint32_t l2 = uint32_t(static_cast<uint8_t*>(c.ip) - l2p);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(l2p);
    const MacAddr& mine = port_mac_[c.in_port];
    if (c.key.proto == IPPROTO_TCP) {
        auto* th = reinterpret_cast<rte_tcp_hdr*>(c.l4);
        const bool had_ack = th->tcp_flags & RTE_TCP_ACK_FLAG;
        const uint32_t hlen = (th->data_off >> 4) * 4u;
        uint32_t seglen = c.l4len - hlen;
        if (th->tcp_flags & RTE_TCP_SYN_FLAG) seglen++;
        if (th->tcp_flags & RTE_TCP_FIN_FLAG) seglen++;
        const uint32_t seq = rte_be_to_cpu_32(th->sent_seq), ack = rte_be_to_cpu_32(th->recv_ack);
        const uint16_t sp = th->src_port;
        th->src_port = th->dst_port;
        th->dst_port = sp;
        th->sent_seq = had_ack ? rte_cpu_to_be_32(ack) : 0;
        th->recv_ack = had_ack ? 0 : rte_cpu_to_be_32(seq + seglen);
        th->tcp_flags = had_ack ? RTE_TCP_RST_FLAG : RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
        th->data_off = 5 << 4;
        th->rx_win = 0;
        th->cksum = 0;
        th->tcp_urp = 0;
        const uint32_t l3len = uint32_t(c.l4 - static_cast<uint8_t*>(c.ip)) + sizeof(rte_tcp_hdr);
        rte_pktmbuf_trim(m, uint16_t(rte_pktmbuf_data_len(m) - (l2 + l3len)));
        if constexpr (v6) {
            auto* ip6 = static_cast<rte_ipv6_hdr*>(c.ip);
            turn_around(ip6);
            ip6->payload_len = rte_cpu_to_be_16(uint16_t(l3len - sizeof(rte_ipv6_hdr)));
            th->cksum = rte_ipv6_udptcp_cksum(ip6, th); // extension headers stay out of the sum
        } else {
            auto* ip = static_cast<rte_ipv4_hdr*>(c.ip);
            turn_around(ip);
            ip->packet_id = 0;
            ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
            ip->total_length = rte_cpu_to_be_16(uint16_t(l3len));
            ip->hdr_checksum = 0;
            ip->hdr_checksum = rte_ipv4_cksum(ip);
            th->cksum = rte_ipv4_udptcp_cksum(ip, th);
        }
    } else {
        // ICMP error: new IP + ICMP headers in front of the original IP packet, quoted
        // (IPv4: its header and 8 bytes; IPv6: as much as fits in 1280 bytes).
        constexpr uint32_t kNew = v6 ? sizeof(rte_ipv6_hdr) + 8 : sizeof(rte_ipv4_hdr) + 8;
        const uint32_t orig_len = rte_pktmbuf_data_len(m) - l2;
        uint32_t quote;
        if constexpr (v6)
            quote = std::min<uint32_t>(orig_len, 1280 - kNew);
        else
            quote = std::min<uint32_t>(orig_len, uint32_t(c.l4 - static_cast<uint8_t*>(c.ip)) + 8);
        IpAddr client, vip;
        if constexpr (v6) {
            client = IpAddr::v6(c.key.src.b);
            vip = IpAddr::v6(c.key.dst.b);
        } else {
            client = IpAddr::v4(c.key.src);
            vip = IpAddr::v4(c.key.dst);
        }
        rte_pktmbuf_trim(m, uint16_t(orig_len - quote));
        uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kNew));
        if (!p) {
            drop(m, Drop::kNoMbuf);
            return;
        }
        std::memmove(p, p + kNew, l2); // the Ethernet (and VLAN) header moves to the front
        eth = reinterpret_cast<rte_ether_hdr*>(p);
        uint8_t* l3 = p + l2;
        uint8_t* icmp = l3 + (kNew - 8);
        std::memset(icmp, 0, 8);
        const uint32_t icmp_len = 8 + quote;
        if constexpr (v6) {
            auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(l3);
            ip6->vtc_flow = RTE_BE32(6u << 28);
            ip6->payload_len = rte_cpu_to_be_16(uint16_t(icmp_len));
            ip6->proto = IPPROTO_ICMPV6;
            ip6->hop_limits = 64;
            std::memcpy(ip6->src_addr, vip.bytes.data(), 16);
            std::memcpy(ip6->dst_addr, client.bytes.data(), 16);
            icmp[0] = 1; // destination unreachable
            icmp[1] = 4; // port unreachable
            const uint16_t ck = icmp6_checksum(ip6, icmp, icmp_len);
            std::memcpy(icmp + 2, &ck, 2);
        } else {
            auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
            std::memset(ip, 0, sizeof *ip);
            ip->version_ihl = 0x45;
            ip->total_length = rte_cpu_to_be_16(uint16_t(sizeof *ip + icmp_len));
            ip->time_to_live = 64;
            ip->next_proto_id = IPPROTO_ICMP;
            ip->src_addr = vip.v4_be();
            ip->dst_addr = client.v4_be();
            ip->hdr_checksum = rte_ipv4_cksum(ip);
            icmp[0] = 3; // destination unreachable
            icmp[1] = 3; // port unreachable
            const uint16_t ck = csum::finish(csum::partial(icmp, icmp_len));
            std::memcpy(icmp + 2, &ck, 2);
        }
    }
    eth->dst_addr = eth->src_addr;
    std::memcpy(eth->src_addr.addr_bytes, mine.b.data(), 6);
    counters_.ev(Ev::kRejectsSent);
    tx(c.in_port, m);
}

void Worker::redirect_to(int owner, rte_mbuf* m, uint16_t in_port, uint8_t hops) noexcept {
    pkt_priv(m)->out_port = in_port; // the owner processes it as received on in_port
    pkt_priv(m)->hops = hops;
    if (rte_ring_mp_enqueue(dp_.worker(size_t(owner)).redirect(), m) != 0) {
        drop(m, Drop::kRedirectFull);
        return;
    }
    counters_.ev(Ev::kRedirected);
}

unsigned Worker::drain_redirects(const Snapshot& s) noexcept {
    rte_mbuf* pkts[kBurst];
    const unsigned n = rte_ring_sc_dequeue_burst(redirect_, reinterpret_cast<void**>(pkts), kBurst, nullptr);
    // Process runs of packets that arrived on the same port together.
    for (unsigned i = 0; i < n;) {
        const uint16_t port = pkt_priv(pkts[i])->out_port;
        unsigned j = i + 1;
        while (j < n && pkt_priv(pkts[j])->out_port == port) j++;
        in_redirect_ = true;
        process_burst(s, port, pkts + i, uint16_t(j - i));
        in_redirect_ = false;
        i = j;
    }
    return n;
}

// Makes the frame's 802.1Q tag that of out_port (rare: one-armed setups keep it as is).
bool Worker::retag(rte_mbuf* m, uint16_t in_port, uint16_t out_port) noexcept {
    const uint16_t from = port_vlan_[in_port], to = port_vlan_[out_port];
    if (likely(from == to)) return true;
    if (from && to) {
        auto* vh = rte_pktmbuf_mtod_offset(m, rte_vlan_hdr*, sizeof(rte_ether_hdr));
        vh->vlan_tci = rte_cpu_to_be_16((rte_be_to_cpu_16(vh->vlan_tci) & 0xf000) | to);
        return true;
    }
    if (from) { // strip: move the MACs forward over the tag
        auto* p = rte_pktmbuf_mtod(m, uint8_t*);
        std::memmove(p + sizeof(rte_vlan_hdr), p, 2 * RTE_ETHER_ADDR_LEN);
        rte_pktmbuf_adj(m, sizeof(rte_vlan_hdr));
        return true;
    }
    // Insert: move the MACs back by a tag's length. The EtherType stays where it was, which
    // is where the tag's inner EtherType belongs (offset 16); the tag's TPID and TCI go
    // where the MACs ended.
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, sizeof(rte_vlan_hdr)));
    if (!p) return false;
    std::memmove(p, p + sizeof(rte_vlan_hdr), 2 * RTE_ETHER_ADDR_LEN);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
    auto* vh = reinterpret_cast<rte_vlan_hdr*>(eth + 1);
    vh->vlan_tci = rte_cpu_to_be_16(to);
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
    return true;
}

template <typename A>
void Worker::emit(rte_mbuf* m, uint16_t in_port, uint16_t out_port, const A& nexthop, int16_t& neigh) noexcept {
    if (unlikely(port_vlan_[in_port] != port_vlan_[out_port]) && !retag(m, in_port, out_port)) {
        drop(m, Drop::kNoMbuf);
        return;
    }
    if (neigh < 0) neigh = int16_t(neigh_.lookup(to_ip(nexthop)));
    if (likely(neigh >= 0)) {
        const uint64_t w = neigh_.mac_word(neigh);
        if (likely(w & NeighTable::kValid)) {
            auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
            std::memcpy(eth->dst_addr.addr_bytes, &w, 6); // the word holds the MAC in wire order
            std::memcpy(eth->src_addr.addr_bytes, port_mac_[out_port].b.data(), 6);
            tx(out_port, m);
            return;
        }
    }
    PktPriv* pv = pkt_priv(m);
    pv->nexthop = to_ip(nexthop);
    pv->out_port = out_port;
    to_control(m, kPrivAwaitNeigh);
}

void Worker::handle_arp(const Snapshot& s, uint16_t in_port, rte_mbuf* m, uint32_t l2) noexcept {
    auto* arp = header_at<rte_arp_hdr>(m, l2);
    if (!arp || arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4) {
        drop(m, Drop::kArpMalformed);
        return;
    }
    const uint32_t sip = arp->arp_data.arp_sip, tip = arp->arp_data.arp_tip;
    if (arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REQUEST) && sip != tip) {
        if (s.lookup_local4(tip) < 0) {
            drop(m, Drop::kArpNotOurs);
            return;
        }
        // Answer in place (RFC 826): we are the target.
        const MacAddr& mine = port_mac_[in_port];
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
        arp->arp_data.arp_tha = arp->arp_data.arp_sha;
        arp->arp_data.arp_tip = sip;
        std::memcpy(arp->arp_data.arp_sha.addr_bytes, mine.b.data(), 6);
        arp->arp_data.arp_sip = tip;
        eth->dst_addr = eth->src_addr;
        std::memcpy(eth->src_addr.addr_bytes, mine.b.data(), 6);
        counters_.ev(Ev::kArpReplies);
        tx(in_port, m);
        return;
    }
    // Replies and gratuitous announcements: the control plane learns from them.
    pkt_priv(m)->out_port = in_port;
    pkt_priv(m)->l2 = uint8_t(l2);
    to_control(m, kPrivArp);
}

void Worker::handle_icmp(uint16_t in_port, rte_mbuf* m, rte_ipv4_hdr* ip) noexcept {
    const uint32_t ihl = uint32_t(ip->version_ihl & 0xf) * 4;
    const uint32_t len = rte_be_to_cpu_16(ip->total_length) - ihl;
    if (len < sizeof(rte_icmp_hdr)) {
        drop(m, Drop::kL4Truncated);
        return;
    }
    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(reinterpret_cast<uint8_t*>(ip) + ihl);
    if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
        drop(m, Drop::kIcmpUnhandled);
        return;
    }
    // Echo reply (RFC 792) to an address we own: swap addresses, type 8 -> 0.
    uint16_t old_word, new_word;
    std::memcpy(&old_word, &icmp->icmp_type, 2);
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    std::memcpy(&new_word, &icmp->icmp_type, 2);
    icmp->icmp_cksum = csum::update16(icmp->icmp_cksum, old_word, new_word);
    turn_around(ip);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    eth->dst_addr = eth->src_addr;
    std::memcpy(eth->src_addr.addr_bytes, port_mac_[in_port].b.data(), 6);
    counters_.ev(Ev::kIcmpEchoReplies);
    tx(in_port, m);
}

// ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861) for the addresses svclb owns.
void Worker::handle_icmp6(const Snapshot& s, uint16_t in_port, rte_mbuf* m, uint32_t l3, uint8_t* icmp,
                          uint32_t len, bool mcast) noexcept {
    auto* ip6 = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, l3);
    if (len < 4) {
        drop(m, Drop::kL4Truncated);
        return;
    }
    const uint8_t type = icmp[0];
    const MacAddr& mine = port_mac_[in_port];
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (type == 135) { // neighbour solicitation
        if (len < 24 || ip6->hop_limits != 255) {
            drop(m, Drop::kNdMalformed);
            return;
        }
        uint8_t target[16];
        std::memcpy(target, icmp + 8, 16);
        if (s.lookup_local6(target) < 0) {
            drop(m, Drop::kNdNotOurs);
            return;
        }
        static const uint8_t unspecified[16] = {};
        if (std::memcmp(ip6->src_addr, unspecified, 16) == 0) { // duplicate address detection
            drop(m, Drop::kIcmpUnhandled);
            return;
        }
        // Answer with a solicited advertisement carrying our link-layer address, built in
        // place: 24 bytes of NA and an 8-byte target link-layer address option.
        constexpr uint32_t kNaLen = 32;
        const uint32_t want = l3 + sizeof(rte_ipv6_hdr) + kNaLen;
        if (rte_pktmbuf_data_len(m) < want) {
            if (!rte_pktmbuf_append(m, uint16_t(want - rte_pktmbuf_data_len(m)))) {
                drop(m, Drop::kNoMbuf);
                return;
            }
        } else {
            rte_pktmbuf_trim(m, uint16_t(rte_pktmbuf_data_len(m) - want));
        }
        ip6 = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, l3);
        eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        icmp = reinterpret_cast<uint8_t*>(ip6 + 1); // no extension headers on what we send
        std::memcpy(ip6->dst_addr, ip6->src_addr, 16);
        std::memcpy(ip6->src_addr, target, 16);
        ip6->vtc_flow = RTE_BE32(6u << 28);
        ip6->payload_len = RTE_BE16(kNaLen);
        ip6->proto = IPPROTO_ICMPV6;
        ip6->hop_limits = 255;
        std::memset(icmp, 0, kNaLen);
        icmp[0] = 136;
        icmp[4] = 0x60; // solicited, override
        std::memcpy(icmp + 8, target, 16);
        icmp[24] = 2; // target link-layer address
        icmp[25] = 1;
        std::memcpy(icmp + 26, mine.b.data(), 6);
        const uint16_t ck = icmp6_checksum(ip6, icmp, kNaLen);
        std::memcpy(icmp + 2, &ck, 2);
        eth->dst_addr = eth->src_addr;
        std::memcpy(eth->src_addr.addr_bytes, mine.b.data(), 6);
        counters_.ev(Ev::kNdAdverts);
        tx(in_port, m);
        return;
    }
    if (type == 136) { // neighbour advertisement: the control plane learns from it
        if (len < 24) {
            drop(m, Drop::kNdMalformed);
            return;
        }
        PktPriv* pv = pkt_priv(m);
        pv->out_port = in_port;
        pv->l2 = uint8_t(l3);
        to_control(m, kPrivArp);
        return;
    }
    const int32_t local = type == 128 && !mcast ? s.lookup_local6(ip6->dst_addr) : -1;
    if (local >= 0) { // echo request to an address of ours
        turn_around(ip6);
        // Type 128 -> 129; the pseudo-header sum is unchanged by swapping the addresses.
        uint16_t old_word, new_word, ck;
        std::memcpy(&old_word, icmp, 2);
        icmp[0] = 129;
        std::memcpy(&new_word, icmp, 2);
        std::memcpy(&ck, icmp + 2, 2);
        ck = csum::update16(ck, old_word, new_word);
        std::memcpy(icmp + 2, &ck, 2);
        eth->dst_addr = eth->src_addr;
        std::memcpy(eth->src_addr.addr_bytes, mine.b.data(), 6);
        counters_.ev(Ev::kIcmpEchoReplies);
        tx(in_port, m);
        return;
    }
    if (type == 128 && !mcast) { // an echo request for an address not ours: as IPv4 counts it
        drop(m, local == Snapshot::kUnallocated ? Drop::kUnallocated : Drop::kNoService);
        return;
    }
    drop(m, Drop::kIcmpUnhandled);
}

}  // namespace svclb
