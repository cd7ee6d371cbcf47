// SPDX-License-Identifier: Apache-2.0
// libconfig -> model. The schema lives in docs/config.md; every key read here must be listed
// there, and every group's allowed keys are listed once, next to the code that reads them.
#include "cp/config_loader.h"

#include "cp/manifest_loader.h"

#include <libconfig.h++>

#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>

namespace svclb::cp {
namespace {

using libconfig::Setting;

std::string quote(const std::string& s) { return go_quote(s); }

bool is_int(const Setting& s) {
    return s.getType() == Setting::TypeInt || s.getType() == Setting::TypeInt64;
}
// libconfig converts between int and int64 only with auto-conversion on; do it here.
long long int_value(const Setting& s) {
    if (s.getType() == Setting::TypeInt) return static_cast<int>(s);
    return static_cast<long long>(s);
}

// How a setting's value is quoted in "Invalid value: <v>".
std::string render(const Setting& s) {
    switch (s.getType()) {
    case Setting::TypeString:
        return quote(s.c_str());
    case Setting::TypeInt:
    case Setting::TypeInt64:
        return std::to_string(int_value(s));
    case Setting::TypeFloat: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(s));
        return buf;
    }
    case Setting::TypeBoolean:
        return static_cast<bool>(s) ? "true" : "false";
    case Setting::TypeGroup:
        return "{...}";
    case Setting::TypeArray:
        return "[...]";
    case Setting::TypeList:
        return "(...)";
    default:
        return "null";
    }
}

std::string join(const std::string& path, const char* key) {
    return path.empty() ? std::string(key) : path + "." + key;
}
std::string index(const std::string& path, int i) { return path + "[" + std::to_string(i) + "]"; }


class Reader {
public:
    Reader(std::string name, Errors& errs) : name_(std::move(name)), errs_(errs) {}

    // libconfig names an @include'd file as written in the directive, relative to the
    // include directory; report it relative to where the main file was named from.
    SourceLoc loc(const Setting& s) const {
        const char* f = s.getSourceFile();
        if (!f || name_ == f) return SourceLoc{name_, int(s.getSourceLine())};
        std::string file = f;
        if (!include_dir_.empty() && file[0] != '/') file = include_dir_ + "/" + file;
        return SourceLoc{file, int(s.getSourceLine())};
    }
    void set_include_dir(std::string dir) { include_dir_ = std::move(dir); }
    const std::string& name() const { return name_; }
    void set_object(std::string o) { object_ = std::move(o); }

    void error(const Setting& s, const std::string& path, std::string msg) {
        errs_.push_back(ConfigError{loc(s), object_, path, std::move(msg)});
    }
    void append(ConfigError e) { errs_.push_back(std::move(e)); }
    void invalid(const Setting& s, const std::string& path, const std::string& detail) {
        error(s, path, "Invalid value: " + render(s) + ": " + detail);
    }

    // Reports every child of group `g` whose name is not in `keys`.
    void check_keys(const Setting& g, const std::string& path,
                    std::initializer_list<const char*> keys) {
        for (int i = 0; i < g.getLength(); i++) {
            const Setting& c = g[i];
            const char* n = c.getName();
            if (!n) continue;
            bool ok = false;
            for (const char* k : keys) ok = ok || std::strcmp(k, n) == 0;
            if (!ok) error(c, join(path, n), "unknown field " + quote(n));
        }
    }

    // The child `key` of group `g` when it has the expected type; reports a type error and
    // returns nullptr otherwise (and when absent, silently).
    const Setting* group(const Setting& g, const char* key, const std::string& path) {
        if (!g.exists(key)) return nullptr;
        const Setting& c = g[key];
        if (!c.isGroup()) {
            invalid(c, join(path, key), "must be a group ({ ... })");
            return nullptr;
        }
        return &c;
    }
    const Setting* list(const Setting& g, const char* key, const std::string& path) {
        if (!g.exists(key)) return nullptr;
        const Setting& c = g[key];
        if (!c.isList() && !(c.isArray() && c.getLength() == 0)) {
            invalid(c, join(path, key), "must be a list (( ... ))");
            return nullptr;
        }
        return &c;
    }
    // A list element that must be a group.
    bool element_group(const Setting& e, const std::string& path) {
        if (e.isGroup()) return true;
        invalid(e, path, "must be a group ({ ... })");
        return false;
    }

