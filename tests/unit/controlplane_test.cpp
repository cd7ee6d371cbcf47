// SPDX-License-Identifier: Apache-2.0
// The control plane driving a real dataplane in process (net_ring port, worker polled by
// the test): ARP resolution with a pending queue, gratuitous ARP, reloads that keep
// established flows, removed backends, rejected reloads, aging and a full flow table.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <rte_ring.h>

#include "tests/eal_env.h"
#include "tests/golden/pkt.h"
#include "tests/ring_appliance.h"

using namespace svclb;
using namespace svclb::test;

namespace {

const MacAddr kLb = *parse_mac("02:00:00:00:00:01");
const MacAddr kClient = *parse_mac("02:00:00:00:00:10");
const MacAddr kBcast = *parse_mac("ff:ff:ff:ff:ff:ff");
const MacAddr kZero{};
MacAddr backend_mac(int i) { return *parse_mac("02:00:00:00:00:" + std::to_string(10 + i)); }
std::string backend_ip(int i) { return "198.51.100." + std::to_string(10 + i); }

struct Opts {
    std::vector<int> backends{1};  // 1 -> 198.51.100.11 ...
    bool static_backends = true;
    std::string timeouts;          // libconfig body of appliance.timeouts
    std::string extra_services;    // appended to services
    std::string bad_port = "80";   // the TCP service port (to make a config invalid)
    std::string conditions2;       // settings inside backend 2's endpoint, e.g. its conditions
    std::string meta;              // settings inside the service's metadata, e.g. annotations
};

std::string config(const Opts& o) {
    std::string neigh = R"({ ip = "198.51.100.10"; mac = "02:00:00:00:00:10"; })";
    if (o.static_backends)
        for (int i = 1; i <= 4; i++)
            neigh += ", { ip = \"" + backend_ip(i) + "\"; mac = \"" + format_mac(backend_mac(i)) + "\"; }";
    std::string eps;
    for (int b : o.backends)
        eps += (eps.empty() ? "" : ", ") + std::string("{ addresses = [ \"") + backend_ip(b) + "\" ]; " +
               (b == 2 ? o.conditions2 : "") + " }";
    return R"(
appliance = {
  ports = ( { name = "p0"; device = "net_ring_cp"; addresses = [ "198.51.100.1/24" ]; } );
  snatAddresses = [ "198.51.100.2" ];
  neighbours = ( )" + neigh + R"( );
  lcores = { main = 0; workers = [ 1 ]; };
  flowTableSize = 1024;
  timeouts = { )" + o.timeouts + R"( };
};
cluster = { serviceCIDRs = [ "198.18.0.0/24" ]; };
services = (
  { metadata = { name = "web"; namespace = "cp"; )" + o.meta + R"( };
    spec = { clusterIP = "198.18.0.10";
             ports = ( { name = "http"; protocol = "TCP"; port = )" + o.bad_port + R"(; targetPort = 8080;
                         appProtocol = "http"; },
                       { name = "dns"; protocol = "UDP"; port = 53; targetPort = 5300; } ); }; }
)" + o.extra_services + R"(
);
endpointSlices = (
  { metadata = { name = "web-1"; namespace = "cp"; };
    service = "web";
    ports = ( { name = "http"; protocol = "TCP"; port = 8080; },
              { name = "dns"; protocol = "UDP"; port = 5300; } );
    endpoints = ( )" + eps + R"( ); }
);
)";
}

cp::Config parse(const Opts& o) {
    cp::Errors errs;
    auto cfg = cp::load_config_string(config(o), "reload.conf", errs);
    EXPECT_TRUE(cfg && errs.empty()) << (errs.empty() ? "" : errs[0].str());
    return *cfg;
}

Pkt c2v() { return Pkt().eth(kClient, kLb).ipv4("198.51.100.10", "198.18.0.10"); }

// The backend number (1..4) an outgoing frame is addressed to, by its destination IP.
int backend_of(const Bytes& frame) {
    EXPECT_GE(frame.size(), 34u);
    return frame[14 + 19] - 10;
}
uint16_t sport_of(const Bytes& frame) { return uint16_t(frame[34] << 8 | frame[35]); }

uint64_t event(Dataplane& dp, Ev e) {
    uint64_t d[kNumDrops], ev[kNumEvents];
    dp.sum_counters(d, ev);
    return ev[size_t(e)];
}

