// SPDX-License-Identifier: Apache-2.0
// The Kubernetes-shaped model the control plane works on. Loaders (libconfig today,
// YAML/JSON manifests later) fill it; the validator checks it with the API server's
// wording; the compiler turns a validated model into a dataplane Snapshot. Values stay
// close to the API (strings for addresses) so that errors can quote what the user wrote.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svclb::cp {

// Where an object or field came from, for error messages ("demo.conf:42").
struct SourceLoc {
    std::string file;
    int line = 0;
};

// One validation or load error: "<file>:<line>: <object>: <path>: <message>".
struct ConfigError {
    SourceLoc loc;
    std::string object;  // e.g. "services[0] (default/web)"; may be empty
    std::string path;    // Kubernetes-style field path, e.g. "spec.ports[0].nodePort"
    std::string message; // e.g. "Invalid value: 40000: provided port is not in the valid range..."
    std::string str() const;
};
using Errors = std::vector<ConfigError>;

// Go's %q for the characters a config file can hold: the quoting of values in the API
// server's messages ("Invalid value: \"Web\": ...").
std::string go_quote(std::string_view s);
// `s` as a JSON string, quotes included (", \ and control characters escaped).
std::string json_quote(std::string_view s);

// ---- Kubernetes objects --------------------------------------------------------------

struct IntOrString {
    bool is_name = false;
    int32_t num = 0;
    std::string name;
    bool set = false;
};

struct ServicePort {
    std::string name;
    std::string protocol = "TCP"; // TCP | UDP | SCTP
    int32_t port = 0;
    IntOrString targetPort;       // unset -> same as port
    int32_t nodePort = 0;         // 0 = unset (allocated for NodePort/LoadBalancer)
    std::string appProtocol;
    SourceLoc loc;
};

struct LoadBalancerIngress {
    std::string ip;
    std::string hostname;
    std::string ipMode; // "" | VIP | Proxy
};

struct Service {
    std::string name;
    std::string ns = "default";
    std::map<std::string, std::string> labels, annotations;
    std::string type = "ClusterIP"; // ClusterIP | NodePort | LoadBalancer | ExternalName
    bool has_selector = false;
    std::map<std::string, std::string> selector;
    std::string clusterIP;                // "" = allocate, "None" = headless
    std::vector<std::string> clusterIPs;
    std::vector<std::string> ipFamilies;
    std::string ipFamilyPolicy;
    std::vector<ServicePort> ports;
    std::vector<std::string> externalIPs;
    std::string sessionAffinity = "None"; // None | ClientIP
    std::optional<int32_t> affinityTimeoutSeconds; // sessionAffinityConfig.clientIP.timeoutSeconds
    std::string externalTrafficPolicy; // "" -> Cluster
    std::string internalTrafficPolicy; // "" -> Cluster
    int32_t healthCheckNodePort = 0;
    std::vector<std::string> loadBalancerSourceRanges;
    std::optional<bool> allocateLoadBalancerNodePorts;
    std::string loadBalancerClass;
    std::string externalName;
    std::string trafficDistribution;
    bool publishNotReadyAddresses = false;
    std::vector<LoadBalancerIngress> ingress; // status.loadBalancer.ingress
    SourceLoc loc;
    std::string key() const { return ns + "/" + name; }
};

struct EndpointConditions {
    std::optional<bool> ready, serving, terminating;
};

struct Endpoint {
    std::vector<std::string> addresses;
    EndpointConditions conditions;
    std::string nodeName;
    std::string zone;
    std::string hostname;
    uint32_t weight = 1; // svclb extension; 0 = drain (existing flows only)
    SourceLoc loc;
};

struct EndpointPort {
    std::string name;
    std::string protocol = "TCP";
    std::optional<int32_t> port;
    std::string appProtocol;
};

struct EndpointSlice {
    std::string name;
    std::string ns = "default";
    std::string service; // kubernetes.io/service-name
    std::map<std::string, std::string> labels;
    std::string addressType = "IPv4"; // IPv4 | IPv6 | FQDN
    std::vector<EndpointPort> ports;
    std::vector<Endpoint> endpoints;
    SourceLoc loc;
    // Made from a core/v1 Endpoints object of this name (manifests; cp/manifest_loader.h).
    std::string mirrored_from;
};

// ---- The appliance ---------------------------------------------------------------------

struct PortConfig {
    std::string name;                   // e.g. "p0"
    std::string device;                 // PMD devargs, e.g. "net_af_xdp0,iface=sv0"
    std::vector<std::string> addresses; // "198.51.100.1/24"
    std::string mac;                    // optional override; "" = the PMD's
    uint32_t mtu = 1500;
    uint16_t vlan = 0;                  // 802.1Q VLAN id of the port's traffic; 0 = untagged
    SourceLoc loc;
};

struct StaticNeighbour {
    std::string ip;
    std::string mac;
    std::string port; // port name; "" = by connected subnet
    SourceLoc loc;
};

struct Timeouts { // seconds
    uint32_t tcpSyn = 30;
    uint32_t tcpEstablished = 900;
    uint32_t tcpFin = 60;
    uint32_t tcpTimeWait = 30;
    uint32_t tcpClose = 10;
    uint32_t udp = 120;
    uint32_t icmp = 30;
    uint32_t sctp = 900;
};

struct Appliance {
    std::vector<PortConfig> ports;
    std::string gateway;  // IPv4 default next hop ("" = none)
    std::string gateway6; // IPv6 default next hop ("" = none)
    std::vector<StaticNeighbour> neighbours;
    uint32_t mainLcore = 0;
    std::vector<uint32_t> workerLcores{1};
    uint32_t flowTableSize = 65536;     // flows per worker
    std::vector<std::string> snatAddresses; // "" entries not allowed; empty = port addresses
    uint32_t idleBackoffUs = 100;       // 0 = busy-poll forever (benchmarks)
    uint32_t rejectRateLimit = 1000;    // generated RST/ICMP per second per worker
    uint32_t neighbourTimeout = 300;    // seconds a learnt entry lives without refresh
    bool hugepages = false;
    uint32_t memoryMB = 512;
    std::vector<std::string> ealArgs;   // appended verbatim
    std::string socket = "/run/svclb/svclb.sock";
    Timeouts timeouts;
    // The exception path (SEMANTICS.md "What svclb adds"): a TAP interface of this name
    // ("" = none) to which the workers punt traffic for the appliance's own addresses that
    // no frontend serves (healthCheckNodePort, BGP, management); the kernel answers
    // through it, routed by policy rules "from <address> lookup exceptionTable".
    std::string exceptionInterface;
    uint32_t exceptionTable = 4242;
    uint32_t exceptionRateLimit = 10000; // packets a second per worker into the exception path
    SourceLoc loc;
};

struct Cluster {
    std::vector<std::string> serviceCIDRs{"10.96.0.0/12"};
    int32_t nodePortMin = 30000, nodePortMax = 32767;
    std::vector<std::string> nodeNames;        // this appliance's node names (Local policy)
    std::vector<std::string> nodeAddresses;    // NodePort addresses; empty = port addresses
    std::vector<std::string> nodePortAddresses; // CIDR filter on nodeAddresses
    std::string loadBalancerClass = "svclb.io/lb";
    bool defaultLoadBalancer = true; // also serve LoadBalancers without a class
    SourceLoc loc;
};

struct Config {
    std::string file;
    Appliance appliance;
    Cluster cluster;
    std::vector<Service> services;
    std::vector<EndpointSlice> slices;
    std::vector<std::string> notices; // things read and ignored, e.g. a Pod in a manifest
};

}  // namespace svclb::cp