    void str(const Setting& g, const char* key, const std::string& path, std::string& out) {
        if (!g.exists(key)) return;
        const Setting& c = g[key];
        if (c.getType() != Setting::TypeString) {
            invalid(c, join(path, key), "must be a string");
            return;
        }
        out = c.c_str();
    }

    bool boolean(const Setting& g, const char* key, const std::string& path, bool& out) {
        if (!g.exists(key)) return false;
        const Setting& c = g[key];
        if (c.getType() != Setting::TypeBoolean) {
            invalid(c, join(path, key), "must be a boolean (true or false)");
            return false;
        }
        out = static_cast<bool>(c);
        return true;
    }
    void opt_bool(const Setting& g, const char* key, const std::string& path,
                  std::optional<bool>& out) {
        bool v = false;
        if (boolean(g, key, path, v)) out = v;
    }

    // Integer in [lo, hi]; the model's field type bounds it, the validator checks meaning.
    bool integer(const Setting& s, const std::string& path, long long lo, long long hi,
                 long long& out) {
        if (!is_int(s)) {
            invalid(s, path, "must be an integer");
            return false;
        }
        long long v = int_value(s);
        if (v < lo || v > hi) {
            invalid(s, path,
                    "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                        ", inclusive");
            return false;
        }
        out = v;
        return true;
    }
    bool i32(const Setting& g, const char* key, const std::string& path, int32_t& out) {
        if (!g.exists(key)) return false;
        long long v = 0;
        if (!integer(g[key], join(path, key), std::numeric_limits<int32_t>::min(),
                     std::numeric_limits<int32_t>::max(), v))
            return false;
        out = int32_t(v);
        return true;
    }
    void opt_i32(const Setting& g, const char* key, const std::string& path,
                 std::optional<int32_t>& out) {
        int32_t v = 0;
        if (i32(g, key, path, v)) out = v;
    }
    void u32(const Setting& g, const char* key, const std::string& path, uint32_t& out) {
        if (!g.exists(key)) return;
        long long v = 0;
        if (integer(g[key], join(path, key), 0, std::numeric_limits<uint32_t>::max(), v))
            out = uint32_t(v);
    }

    // An array [ "a", "b" ] or a list ( "a", "b" ) of strings.
    bool strings(const Setting& g, const char* key, const std::string& path,
                 std::vector<std::string>& out) {
        if (!g.exists(key)) return false;
        const Setting& c = g[key];
        const std::string p = join(path, key);
        if (!c.isArray() && !c.isList()) {
            invalid(c, p, "must be an array of strings ([ \"...\", ... ])");
            return false;
        }
        out.clear();
        for (int i = 0; i < c.getLength(); i++) {
            const Setting& e = c[i];
            if (e.getType() != Setting::TypeString) {
                invalid(e, index(p, i), "must be a string");
                continue;
            }
            out.emplace_back(e.c_str());
        }
        return true;
    }

    void u32s(const Setting& g, const char* key, const std::string& path,
              std::vector<uint32_t>& out) {
        if (!g.exists(key)) return;
        const Setting& c = g[key];
        const std::string p = join(path, key);
        if (!c.isArray() && !c.isList()) {
            invalid(c, p, "must be an array of integers ([ 1, 2, ... ])");
            return;
        }
        out.clear();
        for (int i = 0; i < c.getLength(); i++) {
            long long v = 0;
            if (integer(c[i], index(p, i), 0, std::numeric_limits<uint32_t>::max(), v))
                out.push_back(uint32_t(v));
        }
    }

    // A string map (labels, annotations, selector). Two spellings, because libconfig
    // setting names cannot hold '/' or '.':
    //   { app = "web"; tier = "front"; }                    (simple keys)
    //   [ "app.kubernetes.io/name=web", "tier=front" ]      (any key; split at the first '=')
    bool string_map(const Setting& g, const char* key, const std::string& path,
                    std::map<std::string, std::string>& out) {
        if (!g.exists(key)) return false;
        const Setting& c = g[key];
        const std::string p = join(path, key);
        out.clear();
        if (c.isGroup()) {
            for (int i = 0; i < c.getLength(); i++) {
                const Setting& e = c[i];
                if (e.getType() != Setting::TypeString) {
                    invalid(e, join(p, e.getName()), "must be a string");
                    continue;
                }
                out[e.getName()] = e.c_str();
            }
            return true;
        }
        if (c.isArray() || c.isList()) {
            for (int i = 0; i < c.getLength(); i++) {
                const Setting& e = c[i];
                if (e.getType() != Setting::TypeString) {
                    invalid(e, index(p, i), "must be a string");
                    continue;
                }
                std::string kv = e.c_str();
                auto eq = kv.find('=');
                if (eq == std::string::npos) {
                    invalid(e, index(p, i), "must be \"key=value\"");
                    continue;
                }
                auto k = kv.substr(0, eq);
                if (out.count(k)) {
                    error(e, index(p, i), "Duplicate value: " + quote(k));
                    continue;
                }
                out[k] = kv.substr(eq + 1);
            }
            return true;
        }
        invalid(c, p, "must be a group ({ key = \"value\"; }) or an array of \"key=value\" strings");
        return false;
    }

private:
    std::string name_;
    Errors& errs_;
    std::string object_;
    std::string include_dir_;
};

// ---- appliance -------------------------------------------------------------------------

void read_port(Reader& r, const Setting& s, const std::string& p, PortConfig& port) {
    port.loc = r.loc(s);
    r.check_keys(s, p, {"name", "device", "addresses", "mac", "mtu", "vlan"});
    r.str(s, "name", p, port.name);
    r.str(s, "device", p, port.device);
    r.strings(s, "addresses", p, port.addresses);
    r.str(s, "mac", p, port.mac);
    r.u32(s, "mtu", p, port.mtu);
    uint32_t vlan = 0;
    r.u32(s, "vlan", p, vlan);
    port.vlan = uint16_t(vlan > 0xffff ? 0xffff : vlan);
}

void read_appliance(Reader& r, const Setting& s, Appliance& a) {
    const std::string p = "appliance";
    a.loc = r.loc(s);
    r.check_keys(s, p,
                 {"ports", "gateway", "gateway6", "neighbours", "lcores", "flowTableSize",
                  "snatAddresses", "idleBackoffUs", "rejectRateLimit", "neighbourTimeout",
                  "hugepages", "memoryMB", "eal", "socket", "timeouts", "exceptionPath"});
    if (const Setting* ports = r.list(s, "ports", p)) {
        for (int i = 0; i < ports->getLength(); i++) {
            const Setting& e = (*ports)[i];
            const std::string ep = index(p + ".ports", i);
            if (!r.element_group(e, ep)) continue;
            read_port(r, e, ep, a.ports.emplace_back());
        }
    }
    r.str(s, "gateway", p, a.gateway);
    r.str(s, "gateway6", p, a.gateway6);
    if (const Setting* ns = r.list(s, "neighbours", p)) {
        for (int i = 0; i < ns->getLength(); i++) {
            const Setting& e = (*ns)[i];
            const std::string ep = index(p + ".neighbours", i);
            if (!r.element_group(e, ep)) continue;
            StaticNeighbour& n = a.neighbours.emplace_back();
            n.loc = r.loc(e);
            r.check_keys(e, ep, {"ip", "mac", "port"});
            r.str(e, "ip", ep, n.ip);
            r.str(e, "mac", ep, n.mac);
            r.str(e, "port", ep, n.port);
        }
    }
    if (const Setting* lc = r.group(s, "lcores", p)) {
        const std::string lp = p + ".lcores";
        r.check_keys(*lc, lp, {"main", "workers"});
        r.u32(*lc, "main", lp, a.mainLcore);
        r.u32s(*lc, "workers", lp, a.workerLcores);
    }
    r.u32(s, "flowTableSize", p, a.flowTableSize);
    r.strings(s, "snatAddresses", p, a.snatAddresses);
    r.u32(s, "idleBackoffUs", p, a.idleBackoffUs);
    r.u32(s, "rejectRateLimit", p, a.rejectRateLimit);
    r.u32(s, "neighbourTimeout", p, a.neighbourTimeout);
    r.boolean(s, "hugepages", p, a.hugepages);
    r.u32(s, "memoryMB", p, a.memoryMB);
    r.strings(s, "eal", p, a.ealArgs);
    r.str(s, "socket", p, a.socket);
    if (const Setting* e = r.group(s, "exceptionPath", p)) {
        const std::string ep = p + ".exceptionPath";
        r.check_keys(*e, ep, {"interface", "table", "rateLimit"});
        r.str(*e, "interface", ep, a.exceptionInterface);
        if (a.exceptionInterface.empty()) r.error(*e, ep + ".interface", "Required value");
        r.u32(*e, "table", ep, a.exceptionTable);
        r.u32(*e, "rateLimit", ep, a.exceptionRateLimit);
    }
    if (const Setting* t = r.group(s, "timeouts", p)) {
        const std::string tp = p + ".timeouts";
        r.check_keys(*t, tp,
                     {"tcpSyn", "tcpEstablished", "tcpFin", "tcpTimeWait", "tcpClose", "udp",
                      "icmp", "sctp"});
        Timeouts& to = a.timeouts;
        r.u32(*t, "tcpSyn", tp, to.tcpSyn);
        r.u32(*t, "tcpEstablished", tp, to.tcpEstablished);
        r.u32(*t, "tcpFin", tp, to.tcpFin);
        r.u32(*t, "tcpTimeWait", tp, to.tcpTimeWait);
        r.u32(*t, "tcpClose", tp, to.tcpClose);
        r.u32(*t, "udp", tp, to.udp);
        r.u32(*t, "icmp", tp, to.icmp);
        r.u32(*t, "sctp", tp, to.sctp);
    }
}

// ---- cluster ---------------------------------------------------------------------------

// "A-B" with decimal A and B; the validator checks 1 <= A <= B <= 65535.
bool parse_port_range(const std::string& s, int32_t& lo, int32_t& hi) {
    auto dash = s.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 >= s.size()) return false;
    auto num = [](const char* b, const char* e, int32_t& out) {
        if (e - b > 9) return false;
        auto [ptr, ec] = std::from_chars(b, e, out);
        return ec == std::errc() && ptr == e;
    };
    const char* d = s.data();
    return num(d, d + dash, lo) && num(d + dash + 1, d + s.size(), hi);
}