TEST(ControlPlane, ResolvesBackendByArpAndSendsQueuedPacket) {
    Opts o;
    o.static_backends = false;
    RingAppliance a(config(o), kLb);
    const Bytes syn = c2v().tcp(40000, 80, kSyn, 100).bytes();
    auto r = a.send(syn);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.to_control, 1u); // waits for ARP
    a.ctl().poll(0);
    auto out = a.poll();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(hex(out[0]), hex(Pkt().eth(kLb, kBcast).arp(1, kLb, "198.51.100.1", kZero, backend_ip(1)).bytes()));
    r = a.send(Pkt().eth(backend_mac(1), kLb).arp(2, backend_mac(1), backend_ip(1), kLb, "198.51.100.1").bytes());
    EXPECT_EQ(r.to_control, 1u);
    a.ctl().poll(0);
    out = a.poll();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(hex(out[0]), hex(Pkt().eth(kLb, backend_mac(1)).ipv4("198.51.100.2", backend_ip(1), 63)
                                   .tcp(1024, 8080, kSyn, 100).bytes()));
    // Resolved: the next packet goes straight out.
    r = a.send(c2v().tcp(40000, 80, kAck, 101, 1).bytes());
    EXPECT_EQ(r.to_control, 0u);
    ASSERT_EQ(r.out.size(), 1u);
    EXPECT_EQ(backend_of(r.out[0]), 1);
}

const char* kConfig6 = R"(
appliance = {
  ports = ( { name = "p0"; device = "net_ring_cp"; addresses = [ "2001:db8:1::1/64" ]; } );
  neighbours = ( { ip = "2001:db8:1::10"; mac = "02:00:00:00:00:10"; } );
  lcores = { main = 0; workers = [ 1 ]; };
  flowTableSize = 1024;
};
cluster = { serviceCIDRs = [ "2001:db8:ffff::/112" ]; };
services = ( { metadata = { name = "web6"; namespace = "cp"; };
               spec = { clusterIP = "2001:db8:ffff::10"; ports = ( { port = 80; targetPort = 8080; } ); }; } );
endpointSlices = ( { metadata = { name = "web6-1"; namespace = "cp"; }; service = "web6"; addressType = "IPv6";
                     ports = ( { port = 8080; } ); endpoints = ( { addresses = [ "2001:db8:1::11" ]; } ); } );
)";

TEST(ControlPlane, ResolvesIpv6BackendByNeighbourDiscovery) {
    RingAppliance a(kConfig6, kLb);
    // Unsolicited advertisements for the owned addresses (interface, VIP).
    std::set<std::string> advertised;
    for (const auto& f : a.initial) {
        ASSERT_EQ(f.size(), 14u + 40 + 32);
        EXPECT_EQ(f[14 + 40], 136);
        advertised.insert(format_ip(IpAddr::v6(&f[14 + 40 + 8])));
    }
    EXPECT_EQ(advertised, (std::set<std::string>{"2001:db8:1::1", "2001:db8:ffff::10"}));
    const Bytes syn = Pkt().eth(kClient, kLb).ipv6("2001:db8:1::10", "2001:db8:ffff::10").tcp(40000, 80, kSyn, 7).bytes();
    auto r = a.send(syn);
    EXPECT_EQ(r.to_control, 1u);
    a.ctl().poll(0);
    auto out = a.poll();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(hex(out[0]), hex(Pkt().eth(kLb, *parse_mac("33:33:ff:00:00:11"))
                                   .ipv6("2001:db8:1::1", "ff02::1:ff00:11", 255)
                                   .nd(true, "2001:db8:1::11", kLb).bytes()));
    r = a.send(Pkt().eth(backend_mac(1), kLb).ipv6("2001:db8:1::11", "2001:db8:1::1", 255)
                   .nd(false, "2001:db8:1::11", backend_mac(1), 0x60).bytes());
    EXPECT_EQ(r.to_control, 1u);
    a.ctl().poll(0);
    out = a.poll();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(hex(out[0]), hex(Pkt().eth(kLb, backend_mac(1)).ipv6("2001:db8:1::1", "2001:db8:1::11", 63)
                                   .tcp(1024, 8080, kSyn, 7).bytes()));
}

TEST(ControlPlane, UnansweredArpRetriesThenDropsQueuedPackets) {
    Opts o;
    o.static_backends = false;
    RingAppliance a(config(o), kLb);
    auto& res = a.ctl().resolver();
    for (uint16_t p = 0; p < 20; p++) a.send(c2v().udp(20000 + p, 53).payload("q").bytes());
    rte_mbuf* m;
    uint64_t t = 1'000'000;
    int handed = 0;
    while (rte_ring_dequeue(a.dp().worker(0).to_cp(), reinterpret_cast<void**>(&m)) == 0) {
        res.on_packet(m, t);
        handed++;
    }
    EXPECT_EQ(handed, 20);
    EXPECT_EQ(res.queued(), cp::NeighbourResolver::kQueuePerNeighbour);
    EXPECT_EQ(res.queue_drops(), 20 - cp::NeighbourResolver::kQueuePerNeighbour);
    EXPECT_EQ(a.poll().size(), 1u); // one ARP request, not one per packet
    res.tick(t + 500);
    EXPECT_TRUE(a.poll().empty()); // not yet time to retry
    res.tick(t + 1000);
    res.tick(t + 2000);
    EXPECT_EQ(a.poll().size(), 2u); // two retries
    res.tick(t + 3000);
    EXPECT_EQ(res.unresolved_drops(), cp::NeighbourResolver::kQueuePerNeighbour);
    EXPECT_EQ(res.queued(), 0u);
}

