// SPDX-License-Identifier: Apache-2.0
// Compiles a validated configuration into an immutable dataplane Snapshot: frontends,
// usable backends per service port (SEMANTICS.md "Verdicts"), Maglev tables, local
// addresses, routes. Runs on: control plane.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cp/model.h"
#include "lb/snapshot.h"

namespace svclb::cp {

// A configured port bound to its DPDK port.
struct PortBinding {
    std::string name;
    uint16_t port_id = 0;
    MacAddr mac;
};

// The usable endpoints of one service port, before the dataplane layout.
// svclb's per-service drain timeout (seconds, 0-86400, default 30): how long flows to a
// terminating endpoint may go on once other endpoints take the new ones.
inline constexpr const char* kDrainTimeoutAnnotation = "svclb.io/drain-timeout-seconds";
uint32_t drain_timeout_seconds(const Service& svc);

struct UsableBackend {
    IpAddr addr;
    uint16_t port = 0;
    uint32_t weight = 1;
    bool terminating = false;
    bool draining = false; // serving+terminating beside ready ones: existing flows only (weight 0)
};

// Which endpoints of `svc`'s port `sp` take new flows: ready ones; if none is ready, the
// serving+terminating ones; never serving=false. publishNotReadyAddresses counts every
// endpoint as ready. The backend port is the slice port with the same name and protocol.
// With `local_only`, only endpoints whose nodeName is one of cluster.nodeNames count, and
// the fallback applies among them (traffic policy Local). With `family` set, only that
// family's endpoints count, the fallback and draining included (one table per family).
// Serving+terminating endpoints beside ready ones come last, `draining` with weight 0.
std::vector<UsableBackend> usable_backends(const Config& cfg, const Service& svc, const ServicePort& sp,
                                           bool local_only = false, Family family = Family::kNone);

// Builds the snapshot. `cfg` must have passed validate_and_allocate. Throws
// std::runtime_error when DPDK cannot allocate the tables.
std::unique_ptr<Snapshot> compile(const Config& cfg, const std::vector<PortBinding>& ports,
                                  uint64_t generation, int socket_id);

// The node addresses NodePort frontends listen on: cluster.nodeAddresses (or the ports'
// addresses), filtered by nodePortAddresses.
std::vector<IpAddr> node_addresses(const Config& cfg);

uint8_t protocol_number(const std::string& p);

}  // namespace svclb::cp
