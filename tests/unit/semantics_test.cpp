// SPDX-License-Identifier: Apache-2.0
// /work/shared/SEMANTICS.md as a packet-flow table, in the style of kube-proxy's packet-flow
// tests: every row is {configuration, protocol, source, destination, ingress port} ->
// {verdict, reason, frontend, candidates, SNAT}, pushed through the real worker pipeline
// of an in-process appliance by cp::trace_packet (docs/trace.md). Rows are grouped by the
// section of SEMANTICS.md they check; each row is its own test case, named
// <Section>_<what>. A row whose expectation is what SEMANTICS.md says but not what svclb
// does is kept, named DISABLED_..., with the discrepancy in `disabled_because`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>
#include <vector>

#include "cp/config_loader.h"
#include "cp/trace.h"
#include "tests/eal_env.h"

namespace svclb::cp {
namespace {

// ---- configuration builders --------------------------------------------------------------

// One port p0 (198.51.100.1/24, 2001:db8:1::1/64) with gateways, so clients in
// 203.0.113.0/24 are routable too; optionally a second port p1 (203.0.113.1/24, no gateway
// then: its subnet is connected).
std::string appliance(bool two_ports, const std::string& extra = "") {
    std::string s = R"(
appliance = {
  ports = ( { name = "p0"; device = "net_null0"; addresses = [ "198.51.100.1/24", "2001:db8:1::1/64" ]; })";
    if (two_ports) s += R"(,
            { name = "p1"; device = "net_null1"; addresses = [ "203.0.113.1/24" ]; })";
    s += " );\n";
    if (!two_ports) s += "  gateway = \"198.51.100.254\";\n";
    s += R"(  gateway6 = "2001:db8:1::fe";
  lcores = { main = 0; workers = [ 1 ]; };
)" + extra + R"(
};
)";
    return s;
}

struct Conf {
    std::vector<std::string> services, slices;
    std::string cluster_extra; // extra settings inside `cluster = { ... }`
    bool two_ports = false;
    std::string appliance_extra{}; // extra settings inside `appliance = { ... }`

    std::string text() const {
        std::string s = appliance(two_ports, appliance_extra);
        s += R"(cluster = { serviceCIDRs = [ "198.18.0.0/24", "2001:db8:ffff::/112" ]; nodeNames = [ "n1", "n1b" ]; )" +
             cluster_extra + " };\nservices = (";
        for (size_t i = 0; i < services.size(); i++) s += (i ? ",\n  " : "\n  ") + services[i];
        s += " );\nendpointSlices = (";
        for (size_t i = 0; i < slices.size(); i++) s += (i ? ",\n  " : "\n  ") + slices[i];
        return s + " );\n";
    }
};

// Service demo/NAME.
std::string svc(const std::string& name, const std::string& spec, const std::string& ports,
                const std::string& status = "", const std::string& meta_extra = "") {
    return "{ metadata = { name = \"" + name + "\"; namespace = \"demo\"; " + meta_extra + " }; spec = { " + spec +
           (ports.empty() ? std::string() : " ports = ( " + ports + " );") + " };" +
           (status.empty() ? "" : " status = { " + status + " };") + " }";
}
// EndpointSlice demo/NAME of service SERVICE.
std::string slice(const std::string& name, const std::string& service, const std::string& ports,
                  const std::vector<std::string>& endpoints, const std::string& family = "IPv4") {
    std::string eps;
    for (size_t i = 0; i < endpoints.size(); i++) eps += (i ? ", " : "") + endpoints[i];
    return "{ metadata = { name = \"" + name + "\"; namespace = \"demo\"; }; service = \"" + service +
           "\"; addressType = \"" + family + "\"; ports = ( " + ports + " ); endpoints = ( " + eps + " ); }";
}
// One endpoint with one address and extra settings (conditions, nodeName, weight).
std::string ep(const std::string& addr, const std::string& extra = "") {
    return "{ addresses = [ \"" + addr + "\" ]; " + extra + " }";
}
std::string on(const std::string& node) { return "nodeName = \"" + node + "\";"; }
std::string port(const std::string& name, const std::string& proto, int number, const std::string& extra = "") {
    return "{ name = \"" + name + "\"; protocol = \"" + proto + "\"; port = " + std::to_string(number) + "; " +
           extra + " }";
}

const std::string kNotReady = "conditions = { ready = false; };";                                   // serving = ready
const std::string kServingTerminating = "conditions = { ready = false; serving = true; terminating = true; };";
const std::string kNotServingTerminating = "conditions = { ready = false; serving = false; terminating = true; };";
const std::string kNotReadyNotServing = "conditions = { ready = false; serving = false; };";

const std::string kHttp = port("http", "TCP", 80, "targetPort = 8080;");
const std::string kHttpSlice = port("http", "TCP", 8080);
const std::string kLbSrc = "annotations = [ \"service.beta.kubernetes.io/load-balancer-source-ranges=";

const std::vector<std::string> kTwo4{"198.51.100.11:8080", "198.51.100.12:8080"};
const std::vector<std::string> kTwoEps{ep("198.51.100.11"), ep("198.51.100.12")};