TEST(ControlPlane, ResolvedNeighbourIsReprobedAndForgottenWhenSilent) {
    Opts o;
    o.static_backends = false;
    o.timeouts = "";
    RingAppliance a(config(o), kLb);
    auto& res = a.ctl().resolver();
    a.send(c2v().udp(20000, 53).payload("q").bytes());
    rte_mbuf* m = nullptr;
    const uint64_t t = 5'000'000;
    ASSERT_EQ(rte_ring_dequeue(a.dp().worker(0).to_cp(), reinterpret_cast<void**>(&m)), 0);
    res.on_packet(m, t);
    EXPECT_EQ(a.poll().size(), 1u); // ARP request
    // The answer, straight to the resolver as the worker would hand it over.
    a.send(Pkt().eth(backend_mac(1), kLb).arp(2, backend_mac(1), backend_ip(1), kLb, "198.51.100.1").bytes());
    ASSERT_EQ(rte_ring_dequeue(a.dp().worker(0).to_cp(), reinterpret_cast<void**>(&m)), 0);
    res.on_packet(m, t + 10);
    EXPECT_EQ(a.poll().size(), 1u); // the queued datagram
    // Traffic flows without the control plane while the entry is fresh.
    EXPECT_EQ(a.send(c2v().udp(20001, 53).payload("q").bytes()).out.size(), 1u);
    const uint64_t timeout_ms = 300'000; // appliance.neighbourTimeout default
    res.tick(t + timeout_ms + 10);
    EXPECT_EQ(a.poll().size(), 1u) << "a re-probe when the entry ages";
    EXPECT_EQ(a.send(c2v().udp(20002, 53).payload("q").bytes()).out.size(), 1u) << "still usable while probing";
    res.tick(t + timeout_ms + 1010);
    res.tick(t + timeout_ms + 2010);
    EXPECT_EQ(a.poll().size(), 2u);
    res.tick(t + timeout_ms + 3010); // three probes unanswered: forgotten
    const auto r = a.send(c2v().udp(20003, 53).payload("q").bytes());
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.to_control, 1u) << "an unresolved next hop sends packets to the control plane again";
}

TEST(ControlPlane, AnnouncesOwnedAddressesOnceAndNewOnesOnReload) {
    RingAppliance a(config(Opts{}), kLb);
    std::set<std::string> announced;
    for (const auto& f : a.initial) {
        ASSERT_EQ(f.size(), 42u);
        EXPECT_EQ(f[12], 0x08);
        EXPECT_EQ(f[13], 0x06);
        EXPECT_TRUE(std::equal(f.begin() + 28, f.begin() + 32, f.begin() + 38)) << "not gratuitous";
        announced.insert(format_ip(IpAddr::v4(uint32_t(f[28] | f[29] << 8 | f[30] << 16 | uint32_t(f[31]) << 24))));
    }
    EXPECT_EQ(announced, (std::set<std::string>{"198.51.100.1", "198.51.100.2", "198.18.0.10"}));
    Opts o;
    o.extra_services = R"(, { metadata = { name = "new"; namespace = "cp"; };
        spec = { clusterIP = "198.18.0.30"; ports = ( { port = 80; } ); }; })";
    { auto e = a.ctl().apply(parse(o)); ASSERT_TRUE(e.empty()) << e[0].str(); }
    auto out = a.poll();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(hex(out[0]), hex(Pkt().eth(kLb, kBcast).arp(1, kLb, "198.18.0.30", kZero, "198.18.0.30").bytes()));
}

TEST(ControlPlane, ReloadKeepsEstablishedFlowOnItsBackend) {
    RingAppliance a(config(Opts{}), kLb);
    a.send(c2v().tcp(40000, 80, kSyn, 100).bytes());
    a.send(Pkt().eth(backend_mac(1), kLb).ipv4(backend_ip(1), "198.51.100.2").tcp(8080, 1024, kSyn | kAck, 5, 101).bytes());
    Opts o;
    o.backends = {1, 2, 3, 4};
    const uint64_t gen = a.ctl().generation();
    { auto e = a.ctl().apply(parse(o)); ASSERT_TRUE(e.empty()) << e[0].str(); }
    EXPECT_EQ(a.ctl().generation(), gen + 1);
    auto r = a.send(c2v().tcp(40000, 80, kAck, 101, 6).bytes());
    ASSERT_EQ(r.out.size(), 1u);
    EXPECT_EQ(backend_of(r.out[0]), 1);
    EXPECT_EQ(sport_of(r.out[0]), 1024);
    std::set<int> seen;
    for (uint16_t p = 0; p < 40; p++) {
        auto n = a.send(c2v().tcp(41000 + p, 80, kSyn).bytes());
        ASSERT_EQ(n.out.size(), 1u);
        seen.insert(backend_of(n.out[0]));
    }
    EXPECT_GE(seen.size(), 3u) << "new flows should spread over the new backends";
}

