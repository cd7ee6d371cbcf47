// SPDX-License-Identifier: Apache-2.0
// The immutable, versioned table the workers read (DESIGN.md, "The snapshot").
// RCU reader protocol: a worker loads the current pointer once per poll iteration, uses
// it for that iteration only, and reports quiescence afterwards (rte_rcu_qsbr). Nothing a
// worker keeps across iterations (flow entries) points into a snapshot: flows hold values
// and the generation they were validated against.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "lb/addr.h"
#include "lb/counters.h"

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_lpm.h>

struct rte_hash;

namespace svclb {

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoSctp = 132;

struct BackendRt {
    IpAddr addr;
    uint16_t port = 0;    // host order
    uint32_t weight = 1;
    uint64_t id = 0;      // backend_identity(addr, port)
    IpAddr snat;          // our source address towards this backend
    IpAddr nexthop;       // backend itself when on-link, else the gateway
    uint16_t out_port = 0;
    int16_t neigh = -1;   // neighbour slot of `nexthop`, filled before publication
    bool terminating = false;
    // Terminating but serving while other endpoints are ready: no new flows (weight 0, not
    // in the Maglev table), existing ones continue until they end or `drain_deadline` (TSC;
    // SEMANTICS.md "Flows and affinity"). UDP flows to it are flushed like a removed one's.
    bool draining = false;
    uint64_t drain_deadline = 0;
};

// One frontend's service port: what a (address, protocol, port) match resolves to.
struct ServicePortRt {
    uint32_t index = 0;          // position in Snapshot::service_ports
    std::string name;            // "namespace/service:port" for stats and traces
    uint8_t proto = kProtoTcp;
    bool snat = true;            // FullNAT; false: DNAT, the client address kept (policy Local)
    bool drop_if_empty = false;  // Local: endpoints exist elsewhere, so drop rather than reject
    std::vector<BackendRt> backends; // sorted by id (stable); all usable ones
    std::vector<uint32_t> maglev;    // indices into backends; empty = no usable endpoint
    // loadBalancerSourceRanges: applies to packets whose destination is one of
    // `range_frontends` (the LoadBalancer ingress IPs); empty ranges = everyone.
    std::vector<IpAddr> range_frontends;
    std::vector<Cidr> source_ranges;
    // ClientIP session affinity: seconds a client stays on its backend after its last new
    // connection; 0 = off. `stable_id` names this service port across generations.
    uint32_t affinity_timeout_s = 0;
    uint32_t drain_timeout_s = 30; // how long flows to a draining backend may go on
    uint64_t stable_id = 0;
    // For stats labels: the service, port name, protocol and appProtocol.
    std::string service, port_name, app_protocol;
    // New flows per worker (one writer each: the worker's slot), plus what earlier
    // generations of this service port counted (carried over at publication).
    struct alignas(RTE_CACHE_LINE_SIZE) Slot {
        std::atomic<uint64_t> flows{0};
    };
    std::unique_ptr<Slot[]> per_worker; // workers + 1 (the live trace's), sized before publication
    uint64_t carried_flows = 0;
    // Runs on: worker lcore `w`.
    void count_flow(uint16_t w) const noexcept {
        auto& c = per_worker[w].flows;
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    // Runs on: control plane.
    uint64_t flows_total(size_t workers) const noexcept {
        uint64_t t = carried_flows;
        for (size_t i = 0; i < workers; i++) t += per_worker[i].flows.load(std::memory_order_relaxed);
        return t;
    }
    // Runs on: worker lcore (new flows only). False when `client` may not use `dst`.
    bool source_allowed(const IpAddr& dst, const IpAddr& client) const noexcept;
    // Runs on: any lcore. Index of the backend with identity `id`, or -1.
    int32_t find_backend(uint64_t id) const noexcept;
};

enum AddrKind : uint8_t {
    kAddrInterface = 1, // an address of a dataplane port
    kAddrSnat = 2,      // a SNAT source address
    kAddrVip = 4,       // a frontend address (clusterIP, externalIP, ...)
    kAddrNode = 8,      // a NodePort address
};

struct LocalAddr {
    IpAddr addr;
    uint8_t kinds = 0;
};

struct NextHop {
    uint16_t port = 0;
    bool connected = true; // next hop is the destination itself
    IpAddr gateway;
};

struct PortRt {
    uint16_t port_id = 0;
    MacAddr mac;
    std::string name;
};

// 8-byte aligned and padding-free (rte_hash_crc reads 64-bit words; the pad is explicit
// and always zero).
struct alignas(8) FrontendKey {
    uint8_t addr[16];
    uint16_t port_be;
    uint8_t proto;
    uint8_t family;
    uint8_t zero[4];
};
static_assert(sizeof(FrontendKey) == 24);
static_assert(std::has_unique_object_representations_v<FrontendKey>);

// Aging, in seconds (the appliance's timeouts).
struct FlowTimeouts {
    uint32_t tcp_syn = 30, tcp_established = 900, tcp_fin = 60, tcp_time_wait = 30,
             tcp_close = 10, udp = 120, icmp = 30, sctp = 900;
};

class Snapshot {
public:
    Snapshot(uint64_t generation, int socket_id);
    ~Snapshot();
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;

