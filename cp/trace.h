// SPDX-License-Identifier: Apache-2.0
// `svclbctl trace`: pushes one synthesised packet through the real worker pipeline (parse,
// classify, flow, select, rewrite) of an in-process appliance on net_ring ports and
// reports what happened (docs/trace.md). Runs on: the main lcore of a process whose EAL
// is already initialised (svclbctl initialises it with trace_eal_init; tests with
// tests/eal_env.h). The configuration's devices are not probed.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cp/compile.h"
#include "cp/model.h"
#include "lb/dataplane.h"

struct rte_mbuf;

namespace svclb::cp {

// The packet to trace.
struct TracePacket {
    std::string proto = "tcp"; // tcp | udp | sctp | icmp (echo request)
    std::string src;           // IP or IP:PORT ([v6]:PORT); the port defaults to 40000
    std::string dst;           // IP:PORT ([v6]:PORT); the port is optional for icmp
    std::string ingress;       // dataplane port name; "" = the first configured port
};

// Flag overrides applied to the loaded configuration (empty = keep).
struct TraceOverrides {
    std::vector<std::string> service_cidrs;
    std::string nodeport_range; // "A-B"
    std::vector<std::string> node_addresses;
    std::vector<std::string> node_names;
};

struct TraceResult {
    std::string verdict;                 // forward | reject | drop | local
    std::string reason;                  // drop reason name (lb/counters.h); "" = none
    std::string frontend;                // "namespace/name:port"; "" = no frontend matched
    std::vector<std::string> candidates; // the frontend's usable backends, "ip:port"
    std::string backend;                 // the chosen backend; "" unless forwarded
    bool snat = false;                   // output source differs from the input source
    std::string out_src, out_dst;        // the transmitted packet's addresses; "" = none
    // Live trace only: the worker whose flow table held this 5-tuple, and the flow's state
    // ("" = no flow); json() then adds "flow" (null or {"worker", "state"}).
    bool live = false;
    int flow_worker = -1;
    std::string flow_state;
    std::string json() const;            // one JSON object, one line
};

// The appliance assumed with manifests only (-f without -c): port "p0" with 203.0.113.1/24
// (gateway 203.0.113.254) and 2001:db8:5c1b::1/64 (gateway 2001:db8:5c1b::fe), so every
// backend routes; Kubernetes' defaults otherwise (service CIDR 10.96.0.0/12, node ports
// 30000-32767; node addresses = the port's addresses).
Config trace_default_config();

// The configuration svclbctl's offline commands work on: -c CONFIG (or, without one,
// trace_default_config()) plus -f MANIFEST files or directories. Load errors are appended to
// `errs`; an unreadable config file prints its errors to `err` (prefixed by `who` when it
// has none) and returns nullopt.
std::optional<Config> load_sources(const std::string& config, const std::vector<std::string>& manifests,
                                   Errors& errs, std::ostream& err, const std::string& who);

// Applies `o` to `cfg` and validates (and allocates) it. Returns every error: `load_errs`
// (what loading `cfg` reported) first, then validation's (cp/validate.h validate_loaded).
Errors trace_prepare(Config& cfg, const TraceOverrides& o, const Errors& load_errs = {});

// Runs `pkt` through an appliance built from `cfg` (already prepared: trace_prepare).
// Throws std::invalid_argument for a malformed packet description, std::runtime_error
// when the appliance cannot be built.
TraceResult trace_packet(const Config& cfg, const TracePacket& pkt);

// The live trace, run by the daemon's control plane on its own dataplane: the packet goes
// through a trace worker (lb/worker.h: never launched, sends nothing) on the snapshot being
// served, after every live worker has been asked, through its own ring, for the flow this
// 5-tuple belongs to; a flow found is copied into the trace worker's table first.
// `pump` runs while waiting for the workers' answers (tests that poll workers themselves);
// `other` receives what the workers hand the control plane meanwhile (ARP, queued
// packets). Throws std::invalid_argument for a bad packet description, std::runtime_error
// when the dataplane cannot answer.
struct LiveTraceHooks {
    std::function<void()> pump;
    std::function<void(rte_mbuf*)> other;
};
TraceResult trace_live(Dataplane& dp, const std::vector<PortBinding>& ports, const TracePacket& pkt,
                       const LiveTraceHooks& hooks);

// Initialises the EAL for an in-process trace (no hugepages, no PCI, no shared config).
// Returns false (and prints why) on failure.
bool trace_eal_init(const char* argv0);

// One request line to a running daemon's control socket; its whole answer, or nullopt
// (the reason printed to `err`).
std::optional<std::string> ask_daemon(const std::string& socket_path, const std::string& request, std::ostream& err);

// The whole `svclbctl trace ARGS...` command (args after "trace"). Offline with -c or -f:
// loads, overrides, validates (every error to `err`, returns 1), initialises the EAL when
// `init_eal`, traces and prints the JSON to `out` (returns 0). Without either: asks the
// daemon at `socket` for a live trace (trace_live) and prints its JSON. Bad usage returns 2.
int trace_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool init_eal,
                  const std::string& socket = "/run/svclb/svclb.sock");

}  // namespace svclb::cp