TEST(ControlPlane, RemovedBackendGetsNoNewFlowsAndItsUdpFlowsMove) {
    Opts o;
    o.backends = {1, 2};
    RingAppliance a(config(o), kLb);
    uint16_t udp_on_2 = 0, tcp_on_2 = 0;
    uint64_t udp_flows_on_2 = 0;
    for (uint16_t p = 0; p < 40; p++) {
        auto u = a.send(c2v().udp(20000 + p, 53).payload("x").bytes());
        if (backend_of(u.out.at(0)) == 2) {
            udp_on_2 = 20000 + p;
            udp_flows_on_2++;
        }
        auto t = a.send(c2v().tcp(30000 + p, 80, kSyn).bytes());
        if (backend_of(t.out.at(0)) == 2) tcp_on_2 = 30000 + p;
    }
    ASSERT_TRUE(udp_on_2 && tcp_on_2) << "backend 2 got no flow at all";
    o.backends = {1};
    { auto e = a.ctl().apply(parse(o)); ASSERT_TRUE(e.empty()) << e[0].str(); }
    for (uint16_t p = 0; p < 40; p++) {
        auto t = a.send(c2v().tcp(50000 + p, 80, kSyn).bytes());
        EXPECT_EQ(backend_of(t.out.at(0)), 1);
    }
    // The publish flushed the UDP flows of backend 2 (a bounded sweep over the next
    // iterations, done by now); the client's next datagram starts a flow on backend 1.
    EXPECT_EQ(event(a.dp(), Ev::kFlowsFlushed), udp_flows_on_2);
    auto u = a.send(c2v().udp(udp_on_2, 53).payload("x").bytes());
    EXPECT_EQ(backend_of(u.out.at(0)), 1) << "UDP flow of a removed backend must move at once";
    // TCP: packets of the old connection still go where they went; a new SYN moves.
    auto t = a.send(c2v().tcp(tcp_on_2, 80, kAck, 2, 2).bytes());
    EXPECT_EQ(backend_of(t.out.at(0)), 2);
    t = a.send(c2v().tcp(tcp_on_2, 80, kSyn, 900).bytes());
    EXPECT_EQ(backend_of(t.out.at(0)), 1);
}

