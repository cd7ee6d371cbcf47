// SPDX-License-Identifier: Apache-2.0
// The control loop: applies configurations (validate -> allocate -> compile -> publish),
// serves svclbctl on a root-only Unix socket, drains what workers hand over (ARP), and
// runs the neighbour resolver. Runs on: control plane (the main lcore); it may block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cp/compile.h"
#include "cp/exception.h"
#include "cp/health.h"
#include "cp/model.h"
#include "cp/neighbour.h"
#include "lb/dataplane.h"

struct rte_mbuf;

namespace svclb::cp {

class Controller {
public:
    Controller(Dataplane& dp, std::vector<PortBinding> ports);
    ~Controller();

    // Validates `next` against the running config and, if valid, publishes it. On any error
    // nothing changes and every error is returned.
    Errors apply(Config next);
    // Opens the control socket (parent directory 0700, socket 0600). Throws on failure.
    void listen(const std::string& path);
    // One iteration: serve at most a few socket requests (waiting up to timeout_ms for
    // one), drain the workers' rings, tick the resolver.
    void poll(int timeout_ms);
    // The answer to one svclbctl request line.
    std::string handle(const std::string& request);

    // The exception path (cp/exception.h), when the appliance has one: punted packets go to
    // it, what the kernel sends is routed out, and every apply() syncs its addresses.
    // Set before the first apply(); not owned.
    void set_exception_path(ExceptionPath* e) { exception_ = e; }
    const HealthServer& health() const { return health_; }
    // Serve healthCheckNodePorts (the daemon does; in-process tests leave it off so that
    // they listen on nothing).
    void enable_health_checks() { health_enabled_ = true; }

    // In-process tests whose workers are not launched: what runs while a live trace waits
    // for the workers' answers (it polls them).
    void set_trace_pump(std::function<void()> f) { trace_pump_ = std::move(f); }

    uint64_t generation() const { return generation_; }
    const Config& config() const { return cfg_; }
    NeighbourResolver& resolver() { return resolver_; }
    static uint64_t now_ms();

private:
    std::string stats_json();
    std::string metrics_text();
    static const char* proto_name(uint8_t p);
    std::string services_table();
    void serve_one(int fd);
    std::string live_trace(const std::string& args);
    void from_worker(rte_mbuf* m, uint64_t now);

    Dataplane& dp_;
    std::vector<PortBinding> ports_;
    Config cfg_;
    bool have_cfg_ = false;
    uint64_t generation_ = 0;
    NeighbourResolver resolver_;
    int listen_fd_ = -1;
    std::string socket_path_;
    std::function<void()> trace_pump_;
    ExceptionPath* exception_ = nullptr;
    HealthServer health_;
    bool health_enabled_ = false;
    uint64_t punts_dropped_ = 0; // punted with no exception path to take them
    // (service port table, backend id) -> TSC of the first generation it was draining in
    std::map<std::pair<std::string, uint64_t>, uint64_t> draining_since_;
};

}  // namespace svclb::cp
