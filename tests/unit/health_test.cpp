// SPDX-License-Identifier: Apache-2.0
// healthCheckNodePort (cp/health.h): which services get one and what they count, the
// kube-proxy-shaped answer, and the server itself over real loopback sockets.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "cp/config_loader.h"
#include "cp/health.h"
#include "cp/validate.h"

namespace svclb::cp {
namespace {

// LoadBalancer demo/NAME (externalTrafficPolicy POLICY) with one slice of `endpoints`.
std::string lb(const std::string& name, const std::string& policy, int hc, const std::string& endpoints,
               const std::string& extra = "") {
    return "{ metadata = { name = \"" + name + "\"; namespace = \"demo\"; }; spec = { type = \"LoadBalancer\"; "
           "externalTrafficPolicy = \"" + policy + "\"; " + (hc ? "healthCheckNodePort = " + std::to_string(hc) + "; " : "") +
           extra + " ports = ( { name = \"http\"; port = 80; targetPort = 8080; } ); }; }|"
           "{ metadata = { name = \"" + name + "-1\"; namespace = \"demo\"; }; service = \"" + name +
           "\"; addressType = \"IPv4\"; ports = ( { name = \"http\"; port = 8080; } ); endpoints = ( " + endpoints +
           " ); }";
}

Config load(const std::vector<std::string>& items) {
    std::string services, slices;
    for (const auto& i : items) {
        const auto bar = i.find('|');
        services += (services.empty() ? "" : ", ") + i.substr(0, bar);
        slices += (slices.empty() ? "" : ", ") + i.substr(bar + 1);
    }
    const std::string text = "appliance = { ports = ( { name = \"p0\"; device = \"d\"; addresses = [ "
                             "\"198.51.100.1/24\" ]; } ); };\ncluster = { serviceCIDRs = [ \"198.18.0.0/24\" ]; "
                             "nodeNames = [ \"n1\", \"n1b\" ]; nodePortRange = \"1024-65535\"; };\nservices = ( " + services +
                             " );\nendpointSlices = ( " + slices + " );\n";
    Errors errs;
    auto cfg = load_config_string(text, "h.conf", errs);
    EXPECT_TRUE(cfg && errs.empty()) << (errs.empty() ? text : errs[0].str());
    errs = validate_and_allocate(*cfg, nullptr);
    EXPECT_TRUE(errs.empty()) << (errs.empty() ? "" : errs[0].str());
    return *cfg;
}

const std::string kEndpoints =
    R"({ addresses = [ "198.51.100.11" ]; nodeName = "n1"; },
       { addresses = [ "198.51.100.12" ]; nodeName = "n1b"; },
       { addresses = [ "198.51.100.13" ]; nodeName = "n1"; conditions = { ready = false; }; },
       { addresses = [ "198.51.100.14" ]; nodeName = "n1"; conditions = { ready = false; serving = true; terminating = true; }; },
       { addresses = [ "198.51.100.15" ]; nodeName = "n2"; })";

TEST(HealthChecks, OnlyLocalPolicyLoadBalancersCountLocalReadyEndpoints) {
    const Config cfg = load({lb("local", "Local", 31000, kEndpoints), lb("cluster", "Cluster", 0, kEndpoints),
                             lb("remote", "Local", 31001, R"({ addresses = [ "198.51.100.21" ]; nodeName = "n2"; })"),
                             lb("other", "Local", 31002, kEndpoints, "loadBalancerClass = \"example.com/other\";"),
                             lb("allocated", "Local", 0, kEndpoints)});
    const auto hcs = health_checks(cfg);
    ASSERT_EQ(hcs.size(), 3u); // not the Cluster one, not another class's
    ASSERT_TRUE(hcs.count(31000));
    EXPECT_EQ(hcs.at(31000).name, "local");
    EXPECT_EQ(hcs.at(31000).ns, "demo");
    EXPECT_EQ(hcs.at(31000).local_endpoints, 2u); // .11 and .12: ready, on n1 / n1b
    EXPECT_EQ(hcs.at(31001).local_endpoints, 0u);
    // The allocated one (validation picked its port from the node port range, 1024-65535 here).
    bool found = false;
    for (const auto& [port, hc] : hcs)
        if (hc.name == "allocated") {
            found = true;
            EXPECT_GE(port, 1024);
            EXPECT_EQ(hc.local_endpoints, 2u);
        }
    EXPECT_TRUE(found);
}

// A dual-stack pod has an address in each family's slice: one endpoint, as each of
// kube-proxy's per-family proxiers counts it.
TEST(HealthChecks, DualStackPodCountsOnce) {
    std::string item = lb("ds", "Local", 31000, R"({ addresses = [ "198.51.100.11" ]; nodeName = "n1"; })");
    item += ", { metadata = { name = \"ds-6\"; namespace = \"demo\"; }; service = \"ds\"; addressType = \"IPv6\"; "
            "ports = ( { name = \"http\"; port = 8080; } ); endpoints = ( { addresses = [ \"2001:db8::11\" ]; "
            "nodeName = \"n1\"; } ); }";
    Config cfg = load({item});
    EXPECT_EQ(health_checks(cfg).at(31000).local_endpoints, 1u);
    EXPECT_EQ(health_checks(cfg).at(31000).local_by_family[0], 1u);
    EXPECT_EQ(health_checks(cfg).at(31000).local_by_family[1], 1u);
}

TEST(HealthChecks, PublishNotReadyAddressesCountsEveryLocalEndpoint) {
    const Config cfg = load({lb("pnr", "Local", 31000, kEndpoints, "publishNotReadyAddresses = true;")});
    EXPECT_EQ(health_checks(cfg).at(31000).local_endpoints, 4u);
}

TEST(HealthChecks, ResponseShape) {
    EXPECT_EQ(health_response({"demo", "web", 2}),
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
              "X-Load-Balancing-Endpoint-Weight: 2\r\nContent-Length: 92\r\nConnection: close\r\n\r\n"
              "{\"service\":{\"namespace\":\"demo\",\"name\":\"web\"},\"localEndpoints\":2,"
              "\"serviceProxyHealthy\":true}\n");
    const std::string down = health_response({"demo", "web", 0});
    EXPECT_EQ(down.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << down;
    EXPECT_NE(down.find("\"localEndpoints\":0"), std::string::npos) << down;
}

// A free TCP port (bound once to port 0 on loopback, then released).
uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

uint64_t now_ms() {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

// One request to 127.0.0.1:port while the server is polled; the whole answer.
std::string ask(HealthServer& hs, uint16_t port, const std::string& request) {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    std::string out;
    bool sent = false;
    for (int i = 0; i < 200; i++) { // bounded: 2 s
        std::vector<pollfd> fds;
        hs.add_pollfds(fds);
        ::poll(fds.data(), fds.size(), 10);
        hs.handle(fds, now_ms());
        if (!sent && send(c, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size())) sent = true;
        char buf[2048];
        const ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n > 0) out.append(buf, size_t(n));
        if (n == 0) break;
    }
    close(c);
    return out;
}

TEST(HealthServer, AnswersOverRealSocketsAndFollowsReconfiguration) {
    const uint16_t port = free_port();
    HealthServer hs;
    Config cfg = load({lb("web", "Local", port, kEndpoints)});
    EXPECT_TRUE(hs.configure(cfg).empty());
    EXPECT_EQ(hs.ports(), std::vector<uint16_t>{port});
    std::string r = ask(hs, port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_NE(r.find("\"localEndpoints\":2"), std::string::npos) << r;

    // Every local endpoint gone: 503 on the same port.
    cfg = load({lb("web", "Local", port, R"({ addresses = [ "198.51.100.15" ]; nodeName = "n2"; })")});
    EXPECT_TRUE(hs.configure(cfg).empty());
    r = ask(hs, port, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << r;
    EXPECT_EQ(hs.answered(), 2u);

    // A request that never ends is cut off at 4 KiB, still answered.
    r = ask(hs, port, "GET /" + std::string(5000, 'a'));
    EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r.substr(0, 80);

    // The service gone (or no longer Local): the port is closed.
    cfg = load({lb("web", "Cluster", 0, kEndpoints)});
    EXPECT_TRUE(hs.configure(cfg).empty());
    EXPECT_TRUE(hs.ports().empty());
    EXPECT_EQ(ask(hs, port, "GET / HTTP/1.0\r\n\r\n"), "");
}

// Each family answers for its own endpoints, as kube-proxy's per-family proxiers do: with
// local endpoints in IPv6 only, an IPv4 probe gets 503.
TEST(HealthServer, AProbeIsAnsweredForItsFamily) {
    const uint16_t port = free_port();
    std::string item = lb("v6only", "Local", port, R"({ addresses = [ "198.51.100.15" ]; nodeName = "n2"; })");
    item += ", { metadata = { name = \"v6only-6\"; namespace = \"demo\"; }; service = \"v6only\"; addressType = "
            "\"IPv6\"; ports = ( { name = \"http\"; port = 8080; } ); endpoints = ( { addresses = [ \"2001:db8::11\" ]; "
            "nodeName = \"n1\"; } ); }";
    HealthServer hs;
    EXPECT_TRUE(hs.configure(load({item})).empty());
    const std::string r = ask(hs, port, "GET / HTTP/1.0\r\n\r\n"); // over 127.0.0.1
    EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
    EXPECT_NE(r.find("\"localEndpoints\":0"), std::string::npos) << r;
}

TEST(HealthServer, PortInUseIsAWarningNotAFailure) {
    const uint16_t port = free_port();
    const int busy = socket(AF_INET6, SOCK_STREAM, 0);
    const int zero = 0;
    setsockopt(busy, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_any;
    ASSERT_EQ(bind(busy, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(busy, 1), 0);
    HealthServer hs;
    const auto w = hs.configure(load({lb("web", "Local", port, kEndpoints)}));
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].find("healthCheckNodePort " + std::to_string(port) + " (demo/web): cannot listen"),
              std::string::npos)
        << w[0];
    EXPECT_TRUE(hs.ports().empty());
    close(busy);
}

}  // namespace
}  // namespace svclb::cp