void read_cluster(Reader& r, const Setting& s, Cluster& c) {
    const std::string p = "cluster";
    c.loc = r.loc(s);
    r.check_keys(s, p,
                 {"serviceCIDRs", "serviceCIDR", "nodePortRange", "nodeNames", "nodeAddresses",
                  "nodePortAddresses", "loadBalancerClass", "defaultLoadBalancer"});
    const bool many = r.strings(s, "serviceCIDRs", p, c.serviceCIDRs);
    if (s.exists("serviceCIDR")) {
        const Setting& one = s["serviceCIDR"];
        if (many) {
            r.error(one, p + ".serviceCIDR", "Forbidden: may not be set together with serviceCIDRs");
        } else if (one.getType() != Setting::TypeString) {
            r.invalid(one, p + ".serviceCIDR", "must be a string");
        } else {
            c.serviceCIDRs = {one.c_str()};
        }
    }
    if (s.exists("nodePortRange")) {
        const Setting& npr = s["nodePortRange"];
        int32_t lo = 0, hi = 0;
        if (npr.getType() != Setting::TypeString || !parse_port_range(npr.c_str(), lo, hi)) {
            r.invalid(npr, p + ".nodePortRange", "must be a port range \"first-last\" (e.g. \"30000-32767\")");
        } else {
            c.nodePortMin = lo;
            c.nodePortMax = hi;
        }
    }
    r.strings(s, "nodeNames", p, c.nodeNames);
    r.strings(s, "nodeAddresses", p, c.nodeAddresses);
    r.strings(s, "nodePortAddresses", p, c.nodePortAddresses);
    r.str(s, "loadBalancerClass", p, c.loadBalancerClass);
    r.boolean(s, "defaultLoadBalancer", p, c.defaultLoadBalancer);
}

