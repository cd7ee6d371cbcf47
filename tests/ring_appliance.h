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

class RingAppliance {
public:
    explicit RingAppliance(const std::string& config, const MacAddr& mac) {
        static int seq = 0;
        const std::string n = std::to_string(seq++);
        rx_ = rte_ring_create(("grx" + n).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        tx_ = rte_ring_create(("gtx" + n).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        port_ = uint16_t(rte_eth_from_rings(("golden" + n).c_str(), &rx_, 1, &tx_, 1, 0));
        DataplaneConfig dc;
        dc.ports = {port_};
        dc.port_macs = {mac};
        dc.flow_capacity = 1024;
        dc.mbufs = 2047;
        dp_ = std::make_unique<Dataplane>(dc);
        ctl_ = std::make_unique<Controller>(*dp_, std::vector<PortBinding>{{"p0", port_, mac}});
        Errors errs;
        auto cfg = load_config_string(config, "appliance.conf", errs);
        if (!cfg || !errs.empty()) throw std::runtime_error("test config: " + errs.at(0).str());
        errs = ctl_->apply(*cfg);
        if (!errs.empty()) throw std::runtime_error("test config: " + errs.at(0).str());
        dp_->worker(0).poll_once(); // transmits the gratuitous ARPs
        initial = drain();
    }
    ~RingAppliance() {
        ctl_.reset();
        dp_.reset();
        drain();
        rte_ring_free(rx_);
        rte_ring_free(tx_);
    }

    struct Result {
        std::vector<Bytes> out;
        std::map<Drop, uint64_t> drops;
        uint64_t to_control = 0;
    };

    // Enqueues `in` on the RX ring and runs one worker iteration; returns what it sent,
    // the drop reasons counted and how many packets went to the control plane.
    Result send(const Bytes& in) {
        uint64_t d0[kNumDrops], e0[kNumEvents], d1[kNumDrops], e1[kNumEvents];
        dp_->sum_counters(d0, e0);
        rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
        std::memcpy(rte_pktmbuf_append(m, uint16_t(in.size())), in.data(), in.size());
        rte_ring_enqueue(rx_, m);
        dp_->worker(0).poll_once();
        dp_->sum_counters(d1, e1);
        Result r;
        for (size_t i = 0; i < kNumDrops; i++)
            if (d1[i] != d0[i]) r.drops[Drop(i)] = d1[i] - d0[i];
        r.to_control = e1[size_t(Ev::kToControl)] - e0[size_t(Ev::kToControl)];
        r.out = drain();
        return r;
    }
    // One worker iteration without input (transmits what the control plane queued).
    std::vector<Bytes> poll() {
        dp_->worker(0).poll_once();
        return drain();
    }

    std::vector<Bytes> drain() {
        std::vector<Bytes> out;
        rte_mbuf* m;
        while (rte_ring_dequeue(tx_, reinterpret_cast<void**>(&m)) == 0) {
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
    rte_ring* rx_;
    rte_ring* tx_;
    uint16_t port_;
    std::unique_ptr<Dataplane> dp_;
    std::unique_ptr<Controller> ctl_;
};

}  // namespace svclb::test