// A single-port service `name` with `spec` and the two IPv4 endpoints above.
Conf simple(const std::string& name, const std::string& spec, const std::string& status = "",
            const std::string& meta = "") {
    return {{svc(name, spec, kHttp, status, meta)}, {slice(name + "-1", name, kHttpSlice, kTwoEps)}};
}
// Ingress status with one VIP.
std::string ingress(const std::string& ip, const std::string& mode = "") {
    return "loadBalancer = { ingress = ( { ip = \"" + ip + "\";" + (mode.empty() ? "" : " ipMode = \"" + mode + "\";") +
           " } ); };";
}
// Endpoints for the traffic-policy rows: .11 on this node (n1), .12 and .13 elsewhere.
const std::vector<std::string> kMixedNodes{ep("198.51.100.11", on("n1")), ep("198.51.100.12", on("n2")),
                                           ep("198.51.100.13", on("n3"))};
const std::vector<std::string> kRemoteOnly{ep("198.51.100.12", on("n2")), ep("198.51.100.13", on("n3"))};
const std::vector<std::string> kAll3{"198.51.100.11:8080", "198.51.100.12:8080", "198.51.100.13:8080"};
const std::vector<std::string> kLocal1{"198.51.100.11:8080"};

// ---- the table ---------------------------------------------------------------------------

struct Row {
    std::string section; // SEMANTICS.md section (test name prefix)
    std::string name;    // what the row checks (test name suffix)
    Conf conf;
    std::string proto, src, dst;
    std::string verdict;                 // forward | reject | drop | local
    std::string reason;                  // "" = none
    std::string frontend;                // "" = no frontend matched
    std::vector<std::string> candidates; // address order
    bool snat = false;
    std::vector<std::string> never{};    // backends a new flow must never get (weight 0): 32 source ports tried
    std::string ingress{};               // "" = p0
    std::string disabled_because{};      // non-empty: svclb disagrees with SEMANTICS.md; the row is DISABLED_
};

const char* C = "198.51.100.50:1234";     // an IPv4 client on p0's subnet
const char* C6 = "[2001:db8:1::50]:1234"; // an IPv6 client on p0's subnet
const char* FAR = "203.0.113.50:1234";    // an IPv4 client behind the gateway