// ---- services --------------------------------------------------------------------------

// The object label of errors: "services[3] (demo/web)", or "services[3]" without a name.
std::string object_label(const char* what, int i, const Setting& e) {
    std::string label = std::string(what) + "[" + std::to_string(i) + "]";
    if (!e.isGroup() || !e.exists("metadata") || !e["metadata"].isGroup()) return label;
    const Setting& m = e["metadata"];
    std::string name, ns = "default";
    if (m.exists("name") && m["name"].getType() == Setting::TypeString) name = m["name"].c_str();
    if (m.exists("namespace") && m["namespace"].getType() == Setting::TypeString)
        ns = m["namespace"].c_str();
    if (name.empty()) return label;
    return label + " (" + ns + "/" + name + ")";
}

void read_metadata(Reader& r, const Setting& item, std::string& name, std::string& ns,
                   std::map<std::string, std::string>& labels,
                   std::map<std::string, std::string>* annotations) {
    const Setting* m = r.group(item, "metadata", "");
    if (!m) {
        if (!item.exists("metadata")) r.error(item, "metadata", "Required value");
        return;
    }
    if (annotations)
        r.check_keys(*m, "metadata", {"name", "namespace", "labels", "annotations"});
    else
        r.check_keys(*m, "metadata", {"name", "namespace", "labels"});
    r.str(*m, "name", "metadata", name);
    r.str(*m, "namespace", "metadata", ns);
    r.string_map(*m, "labels", "metadata", labels);
    if (annotations) r.string_map(*m, "annotations", "metadata", *annotations);
}

