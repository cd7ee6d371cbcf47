// SPDX-License-Identifier: Apache-2.0
// healthCheckNodePort (SEMANTICS.md "Verdicts"): for every LoadBalancer service with
// externalTrafficPolicy Local, an HTTP endpoint on its healthCheckNodePort answering 200
// while the appliance has local ready endpoints for it and 503 otherwise, in kube-proxy's
// form (JSON body with the service and "localEndpoints", header
// X-Load-Balancing-Endpoint-Weight). It is served by the kernel's TCP stack: the sockets
// listen in svclb's network namespace, and the packets reach them through the exception
// path (cp/exception.h), which the workers punt a node address's unserved ports to.
// Runs on: control plane; non-blocking sockets polled by the Controller's loop.
#pragma once

#include <poll.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cp/model.h"

namespace svclb::cp {

struct HealthCheck {
    std::string ns, name;
    uint32_t local_endpoints = 0; // distinct local ready endpoints (addresses of the larger family)
    uint32_t local_by_family[2] = {}; // [0] IPv4, [1] IPv6: what a probe of that family is told
};

// The health checks `cfg` calls for, by healthCheckNodePort (validated and allocated).
std::map<uint16_t, HealthCheck> health_checks(const Config& cfg);

// The HTTP answer for `hc` (status 200 or 503, body, headers): with `count` (a family's
// local endpoints, as kube-proxy's per-family proxier answers) or hc.local_endpoints.
std::string health_response(const HealthCheck& hc, int64_t count = -1);

class HealthServer {
public:
    HealthServer() = default;
    ~HealthServer();
    HealthServer(const HealthServer&) = delete;
    HealthServer& operator=(const HealthServer&) = delete;

    // Listens on every healthCheckNodePort of `cfg` (all addresses, both families where the
    // kernel has IPv6), stops listening on the others, updates the counts. Returns a
    // warning per port it cannot listen on (the configuration still applies).
    std::vector<std::string> configure(const Config& cfg);
    // Appends the sockets to watch; then handle() with the same vector after poll().
    void add_pollfds(std::vector<pollfd>& fds) const;
    void handle(const std::vector<pollfd>& fds, uint64_t now_ms);

    std::vector<uint16_t> ports() const;
    uint64_t answered() const { return answered_; }

private:
    struct Listener {
        int fd = -1;
        HealthCheck hc;
    };
    struct Conn {
        int fd = -1;
        uint16_t port = 0;
        uint64_t deadline_ms = 0;
        std::string in;
        int family = 0; // the peer's: 0 IPv4 (IPv4-mapped included), 1 IPv6
    };
    void close_conn(size_t i);
    std::map<uint16_t, Listener> listeners_;
    std::vector<Conn> conns_;
    uint64_t answered_ = 0;
};

}  // namespace svclb::cp
