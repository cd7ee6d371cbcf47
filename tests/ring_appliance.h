// SPDX-License-Identifier: Apache-2.0
// The in-process appliance (cp/ring_appliance.h) as the packet-level tests use it: one port
// "p0" with the given MAC and VLAN, configured from libconfig text, results as maps of the
// counters that moved.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cp/config_loader.h"
#include "cp/ring_appliance.h"
#include "tests/golden/pkt.h"

namespace svclb::test {

using cp::Controller;
using cp::Errors;
using cp::load_config_string;

struct RingOptions {
    uint16_t workers = 1; // one RX/TX ring pair (queue) per worker
    uint16_t vlan = 0;    // the port's 802.1Q VLAN
};

class RingAppliance {
public:
    RingAppliance(const std::string& config, const MacAddr& mac, RingOptions o = {}) {
        Errors errs;
        auto cfg = load_config_string(config, "appliance.conf", errs);
        if (!cfg || !errs.empty()) throw std::runtime_error("test config: " + (errs.empty() ? "" : errs[0].str()));
        cp::RingApplianceOptions ro;
        ro.ports = {{"p0", mac, o.vlan}};
        ro.workers = o.workers;
        app_ = std::make_unique<cp::RingAppliance>(*cfg, ro);
        initial = app_->initial;
    }

    struct Result {
        std::vector<Bytes> out;
        std::map<Drop, uint64_t> drops;
        uint64_t to_control = 0;
        uint64_t redirected = 0;
    };

    // Enqueues `in` on RX queue `queue` (the queue of worker `queue`) and runs the workers
    // until they are idle; returns what was sent, the drop reasons counted and what went
    // to the control plane (which is not served: tests drive it explicitly).
    Result send(const Bytes& in, uint16_t queue = 0) {
        const auto r = app_->send(0, in, queue);
        Result out;
        out.out = r.out;
        for (size_t i = 0; i < kNumDrops; i++)
            if (r.drops[i]) out.drops[Drop(i)] = r.drops[i];
        out.to_control = r.events[size_t(Ev::kToControl)];
        out.redirected = r.events[size_t(Ev::kRedirected)];
        return out;
    }
    std::vector<Bytes> poll() { return app_->poll(); }
    std::vector<Bytes> drain() { return app_->drain(); }

    std::vector<Bytes> initial; // what the first configuration made svclb send
    Dataplane& dp() { return app_->dp(); }
    Controller& ctl() { return app_->ctl(); }

private:
    std::unique_ptr<cp::RingAppliance> app_;
};

}  // namespace svclb::test