void read_service_port(Reader& r, const Setting& s, const std::string& p, ServicePort& sp) {
    sp.loc = r.loc(s);
    r.check_keys(s, p, {"name", "protocol", "port", "targetPort", "nodePort", "appProtocol"});
    r.str(s, "name", p, sp.name);
    r.str(s, "protocol", p, sp.protocol);
    r.i32(s, "port", p, sp.port);
    if (s.exists("targetPort")) {
        const Setting& t = s["targetPort"];
        if (t.getType() == Setting::TypeString) {
            sp.targetPort.set = true;
            sp.targetPort.is_name = true;
            sp.targetPort.name = t.c_str();
        } else if (is_int(t)) {
            if (r.i32(s, "targetPort", p, sp.targetPort.num)) sp.targetPort.set = true;
        } else {
            r.invalid(t, p + ".targetPort", "must be an integer or a string");
        }
    }
    r.i32(s, "nodePort", p, sp.nodePort);
    r.str(s, "appProtocol", p, sp.appProtocol);
}

void read_spec(Reader& r, const Setting& s, Service& svc) {
    const std::string p = "spec";
    r.check_keys(s, p,
                 {"type", "selector", "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy",
                  "ports", "externalIPs", "sessionAffinity", "sessionAffinityConfig",
                  "externalTrafficPolicy", "internalTrafficPolicy", "healthCheckNodePort",
                  "loadBalancerSourceRanges", "allocateLoadBalancerNodePorts",
                  "loadBalancerClass", "externalName", "publishNotReadyAddresses",
                  "trafficDistribution"});
    r.str(s, "type", p, svc.type);
    if (r.string_map(s, "selector", p, svc.selector)) svc.has_selector = !svc.selector.empty();
    r.str(s, "clusterIP", p, svc.clusterIP);
    r.strings(s, "clusterIPs", p, svc.clusterIPs);
    r.strings(s, "ipFamilies", p, svc.ipFamilies);
    r.str(s, "ipFamilyPolicy", p, svc.ipFamilyPolicy);
    if (const Setting* ports = r.list(s, "ports", p)) {
        for (int i = 0; i < ports->getLength(); i++) {
            const Setting& e = (*ports)[i];
            const std::string ep = index(p + ".ports", i);
            if (!r.element_group(e, ep)) continue;
            read_service_port(r, e, ep, svc.ports.emplace_back());
        }
    }
    r.strings(s, "externalIPs", p, svc.externalIPs);
    r.str(s, "sessionAffinity", p, svc.sessionAffinity);
    if (const Setting* sac = r.group(s, "sessionAffinityConfig", p)) {
        const std::string sp = p + ".sessionAffinityConfig";
        r.check_keys(*sac, sp, {"clientIP"});
        if (const Setting* cip = r.group(*sac, "clientIP", sp)) {
            r.check_keys(*cip, sp + ".clientIP", {"timeoutSeconds"});
            r.opt_i32(*cip, "timeoutSeconds", sp + ".clientIP", svc.affinityTimeoutSeconds);
        }
    }
    r.str(s, "externalTrafficPolicy", p, svc.externalTrafficPolicy);
    r.str(s, "internalTrafficPolicy", p, svc.internalTrafficPolicy);
    r.i32(s, "healthCheckNodePort", p, svc.healthCheckNodePort);
    r.strings(s, "loadBalancerSourceRanges", p, svc.loadBalancerSourceRanges);
    r.opt_bool(s, "allocateLoadBalancerNodePorts", p, svc.allocateLoadBalancerNodePorts);
    r.str(s, "loadBalancerClass", p, svc.loadBalancerClass);
    r.str(s, "externalName", p, svc.externalName);
    r.boolean(s, "publishNotReadyAddresses", p, svc.publishNotReadyAddresses);
    r.str(s, "trafficDistribution", p, svc.trafficDistribution);
}