// SEMANTICS.md "Flows and affinity": a terminating-but-serving endpoint, while others are
// ready, takes no new flow; its TCP flows go on (a retransmitted SYN included) until they
// end or the drain timeout; its UDP flows move at once.
TEST(ControlPlane, TerminatingBackendDrainsUntilItsTimeout) {
    Opts o;
    o.backends = {1, 2};
    RingAppliance a(config(o), kLb);
    // Flows on backend 2: UDP; TCP established (two); TCP still opening (SYN only).
    uint16_t udp_on_2 = 0;
    std::vector<std::pair<uint16_t, uint16_t>> tcp_on_2; // (client port, SNAT port)
    for (uint16_t p = 0; p < 60 && (!udp_on_2 || tcp_on_2.size() < 3); p++) {
        auto u = a.send(c2v().udp(20000 + p, 53).payload("x").bytes());
        if (!udp_on_2 && backend_of(u.out.at(0)) == 2) udp_on_2 = 20000 + p;
        auto t = a.send(c2v().tcp(30000 + p, 80, kSyn, 100).bytes());
        if (tcp_on_2.size() < 3 && backend_of(t.out.at(0)) == 2) tcp_on_2.push_back({30000 + p, sport_of(t.out.at(0))});
    }
    ASSERT_TRUE(udp_on_2 && tcp_on_2.size() == 3) << "backend 2 got too few flows";
    for (int i = 0; i < 2; i++) // the first two are answered: established
        a.send(Pkt().eth(backend_mac(2), kLb).ipv4(backend_ip(2), "198.51.100.2")
                   .tcp(8080, tcp_on_2[size_t(i)].second, kSyn | kAck, 5, 101).bytes());
    const uint16_t est = tcp_on_2[0].first, est2 = tcp_on_2[1].first, opening = tcp_on_2[2].first;
    o.conditions2 = "conditions = { ready = false; serving = true; terminating = true; };";
    o.meta = "annotations = [ \"svclb.io/drain-timeout-seconds=1\" ];";
    { auto e = a.ctl().apply(parse(o)); ASSERT_TRUE(e.empty()) << e[0].str(); }
    for (uint16_t p = 0; p < 30; p++) {
        auto t = a.send(c2v().tcp(50000 + p, 80, kSyn).bytes());
        EXPECT_EQ(backend_of(t.out.at(0)), 1) << "a draining backend takes no new flow";
    }
    auto u = a.send(c2v().udp(udp_on_2, 53).payload("x").bytes());
    EXPECT_EQ(backend_of(u.out.at(0)), 1) << "UDP of a draining backend moves at once";
    auto t = a.send(c2v().tcp(est, 80, kAck, 101, 6).bytes());
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(backend_of(t.out[0]), 2) << "the open connection goes on";
    t = a.send(c2v().tcp(opening, 80, kSyn, 100).bytes()); // its SYN retransmitted
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(backend_of(t.out[0]), 2) << "a retransmitted opening SYN stays with its connection";
    t = a.send(c2v().tcp(est2, 80, kSyn, 900).bytes()); // a new connection on an old tuple
    ASSERT_EQ(t.out.size(), 1u);
    EXPECT_EQ(backend_of(t.out[0]), 1) << "a fresh SYN is a new connection: not to a draining backend";
    // After the drain timeout (1 s) the flows are over: their packets find none.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    const uint64_t expired = event(a.dp(), Ev::kFlowsExpired);
    for (int i = 0; i < 400 && event(a.dp(), Ev::kFlowsExpired) < expired + 2; i++) {
        a.poll();
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    t = a.send(c2v().tcp(est, 80, kAck, 101, 6).bytes());
    EXPECT_TRUE(t.out.empty());
    EXPECT_EQ(t.drops.count(Drop::kNoFlow), 1u);
    // The endpoint ready again: new flows reach it once more.
    o.conditions2.clear();
    { auto e = a.ctl().apply(parse(o)); ASSERT_TRUE(e.empty()) << e[0].str(); }
    std::set<int> seen;
    for (uint16_t p = 0; p < 30; p++) seen.insert(backend_of(a.send(c2v().tcp(51000 + p, 80, kSyn).bytes()).out.at(0)));
    EXPECT_EQ(seen, (std::set<int>{1, 2}));
}

// A drain timeout of 0: the next reload sweep ends the flows of a draining backend.
TEST(ControlPlane, DrainTimeoutZeroEndsFlowsAtOnce) {
    Opts o;
    o.backends = {1, 2};
    RingAppliance a(config(o), kLb);
    uint16_t on_2 = 0, snat = 0;
    for (uint16_t p = 0; p < 40 && !on_2; p++) {
        auto t = a.send(c2v().tcp(30000 + p, 80, kSyn, 100).bytes());
        if (backend_of(t.out.at(0)) == 2) on_2 = 30000 + p, snat = sport_of(t.out.at(0));
    }
    ASSERT_TRUE(on_2);
    a.send(Pkt().eth(backend_mac(2), kLb).ipv4(backend_ip(2), "198.51.100.2").tcp(8080, snat, kSyn | kAck, 5, 101).bytes());
    o.conditions2 = "conditions = { ready = false; serving = true; terminating = true; };";
    o.meta = "annotations = [ \"svclb.io/drain-timeout-seconds=0\" ];";
    { auto e = a.ctl().apply(parse(o)); ASSERT_TRUE(e.empty()) << e[0].str(); }
    auto t = a.send(c2v().tcp(on_2, 80, kAck, 101, 6).bytes());
    EXPECT_TRUE(t.out.empty());
    EXPECT_EQ(t.drops.count(Drop::kNoFlow), 1u);
}

TEST(ControlPlane, InvalidReloadIsRejectedAndTheRunningConfigKeepsServing) {
    RingAppliance a(config(Opts{}), kLb);
    const uint64_t gen = a.ctl().generation();
    Opts bad;
    bad.backends = {1, 2};
    bad.bad_port = "0";
    cp::Errors errs;
    auto cfg = cp::load_config_string(config(bad), "bad.conf", errs);
    ASSERT_TRUE(cfg);
    errs = a.ctl().apply(*cfg);
    ASSERT_FALSE(errs.empty());
    bool named = false;
    for (const auto& e : errs) named |= e.str().find("spec.ports[0].port") != std::string::npos;
    EXPECT_TRUE(named) << errs[0].str();
    EXPECT_EQ(a.ctl().generation(), gen);
    for (uint16_t p = 0; p < 10; p++) {
        auto r = a.send(c2v().tcp(40000 + p, 80, kSyn).bytes());
        ASSERT_EQ(r.out.size(), 1u);
        EXPECT_EQ(backend_of(r.out[0]), 1);
    }
}

TEST(ControlPlane, FlowsAgeOutByStateAndReleaseTheirSnatPort) {
    Opts o;
    o.timeouts = "udp = 1; tcpSyn = 1; tcpEstablished = 600;";
    RingAppliance a(config(o), kLb);
    a.send(c2v().udp(20000, 53).payload("x").bytes());              // UDP, 1 s
    a.send(c2v().tcp(40000, 80, kSyn).bytes());                      // SYN only, 1 s
    a.send(c2v().tcp(40001, 80, kSyn, 100).bytes());                 // established, 600 s
    a.send(Pkt().eth(backend_mac(1), kLb).ipv4(backend_ip(1), "198.51.100.2").tcp(8080, 1026, kSyn | kAck, 5, 101).bytes());
    EXPECT_EQ(a.dp().worker(0).flows().size(), 3u);
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    // A full sweep in bounded slices, paced at 64 slots per table every 50 us.
    for (int i = 0; i < 400 && a.dp().worker(0).flows().size() > 1; i++) {
        a.poll();
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    EXPECT_EQ(a.dp().worker(0).flows().size(), 1u);
    EXPECT_EQ(event(a.dp(), Ev::kFlowsExpired), 2u);
    // The UDP flow's reverse key went with it: a late reply has nothing to match.
    auto r = a.send(Pkt().eth(backend_mac(1), kLb).ipv4(backend_ip(1), "198.51.100.2").udp(5300, 1024).payload("late").bytes());
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.drops.count(Drop::kNoFlow), 1u);
    // The established flow is still there.
    r = a.send(c2v().tcp(40001, 80, kAck, 101, 6).bytes());
    EXPECT_EQ(r.out.size(), 1u);
}

TEST(ControlPlane, FullFlowTableRefusesNewFlowsAndKeepsExistingOnes) {
    RingAppliance a(config(Opts{}), kLb);
    const uint32_t cap = a.dp().worker(0).flows().capacity();
    for (uint32_t i = 0; i < cap; i++) {
        auto r = a.send(c2v().udp(uint16_t(2000 + i), 53).payload("x").bytes());
        ASSERT_EQ(r.out.size(), 1u) << "flow " << i;
    }
    auto r = a.send(c2v().udp(uint16_t(2000 + cap), 53).payload("x").bytes());
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.drops.count(Drop::kFlowTableFull), 1u);
    r = a.send(c2v().udp(2000, 53).payload("again").bytes());
    EXPECT_EQ(r.out.size(), 1u) << "an existing flow must keep working when the table is full";
}

