// SPDX-License-Identifier: Apache-2.0
// The exception path (SEMANTICS.md "What svclb adds"; docs/design.md): a TAP interface
// between svclb and the kernel for the appliance's own addresses. Workers punt what no
// frontend serves (a healthCheckNodePort, later BGP, management) to the control plane,
// which writes it into the TAP port; what the kernel answers comes back out of the TAP
// port and leaves through the dataplane ports like any packet svclb originates (route,
// neighbour resolution, VLAN tag). The kernel side is set up here over rtnetlink: the
// interface up and NOARP, each appliance address on it as a /32 or /128, a default route
// through it in the exception table and a policy rule "from ADDRESS lookup TABLE" per
// address, so that replies from those addresses, and only they, go back through svclb.
// Runs on: control plane only.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lb/addr.h"

struct rte_mbuf;

namespace svclb {
class Dataplane;
class Snapshot;
}  // namespace svclb

namespace svclb::cp {

class NeighbourResolver;

// Writes `value` to the /proc/sys file `path`; its value before in `*before` (when given and
// readable). False when it cannot be written.
bool write_sysctl(const std::string& path, const std::string& value, std::string* before = nullptr);

// An af_packet port's kernel interface sees every frame svclb sees. With the appliance's
// addresses on the exception path's TAP interface, the kernel would answer those frames a
// second time: strict reverse-path filtering on the port's interface (the addresses route
// back through the TAP, not through it) makes it drop the IPv4 ones, and the interface gets
// no IPv6 at all (svclb does its neighbour discovery itself). `device` is the port's DPDK
// devargs; anything but `net_af_packet…,iface=X` is left alone. Each file changed goes into
// `restore` with its value before, for the caller to put back at exit.
void quiet_af_packet_port(const std::string& device, std::vector<std::pair<std::string, std::string>>& restore);

class ExceptionPath {
public:
    // `port_id`: the net_tap port the EAL probed for `iface`. Configures it (one queue pair,
    // the dataplane's mbuf pool), starts it and makes the kernel interface NOARP. Throws
    // std::runtime_error with the reason on failure.
    ExceptionPath(Dataplane& dp, uint16_t port_id, std::string iface, uint32_t table);
    ~ExceptionPath(); // removes the policy rules; the interface (and its routes) goes with the port
    ExceptionPath(const ExceptionPath&) = delete;
    ExceptionPath& operator=(const ExceptionPath&) = delete;

    // Makes the kernel side match `addrs` (the appliance's own addresses). Returns a
    // warning per step the kernel refused (e.g. IPv6 disabled on the interface).
    std::vector<std::string> sync(const std::vector<IpAddr>& addrs);

    // A punted frame (lb/worker.h kPrivPunt): into the kernel, VLAN tag stripped, addressed
    // to the interface's MAC. Takes ownership.
    void deliver(rte_mbuf* m);
    // What the kernel sent: out through the dataplane, at most one burst per call. Only
    // unicast IPv4/IPv6 from one of the synced addresses leaves; the rest is counted and
    // freed.
    void poll(const Snapshot* snap, NeighbourResolver& resolver, uint64_t now_ms);

    uint16_t port_id() const { return port_; }
    const std::string& iface() const { return iface_; }
    struct Counters {
        uint64_t to_kernel = 0, to_kernel_failed = 0; // punted frames written / refused
        uint64_t from_kernel = 0;                     // frames the kernel sent
        uint64_t sent = 0;                            // of those, routed out
        uint64_t ignored = 0;   // not unicast IP from an appliance address (IPv6 RS, MLD, ...)
        uint64_t no_route = 0;
    };
    const Counters& counters() const { return c_; }

private:
    Dataplane& dp_;
    uint16_t port_;
    std::string iface_;
    uint32_t table_;
    int ifindex_ = 0;
    uint8_t mac_[6] = {};
    std::set<IpAddr> addrs_; // synced
    std::set<int> routes_;   // families with a default route in the table
    Counters c_;
};

}  // namespace svclb::cp