    // ---- building (control plane, before publication) ----
    void add_local(const IpAddr& a, uint8_t kinds);
    void add_service_cidr(const Cidr& c);
    void add_route(const Cidr& c, const NextHop& nh);
    ServicePortRt& add_service_port(std::unique_ptr<ServicePortRt> sp);
    void add_frontend(const IpAddr& addr, uint8_t proto, uint16_t port, uint32_t sp_index);
    // Builds the lookup structures. Throws std::runtime_error on DPDK allocation failure.
    void finalize();

    // ---- reading (any lcore, after publication) ----
    // Runs on: worker lcore. Local address entry for an IPv4 destination (network order):
    // >= 0 index into locals; kUnallocated for a service-CIDR address nobody owns; -1 none.
    static constexpr int32_t kUnallocated = -2;
    int32_t lookup_local4(uint32_t dst_be) const noexcept {
        uint32_t v;
        if (rte_lpm_lookup(local4_, rte_be_to_cpu_32(dst_be), &v) != 0) return -1;
        return v == 0xffffff ? kUnallocated : int32_t(v);
    }
    // Runs on: worker lcore. Same for an IPv6 destination (16 bytes, network order).
    int32_t lookup_local6(const uint8_t* dst) const noexcept;
    // Runs on: worker lcore. Service port for a frontend, or nullptr.
    const ServicePortRt* lookup_frontend(const FrontendKey& k) const noexcept;
    // Runs on: worker lcore, when a flow is created (not per packet). Next hop for a
    // destination by longest prefix over the few routes an appliance has, or nullptr.
    const NextHop* route(const IpAddr& dst) const noexcept;
    const NextHop* route4(uint32_t dst_be) const noexcept { return route(IpAddr::v4(dst_be)); }

    static FrontendKey frontend_key(const IpAddr& addr, uint8_t proto, uint16_t port_host) noexcept;

    uint64_t generation;
    int socket_id;
    std::vector<LocalAddr> locals;
    std::vector<std::unique_ptr<ServicePortRt>> service_ports;
    std::vector<Cidr> service_cidrs;
    std::vector<NextHop> nexthops;
    std::vector<PortRt> ports;
    FlowTimeouts timeouts;
    uint32_t reject_rate = 1000;
    // Traffic for the appliance's own addresses that nothing here serves goes to the
    // kernel (the control plane's TAP port) instead of being refused.
    bool exception_path = false;
    uint32_t punt_rate = 10000; // packets a second per worker into the exception path
    // Some service keeps client addresses (DNAT): replies then come back addressed to the
    // client, not to an address svclb owns, and must still find their flow.
    bool has_dnat = false;

private:
    struct PendingFrontend {
        FrontendKey key;
        uint32_t sp_index;
    };
    struct PendingRoute {
        Cidr cidr;
        uint32_t nh;
    };
    std::vector<PendingFrontend> pending_frontends_;
    std::vector<PendingRoute> pending_routes_;
    rte_hash* frontends_ = nullptr;
    rte_lpm* local4_ = nullptr;
    std::vector<PendingRoute> routes_;    // longest prefix first
    rte_hash* local6_ = nullptr;          // exact IPv6 local addresses
};

}  // namespace svclb
