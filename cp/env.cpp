// SPDX-License-Identifier: Apache-2.0
// Mirrors pkg/kubelet/envvars/envvars.go (FromServices, makeLinkVariables).
#include "cp/env.h"

#include <algorithm>
#include <cctype>

namespace svclb::cp {

std::string env_variable_name(const std::string& s) {
    std::string out = s;
    for (char& c : out) c = c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
std::string upper(std::string s) {
    for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
// Go's net.JoinHostPort: brackets around a host that contains a colon.
std::string join_host_port(const std::string& host, int32_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> service_env(const Config& cfg, const std::string& ns) {
    std::vector<const Service*> svcs;
    // The kubelet's getServiceEnvVarMap: the namespace's services, and the master service
    // default/kubernetes in every namespace unless the namespace has its own "kubernetes".
    const Service* master = nullptr;
    bool own_kubernetes = false;
    for (const auto& s : cfg.services) {
        if (s.ns == ns) {
            svcs.push_back(&s);
            // Only one with a clusterIP counts (the kubelet skips the others first).
            own_kubernetes |= s.name == "kubernetes" && s.type != "ExternalName" && s.clusterIP != "None" &&
                              !s.clusterIP.empty();
        } else if (s.ns == "default" && s.name == "kubernetes") {
            master = &s;
        }
    }
    if (master && !own_kubernetes) svcs.push_back(master);
    std::stable_sort(svcs.begin(), svcs.end(), [](const Service* a, const Service* b) { return a->name < b->name; });
    std::vector<std::pair<std::string, std::string>> out;
    for (const Service* svc : svcs) {
        if (svc->type == "ExternalName") continue;
        std::string ip = svc->clusterIP;
        if (ip.empty() && !svc->clusterIPs.empty()) ip = svc->clusterIPs[0];
        if (ip.empty() || ip == "None" || svc->ports.empty()) continue; // IsServiceIPSet
        const std::string prefix = env_variable_name(svc->name);
        out.emplace_back(prefix + "_SERVICE_HOST", ip);
        const std::string port_var = prefix + "_SERVICE_PORT";
        out.emplace_back(port_var, std::to_string(svc->ports[0].port));
        for (const auto& sp : svc->ports)
            if (!sp.name.empty()) out.emplace_back(port_var + "_" + env_variable_name(sp.name), std::to_string(sp.port));
        for (size_t i = 0; i < svc->ports.size(); i++) {
            const ServicePort& sp = svc->ports[i];
            const std::string proto = sp.protocol.empty() ? "TCP" : sp.protocol;
            const std::string url = lower(proto) + "://" + join_host_port(ip, sp.port);
            if (i == 0) out.emplace_back(prefix + "_PORT", url);
            const std::string pp = prefix + "_PORT_" + std::to_string(sp.port) + "_" + upper(proto);
            out.emplace_back(pp, url);
            out.emplace_back(pp + "_PROTO", lower(proto));
            out.emplace_back(pp + "_PORT", std::to_string(sp.port));
            out.emplace_back(pp + "_ADDR", ip);
        }
    }
    return out;
}

}  // namespace svclb::cp
