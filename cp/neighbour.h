// SPDX-License-Identifier: Apache-2.0
// ARP and IPv6 neighbour discovery on the control plane: resolves the next hops the workers send to, holds the packets
// that wait for a resolution (bounded), ages learnt entries, installs static ones and
// announces owned addresses with gratuitous ARP. The single writer of the dataplane's
// NeighTable (lb/neigh.h). Runs on: control plane.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cp/compile.h"
#include "cp/model.h"
#include "lb/dataplane.h"

struct rte_mbuf;

namespace svclb::cp {

class NeighbourResolver {
public:
    static constexpr size_t kQueuePerNeighbour = 16;
    static constexpr size_t kQueueTotal = 1024;
    static constexpr uint64_t kProbeIntervalMs = 1000;
    static constexpr int kMaxProbes = 3;

    explicit NeighbourResolver(Dataplane& dp) : dp_(dp) {}
    ~NeighbourResolver();

    // Takes the interface addresses, static neighbours and timeouts of a validated config;
    // sends gratuitous ARP for every owned IPv4 address not announced before.
    void configure(const Config& cfg, const std::vector<PortBinding>& ports, const Snapshot& snap,
                   uint64_t now_ms);
    // Consumes a packet a worker handed over (ARP to learn from, or a packet awaiting ARP).
    void on_packet(rte_mbuf* m, uint64_t now_ms);
    // Retries, failures and aging.
    void tick(uint64_t now_ms);

    uint64_t unresolved_drops() const { return unresolved_drops_; }
    uint64_t queue_drops() const { return queue_drops_; }
    uint64_t requests_sent() const { return requests_sent_; }
    size_t queued() const { return queued_; }
    std::string describe() const; // one line per entry, for svclbctl

private:
    enum class State { kIncomplete, kReachable, kProbing, kFailed, kStatic };
    struct Entry {
        int32_t slot = -1;
        uint16_t port = 0;
        State state = State::kIncomplete;
        MacAddr mac;
        std::deque<rte_mbuf*> queue;
        uint64_t updated_ms = 0, last_probe_ms = 0;
        int probes = 0;
    };
    struct Iface {
        uint16_t port;
        IpAddr host;
        Cidr net;
        MacAddr mac;
    };
    void probe(const IpAddr& target, Entry& e, uint64_t now_ms);
    // A frame for `port` (its MAC as source, its VLAN tag if any) with `len` bytes of
    // payload after the Ethernet header; returns the payload (nullptr: no mbuf).
    uint8_t* new_frame(uint16_t port, const MacAddr& dst, uint16_t ethertype, size_t len, rte_mbuf** out);
    void send_arp(uint16_t port, uint16_t op, const IpAddr& sip, const MacAddr& tha, const IpAddr& tip);
    // IPv6 neighbour discovery (RFC 4861): a solicitation to the target's solicited-node
    // multicast group, or an unsolicited advertisement to all nodes.
    void send_nd(uint16_t port, bool solicitation, const IpAddr& src, const IpAddr& target);
    void learn(const IpAddr& ip, const MacAddr& mac, uint64_t now_ms);
    void fail(Entry& e);
    const Iface* source_for(uint16_t port, const IpAddr& target) const;

    Dataplane& dp_;
    std::map<IpAddr, Entry> entries_;
    std::vector<Iface> ifaces_;
    std::set<std::pair<uint16_t, IpAddr>> announced_;
    uint64_t timeout_ms_ = 300000;
    size_t queued_ = 0;
    uint64_t unresolved_drops_ = 0, queue_drops_ = 0, requests_sent_ = 0;
};

}  // namespace svclb::cp