TEST(ControlPlane, StatsNameEveryDropReason) {
    RingAppliance a(config(Opts{}), kLb);
    a.send(c2v().tcp(40000, 81, kSyn).bytes());
    const std::string s = a.ctl().handle("stats");
    for (size_t i = 0; i < kNumDrops; i++)
        EXPECT_NE(s.find("\"" + std::string(drop_name(Drop(i))) + "\""), std::string::npos) << drop_name(Drop(i));
    EXPECT_NE(s.find("\"no_service\": 1"), std::string::npos) << s;
    EXPECT_NE(s.find("\"generation\": 1"), std::string::npos) << s;
    EXPECT_NE(a.ctl().handle("services").find("cp/web:http"), std::string::npos);
    EXPECT_NE(a.ctl().handle("bogus").find("unknown request"), std::string::npos);
}


// ---- loadBalancerSourceRanges and ClientIP affinity ----------------------------------------

std::string semantics_config(const std::string& affinity, const std::vector<int>& sticky_backends) {
    std::string eps;
    for (int b : sticky_backends) eps += (eps.empty() ? "" : ", ") + std::string("{ addresses = [ \"") + backend_ip(b) + "\" ]; }";
    std::string neigh = R"({ ip = "198.51.100.10"; mac = "02:00:00:00:00:10"; }, { ip = "198.51.100.254"; mac = "02:00:00:00:00:fe"; })";
    for (int i = 1; i <= 4; i++)
        neigh += ", { ip = \"" + backend_ip(i) + "\"; mac = \"" + format_mac(backend_mac(i)) + "\"; }";
    return R"(
appliance = {
  ports = ( { name = "p0"; device = "net_ring_cp"; addresses = [ "198.51.100.1/24" ]; } );
  gateway = "198.51.100.254";
  snatAddresses = [ "198.51.100.2" ];
  neighbours = ( )" + neigh + R"( );
  lcores = { main = 0; workers = [ 1 ]; };
  flowTableSize = 1024;
};
cluster = { serviceCIDRs = [ "198.18.0.0/24" ]; };
services = (
  { metadata = { name = "lb"; namespace = "cp"; };
    spec = { type = "LoadBalancer"; clusterIP = "198.18.0.40";
             ports = ( { name = "http"; port = 80; targetPort = 8080; } );
             loadBalancerSourceRanges = [ " 203.0.113.0/24 " ]; };
    status = { loadBalancer = { ingress = ( { ip = "198.51.100.200"; } ); }; }; },
  { metadata = { name = "sticky"; namespace = "cp"; };
    spec = { clusterIP = "198.18.0.50"; ports = ( { port = 80; targetPort = 8080; } );
             )" + affinity + R"( }; }
);
endpointSlices = (
  { metadata = { name = "lb-1"; namespace = "cp"; }; service = "lb";
    ports = ( { name = "http"; port = 8080; } );
    endpoints = ( { addresses = [ "198.51.100.11" ]; }, { addresses = [ "198.51.100.12" ]; } ); },
  { metadata = { name = "sticky-1"; namespace = "cp"; }; service = "sticky";
    ports = ( { port = 8080; } ); endpoints = ( )" + eps + R"( ); }
);
)";
}