void read_status(Reader& r, const Setting& s, Service& svc) {
    r.check_keys(s, "status", {"loadBalancer"});
    const Setting* lb = r.group(s, "loadBalancer", "status");
    if (!lb) return;
    const std::string p = "status.loadBalancer";
    r.check_keys(*lb, p, {"ingress"});
    const Setting* ing = r.list(*lb, "ingress", p);
    if (!ing) return;
    for (int i = 0; i < ing->getLength(); i++) {
        const Setting& e = (*ing)[i];
        const std::string ep = index(p + ".ingress", i);
        if (!r.element_group(e, ep)) continue;
        LoadBalancerIngress& in = svc.ingress.emplace_back();
        r.check_keys(e, ep, {"ip", "hostname", "ipMode"});
        r.str(e, "ip", ep, in.ip);
        r.str(e, "hostname", ep, in.hostname);
        r.str(e, "ipMode", ep, in.ipMode);
    }
}

void read_service(Reader& r, const Setting& s, Service& svc) {
    svc.loc = r.loc(s);
    r.check_keys(s, "", {"metadata", "spec", "status"});
    read_metadata(r, s, svc.name, svc.ns, svc.labels, &svc.annotations);
    if (const Setting* spec = r.group(s, "spec", ""))
        read_spec(r, *spec, svc);
    else if (!s.exists("spec"))
        r.error(s, "spec", "Required value");
    if (const Setting* st = r.group(s, "status", "")) read_status(r, *st, svc);
}

// ---- endpoint slices -------------------------------------------------------------------

constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

void read_endpoint(Reader& r, const Setting& s, const std::string& p, Endpoint& ep) {
    ep.loc = r.loc(s);
    r.check_keys(s, p, {"addresses", "conditions", "nodeName", "zone", "hostname", "weight"});
    r.strings(s, "addresses", p, ep.addresses);
    if (const Setting* c = r.group(s, "conditions", p)) {
        const std::string cp = p + ".conditions";
        r.check_keys(*c, cp, {"ready", "serving", "terminating"});
        r.opt_bool(*c, "ready", cp, ep.conditions.ready);
        r.opt_bool(*c, "serving", cp, ep.conditions.serving);
        r.opt_bool(*c, "terminating", cp, ep.conditions.terminating);
    }
    r.str(s, "nodeName", p, ep.nodeName);
    r.str(s, "zone", p, ep.zone);
    r.str(s, "hostname", p, ep.hostname);
    r.u32(s, "weight", p, ep.weight);
}

void read_slice(Reader& r, const Setting& s, EndpointSlice& sl) {
    sl.loc = r.loc(s);
    r.check_keys(s, "", {"metadata", "service", "addressType", "ports", "endpoints"});
    read_metadata(r, s, sl.name, sl.ns, sl.labels, nullptr);
    r.str(s, "service", "", sl.service);
    if (sl.service.empty()) {
        auto it = sl.labels.find(kServiceNameLabel);
        if (it != sl.labels.end()) sl.service = it->second;
    }
    r.str(s, "addressType", "", sl.addressType);
    if (const Setting* ports = r.list(s, "ports", "")) {
        for (int i = 0; i < ports->getLength(); i++) {
            const Setting& e = (*ports)[i];
            const std::string ep = index("ports", i);
            if (!r.element_group(e, ep)) continue;
            EndpointPort& port = sl.ports.emplace_back();
            r.check_keys(e, ep, {"name", "protocol", "port", "appProtocol"});
            r.str(e, "name", ep, port.name);
            r.str(e, "protocol", ep, port.protocol);
            r.opt_i32(e, "port", ep, port.port);
            r.str(e, "appProtocol", ep, port.appProtocol);
        }
    }
    if (const Setting* eps = r.list(s, "endpoints", "")) {
        sl.endpoints.reserve(size_t(eps->getLength()));
        for (int i = 0; i < eps->getLength(); i++) {
            const Setting& e = (*eps)[i];
            const std::string ep = index("endpoints", i);
            if (!r.element_group(e, ep)) continue;
            read_endpoint(r, e, ep, sl.endpoints.emplace_back());
        }
    }
}

// ---- manifests -------------------------------------------------------------------------