std::vector<Row> rows() {
    std::vector<Row> r;
    auto add = [&](Row row) { r.push_back(std::move(row)); };

    // ---- Frontends ----------------------------------------------------------------------
    const std::string F = "Frontends";
    add({F, "ClusterIP", simple("web", R"(clusterIP = "198.18.0.10";)"), "tcp", C, "198.18.0.10:80", "forward", "",
         "demo/web:http", kTwo4, true});
    {
        Conf np{{svc("np", R"(type = "NodePort"; clusterIP = "198.18.0.12";)",
                     port("http", "TCP", 80, "targetPort = 8080; nodePort = 30080;"))},
                {slice("np-1", "np", kHttpSlice, kTwoEps)}};
        add({F, "NodePortOnNodeAddress", np, "tcp", C, "198.51.100.1:30080", "forward", "", "demo/np:http", kTwo4,
             true});
        Conf filtered = np;
        filtered.cluster_extra =
            R"(nodeAddresses = [ "198.51.100.2", "198.51.100.3" ]; nodePortAddresses = [ "198.51.100.2/32" ];)";
        add({F, "NodePortOnAddressOutsideNodePortAddresses", filtered, "tcp", C, "198.51.100.3:30080", "drop",
             "no_service", "", {}, false});
        Conf two = np;
        two.two_ports = true;
        two.cluster_extra = R"(nodePortAddresses = [ "203.0.113.0/24" ];)";
        Row second{F, "NodePortOnSecondPortAddressViaIngressP1", two, "tcp", "203.0.113.50:1234", "203.0.113.1:30080",
                   "forward", "", "demo/np:http", kTwo4, true};
        second.ingress = "p1";
        add(second);
    }
    const std::string lb = R"(type = "LoadBalancer"; clusterIP = "198.18.0.14";)";
    add({F, "IngressIPClassUnsetDefault", simple("lb", lb, ingress("203.0.113.20")), "tcp", C, "203.0.113.20:80",
         "forward", "", "demo/lb:http", kTwo4, true});
    {
        Conf c = simple("lb", lb, ingress("203.0.113.20"));
        c.cluster_extra = "defaultLoadBalancer = false;";
        add({F, "IngressIPClassUnsetNotDefault", c, "tcp", C, "203.0.113.20:80", "drop", "no_service", "", {}, false});
    }
    add({F, "IngressIPOurClass", simple("lb", lb + R"( loadBalancerClass = "svclb.io/lb";)", ingress("203.0.113.20")),
         "tcp", C, "203.0.113.20:80", "forward", "", "demo/lb:http", kTwo4, true});
    {
        Conf c = simple("lb", lb + R"( loadBalancerClass = "example.com/other";)",
                        R"(loadBalancer = { ingress = ( { ip = "203.0.113.20"; } ); };)");
        c.services[0] = svc("lb", lb + R"( loadBalancerClass = "example.com/other";)",
                            port("http", "TCP", 80, "targetPort = 8080; nodePort = 30081;"), ingress("203.0.113.20"));
        add({F, "IngressIPAnotherClassIsNoFrontend", c, "tcp", C, "203.0.113.20:80", "drop", "no_service", "", {},
             false});
        add({F, "NodePortOfAnotherClassStillServed", c, "tcp", C, "198.51.100.1:30081", "forward", "", "demo/lb:http",
             kTwo4, true});
    }
    add({F, "IngressIPModeProxyIsNoFrontend", simple("lb", lb, ingress("203.0.113.20", "Proxy")), "tcp", C,
         "203.0.113.20:80", "drop", "no_service", "", {}, false});
    add({F, "ExternalIPOnClusterIP",
         simple("ext", R"(clusterIP = "198.18.0.13"; externalIPs = [ "203.0.113.10" ];)"), "tcp", C,
         "203.0.113.10:80", "forward", "", "demo/ext:http", kTwo4, true});
    add({F, "ExternalIPOnLoadBalancer",
         simple("ext", lb + R"( externalIPs = [ "203.0.113.10" ];)", ingress("203.0.113.20")), "tcp", C,
         "203.0.113.10:80", "forward", "", "demo/ext:http", kTwo4, true});
    add({F, "ExternalIPOnLoadBalancerOfAnotherClass",
         simple("ext", lb + R"( loadBalancerClass = "example.com/other"; externalIPs = [ "203.0.113.10" ];)"), "tcp",
         C, "203.0.113.10:80", "forward", "", "demo/ext:http", kTwo4, true});
    add({F, "HeadlessHasNoFrontend",
         {{svc("hl", R"(clusterIP = "None";)", kHttp)}, {slice("hl-1", "hl", kHttpSlice, kTwoEps)}}, "tcp", C,
         "198.18.0.1:80", "drop", "unallocated", "", {}, false});
    add({F, "ExternalNameExternalIPIsNoFrontend",
         {{svc("en", R"(type = "ExternalName"; externalName = "db.example.com"; externalIPs = [ "203.0.113.30" ];)",
               kHttp)},
          {}},
         "tcp", C, "203.0.113.30:80", "drop", "no_service", "", {}, false});
    add({F, "ExternalNameHasNoFrontend",
         {{svc("en", R"(type = "ExternalName"; externalName = "db.example.com";)", kHttp)}, {}}, "tcp", C,
         "198.18.0.1:80", "drop", "unallocated", "", {}, false});

    // ---- Frontends: TCP, UDP and SCTP sharing a port number -----------------------------
    const std::string P = "SharedPortNumber";
    {
        Conf c{{svc("mux", R"(type = "NodePort"; clusterIP = "198.18.0.20";)",
                    port("dns-tcp", "TCP", 53, "targetPort = 5353; nodePort = 30053;") + ", " +
                        port("dns-udp", "UDP", 53, "targetPort = 5300; nodePort = 30053;") + ", " +
                        port("dns-sctp", "SCTP", 53, "targetPort = 3868;"))},
               {slice("mux-1", "mux",
                      port("dns-tcp", "TCP", 5353) + ", " + port("dns-udp", "UDP", 5300) + ", " +
                          port("dns-sctp", "SCTP", 3868),
                      kTwoEps)}};
        add({P, "TCP", c, "tcp", C, "198.18.0.20:53", "forward", "", "demo/mux:dns-tcp",
             {"198.51.100.11:5353", "198.51.100.12:5353"}, true});
        add({P, "UDP", c, "udp", C, "198.18.0.20:53", "forward", "", "demo/mux:dns-udp",
             {"198.51.100.11:5300", "198.51.100.12:5300"}, true});
        add({P, "SCTP", c, "sctp", C, "198.18.0.20:53", "forward", "", "demo/mux:dns-sctp",
             {"198.51.100.11:3868", "198.51.100.12:3868"}, true});
        add({P, "NodePortUDP", c, "udp", C, "198.51.100.1:30053", "forward", "", "demo/mux:dns-udp",
             {"198.51.100.11:5300", "198.51.100.12:5300"}, true});
    }

    // ---- Verdicts: usable endpoints -----------------------------------------------------
    const std::string U = "UsableEndpoints";
    auto one = [&](const std::vector<std::string>& eps, const std::string& spec = "") {
        return Conf{{svc("t", R"(clusterIP = "198.18.0.15"; )" + spec, kHttp)}, {slice("t-1", "t", kHttpSlice, eps)}};
    };
    add({U, "OnlyReadyWhileOneIsReady",
         one({ep("198.51.100.11", kServingTerminating), ep("198.51.100.12"), ep("198.51.100.13", kNotReady)}), "tcp", C,
         "198.18.0.15:80", "forward", "", "demo/t:http", {"198.51.100.12:8080"}, true});
    add({U, "ServingTerminatingWhenNoneReady",
         one({ep("198.51.100.11", kServingTerminating), ep("198.51.100.12", kNotServingTerminating),
              ep("198.51.100.13", kNotReady)}),
         "tcp", C, "198.18.0.15:80", "forward", "", "demo/t:http", {"198.51.100.11:8080"}, true});
    add({U, "ServingFalseNever",
         one({ep("198.51.100.11", kNotServingTerminating), ep("198.51.100.12", kNotReadyNotServing)}), "tcp", C,
         "198.18.0.15:80", "reject", "no_endpoints", "demo/t:http", {}, false});
    add({U, "NotReadyNotTerminatingNeverEvenIfServing",
         one({ep("198.51.100.11", "conditions = { ready = false; serving = true; };")}), "tcp", C, "198.18.0.15:80",
         "reject", "no_endpoints", "demo/t:http", {}, false});
    add({U, "PublishNotReadyAddressesNotReadyCount",
         one({ep("198.51.100.11", kNotReady), ep("198.51.100.12", kNotReadyNotServing)},
             "publishNotReadyAddresses = true;"),
         "tcp", C, "198.18.0.15:80", "forward", "", "demo/t:http", kTwo4, true});
    // SEMANTICS.md: "with publishNotReadyAddresses every endpoint counts as ready" (the
    // EndpointSlice controller writes ready=true for every pod then, terminating ones
    // included, and kube-proxy uses ready endpoints whatever `terminating` says).
    add({U, "PublishNotReadyAddressesTerminatingCountsAsReady",
         one({ep("198.51.100.11"), ep("198.51.100.12", kNotServingTerminating)}, "publishNotReadyAddresses = true;"),
         "tcp", C, "198.18.0.15:80", "forward", "", "demo/t:http", kTwo4, true});
    // A ready endpoint is ready while terminating too (what the controller writes for
    // publishNotReadyAddresses services; kube-proxy's IsReady), and an unset `ready` is
    // ready: both are used beside the others, not only as the fallback.
    add({U, "ReadyAndTerminatingIsReady",
         one({ep("198.51.100.11", "conditions = { ready = true; serving = true; terminating = true; };"),
              ep("198.51.100.12")}),
         "tcp", C, "198.18.0.15:80", "forward", "", "demo/t:http", kTwo4, true});
    add({U, "UnsetReadyTerminatingIsReady",
         one({ep("198.51.100.11", "conditions = { terminating = true; };"), ep("198.51.100.12")}), "tcp", C,
         "198.18.0.15:80", "forward", "", "demo/t:http", kTwo4, true});
    // "never serving=false": not even when it says ready.
    add({U, "ReadyButNotServingNever",
         one({ep("198.51.100.11", "conditions = { ready = true; serving = false; };"), ep("198.51.100.12")}), "tcp",
         C, "198.18.0.15:80", "forward", "", "demo/t:http", {"198.51.100.12:8080"}, true});
    add({U, "EmptySliceRejectsTCP", one({}), "tcp", C, "198.18.0.15:80", "reject", "no_endpoints", "demo/t:http", {},
         false});
    {
        Conf c{{svc("u", R"(clusterIP = "198.18.0.16";)", port("dns", "UDP", 53) + ", " + port("sig", "SCTP", 9))},
               {slice("u-1", "u", port("dns", "UDP", 53) + ", " + port("sig", "SCTP", 9), {})}};
        add({U, "EmptySliceRejectsUDP", c, "udp", C, "198.18.0.16:53", "reject", "no_endpoints", "demo/u:dns", {},
             false});
    }

    // ---- Verdicts: addresses and ports nobody serves ------------------------------------
    const std::string N = "NoService";
    add({N, "UnknownPortOnClusterIP", simple("web", R"(clusterIP = "198.18.0.10";)"), "tcp", C, "198.18.0.10:81",
         "reject", "no_service", "", {}, false});
    add({N, "UnservedProtocolUDP", simple("web", R"(clusterIP = "198.18.0.10";)"), "udp", C, "198.18.0.10:80",
         "reject", "no_service", "", {}, false});
    add({N, "UnallocatedServiceCIDRAddress", simple("web", R"(clusterIP = "198.18.0.10";)"), "tcp", C,
         "198.18.0.99:80", "drop", "unallocated", "", {}, false});

    // ---- Verdicts: traffic policies -----------------------------------------------------
    const std::string T = "TrafficPolicy";
    auto pol = [&](const std::string& spec, const std::vector<std::string>& eps, const std::string& status = "") {
        const bool has_node_ports = spec.find("type =") != std::string::npos;
        return Conf{{svc("tp", spec,
                         port("http", "TCP", 80,
                              has_node_ports ? "targetPort = 8080; nodePort = 30090;" : "targetPort = 8080;"),
                         status)},
                    {slice("tp-1", "tp", kHttpSlice, eps)}};
    };
    const std::string np_ = R"(type = "NodePort"; clusterIP = "198.18.0.40"; )";
    const std::string lb_ = R"(type = "LoadBalancer"; clusterIP = "198.18.0.40"; externalIPs = [ "203.0.113.40" ]; )";
    const std::string cip = R"(clusterIP = "198.18.0.40"; )";
    add({T, "ClusterIsSnatAllEndpoints", pol(cip + R"(internalTrafficPolicy = "Cluster";)", kMixedNodes), "tcp", C,
         "198.18.0.40:80", "forward", "", "demo/tp:http", kAll3, true});
    add({T, "InternalLocalClusterIPLocalOnlyNoSnat", pol(cip + R"(internalTrafficPolicy = "Local";)", kMixedNodes),
         "tcp", C, "198.18.0.40:80", "forward", "", "demo/tp:http", kLocal1, false});
    add({T, "InternalLocalNoneLocalDrops", pol(cip + R"(internalTrafficPolicy = "Local";)", kRemoteOnly), "tcp", C,
         "198.18.0.40:80", "drop", "no_local_endpoints", "demo/tp:http", {}, false});
    add({T, "InternalLocalFallbackAmongLocal",
         pol(cip + R"(internalTrafficPolicy = "Local";)",
             {ep("198.51.100.11", on("n1") + kServingTerminating), ep("198.51.100.12", on("n2"))}),
         "tcp", C, "198.18.0.40:80", "forward", "", "demo/tp:http", kLocal1, false});
    add({T, "InternalLocalDoesNotApplyToNodePort", pol(np_ + R"(internalTrafficPolicy = "Local";)", kMixedNodes),
         "tcp", C, "198.51.100.1:30090", "forward", "", "demo/tp:http", kAll3, true});
    add({T, "ExternalLocalNodePortLocalOnlyNoSnat", pol(np_ + R"(externalTrafficPolicy = "Local";)", kMixedNodes),
         "tcp", C, "198.51.100.1:30090", "forward", "", "demo/tp:http", kLocal1, false});
    add({T, "ExternalLocalDoesNotApplyToClusterIP", pol(np_ + R"(externalTrafficPolicy = "Local";)", kMixedNodes),
         "tcp", C, "198.18.0.40:80", "forward", "", "demo/tp:http", kAll3, true});
    add({T, "ExternalLocalNodePortNoneLocalDrops", pol(np_ + R"(externalTrafficPolicy = "Local";)", kRemoteOnly),
         "tcp", C, "198.51.100.1:30090", "drop", "no_local_endpoints", "demo/tp:http", {}, false});
    add({T, "ExternalLocalIngressIP",
         pol(lb_ + R"(externalTrafficPolicy = "Local";)", kMixedNodes, ingress("203.0.113.41")), "tcp", FAR,
         "203.0.113.41:80", "forward", "", "demo/tp:http", kLocal1, false});
    add({T, "ExternalLocalExternalIP",
         pol(lb_ + R"(externalTrafficPolicy = "Local";)", kMixedNodes, ingress("203.0.113.41")), "tcp", FAR,
         "203.0.113.40:80", "forward", "", "demo/tp:http", kLocal1, false});
    add({T, "ExternalLocalExternalIPNoneLocalDrops",
         pol(lb_ + R"(externalTrafficPolicy = "Local";)", kRemoteOnly, ingress("203.0.113.41")), "tcp", FAR,
         "203.0.113.40:80", "drop", "no_local_endpoints", "demo/tp:http", {}, false});

    // ---- Verdicts: loadBalancerSourceRanges --------------------------------------------
    const std::string S = "SourceRanges";
    auto ranged = [&](const std::string& spec_extra, const std::string& meta = "") {
        const std::string spec =
            R"(type = "LoadBalancer"; clusterIP = "198.18.0.50"; externalIPs = [ "203.0.113.51" ]; )" + spec_extra;
        return Conf{{svc("sr", spec,
                         port("http", "TCP", 80, "targetPort = 8080; nodePort = 30100;"), ingress("203.0.113.50"),
                         meta)},
                    {slice("sr-1", "sr", kHttpSlice, kTwoEps)}};
    };
    const std::string only_c = R"(loadBalancerSourceRanges = [ "198.51.100.0/25" ];)";
    add({S, "ClientInsideRange", ranged(only_c), "tcp", C, "203.0.113.50:80", "forward", "", "demo/sr:http", kTwo4,
         true});
    add({S, "ClientOutsideRangeDropped", ranged(only_c), "tcp", FAR, "203.0.113.50:80", "drop", "source_range",
         "demo/sr:http", kTwo4, false});
    add({S, "NodePortIgnoresRanges", ranged(only_c), "tcp", FAR, "198.51.100.1:30100", "forward", "", "demo/sr:http",
         kTwo4, true});
    add({S, "ExternalIPIgnoresRanges", ranged(only_c), "tcp", FAR, "203.0.113.51:80", "forward", "", "demo/sr:http",
         kTwo4, true});
    add({S, "WhitespaceTrimmed", ranged(R"(loadBalancerSourceRanges = [ " 203.0.113.0/24 " ];)"), "tcp", FAR,
         "203.0.113.50:80", "forward", "", "demo/sr:http", kTwo4, true});
    add({S, "AnnotationWhenFieldEmptyOutside", ranged("", kLbSrc + R"(198.51.100.0/25, 198.18.2.0/24" ];)"), "tcp",
         FAR, "203.0.113.50:80", "drop", "source_range", "demo/sr:http", kTwo4, false});
    add({S, "FieldWinsOverAnnotation",
         ranged(R"(loadBalancerSourceRanges = [ "203.0.113.0/24" ];)", kLbSrc + R"(198.51.100.0/25" ];)"), "tcp", FAR,
         "203.0.113.50:80", "forward", "", "demo/sr:http", kTwo4, true});

    // ---- Which backend port -------------------------------------------------------------
    const std::string W = "BackendPort";
    add({W, "SlicePortNumberNotTargetPort",
         {{svc("bp", R"(clusterIP = "198.18.0.60";)", port("http", "TCP", 80, "targetPort = 9999;"))},
          {slice("bp-1", "bp", kHttpSlice, kTwoEps)}},
         "tcp", C, "198.18.0.60:80", "forward", "", "demo/bp:http", kTwo4, true});
    add({W, "NamedTargetPortResolvedBySlice",
         {{svc("bp", R"(clusterIP = "198.18.0.60";)", port("http", "TCP", 80, "targetPort = \"web\";"))},
          {slice("bp-1", "bp", kHttpSlice, kTwoEps)}},
         "tcp", C, "198.18.0.60:80", "forward", "", "demo/bp:http", kTwo4, true});
    add({W, "SamePortNameOtherProtocolNotUsed",
         {{svc("bp", R"(clusterIP = "198.18.0.60";)", kHttp)},
          {slice("bp-1", "bp", port("http", "UDP", 9090), kTwoEps),
           slice("bp-2", "bp", kHttpSlice, {ep("198.51.100.13")})}},
         "tcp", C, "198.18.0.60:80", "forward", "", "demo/bp:http", {"198.51.100.13:8080"}, true});
    add({W, "OnlyOtherProtocolPortMeansNoEndpoints",
         {{svc("bp", R"(clusterIP = "198.18.0.60";)", kHttp)},
          {slice("bp-1", "bp", port("http", "UDP", 8080), kTwoEps)}},
         "tcp", C, "198.18.0.60:80", "reject", "no_endpoints", "demo/bp:http", {}, false});
    {
        Conf mp{{svc("bp", R"(clusterIP = "198.18.0.60";)",
                     port("http", "TCP", 80, "targetPort = 8080;") + ", " +
                         port("admin", "TCP", 81, "targetPort = 9090;"))},
                {slice("bp-1", "bp", port("admin", "TCP", 9091) + ", " + kHttpSlice, kTwoEps)}};
        add({W, "MultiPortSecondByName", mp, "tcp", C, "198.18.0.60:81", "forward", "", "demo/bp:admin",
             {"198.51.100.11:9091", "198.51.100.12:9091"}, true});
    }
    add({W, "SlicePortOfAnotherNameNotUsed",
         {{svc("bp", R"(clusterIP = "198.18.0.60";)", kHttp)},
          {slice("bp-1", "bp", port("https", "TCP", 8080), kTwoEps)}},
         "tcp", C, "198.18.0.60:80", "reject", "no_endpoints", "demo/bp:http", {}, false});

    // ---- Dual-stack ---------------------------------------------------------------------
    const std::string D = "DualStack";
    {
        const std::string spec =
            R"(type = "NodePort"; clusterIP = "198.18.0.70"; clusterIPs = [ "198.18.0.70", "2001:db8:ffff::70" ];
               ipFamilies = [ "IPv4", "IPv6" ]; ipFamilyPolicy = "RequireDualStack";)";
        Conf ds{{svc("ds", spec, port("http", "TCP", 80, "targetPort = 8080; nodePort = 30070;"))},
                {slice("ds-4", "ds", kHttpSlice, kTwoEps),
                 slice("ds-6", "ds", kHttpSlice, {ep("2001:db8:1::11"), ep("2001:db8:1::12")}, "IPv6")}};
        const std::vector<std::string> two6{"[2001:db8:1::11]:8080", "[2001:db8:1::12]:8080"};
        add({D, "IPv4ClientIPv4Endpoints", ds, "tcp", C, "198.18.0.70:80", "forward", "", "demo/ds:http", kTwo4, true});
        add({D, "IPv6ClientIPv6Endpoints", ds, "tcp", C6, "[2001:db8:ffff::70]:80", "forward", "", "demo/ds:http", two6,
             true});
        add({D, "IPv6NodePortTCP", ds, "tcp", C6, "[2001:db8:1::1]:30070", "forward", "", "demo/ds:http", two6, true});
        Conf v4only = ds;
        v4only.slices.pop_back();
        add({D, "IPv6ClientNoIPv6EndpointsRejects", v4only, "tcp", C6, "[2001:db8:ffff::70]:80", "reject",
             "no_endpoints", "demo/ds:http", {}, false});
    }

    // ---- Weights (svclb's extension) ----------------------------------------------------
    const std::string G = "Weights";
    // Candidates list every routable usable endpoint, weight 0 included; a new flow never
    // gets a weight-0 one (checked over 32 source ports).
    add({G, "WeightZeroGetsNoNewFlows",
         one({ep("198.51.100.11", "weight = 0;"), ep("198.51.100.12"), ep("198.51.100.13", "weight = 0;")}), "tcp", C,
         "198.18.0.15:80", "forward", "", "demo/t:http", kAll3, true, {"198.51.100.11:8080", "198.51.100.13:8080"}});
    add({G, "WeightZeroBesideWeightThree",
         one({ep("198.51.100.11", "weight = 0;"), ep("198.51.100.12", "weight = 3;")}), "tcp", C, "198.18.0.15:80",
         "forward", "", "demo/t:http", {"198.51.100.11:8080", "198.51.100.12:8080"}, true, {"198.51.100.11:8080"}});

    // With every weight 0 no backend can take a new flow: no usable endpoints, refused.
    add({G, "AllWeightsZeroRejects", one({ep("198.51.100.11", "weight = 0;"), ep("198.51.100.12", "weight = 0;")}),
         "tcp", C, "198.18.0.15:80", "reject", "no_endpoints", "demo/t:http", kTwo4, false});

    // ---- EndpointSlice merging ----------------------------------------------------------
    const std::string M = "SeveralSlices";
    add({M, "Merged",
         {{svc("ms", R"(clusterIP = "198.18.0.80";)", kHttp)},
          {slice("ms-1", "ms", kHttpSlice, {ep("198.51.100.11")}),
           slice("ms-2", "ms", kHttpSlice, {ep("198.51.100.12")}),
           slice("ms-3", "ms", kHttpSlice, {ep("198.51.100.13")})}},
         "tcp", C, "198.18.0.80:80", "forward", "", "demo/ms:http", kAll3, true});
    add({M, "DuplicateEndpointCollapses",
         {{svc("ms", R"(clusterIP = "198.18.0.80";)", kHttp)},
          {slice("ms-1", "ms", kHttpSlice, kTwoEps), slice("ms-2", "ms", kHttpSlice, {ep("198.51.100.12")})}},
         "tcp", C, "198.18.0.80:80", "forward", "", "demo/ms:http", kTwo4, true});
    add({M, "ReadyInOneSliceBeatsTerminatingInAnother",
         {{svc("ms", R"(clusterIP = "198.18.0.80";)", kHttp)},
          {slice("ms-1", "ms", kHttpSlice, {ep("198.51.100.11", kServingTerminating)}),
           slice("ms-2", "ms", kHttpSlice, {ep("198.51.100.12")})}},
         "tcp", C, "198.18.0.80:80", "forward", "", "demo/ms:http", {"198.51.100.12:8080"}, true});

    // ---- ICMP echo: svclb answers for what it owns --------------------------------------
    const std::string I = "IcmpEcho";
    {
        Conf c = simple("lb", R"(type = "LoadBalancer"; clusterIP = "198.18.0.90"; externalIPs = [ "203.0.113.91" ];)",
                        ingress("203.0.113.90"));
        add({I, "ClusterIP", c, "icmp", "198.51.100.50", "198.18.0.90", "local", "", "", {}, false});
        add({I, "IngressIP", c, "icmp", "203.0.113.50", "203.0.113.90", "local", "", "", {}, false});
        add({I, "NodeAddress", c, "icmp", "198.51.100.50", "198.51.100.1", "local", "", "", {}, false});
        add({I, "IPv6ClusterIP",
             {{svc("v6", R"(clusterIP = "2001:db8:ffff::90"; ipFamilies = [ "IPv6" ];)", kHttp)}, {}}, "icmp",
             "2001:db8:1::50", "2001:db8:ffff::90", "local", "", "", {}, false});
    }

    // ---- What svclb adds: the exception path to the kernel ------------------------------
    const std::string X = "ExceptionPath";
    {
        // SEMANTICS.md: traffic to the appliance's own addresses that the dataplane does not
        // serve itself (healthCheckNodePort HTTP, BGP, management) takes the exception path
        // to the kernel: the worker punts it (a trace reports verdict "local", reason
        // "exception_path": the appliance answers, through its kernel). Without an
        // exception path configured such a SYN is refused like any unserved port of a VIP.
        const std::string hc = R"(type = "LoadBalancer"; clusterIP = "198.18.0.40"; externalTrafficPolicy = "Local";
                                  healthCheckNodePort = 32000;)";
        Conf with = pol(hc, kMixedNodes, ingress("203.0.113.41"));
        with.appliance_extra = R"(exceptionPath = { interface = "svclb0"; };)";
        add({X, "HealthCheckNodePortGoesToKernel", with, "tcp", C, "198.51.100.1:32000", "local",
             "exception_path", "", {}, false});
        add({X, "HealthCheckNodePortOverIPv6GoesToKernel", with, "tcp", C6, "[2001:db8:1::1]:32000", "local",
             "exception_path", "", {}, false});
        add({X, "UnservedUdpPortOfTheNodeGoesToKernel", with, "udp", C, "198.51.100.1:179", "local",
             "exception_path", "", {}, false});
        // Only the appliance's own addresses: a clusterIP's unknown port is still refused, an
        // ingress IP's too, and the service's own frontends still forward.
        add({X, "ClusterIPUnknownPortStillRejected", with, "tcp", C, "198.18.0.40:32000", "reject", "no_service", "",
             {}, false});
        add({X, "IngressIPUnknownPortStillRejected", with, "tcp", C, "203.0.113.41:32000", "reject", "no_service", "",
             {}, false});
        add({X, "NoExceptionPathRefuses", pol(hc, kMixedNodes, ingress("203.0.113.41")), "tcp", C,
             "198.51.100.1:32000", "reject", "no_service", "", {}, false});
    }
    return r;
}