const MacAddr kGateway = *parse_mac("02:00:00:00:00:fe");
const char* kSticky = R"(sessionAffinity = "ClientIP"; sessionAffinityConfig = { clientIP = { timeoutSeconds = 600; }; };)";

TEST(Semantics, SourceRangesApplyToIngressIpOnly) {
    RingAppliance a(semantics_config(kSticky, {1, 2, 3}), kLb);
    // A client outside the ranges, to the ingress IP: dropped silently.
    auto r = a.send(Pkt().eth(kClient, kLb).ipv4("198.51.100.10", "198.51.100.200").tcp(40000, 80, kSyn).bytes());
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.drops.count(Drop::kSourceRange), 1u);
    // A client inside the ranges (behind the gateway): forwarded, the reply goes via the gateway.
    r = a.send(Pkt().eth(kGateway, kLb).ipv4("203.0.113.7", "198.51.100.200").tcp(40001, 80, kSyn).bytes());
    ASSERT_EQ(r.out.size(), 1u);
    EXPECT_TRUE(backend_of(r.out[0]) == 1 || backend_of(r.out[0]) == 2);
    // The same outside client through the clusterIP: ranges do not apply there.
    r = a.send(Pkt().eth(kClient, kLb).ipv4("198.51.100.10", "198.18.0.40").tcp(40002, 80, kSyn).bytes());
    EXPECT_EQ(r.out.size(), 1u);
    // ... nor through the NodePort on the node address.
    uint16_t node_port = 0;
    for (const auto& svc : a.ctl().config().services)
        if (svc.name == "lb") node_port = uint16_t(svc.ports[0].nodePort);
    ASSERT_GE(node_port, 30000);
    r = a.send(Pkt().eth(kClient, kLb).ipv4("198.51.100.10", "198.51.100.1").tcp(40003, node_port, kSyn).bytes());
    EXPECT_EQ(r.out.size(), 1u);
}

std::vector<int> backends_for(RingAppliance& a, const std::string& client, uint16_t first_port, int n) {
    std::vector<int> got;
    for (int i = 0; i < n; i++) {
        auto r = a.send(Pkt().eth(kClient, kLb).ipv4(client, "198.18.0.50").tcp(uint16_t(first_port + i), 80, kSyn).bytes());
        EXPECT_EQ(r.out.size(), 1u);
        if (!r.out.empty()) got.push_back(backend_of(r.out[0]));
    }
    return got;
}

TEST(Semantics, ClientIpAffinityKeepsAClientOnOneBackend) {
    RingAppliance a(semantics_config(kSticky, {1, 2, 3}), kLb);
    const auto got = backends_for(a, "198.51.100.10", 41000, 15);
    EXPECT_EQ(std::set<int>(got.begin(), got.end()).size(), 1u) << "15 connections, one backend";
    EXPECT_GE(event(a.dp(), Ev::kAffinityHits), 14u);
}

TEST(Semantics, WithoutAffinityConnectionsSpread) {
    RingAppliance a(semantics_config("", {1, 2, 3}), kLb);
    const auto got = backends_for(a, "198.51.100.10", 41000, 15);
    EXPECT_GE(std::set<int>(got.begin(), got.end()).size(), 2u);
    EXPECT_EQ(event(a.dp(), Ev::kAffinityHits), 0u);
}

TEST(Semantics, AffinityForgetsABackendThatLeftAndSwitchesOffLive) {
    RingAppliance a(semantics_config(kSticky, {1, 2, 3}), kLb);
    const int first = backends_for(a, "198.51.100.10", 41000, 3).at(0);
    std::vector<int> rest;
    for (int b : {1, 2, 3})
        if (b != first) rest.push_back(b);
    cp::Errors errs;
    auto cfg = cp::load_config_string(semantics_config(kSticky, rest), "t.conf", errs);
    ASSERT_TRUE(cfg && errs.empty());
    ASSERT_TRUE(a.ctl().apply(*cfg).empty());
    const auto moved = backends_for(a, "198.51.100.10", 42000, 5);
    EXPECT_EQ(std::set<int>(moved.begin(), moved.end()).size(), 1u) << "sticky again, to one survivor";
    EXPECT_NE(moved.at(0), first);
    // Affinity off, live: the same client spreads.
    cfg = cp::load_config_string(semantics_config("", rest), "t.conf", errs);
    ASSERT_TRUE(cfg && errs.empty());
    ASSERT_TRUE(a.ctl().apply(*cfg).empty());
    const auto spread = backends_for(a, "198.51.100.10", 43000, 15);
    EXPECT_EQ(std::set<int>(spread.begin(), spread.end()).size(), 2u);
}