// manifests = [ "file.yaml", "dir/" ]: Kubernetes manifests (cp/manifest_loader.h), relative to
// the directory of the file that names them; their objects follow the file's own. Notices
// (ignored kinds) go to cfg.notices.
void read_manifests(Reader& r, const Setting& root, Config& cfg) {
    std::vector<std::string> paths;
    if (!r.strings(root, "manifests", "", paths)) return;
    const Setting& list = root["manifests"];
    for (size_t i = 0; i < paths.size(); i++) {
        const Setting& e = list[int(i)];
        std::string path = paths[i];
        if (path.empty()) {
            r.invalid(e, index("manifests", int(i)), "must not be empty");
            continue;
        }
        if (path[0] != '/') {
            const std::string file = r.loc(e).file;
            auto slash = file.rfind('/');
            if (slash != std::string::npos) path = file.substr(0, slash + 1) + path;
        }
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            r.invalid(e, index("manifests", int(i)), "no such file or directory");
            continue;
        }
        Errors errs;
        load_manifest_path(path, cfg, errs, cfg.notices);
        for (auto& err : errs) r.append(std::move(err));
    }
}

// ---- top level -------------------------------------------------------------------------

Config read_root(Reader& r, const Setting& root) {
    Config cfg;
    cfg.file = r.name();
    cfg.appliance.loc = SourceLoc{r.name(), 0};
    cfg.cluster.loc = SourceLoc{r.name(), 0};
    r.check_keys(root, "", {"appliance", "cluster", "services", "endpointSlices", "manifests"});
    if (const Setting* a = r.group(root, "appliance", "")) read_appliance(r, *a, cfg.appliance);
    if (const Setting* c = r.group(root, "cluster", "")) read_cluster(r, *c, cfg.cluster);
    if (const Setting* svcs = r.list(root, "services", "")) {
        for (int i = 0; i < svcs->getLength(); i++) {
            const Setting& e = (*svcs)[i];
            r.set_object(object_label("services", i, e));
            if (!r.element_group(e, "")) continue;
            read_service(r, e, cfg.services.emplace_back());
        }
        r.set_object("");
    }
    if (const Setting* sls = r.list(root, "endpointSlices", "")) {
        for (int i = 0; i < sls->getLength(); i++) {
            const Setting& e = (*sls)[i];
            r.set_object(object_label("endpointSlices", i, e));
            if (!r.element_group(e, "")) continue;
            read_slice(r, e, cfg.slices.emplace_back());
        }
        r.set_object("");
    }
    read_manifests(r, root, cfg);
    settle_endpoint_slices(cfg);
    return cfg;
}

std::optional<Config> parse(libconfig::Config& lc, const std::string& name, Errors& errs,
                            bool from_file, const std::string& text) {
    try {
        if (from_file)
            lc.readFile(name.c_str());
        else
            lc.readString(text);
    } catch (const libconfig::ParseException& e) {
        std::string file = e.getFile() ? e.getFile() : name;
        if (file != name && file[0] != '/' && lc.getIncludeDir())
            file = std::string(lc.getIncludeDir()) + "/" + file;
        errs.push_back(ConfigError{SourceLoc{file, e.getLine()}, "", "", e.getError()});
        return std::nullopt;
    } catch (const libconfig::FileIOException&) {
        errs.push_back(ConfigError{{}, "", "", name + ": cannot read file"});
        return std::nullopt;
    }
    Reader r(name, errs);
    if (lc.getIncludeDir()) r.set_include_dir(lc.getIncludeDir());
    return read_root(r, lc.getRoot());
}

}  // namespace

std::optional<Config> load_config_file(const std::string& path, Errors& errs) {
    // libconfig reports an unreadable file without errno; check first for a useful message.
    {
        std::ifstream probe(path);
        if (!probe) {
            errs.push_back(ConfigError{{}, "", "", path + ": " + std::strerror(errno)});
            return std::nullopt;
        }
    }
    libconfig::Config lc;
    auto slash = path.rfind('/');
    if (slash != std::string::npos) lc.setIncludeDir(path.substr(0, slash).c_str());
    return parse(lc, path, errs, true, {});
}

std::optional<Config> load_config_string(const std::string& text, const std::string& name,
                                         Errors& errs) {
    libconfig::Config lc;
    return parse(lc, name, errs, false, text);
}

}  // namespace svclb::cp
