// SPDX-License-Identifier: Apache-2.0
// A whole appliance in process: net_ring ports instead of the configured devices, a
// Dataplane whose workers are polled by the caller (never launched), and a Controller with
// a configuration applied. `svclbctl trace` runs one packet through it; the golden and
// control-plane tests run many. Runs on: one thread (the caller's), which is therefore the
// only user of every flow table (lb/flow.h) and publishes with no worker online.
// Needs the EAL initialised.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cp/compile.h"
#include "cp/controller.h"
#include "cp/model.h"
#include "lb/counters.h"
#include "lb/dataplane.h"

struct rte_ring;

namespace svclb::cp {

using Bytes = std::vector<uint8_t>;

struct RingPort {
    std::string name; // the config's port name
    MacAddr mac;
    uint16_t vlan = 0;
};

struct RingApplianceOptions {
    std::vector<RingPort> ports;
    uint16_t workers = 1; // one RX/TX ring pair (queue) per worker on every port
    uint32_t flow_capacity = 1024;
    uint32_t mbufs = 4095;
};

class RingAppliance {
public:
    // Builds the ports and the dataplane, applies `cfg` (throws std::runtime_error with the
    // first error if it is refused) and collects what the first publication sent.
    RingAppliance(const Config& cfg, const RingApplianceOptions& o);
    ~RingAppliance();
    RingAppliance(const RingAppliance&) = delete;
    RingAppliance& operator=(const RingAppliance&) = delete;

    struct Result {
        std::vector<Bytes> out;            // every frame transmitted, queue by queue
        uint64_t drops[kNumDrops] = {};    // counter deltas
        uint64_t events[kNumEvents] = {};
    };
    // Enqueues `frame` on RX queue `queue` of port `port` (an index into the options' ports),
    // runs that queue's worker, then every worker until nothing moves (hand-offs between
    // workers); with `serve_control_plane` the Controller also runs in between (ARP, queued
    // packets). Returns what was sent and the counter deltas.
    Result send(size_t port, const Bytes& frame, uint16_t queue = 0, bool serve_control_plane = false);
    // Worker iterations without input until nothing moves; returns every frame transmitted.
    std::vector<Bytes> poll(bool serve_control_plane = false);
    // Every frame on the TX rings, queue 0 first.
    std::vector<Bytes> drain();

    std::vector<Bytes> initial; // what the first configuration made svclb send
    Dataplane& dp() { return *dp_; }
    Controller& ctl() { return *ctl_; }
    size_t port_index(const std::string& name) const; // SIZE_MAX when unknown

private:
    RingApplianceOptions o_;
    std::vector<std::vector<rte_ring*>> rx_, tx_; // [port][queue]
    std::unique_ptr<Dataplane> dp_;
    std::unique_ptr<Controller> ctl_;
};

}  // namespace svclb::cp