TEST(Semantics, FiveThousandEndpointsInOneServiceAcrossSlices) {
    // Kubernetes starts a new slice every 100 endpoints (svclb accepts up to 1000 per slice):
    // 5,000 endpoints over 50 slices merge into one Maglev table.
    std::string slices;
    for (int s = 0; s < 50; s++) {
        std::string eps;
        for (int i = 0; i < 100; i++) {
            const int n = s * 100 + i;
            eps += (eps.empty() ? "" : ", ") + std::string("{ addresses = [ \"198.19.") + std::to_string(n / 250) + "." +
                   std::to_string(n % 250 + 1) + "\" ]; }";
        }
        slices += (slices.empty() ? "" : ",\n") + std::string("  { metadata = { name = \"big-") + std::to_string(s) +
                  "\"; namespace = \"cp\"; }; service = \"big\"; ports = ( { port = 8080; } ); endpoints = ( " + eps +
                  " ); }";
    }
    const std::string config = R"(
appliance = {
  ports = ( { name = "p0"; device = "net_ring_cp"; addresses = [ "198.51.100.1/24" ]; } );
  gateway = "198.51.100.254";
  neighbours = ( { ip = "198.51.100.10"; mac = "02:00:00:00:00:10"; }, { ip = "198.51.100.254"; mac = "02:00:00:00:00:fe"; } );
  lcores = { main = 0; workers = [ 1 ]; };
  flowTableSize = 1024;
};
cluster = { serviceCIDRs = [ "198.18.0.0/24" ]; };
services = ( { metadata = { name = "big"; namespace = "cp"; };
               spec = { clusterIP = "198.18.0.60"; ports = ( { port = 80; targetPort = 8080; } ); }; } );
endpointSlices = (
)" + slices + "\n);\n";
    RingAppliance a(config, kLb);
    const auto& sps = a.dp().current()->service_ports;
    ASSERT_EQ(sps.size(), 1u);
    EXPECT_EQ(sps[0]->backends.size(), 5000u);
    EXPECT_EQ(sps[0]->maglev.size(), 524309u); // the smallest listed prime >= 100 x 5,000
    std::set<std::string> chosen;
    for (uint16_t p = 0; p < 200; p++) {
        auto r = a.send(Pkt().eth(kClient, kLb).ipv4("198.51.100.10", "198.18.0.60").tcp(uint16_t(20000 + p), 80, kSyn).bytes());
        ASSERT_EQ(r.out.size(), 1u);
        chosen.insert(format_ip(IpAddr::v4(uint32_t(r.out[0][30] | r.out[0][31] << 8 | r.out[0][32] << 16 |
                                                   uint32_t(r.out[0][33]) << 24))));
    }
    EXPECT_GE(chosen.size(), 190u) << "200 flows over 5,000 backends should rarely share one";
}


TEST(ControlPlane, PerServiceFlowCountersSurviveReloadAndCarryAppProtocol) {
    RingAppliance a(config(Opts{}), kLb);
    for (uint16_t p = 0; p < 5; p++) a.send(c2v().tcp(uint16_t(30000 + p), 80, kSyn).bytes());
    for (uint16_t p = 0; p < 3; p++) a.send(c2v().udp(uint16_t(31000 + p), 53).payload("x").bytes());
    std::string m = a.ctl().handle("metrics");
    EXPECT_NE(m.find("svclb_service_flows_created_total{service=\"cp/web\",port=\"http\",protocol=\"TCP\","
                     "app_protocol=\"http\",table=\"cp/web:http\"} 5"),
              std::string::npos) << m;
    EXPECT_NE(m.find("port=\"dns\",protocol=\"UDP\",app_protocol=\"\",table=\"cp/web:dns\"} 3"), std::string::npos) << m;
    EXPECT_NE(m.find("svclb_drops_total{reason=\"no_flow\"} 0"), std::string::npos) << m;
    // A reload with another backend: the service's count goes on from where it was.
    Opts o;
    o.backends = {1, 2};
    ASSERT_TRUE(a.ctl().apply(parse(o)).empty());
    a.send(c2v().tcp(30010, 80, kSyn).bytes());
    m = a.ctl().handle("metrics");
    EXPECT_NE(m.find("table=\"cp/web:http\"} 6"), std::string::npos) << m;
    const std::string st = a.ctl().handle("stats");
    EXPECT_NE(st.find("\"appProtocol\": \"http\""), std::string::npos) << st;
    EXPECT_NE(st.find("\"flows_created\": 6"), std::string::npos) << st;
}

}  // namespace

SVCLB_EAL_TEST_MAIN()