std::string sanitize(const std::string& s) {
    std::string o;
    for (char ch : s) o += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    return o;
}

Config load(const std::string& text) {
    Errors errs;
    auto cfg = load_config_string(text, "semantics.conf", errs);
    if (!cfg || !errs.empty())
        throw std::runtime_error("load: " + (errs.empty() ? std::string("?") : errs[0].str()) + "\n" + text);
    errs = trace_prepare(*cfg, {});
    if (!errs.empty()) throw std::runtime_error("validate: " + errs[0].str() + "\n" + text);
    return *cfg;
}

// "a.b.c.d:p" / "[v6]:p" with its port replaced.
std::string with_port(const std::string& hostport, int p) {
    return hostport.substr(0, hostport.rfind(':')) + ":" + std::to_string(p);
}

std::string strip_local(const std::string& f) {
    const std::string suffix = " (Local)";
    return f.ends_with(suffix) ? f.substr(0, f.size() - suffix.size()) : f;
}

void PrintTo(const Row& r, std::ostream* os) { *os << r.section << ": " << r.name; }

class Semantics : public ::testing::TestWithParam<Row> {};

TEST_P(Semantics, Packet) {
    const Row& row = GetParam();
    const Config cfg = load(row.conf.text());
    const TraceResult r = trace_packet(cfg, {row.proto, row.src, row.dst, row.ingress});
    SCOPED_TRACE(r.json());
    EXPECT_EQ(r.verdict, row.verdict);
    EXPECT_EQ(r.reason, row.reason);
    // A table whose policy is Local while the other one is Cluster is reported as
    // "ns/name:port (Local)" (cp/compile.cpp names it so; cp/trace.cpp only strips " (IPv6)"),
    // where docs/trace.md promises "namespace/name:port": compared without the suffix here,
    // checked by TraceReport.LocalFrontendNameHasNoSuffix below.
    EXPECT_EQ(strip_local(r.frontend), row.frontend);
    EXPECT_EQ(r.candidates, row.candidates);
    EXPECT_EQ(r.snat, row.snat);
    if (row.verdict == "forward") {
        EXPECT_NE(std::find(row.candidates.begin(), row.candidates.end(), r.backend), row.candidates.end());
        EXPECT_EQ(r.out_dst, r.backend);
        // Local policies keep the client address; Cluster translates the source.
        if (row.snat) {
            EXPECT_NE(r.out_src, row.src);
        } else {
            EXPECT_EQ(r.out_src, row.src);
        }
    } else {
        EXPECT_TRUE(r.backend.empty());
    }
    if (row.verdict == "drop") {
        EXPECT_TRUE(r.out_src.empty() && r.out_dst.empty()) << "a drop sends nothing";
    }
    if (row.verdict == "reject" || (row.verdict == "local" && row.reason.empty())) {
        EXPECT_FALSE(r.out_dst.empty()) << "svclb answers the client";
    }
    if (row.reason == "exception_path") {
        EXPECT_TRUE(r.out_src.empty() && r.out_dst.empty()) << "the kernel answers, not the dataplane";
    }
    if (!row.never.empty()) {
        for (int p = 40000; p < 40032; p++) {
            const TraceResult q = trace_packet(cfg, {row.proto, with_port(row.src, p), row.dst, row.ingress});
            EXPECT_EQ(q.verdict, "forward") << q.json();
            EXPECT_EQ(std::find(row.never.begin(), row.never.end(), q.backend), row.never.end())
                << "source port " << p << " got a weight-0 backend: " << q.json();
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Table, Semantics, ::testing::ValuesIn(rows()), [](const auto& info) {
    const Row& row = info.param;
    return (row.disabled_because.empty() ? "" : "DISABLED_") + sanitize(row.section) + "_" + sanitize(row.name);
});

// The table covers every section it claims to, and names are unique (gtest would refuse
// duplicates at start-up anyway).
TEST(SemanticsTable, CoversEverySection) {
    const auto all = rows();
    EXPECT_GE(all.size(), 50u);
    EXPECT_LE(all.size(), 90u);
    for (const char* s : {"Frontends", "SharedPortNumber", "UsableEndpoints", "NoService", "TrafficPolicy",
                          "SourceRanges", "BackendPort", "DualStack", "Weights", "SeveralSlices", "IcmpEcho",
                          "ExceptionPath"})
        EXPECT_TRUE(std::any_of(all.begin(), all.end(), [&](const Row& r) { return r.section == s; })) << s;
}

// docs/trace.md: `frontend` is "namespace/name:port". With externalTrafficPolicy Local and
// internalTrafficPolicy Cluster, svclb reports "demo/tp:http (Local)" for the NodePort.
TEST(TraceReport, LocalFrontendNameHasNoSuffix) {
    const std::string spec = R"(type = "NodePort"; clusterIP = "198.18.0.40"; externalTrafficPolicy = "Local";)";
    const Conf conf{{svc("tp", spec, port("http", "TCP", 80, "targetPort = 8080; nodePort = 30090;"))},
                    {slice("tp-1", "tp", kHttpSlice, kMixedNodes)}};
    const Config cfg = load(conf.text());
    const TraceResult r = trace_packet(cfg, {"tcp", C, "198.51.100.1:30090", ""});
    EXPECT_EQ(r.frontend, "demo/tp:http") << r.json();
}

}  // namespace
}  // namespace svclb::cp

SVCLB_EAL_TEST_MAIN()
