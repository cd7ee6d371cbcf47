// SPDX-License-Identifier: Apache-2.0
// A whole appliance in process for tests: one net_ring port, a Dataplane with one worker
// (polled by the test, not launched) and a Controller with the given libconfig text applied.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "cp/config_loader.h"
#include "cp/controller.h"
#include "lb/dataplane.h"
#include "tests/golden/pkt.h"

namespace svclb::test {

using cp::Controller;
using cp::Errors;
using cp::PortBinding;
using cp::load_config_string;

struct RingOptions {
    uint16_t workers = 1; // one RX/TX ring pair (queue) per worker
    uint16_t vlan = 0;    // the port's 802.1Q VLAN
};

class RingAppliance {
public:
    RingAppliance(const std::string& config, const MacAddr& mac, RingOptions o = {}) : o_(o) {
        static int seq = 0;
        const std::string n = std::to_string(seq++);
        for (uint16_t q = 0; q < o.workers; q++) {
            const std::string qn = n + "_" + std::to_string(q);
            rx_.push_back(rte_ring_create(("grx" + qn).c_str(), 2048, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
            tx_.push_back(rte_ring_create(("gtx" + qn).c_str(), 2048, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
        }
        port_ = uint16_t(rte_eth_from_rings(("golden" + n).c_str(), rx_.data(), o.workers, tx_.data(),
                                            o.workers, 0));
        DataplaneConfig dc;
        dc.ports = {port_};
        dc.port_macs = {mac};
        dc.port_vlans = {o.vlan};
        dc.workers = o.workers;
        dc.flow_capacity = 1024;
        dc.mbufs = 4095;
        dp_ = std::make_unique<Dataplane>(dc);
        ctl_ = std::make_unique<Controller>(*dp_, std::vector<PortBinding>{{"p0", port_, mac}});
        Errors errs;
        auto cfg = load_config_string(config, "appliance.conf", errs);
        if (!cfg || !errs.empty()) throw std::runtime_error("test config: " + errs.at(0).str());
        errs = ctl_->apply(*cfg);
        if (!errs.empty()) throw std::runtime_error("test config: " + errs.at(0).str());
        initial = poll(); // the gratuitous ARPs
    }
    ~RingAppliance() {
        ctl_.reset();
        dp_.reset();
        drain();
        for (auto* r : rx_) rte_ring_free(r);
        for (auto* r : tx_) rte_ring_free(r);
    }

    struct Result {
        std::vector<Bytes> out;
        std::map<Drop, uint64_t> drops;
        uint64_t to_control = 0;
        uint64_t redirected = 0;
    };

    // Enqueues `in` on RX queue `queue` (the queue of worker `queue`), runs that worker,
    // then every worker until they are idle (hand-offs between workers); returns what was
    // sent, the drop reasons counted and what went to the control plane.
    Result send(const Bytes& in, uint16_t queue = 0) {
        uint64_t d0[kNumDrops], e0[kNumEvents], d1[kNumDrops], e1[kNumEvents];
        dp_->sum_counters(d0, e0);
        rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
        std::memcpy(rte_pktmbuf_append(m, uint16_t(in.size())), in.data(), in.size());
        rte_ring_enqueue(rx_[queue], m);
        dp_->worker(queue).poll_once();
        Result r;
        r.out = poll();
        dp_->sum_counters(d1, e1);
        for (size_t i = 0; i < kNumDrops; i++)
            if (d1[i] != d0[i]) r.drops[Drop(i)] = d1[i] - d0[i];
        r.to_control = e1[size_t(Ev::kToControl)] - e0[size_t(Ev::kToControl)];
        r.redirected = e1[size_t(Ev::kRedirected)] - e0[size_t(Ev::kRedirected)];
        return r;
    }
    // Worker iterations without input until nothing moves (transmits what the control
    // plane queued, processes hand-offs); returns every frame transmitted.
    std::vector<Bytes> poll() {
        std::vector<Bytes> out;
        for (int round = 0; round < 4; round++) {
            uint32_t moved = 0;
            for (size_t w = 0; w < dp_->worker_count(); w++) moved += dp_->worker(w).poll_once();
            auto d = drain();
            out.insert(out.end(), d.begin(), d.end());
            if (moved == 0 && d.empty()) break;
        }
        return out;
    }

    // Every frame on the TX rings, queue 0 first.
    std::vector<Bytes> drain() {
        std::vector<Bytes> out;
        rte_mbuf* m;
        for (auto* t : tx_)
            while (rte_ring_dequeue(t, reinterpret_cast<void**>(&m)) == 0) {
                const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
                out.emplace_back(p, p + rte_pktmbuf_pkt_len(m));
                rte_pktmbuf_free(m);
            }
        return out;
    }

    std::vector<Bytes> initial; // what the first configuration made svclb send

    Dataplane& dp() { return *dp_; }
    Controller& ctl() { return *ctl_; }

private:
    RingOptions o_;
    std::vector<rte_ring*> rx_, tx_;
    uint16_t port_;
    std::unique_ptr<Dataplane> dp_;
    std::unique_ptr<Controller> ctl_;
};

}  // namespace svclb::test
