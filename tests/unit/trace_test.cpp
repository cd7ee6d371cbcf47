// SPDX-License-Identifier: Apache-2.0
// `svclbctl trace` (cp/trace.h) in the style of kube-proxy's packet-flow tests: rows of
// (config, protocol, source, destination) -> verdict, reason, frontend, candidates, SNAT,
// output addresses, each run through the real pipeline on a net_ring port. Also the
// kubelet's service environment (cp/env.h) and the command-line paths of both.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cp/config_loader.h"
#include "cp/env.h"
#include "cp/ring_appliance.h"
#include "cp/trace.h"
#include "tests/golden/pkt.h"
#include "tests/eal_env.h"

namespace svclb::cp {
namespace {

using test::kSyn;
using test::Pkt;

const char* kAppliance = R"(
appliance = {
  ports = ( { name = "p0"; device = "net_null0"; addresses = [ "198.51.100.1/24", "2001:db8:1::1/64" ]; } );
  lcores = { main = 0; workers = [ 1 ]; };
};
cluster = { serviceCIDRs = [ "198.18.0.0/24", "2001:db8:ffff::/112" ]; nodeNames = [ "n1" ]; };
)";

// A service `demo/NAME` with `spec` and (optionally) `status`, and one slice of `endpoints`
// with `ports`.
std::string svc(const std::string& name, const std::string& spec, const std::string& ports_spec,
                 const std::string& status = "") {
    return "{ metadata = { name = \"" + name + "\"; namespace = \"demo\"; }; spec = { " + spec +
           " ports = ( " + ports_spec + " ); };" + (status.empty() ? "" : " status = { " + status + " };") + " }";
}
std::string slice(const std::string& name, const std::string& service, const std::string& ports,
                  const std::string& endpoints, const std::string& family = "IPv4") {
    return "{ metadata = { name = \"" + name + "\"; namespace = \"demo\"; }; service = \"" + service +
           "\"; addressType = \"" + family + "\"; ports = ( " + ports + " ); endpoints = ( " + endpoints + " ); }";
}
std::string config(const std::vector<std::string>& services, const std::vector<std::string>& slices) {
    std::string s = kAppliance;
    s += "services = (";
    for (size_t i = 0; i < services.size(); i++) s += (i ? ", " : " ") + services[i];
    s += " );\nendpointSlices = (";
    for (size_t i = 0; i < slices.size(); i++) s += (i ? ", " : " ") + slices[i];
    return s + " );\n";
}

const std::string kTcp80 = R"({ name = "http"; protocol = "TCP"; port = 80; targetPort = 8080; })";
const std::string kHttpSlicePort = R"({ name = "http"; protocol = "TCP"; port = 8080; })";
const std::string kTwoEps = R"({ addresses = [ "198.51.100.11" ]; }, { addresses = [ "198.51.100.12" ]; })";

std::string web() {
    return config({svc("web", R"(clusterIP = "198.18.0.10";)",
                       kTcp80 + R"(, { name = "dns"; protocol = "UDP"; port = 53; targetPort = 5300; },
                                    { name = "sig"; protocol = "SCTP"; port = 9; targetPort = 3868; })")},
                  {slice("web-1", "web",
                         kHttpSlicePort + R"(, { name = "dns"; protocol = "UDP"; port = 5300; },
                                             { name = "sig"; protocol = "SCTP"; port = 3868; })",
                         kTwoEps)});
}

Config load(const std::string& text, const TraceOverrides& o = {}) {
    Errors errs;
    auto cfg = load_config_string(text, "trace.conf", errs);
    if (!cfg || !errs.empty()) throw std::runtime_error("load: " + (errs.empty() ? std::string("?") : errs[0].str()));
    errs = trace_prepare(*cfg, o);
    if (!errs.empty()) throw std::runtime_error("validate: " + errs[0].str());
    return *cfg;
}

struct Row {
    const char* what;
    std::string conf;
    std::string proto, src, dst;
    std::string verdict, reason, frontend;
    std::vector<std::string> candidates;
    bool snat;
    std::string out_src; // "" = not checked
    std::string out_dst; // "" = not checked; "backend" = must be one of the candidates
    TraceOverrides o{};
};

std::vector<Row> rows() {
    const std::vector<std::string> two{"198.51.100.11:8080", "198.51.100.12:8080"};
    std::vector<Row> r;
    r.push_back({"ClusterIP TCP", web(), "tcp", "198.51.100.50:1234", "198.18.0.10:80", "forward", "",
                 "demo/web:http", two, true, "198.51.100.1:1024", "backend"});
    r.push_back({"ClusterIP UDP", web(), "udp", "198.51.100.50:1234", "198.18.0.10:53", "forward", "",
                 "demo/web:dns", {"198.51.100.11:5300", "198.51.100.12:5300"}, true, "198.51.100.1:1024", "backend"});
    r.push_back({"ClusterIP SCTP", web(), "sctp", "198.51.100.50:1234", "198.18.0.10:9", "forward", "",
                 "demo/web:sig", {"198.51.100.11:3868", "198.51.100.12:3868"}, true, "198.51.100.1:1024", "backend"});
    r.push_back({"IPv6 ClusterIP",
                 config({svc("web6", R"(clusterIP = "2001:db8:ffff::10"; ipFamilies = [ "IPv6" ];)", kTcp80)},
                        {slice("web6-1", "web6", kHttpSlicePort,
                               R"({ addresses = [ "2001:db8:1::11" ]; }, { addresses = [ "2001:db8:1::12" ]; })",
                               "IPv6")}),
                 "tcp", "[2001:db8:1::50]:1234", "[2001:db8:ffff::10]:80", "forward", "", "demo/web6:http",
                 {"[2001:db8:1::11]:8080", "[2001:db8:1::12]:8080"}, true, "[2001:db8:1::1]:1024", "backend"});
    r.push_back({"unknown port on a clusterIP", web(), "tcp", "198.51.100.50:1234", "198.18.0.10:81", "reject",
                 "no_service", "", {}, false, "198.18.0.10:81", "198.51.100.50:1234"});
    r.push_back({"unserved protocol on a clusterIP", web(), "udp", "198.51.100.50:1234", "198.18.0.10:80", "reject",
                 "no_service", "", {}, false});
    r.push_back({"no endpoints (TCP: RST)", config({svc("web", R"(clusterIP = "198.18.0.10";)", kTcp80)}, {}), "tcp",
                 "198.51.100.50:1234", "198.18.0.10:80", "reject", "no_endpoints", "demo/web:http", {}, false,
                 "198.18.0.10:80", "198.51.100.50:1234"});
    r.push_back({"no endpoints (UDP: ICMP)",
                 config({svc("dns", R"(clusterIP = "198.18.0.11";)", R"({ name = "dns"; protocol = "UDP"; port = 53; })")},
                        {}),
                 "udp", "198.51.100.50:1234", "198.18.0.11:53", "reject", "no_endpoints", "demo/dns:dns", {}, false,
                 "198.18.0.11", "198.51.100.50"});
    r.push_back({"unallocated service-CIDR address", web(), "tcp", "198.51.100.50:1234", "198.18.0.99:80", "drop",
                 "unallocated", "", {}, false});
    r.push_back({"NodePort on a node address",
                 config({svc("np", R"(type = "NodePort"; clusterIP = "198.18.0.12";)",
                             R"({ name = "http"; port = 80; nodePort = 30080; })")},
                        {slice("np-1", "np", kHttpSlicePort, kTwoEps)}),
                 "tcp", "198.51.100.50:1234", "198.51.100.1:30080", "forward", "", "demo/np:http", two, true,
                 "198.51.100.1:1024", "backend"});
    r.push_back({"NodePort on a --node-address",
                 config({svc("np", R"(type = "NodePort"; clusterIP = "198.18.0.12";)",
                             R"({ name = "http"; port = 80; nodePort = 30080; })")},
                        {slice("np-1", "np", kHttpSlicePort, kTwoEps)}),
                 "tcp", "198.51.100.50:1234", "198.51.100.7:30080", "forward", "", "demo/np:http", two, true, "",
                 "backend", TraceOverrides{{}, "", {"198.51.100.7"}, {}}});
    r.push_back({"externalIP",
                 config({svc("ext", R"(clusterIP = "198.18.0.13"; externalIPs = [ "203.0.113.10" ];)", kTcp80)},
                        {slice("ext-1", "ext", kHttpSlicePort, kTwoEps)}),
                 "tcp", "198.51.100.50:1234", "203.0.113.10:80", "forward", "", "demo/ext:http", two, true,
                 "198.51.100.1:1024", "backend"});
    const std::string lb_spec = R"(type = "LoadBalancer"; clusterIP = "198.18.0.14";)";
    r.push_back({"LoadBalancer ingress IP",
                 config({svc("lb", lb_spec, kTcp80, R"(loadBalancer = { ingress = ( { ip = "203.0.113.20"; } ); };)")},
                        {slice("lb-1", "lb", kHttpSlicePort, kTwoEps)}),
                 "tcp", "198.51.100.50:1234", "203.0.113.20:80", "forward", "", "demo/lb:http", two, true,
                 "198.51.100.1:1024", "backend"});
    r.push_back({"LoadBalancer ingress with ipMode Proxy: no frontend",
                 config({svc("lb", lb_spec, kTcp80,
                             R"(loadBalancer = { ingress = ( { ip = "203.0.113.20"; ipMode = "Proxy"; } ); };)")},
                        {slice("lb-1", "lb", kHttpSlicePort, kTwoEps)}),
                 "tcp", "198.51.100.50:1234", "203.0.113.20:80", "drop", "no_service", "", {}, false});
    r.push_back({"terminating fallback",
                 config({svc("t", R"(clusterIP = "198.18.0.15";)", kTcp80)},
                        {slice("t-1", "t", kHttpSlicePort,
                               R"({ addresses = [ "198.51.100.11" ]; conditions = { ready = false; serving = true; terminating = true; }; },
                                  { addresses = [ "198.51.100.12" ]; conditions = { ready = false; serving = false; terminating = true; }; })")}),
                 "tcp", "198.51.100.50:1234", "198.18.0.15:80", "forward", "", "demo/t:http",
                 {"198.51.100.11:8080"}, true, "198.51.100.1:1024", "198.51.100.11:8080"});
    r.push_back({"terminating endpoints unused while one is ready",
                 config({svc("t", R"(clusterIP = "198.18.0.15";)", kTcp80)},
                        {slice("t-1", "t", kHttpSlicePort,
                               R"({ addresses = [ "198.51.100.11" ]; conditions = { ready = false; serving = true; terminating = true; }; },
                                  { addresses = [ "198.51.100.12" ]; })")}),
                 "tcp", "198.51.100.50:1234", "198.18.0.15:80", "forward", "", "demo/t:http",
                 {"198.51.100.12:8080"}, true, "", "198.51.100.12:8080"});
    r.push_back({"serving=false excluded: no usable endpoint",
                 config({svc("t", R"(clusterIP = "198.18.0.15";)", kTcp80)},
                        {slice("t-1", "t", kHttpSlicePort,
                               R"({ addresses = [ "198.51.100.11" ]; conditions = { ready = false; serving = false; terminating = true; }; },
                                  { addresses = [ "198.51.100.12" ]; conditions = { ready = false; }; })")}),
                 "tcp", "198.51.100.50:1234", "198.18.0.15:80", "reject", "no_endpoints", "demo/t:http", {}, false});
    r.push_back({"publishNotReadyAddresses",
                 config({svc("p", R"(clusterIP = "198.18.0.16"; publishNotReadyAddresses = true;)", kTcp80)},
                        {slice("p-1", "p", kHttpSlicePort,
                               R"({ addresses = [ "198.51.100.11" ]; conditions = { ready = false; }; },
                                  { addresses = [ "198.51.100.12" ]; conditions = { ready = false; serving = false; }; })")}),
                 "tcp", "198.51.100.50:1234", "198.18.0.16:80", "forward", "", "demo/p:http", two, true, "",
                 "backend"});
    r.push_back({"ICMP echo to a clusterIP is answered", web(), "icmp", "198.51.100.50", "198.18.0.10", "local", "",
                 "", {}, false, "198.18.0.10", "198.51.100.50"});
    r.push_back({"ICMP echo to an interface address is answered", web(), "icmp", "198.51.100.50", "198.51.100.1",
                 "local", "", "", {}, false, "198.51.100.1", "198.51.100.50"});
    return r;
}

void PrintTo(const Row& r, std::ostream* os) { *os << r.what; }

class TraceTable : public ::testing::TestWithParam<Row> {};

TEST_P(TraceTable, Verdict) {
    const Row& row = GetParam();
    SCOPED_TRACE(row.what);
    const Config cfg = load(row.conf, row.o);
    const TraceResult r = trace_packet(cfg, {row.proto, row.src, row.dst, ""});
    SCOPED_TRACE(r.json());
    EXPECT_EQ(r.verdict, row.verdict);
    EXPECT_EQ(r.reason, row.reason);
    EXPECT_EQ(r.frontend, row.frontend);
    EXPECT_EQ(r.candidates, row.candidates);
    EXPECT_EQ(r.snat, row.snat);
    if (!row.out_src.empty()) {
        EXPECT_EQ(r.out_src, row.out_src);
    }
    if (row.out_dst == "backend") {
        EXPECT_NE(std::find(row.candidates.begin(), row.candidates.end(), r.backend), row.candidates.end());
        EXPECT_EQ(r.out_dst, r.backend);
    } else if (!row.out_dst.empty()) {
        EXPECT_EQ(r.out_dst, row.out_dst);
    }
    if (row.verdict == "forward") {
        EXPECT_FALSE(r.backend.empty());
    } else {
        EXPECT_TRUE(r.backend.empty());
    }
}

INSTANTIATE_TEST_SUITE_P(Rows, TraceTable, ::testing::ValuesIn(rows()), [](const auto& info) {
    return "row" + std::to_string(info.index);
});

TEST(Trace, SameFlowSameBackend) {
    // Maglev is deterministic: the same configuration and packet choose the same backend.
    const Config cfg = load(web());
    const TracePacket p{"tcp", "198.51.100.50:1234", "198.18.0.10:80", ""};
    EXPECT_EQ(trace_packet(cfg, p).backend, trace_packet(cfg, p).backend);
}

TEST(Trace, BadArguments) {
    const Config cfg = load(web());
    EXPECT_THROW(trace_packet(cfg, {"tcp", "198.51.100.50", "198.18.0.10:80", "p9"}), std::invalid_argument);
    EXPECT_THROW(trace_packet(cfg, {"gre", "198.51.100.50", "198.18.0.10:80", ""}), std::invalid_argument);
    EXPECT_THROW(trace_packet(cfg, {"tcp", "198.51.100.50", "198.18.0.10", ""}), std::invalid_argument);
    EXPECT_THROW(trace_packet(cfg, {"tcp", "2001:db8:1::50", "198.18.0.10:80", ""}), std::invalid_argument);
    EXPECT_THROW(trace_packet(cfg, {"tcp", "198.51.100.50:99999", "198.18.0.10:80", ""}), std::invalid_argument);
}

TEST(Trace, JsonShape) {
    TraceResult r;
    r.verdict = "forward";
    r.frontend = "demo/web:http";
    r.candidates = {"198.51.100.11:8080", "[2001:db8::1]:80"};
    r.backend = "198.51.100.11:8080";
    r.snat = true;
    r.out_src = "198.51.100.1:1024";
    r.out_dst = "198.51.100.11:8080";
    EXPECT_EQ(r.json(),
              R"({"verdict":"forward","reason":null,"frontend":"demo/web:http","candidates":["198.51.100.11:8080","[2001:db8::1]:80"],)"
              R"("backend":"198.51.100.11:8080","snat":true,"out":{"src":"198.51.100.1:1024","dst":"198.51.100.11:8080"}})");
}

std::string write_temp(const std::string& text) {
    char path[] = "/tmp/svclb_trace_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp");
    if (write(fd, text.data(), text.size()) != ssize_t(text.size())) throw std::runtime_error("write");
    close(fd);
    return path;
}

TEST(TraceCommand, OfflineWithConfigAndOverrides) {
    const std::string path = write_temp(web());
    std::ostringstream out, err;
    EXPECT_EQ(trace_command({"-c", path, "--proto", "udp", "--src", "198.51.100.50", "--dst", "198.18.0.10:53"}, out,
                            err, false),
              0)
        << err.str();
    EXPECT_NE(out.str().find(R"("verdict":"forward")"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find(R"("frontend":"demo/web:dns")"), std::string::npos) << out.str();
    // --service-cidr replaces the configured CIDRs: the clusterIP is now out of range.
    std::ostringstream out2, err2;
    EXPECT_EQ(trace_command({"-c", path, "--service-cidr", "10.0.0.0/24", "--proto", "tcp", "--src", "198.51.100.50",
                             "--dst", "198.18.0.10:80"},
                            out2, err2, false),
              1);
    EXPECT_NE(err2.str().find("is not in the valid range. The range of valid IPs is 10.0.0.0/24"), std::string::npos)
        << err2.str();
    EXPECT_TRUE(out2.str().empty());
    unlink(path.c_str());
}

TEST(TraceCommand, InvalidConfigPrintsEveryError) {
    const std::string path = write_temp(config(
        {svc("web", R"(clusterIP = "198.19.0.10";)", R"({ name = "http"; port = 0; })")}, {}));
    std::ostringstream out, err;
    EXPECT_EQ(trace_command({"-c", path, "--proto", "tcp", "--src", "198.51.100.50", "--dst", "198.18.0.10:80"}, out,
                            err, false),
              1);
    EXPECT_NE(err.str().find("spec.clusterIPs"), std::string::npos) << err.str();
    EXPECT_NE(err.str().find("spec.ports[0].port"), std::string::npos) << err.str();
    EXPECT_NE(err.str().find("2 errors"), std::string::npos) << err.str();
    unlink(path.c_str());
}

TEST(TraceCommand, Usage) {
    std::ostringstream out, err;
    // Live (neither -c nor -f): the overrides are refused, and no daemon is an error.
    EXPECT_EQ(trace_command({"--proto", "tcp", "--src", "198.51.100.50", "--dst", "198.18.0.10:80", "--node-name",
                             "n1"},
                            out, err, false, "/nonexistent/svclb.sock"),
              2);
    EXPECT_NE(err.str().find("apply to -c/-f only"), std::string::npos) << err.str();
    EXPECT_EQ(trace_command({"--proto", "tcp", "--src", "198.51.100.50", "--dst", "198.18.0.10:80"}, out, err, false,
                            "/nonexistent/svclb.sock"),
              1);
    EXPECT_NE(err.str().find("cannot reach svclb at /nonexistent/svclb.sock"), std::string::npos) << err.str();
    EXPECT_EQ(trace_command({"-c", "x.conf", "--src", "198.51.100.50"}, out, err, false), 2);
    EXPECT_EQ(trace_command({"--bogus"}, out, err, false), 2);
    EXPECT_EQ(trace_command({"-c", "/nonexistent/x.conf", "--proto", "tcp", "--src", "1.2.3.4", "--dst", "5.6.7.8:1"},
                            out, err, false),
              1);
    EXPECT_EQ(trace_command({"-c", "x.conf", "--nodeport-range"}, out, err, false), 2);
}

// ---- VLANs across ports: the real frames ---------------------------------------------------

// A flow from an untagged port to a tagged one and back: the tag is inserted with the
// packet's own EtherType inside it, and taken off on the way back.
TEST(VlanAcrossPorts, UntaggedToTaggedAndBack) {
    const std::string text = R"(
appliance = {
  ports = ( { name = "p0"; device = "net_null0"; addresses = [ "198.51.100.1/24" ]; mac = "02:00:00:00:00:01"; },
            { name = "p1"; device = "net_null1"; addresses = [ "203.0.113.1/24" ]; mac = "02:00:00:00:00:02"; vlan = 200; } );
  neighbours = ( { ip = "198.51.100.50"; mac = "02:00:00:00:00:50"; }, { ip = "203.0.113.11"; mac = "02:00:00:00:00:11"; } );
  lcores = { main = 0; workers = [ 1 ]; };
};
cluster = { serviceCIDRs = [ "198.18.0.0/24" ]; };
services = ( { metadata = { name = "web"; namespace = "demo"; }; spec = { clusterIP = "198.18.0.10";
  ports = ( { name = "http"; port = 80; targetPort = 8080; } ); }; } );
endpointSlices = ( { metadata = { name = "web-1"; namespace = "demo"; }; service = "web"; addressType = "IPv4";
  ports = ( { name = "http"; port = 8080; } ); endpoints = ( { addresses = [ "203.0.113.11" ]; } ); } );
)";
    RingApplianceOptions o;
    o.ports = {{"p0", *parse_mac("02:00:00:00:00:01"), 0}, {"p1", *parse_mac("02:00:00:00:00:02"), 200}};
    RingAppliance app(load(text), o);
    app.poll();
    app.drain();
    const MacAddr client = *parse_mac("02:00:00:00:00:50"), backend = *parse_mac("02:00:00:00:00:11");
    const auto fwd = app.send(0, Pkt().eth(client, o.ports[0].mac).ipv4("198.51.100.50", "198.18.0.10")
                                     .tcp(40000, 80, test::kSyn, 100).bytes());
    ASSERT_EQ(fwd.out.size(), 1u);
    const Bytes& f = fwd.out[0];
    ASSERT_GE(f.size(), 18u + 20u);
    EXPECT_EQ((f[12] << 8 | f[13]), 0x8100);
    EXPECT_EQ(((f[14] << 8 | f[15]) & 0x0fff), 200);
    EXPECT_EQ((f[16] << 8 | f[17]), 0x0800) << "the inner EtherType is the packet's";
    EXPECT_EQ(f[18], 0x45);
    EXPECT_EQ(Bytes(f.begin(), f.begin() + 6), Bytes(backend.b.begin(), backend.b.end()));
    const uint16_t snat_port = uint16_t(f[18 + 20] << 8 | f[18 + 21]);
    // The backend's answer, tagged, back to the untagged client port.
    const auto rev = app.send(1, Pkt().eth(backend, o.ports[1].mac).vlan(200).ipv4("203.0.113.11", "203.0.113.1")
                                     .tcp(8080, snat_port, test::kSyn | test::kAck, 500, 101).bytes());
    ASSERT_EQ(rev.out.size(), 1u);
    const Bytes& r = rev.out[0];
    EXPECT_EQ((r[12] << 8 | r[13]), 0x0800);
    EXPECT_EQ(r[14], 0x45);
    EXPECT_EQ(Bytes(r.begin(), r.begin() + 6), Bytes(client.b.begin(), client.b.end()));
}

// snatAddresses of one family leave the other family's SNAT to the interface addresses.
TEST(Snat, OneFamilyConfiguredTheOtherFromTheInterfaces) {
    std::string text = config({svc("web", R"(ipFamilyPolicy = "RequireDualStack"; clusterIPs = [ "198.18.0.10", "2001:db8:ffff::10" ];)", kTcp80)},
                              {slice("web-4", "web", kHttpSlicePort, R"({ addresses = [ "198.51.100.11" ]; })"),
                               slice("web-6", "web", kHttpSlicePort, R"({ addresses = [ "2001:db8:1::11" ]; })", "IPv6")});
    text.replace(text.find("  lcores"), 0, "  snatAddresses = [ \"198.51.100.2\" ];\n");
    const Config cfg = load(text);
    const TraceResult v4 = trace_packet(cfg, {"tcp", "198.51.100.50:1234", "198.18.0.10:80", ""});
    EXPECT_EQ(v4.verdict, "forward") << v4.json();
    EXPECT_EQ(v4.out_src.substr(0, 13), "198.51.100.2:") << v4.json();
    const TraceResult v6 = trace_packet(cfg, {"tcp", "[2001:db8:1::50]:1234", "[2001:db8:ffff::10]:80", ""});
    EXPECT_EQ(v6.verdict, "forward") << v6.json();
    EXPECT_EQ(v6.out_src.substr(0, 16), "[2001:db8:1::1]:") << v6.json();
}

// ---- live trace: the daemon's snapshot and flow tables (trace_live) -----------------------

std::string weighted(int w11, int w12) {
    return config({svc("web", R"(clusterIP = "198.18.0.10";)", kTcp80)},
                  {slice("web-1", "web", kHttpSlicePort,
                         "{ addresses = [ \"198.51.100.11\" ]; weight = " + std::to_string(w11) +
                             "; }, { addresses = [ \"198.51.100.12\" ]; weight = " + std::to_string(w12) + "; }")});
}

// The value of "key":"..." in a JSON line ("" when absent or not a string).
std::string field(const std::string& json, const std::string& key) {
    const std::string k = "\"" + key + "\":\"";
    const auto at = json.find(k);
    if (at == std::string::npos) return "";
    const auto end = json.find('"', at + k.size());
    return json.substr(at + k.size(), end - at - k.size());
}

struct LiveApp {
    RingAppliance app;
    explicit LiveApp(const std::string& text)
        : app(load(text), RingApplianceOptions{{{"p0", *parse_mac("02:00:00:00:00:01"), 0}}, 2, 1024, 4095}) {
        app.ctl().set_trace_pump([this] {
            for (size_t w = 0; w < app.dp().worker_count(); w++) app.dp().worker(w).poll_once();
        });
        app.poll();
    }
    size_t flows() {
        size_t n = 0;
        for (size_t w = 0; w < app.dp().worker_count(); w++) n += app.dp().worker(w).flows().size();
        return n;
    }
};

TEST(LiveTrace, FollowsTheFlowTableNotJustTheHash) {
    LiveApp a(weighted(1, 1));
    const std::string q = "trace proto=tcp src=198.51.100.50:1234 dst=198.18.0.10:80";
    const std::string before = a.app.ctl().handle(q);
    ASSERT_EQ(field(before, "verdict"), "forward") << before;
    EXPECT_NE(before.find(R"("flow":null)"), std::string::npos) << before; // no such flow yet
    EXPECT_EQ(field(before, "frontend"), "demo/web:http");
    const std::string chosen = field(before, "backend");
    ASSERT_FALSE(chosen.empty());
    EXPECT_EQ(a.flows(), 0u) << "a trace creates no flow in the live workers";
    EXPECT_TRUE(a.app.drain().empty()) << "a trace sends nothing";

    // The real SYN, on worker 1's queue: the flow lives in worker 1's table.
    const Bytes syn = Pkt()
                          .eth(*parse_mac("02:00:00:00:00:10"), *parse_mac("02:00:00:00:00:01"))
                          .ipv4("198.51.100.50", "198.18.0.10")
                          .tcp(1234, 80, kSyn)
                          .bytes();
    const auto sent = a.app.send(0, syn, 1, true);
    ASSERT_EQ(sent.events[size_t(Ev::kFwdNew)], 1u);
    ASSERT_EQ(a.flows(), 1u);

    // Drain the chosen backend (weight 0: existing flows only). A new connection can no
    // longer get it; the live flow keeps it, and the live trace says so.
    const bool first = chosen.starts_with("198.51.100.11");
    Errors errs = a.app.ctl().apply(load(weighted(first ? 0 : 1, first ? 1 : 0)));
    ASSERT_TRUE(errs.empty()) << errs[0].str();
    const std::string after = a.app.ctl().handle(q);
    EXPECT_EQ(field(after, "verdict"), "forward") << after;
    EXPECT_EQ(field(after, "backend"), chosen) << after;
    EXPECT_NE(after.find(R"("flow":{"worker":1,"state":"SYN_SENT"})"), std::string::npos) << after;
    for (int port = 2000; port < 2010; port++) {
        const std::string other =
            a.app.ctl().handle("trace proto=tcp src=198.51.100.50:" + std::to_string(port) + " dst=198.18.0.10:80");
        EXPECT_EQ(field(other, "verdict"), "forward") << other;
        EXPECT_NE(field(other, "backend"), chosen) << other;
        EXPECT_NE(other.find(R"("flow":null)"), std::string::npos) << other;
    }
    EXPECT_EQ(a.flows(), 1u);
    EXPECT_TRUE(a.app.drain().empty());
}

TEST(LiveTrace, VerdictsAndErrors) {
    LiveApp a(web());
    const std::string rej = a.app.ctl().handle("trace proto=tcp src=198.51.100.50 dst=198.18.0.10:81");
    EXPECT_EQ(field(rej, "verdict"), "reject") << rej;
    EXPECT_EQ(field(rej, "reason"), "no_service") << rej;
    const std::string drop = a.app.ctl().handle("trace proto=udp src=198.51.100.50 dst=198.18.0.99:53");
    EXPECT_EQ(field(drop, "verdict"), "drop") << drop;
    const std::string echo = a.app.ctl().handle("trace proto=icmp src=198.51.100.50 dst=198.18.0.10");
    EXPECT_EQ(field(echo, "verdict"), "local") << echo;
    const std::string sctp = a.app.ctl().handle("trace proto=sctp src=198.51.100.50:5000 dst=198.18.0.10:9");
    EXPECT_EQ(field(sctp, "frontend"), "demo/web:sig") << sctp;
    EXPECT_EQ(field(sctp, "verdict"), "forward") << sctp;
    EXPECT_TRUE(a.app.ctl().handle("trace proto=gre src=198.51.100.50 dst=198.18.0.10:80").starts_with("error 2: "));
    EXPECT_TRUE(a.app.ctl().handle("trace proto=tcp src=198.51.100.50 dst=198.18.0.10:80 ingress=p9")
                    .starts_with("error 2: --ingress"));
    EXPECT_TRUE(a.app.ctl().handle("trace colour=blue").starts_with("error 2: unknown trace field"));
    EXPECT_EQ(a.flows(), 0u);
}

// svclbctl's side: the request over the control socket, the answer on stdout.
TEST(LiveTrace, CommandAsksTheDaemon) {
    LiveApp a(web());
    char dir[] = "/tmp/svclb_live_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string sock = std::string(dir) + "/ctl.sock";
    a.app.ctl().listen(sock);
    std::atomic<bool> done{false};
    std::thread server([&] {
        for (int i = 0; i < 200 && !done.load(); i++) a.app.ctl().poll(25);
    });
    std::ostringstream out, err, out2, err2;
    const int rc = trace_command({"--proto", "udp", "--src", "198.51.100.50:5353", "--dst", "198.18.0.10:53"}, out,
                                 err, false, sock);
    const int rc2 = trace_command({"--proto", "udp", "--src", "198.51.100.50", "--dst", "198.18.0.10:53", "--ingress",
                                   "nope"},
                                  out2, err2, false, sock);
    done = true;
    server.join();
    EXPECT_EQ(rc, 0) << err.str();
    EXPECT_EQ(field(out.str(), "verdict"), "forward") << out.str();
    EXPECT_EQ(field(out.str(), "frontend"), "demo/web:dns") << out.str();
    EXPECT_NE(out.str().find(R"("flow":null)"), std::string::npos) << out.str();
    EXPECT_EQ(rc2, 2);
    EXPECT_NE(err2.str().find("--ingress: no port named \"nope\""), std::string::npos) << err2.str();
    std::filesystem::remove_all(dir);
}

TEST(TraceCommand, NodePortRangeOverride) {
    Errors errs;
    auto cfg = load_config_string(config({svc("np", R"(type = "NodePort"; clusterIP = "198.18.0.12";)",
                                              R"({ name = "http"; port = 80; nodePort = 30080; })")},
                                         {}),
                                  "t.conf", errs);
    ASSERT_TRUE(cfg && errs.empty());
    TraceOverrides o;
    o.nodeport_range = "31000-31999";
    errs = trace_prepare(*cfg, o);
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_NE(errs[0].str().find("The range of valid ports is 31000-31999"), std::string::npos) << errs[0].str();
    o.nodeport_range = "9-1";
    EXPECT_EQ(trace_prepare(*cfg, o).size(), 1u);
}

TEST(TraceDefaults, DefaultApplianceRoutesEveryBackend) {
    // -f without -c: the assumed appliance, Kubernetes' service CIDR.
    Config cfg = trace_default_config();
    Service s;
    s.name = "web";
    s.ns = "demo";
    s.clusterIP = "10.96.0.10";
    ServicePort p;
    p.name = "http";
    p.port = 80;
    p.targetPort.set = true;
    p.targetPort.num = 8080;
    s.ports.push_back(p);
    cfg.services.push_back(s);
    EndpointSlice sl;
    sl.name = "web-1";
    sl.ns = "demo";
    sl.service = "web";
    sl.ports.push_back({"http", "TCP", 8080, ""});
    Endpoint e;
    e.addresses = {"203.0.113.5"};
    sl.endpoints.push_back(e);
    cfg.slices.push_back(sl);
    ASSERT_TRUE(trace_prepare(cfg, {}).empty());
    const TraceResult r = trace_packet(cfg, {"tcp", "198.51.100.7:5555", "10.96.0.10:80", ""});
    EXPECT_EQ(r.verdict, "forward") << r.json();
    EXPECT_EQ(r.backend, "203.0.113.5:8080");
    EXPECT_EQ(r.out_src, "203.0.113.1:1024");
    EXPECT_TRUE(r.snat);
}

// ---- env (pkg/kubelet/envvars) -----------------------------------------------------------

using Env = std::vector<std::pair<std::string, std::string>>;

TEST(Env, MultiPortServiceInKubeletOrder) {
    const Config cfg = load(config(
        {svc("redis-master", R"(clusterIP = "198.18.0.20";)",
             R"({ name = "redis"; protocol = "TCP"; port = 6379; }, { name = "metrics-udp"; protocol = "UDP"; port = 9121; })"),
         svc("api", R"(clusterIP = "198.18.0.21";)", R"({ protocol = "TCP"; port = 443; })")},
        {}));
    const Env want{
        // services sorted by name: api first; its only port is unnamed
        {"API_SERVICE_HOST", "198.18.0.21"},
        {"API_SERVICE_PORT", "443"},
        {"API_PORT", "tcp://198.18.0.21:443"},
        {"API_PORT_443_TCP", "tcp://198.18.0.21:443"},
        {"API_PORT_443_TCP_PROTO", "tcp"},
        {"API_PORT_443_TCP_PORT", "443"},
        {"API_PORT_443_TCP_ADDR", "198.18.0.21"},
        {"REDIS_MASTER_SERVICE_HOST", "198.18.0.20"},
        {"REDIS_MASTER_SERVICE_PORT", "6379"},
        {"REDIS_MASTER_SERVICE_PORT_REDIS", "6379"},
        {"REDIS_MASTER_SERVICE_PORT_METRICS_UDP", "9121"},
        {"REDIS_MASTER_PORT", "tcp://198.18.0.20:6379"},
        {"REDIS_MASTER_PORT_6379_TCP", "tcp://198.18.0.20:6379"},
        {"REDIS_MASTER_PORT_6379_TCP_PROTO", "tcp"},
        {"REDIS_MASTER_PORT_6379_TCP_PORT", "6379"},
        {"REDIS_MASTER_PORT_6379_TCP_ADDR", "198.18.0.20"},
        {"REDIS_MASTER_PORT_9121_UDP", "udp://198.18.0.20:9121"},
        {"REDIS_MASTER_PORT_9121_UDP_PROTO", "udp"},
        {"REDIS_MASTER_PORT_9121_UDP_PORT", "9121"},
        {"REDIS_MASTER_PORT_9121_UDP_ADDR", "198.18.0.20"},
    };
    EXPECT_EQ(service_env(cfg, "demo"), want);
    EXPECT_TRUE(service_env(cfg, "other").empty());
}

TEST(Env, HeadlessAndExternalNameGiveNothingIpv6Bracketed) {
    const Config cfg = load(config(
        {svc("headless", R"(clusterIP = "None";)", R"({ name = "http"; port = 80; })"),
         svc("ext", R"(type = "ExternalName"; externalName = "db.example.com";)", R"({ name = "pg"; port = 5432; })"),
         svc("v6", R"(clusterIP = "2001:db8:ffff::30"; ipFamilies = [ "IPv6" ];)",
             R"({ name = "sctp"; protocol = "SCTP"; port = 3868; })")},
        {}));
    const Env want{
        {"V6_SERVICE_HOST", "2001:db8:ffff::30"},
        {"V6_SERVICE_PORT", "3868"},
        {"V6_SERVICE_PORT_SCTP", "3868"},
        {"V6_PORT", "sctp://[2001:db8:ffff::30]:3868"},
        {"V6_PORT_3868_SCTP", "sctp://[2001:db8:ffff::30]:3868"},
        {"V6_PORT_3868_SCTP_PROTO", "sctp"},
        {"V6_PORT_3868_SCTP_PORT", "3868"},
        {"V6_PORT_3868_SCTP_ADDR", "2001:db8:ffff::30"},
    };
    EXPECT_EQ(service_env(cfg, "demo"), want);
}

// The kubelet gives every pod the master service default/kubernetes too, unless the pod's
// namespace has a service of that name.
TEST(Env, MasterServiceInEveryNamespace) {
    const std::string master =
        R"({ metadata = { name = "kubernetes"; namespace = "default"; }; spec = { clusterIP = "198.18.0.1";
             ports = ( { name = "https"; port = 443; targetPort = 6443; } ); }; })";
    Config cfg = load(config({master, svc("web", R"(clusterIP = "198.18.0.10";)", kTcp80)}, {}));
    Env env = service_env(cfg, "demo");
    ASSERT_EQ(env.size(), 16u);
    EXPECT_EQ(env[0], (std::pair<std::string, std::string>{"KUBERNETES_SERVICE_HOST", "198.18.0.1"}));
    EXPECT_EQ(env[3], (std::pair<std::string, std::string>{"KUBERNETES_PORT", "tcp://198.18.0.1:443"}));
    EXPECT_EQ(env[8].first, "WEB_SERVICE_HOST");
    EXPECT_EQ(service_env(cfg, "default").size(), 8u); // itself, once
    // A namespace's own "kubernetes" wins, if it has a clusterIP (a headless one does not).
    cfg = load(config({master, svc("kubernetes", R"(clusterIP = "None";)", kTcp80)}, {}));
    env = service_env(cfg, "demo");
    ASSERT_EQ(env.size(), 8u);
    EXPECT_EQ(env[0].second, "198.18.0.1");
    cfg = load(config({master, svc("kubernetes", R"(clusterIP = "198.18.0.20";)", kTcp80)}, {}));
    env = service_env(cfg, "demo");
    ASSERT_EQ(env.size(), 8u);
    EXPECT_EQ(env[0].second, "198.18.0.20");
}

TEST(Env, AllocatedClusterIPIsUsed) {
    const Config cfg = load(config({svc("auto", "", R"({ name = "http"; port = 80; })")}, {}));
    const Env env = service_env(cfg, "demo");
    ASSERT_FALSE(env.empty());
    EXPECT_EQ(env[0].first, "AUTO_SERVICE_HOST");
    EXPECT_EQ(env[0].second, cfg.services[0].clusterIP);
    EXPECT_FALSE(env[0].second.empty());
    EXPECT_EQ(env_variable_name("my-svc-2"), "MY_SVC_2");
}

}  // namespace
}  // namespace svclb::cp

SVCLB_EAL_TEST_MAIN()
