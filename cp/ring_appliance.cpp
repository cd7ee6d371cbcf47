// SPDX-License-Identifier: Apache-2.0
#include "cp/ring_appliance.h"

#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

namespace svclb::cp {

RingAppliance::RingAppliance(const Config& cfg, const RingApplianceOptions& o) : o_(o) {
    static int seq = 0;
    const std::string n = std::to_string(getpid()) + "_" + std::to_string(seq++);
    DataplaneConfig dc;
    std::vector<PortBinding> bindings;
    for (size_t i = 0; i < o.ports.size(); i++) {
        rx_.emplace_back();
        tx_.emplace_back();
        for (uint16_t q = 0; q < o.workers; q++) {
            const std::string qn = n + "_" + std::to_string(i) + "_" + std::to_string(q);
            rte_ring* rx = rte_ring_create(("arx" + qn).c_str(), 2048, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
            rte_ring* tx = rte_ring_create(("atx" + qn).c_str(), 2048, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (rx) rx_.back().push_back(rx);
            if (tx) tx_.back().push_back(tx);
            if (!rx || !tx) throw std::runtime_error("cannot create rings: " + std::string(rte_strerror(rte_errno)));
        }
        const int pid = rte_eth_from_rings(("ring" + n + "_" + std::to_string(i)).c_str(), rx_.back().data(),
                                           o.workers, tx_.back().data(), o.workers, 0);
        if (pid < 0) throw std::runtime_error("cannot create a net_ring port: " + std::string(rte_strerror(rte_errno)));
        dc.ports.push_back(uint16_t(pid));
        dc.port_macs.push_back(o.ports[i].mac);
        dc.port_vlans.push_back(o.ports[i].vlan);
        bindings.push_back({o.ports[i].name, uint16_t(pid), o.ports[i].mac});
    }
    dc.workers = o.workers;
    dc.flow_capacity = o.flow_capacity;
    dc.mbufs = o.mbufs;
    dp_ = std::make_unique<Dataplane>(dc);
    ctl_ = std::make_unique<Controller>(*dp_, bindings);
    const Errors errs = ctl_->apply(cfg);
    if (!errs.empty()) throw std::runtime_error(errs.at(0).str());
    initial = poll(); // the gratuitous ARPs and unsolicited neighbour advertisements
}

RingAppliance::~RingAppliance() {
    ctl_.reset();
    dp_.reset();
    drain();
    for (auto& v : rx_)
        for (auto* r : v) rte_ring_free(r);
    for (auto& v : tx_)
        for (auto* r : v) rte_ring_free(r);
}

size_t RingAppliance::port_index(const std::string& name) const {
    for (size_t i = 0; i < o_.ports.size(); i++)
        if (o_.ports[i].name == name) return i;
    return SIZE_MAX;
}

RingAppliance::Result RingAppliance::send(size_t port, const Bytes& frame, uint16_t queue, bool serve_cp) {
    uint64_t d0[kNumDrops], e0[kNumEvents];
    dp_->sum_counters(d0, e0);
    rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
    if (!m) throw std::runtime_error("no mbuf");
    std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
    if (rte_ring_enqueue(rx_.at(port).at(queue), m) != 0) {
        rte_pktmbuf_free(m);
        throw std::runtime_error("cannot enqueue the packet");
    }
    dp_->worker(queue).poll_once();
    Result r;
    r.out = poll(serve_cp);
    dp_->sum_counters(r.drops, r.events);
    for (size_t i = 0; i < kNumDrops; i++) r.drops[i] -= d0[i];
    for (size_t i = 0; i < kNumEvents; i++) r.events[i] -= e0[i];
    return r;
}

std::vector<Bytes> RingAppliance::poll(bool serve_cp) {
    std::vector<Bytes> out;
    for (int round = 0; round < 8; round++) {
        uint32_t moved = 0;
        for (size_t w = 0; w < dp_->worker_count(); w++) moved += dp_->worker(w).poll_once();
        if (serve_cp) ctl_->poll(0);
        auto d = drain();
        out.insert(out.end(), d.begin(), d.end());
        if (moved == 0 && d.empty() && (!serve_cp || round >= 1)) break;
    }
    return out;
}

std::vector<Bytes> RingAppliance::drain() {
    std::vector<Bytes> out;
    rte_mbuf* m;
    for (size_t q = 0; q < o_.workers; q++)
        for (auto& port : tx_)
            while (rte_ring_dequeue(port[q], reinterpret_cast<void**>(&m)) == 0) {
                const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
                out.emplace_back(p, p + rte_pktmbuf_pkt_len(m));
                rte_pktmbuf_free(m);
            }
    return out;
}

}  // namespace svclb::cp
