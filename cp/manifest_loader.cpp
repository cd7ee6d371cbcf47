// SPDX-License-Identifier: Apache-2.0
// Kubernetes manifests (YAML / JSON) -> model. What is read, ignored and converted is listed
// in docs/manifests.md; every field name accepted here appears there.
#include "cp/manifest_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace svclb::cp {
namespace {

constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
constexpr const char* kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
constexpr const char* kSkipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror";
constexpr const char* kMirrorController = "endpointslicemirroring-controller.k8s.io";

// ---- scalars, resolved as Kubernetes' YAML decoder (go-yaml v2, YAML 1.1) does ----------

enum class Kind { Str, Int, Float, Bool, Null, Map, Seq };

bool one_of(const std::string& s, std::initializer_list<const char*> set) {
    for (const char* c : set)
        if (s == c) return true;
    return false;
}

// Go's strconv.ParseInt(s, 0, 64) after go-yaml's removal of '_': optional sign, then
// 0x / 0o / 0b / leading-0 octal / decimal. `overflow` when it does not fit in 64 bits.
bool parse_int(std::string s, long long& out, bool& overflow) {
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    overflow = false;
    size_t i = 0;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i >= s.size()) return false;
    int base = 10;
    if (s[i] == '0' && i + 1 < s.size()) {
        char p = char(s[i + 1] | 0x20);
        if (p == 'x') base = 16, i += 2;
        else if (p == 'o') base = 8, i += 2;
        else if (p == 'b') base = 2, i += 2;
        else base = 8, i += 1;
        if (i >= s.size()) return false;
    }
    unsigned long long v = 0;
    const unsigned long long limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
    for (; i < s.size(); i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                         : 99;
        if (d >= base) return false;
        if (v > (limit - unsigned(d)) / unsigned(base)) overflow = true;
        if (!overflow) v = v * unsigned(base) + unsigned(d);
    }
    if (!overflow) out = neg ? static_cast<long long>(0 - v) : static_cast<long long>(v);
    return true;
}

bool is_float(const std::string& s) {
    if (one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                   ".nan", ".NaN", ".NAN"}))
        return true;
    size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) i++;
    size_t digits = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '_')) i++, digits++;
    if (i < s.size() && s[i] == '.') {
        i++;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++, digits++;
    }
    if (digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) i++;
        size_t e = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++, e++;
        if (e == 0) return false;
    }
    return i == s.size();
}

Kind kind_of(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Map:
        return Kind::Map;
    case YAML::NodeType::Sequence:
        return Kind::Seq;
    case YAML::NodeType::Scalar:
        break;
    default:
        return Kind::Null;
    }
    const std::string& tag = n.Tag();
    const std::string& s = n.Scalar();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return Kind::Str;
    if (tag == "tag:yaml.org,2002:int") return Kind::Int;
    if (tag == "tag:yaml.org,2002:float") return Kind::Float;
    if (tag == "tag:yaml.org,2002:bool") return Kind::Bool;
    if (tag == "tag:yaml.org,2002:null") return Kind::Null;
    if (tag != "?") return Kind::Str;
    if (one_of(s, {"", "~", "null", "Null", "NULL"})) return Kind::Null;
    if (one_of(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n",
                   "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}))
        return Kind::Bool;
    long long v = 0;
    bool overflow = false;
    if (parse_int(s, v, overflow)) return overflow ? Kind::Float : Kind::Int;
    if (is_float(s)) return Kind::Float;
    return Kind::Str;
}

bool bool_value(const std::string& s) {
    return one_of(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"});
}

// How a value is quoted in "Invalid value: <v>".
std::string render(const YAML::Node& n) {
    switch (kind_of(n)) {
    case Kind::Str:
        return go_quote(n.Scalar());
    case Kind::Map:
        return "{...}";
    case Kind::Seq:
        return "[...]";
    case Kind::Null:
        return "null";
    default:
        return n.Scalar();
    }
}

std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}
std::string index(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

struct Field {
    YAML::Node key, value;
};
using Fields = std::map<std::string, Field>;

class Reader {
public:
    Reader(std::string name, Errors& errs, std::vector<std::string>& notices)
        : name_(std::move(name)), errs_(errs), notices_(notices) {}

    const std::string& name() const { return name_; }
    int line(const YAML::Node& n) const {
        int l = n.Mark().line;
        return l < 0 ? fallback_line_ : l + 1;
    }
    SourceLoc loc(const YAML::Node& n) const { return SourceLoc{name_, line(n)}; }
    void set_object(std::string o) { object_ = std::move(o); }
    void set_fallback_line(int l) { fallback_line_ = l; }

    void error(const YAML::Node& n, const std::string& path, std::string msg) {
        errs_.push_back(ConfigError{loc(n), object_, path, std::move(msg)});
    }
    void invalid(const YAML::Node& n, const std::string& path, const std::string& detail) {
        error(n, path, "Invalid value: " + render(n) + ": " + detail);
    }
    void notice(const YAML::Node& n, const std::string& text) {
        notices_.push_back(name_ + ":" + std::to_string(line(n)) + ": " + text);
    }

    // The fields of object `m` (must be a map), null values left out (null = unset, as in
    // the API). Reports keys in neither `known` nor `ignored` (Kubernetes strict decoding:
    // `unknown field "x"`) and repeated keys (`duplicate field "x"`).
    Fields fields(const YAML::Node& m, const std::string& path,
                  std::initializer_list<const char*> known,
                  std::initializer_list<const char*> ignored = {}) {
        Fields out;
        std::map<std::string, int> seen;
        for (auto it = m.begin(); it != m.end(); ++it) {
            const YAML::Node k = it->first;
            const YAML::Node v = it->second;
            std::string key = k.IsScalar() ? k.Scalar() : render(k);
            if (seen[key]++) {
                error(k, join(path, key), "duplicate field " + go_quote(key));
                continue;
            }
            bool is_known = false, is_ignored = false;
            for (const char* c : known) is_known = is_known || key == c;
            for (const char* c : ignored) is_ignored = is_ignored || key == c;
            if (!is_known && !is_ignored) {
                error(k, join(path, key), "unknown field " + go_quote(key));
                continue;
            }
            if (is_known && kind_of(v) != Kind::Null) out[key] = Field{k, v};
        }
        return out;
    }

    const YAML::Node* get(const Fields& f, const char* key) {
        auto it = f.find(key);
        return it == f.end() ? nullptr : &it->second.value;
    }

    const YAML::Node* object(const Fields& f, const char* key, const std::string& path) {
        const YAML::Node* n = get(f, key);
        if (!n) return nullptr;
        if (!n->IsMap()) {
            invalid(*n, join(path, key), "must be an object");
            return nullptr;
        }
        return n;
    }
    const YAML::Node* list(const Fields& f, const char* key, const std::string& path) {
        const YAML::Node* n = get(f, key);
        if (!n) return nullptr;
        if (!n->IsSequence()) {
            invalid(*n, join(path, key), "must be a list");
            return nullptr;
        }
        return n;
    }
    bool element_object(const YAML::Node& e, const std::string& path) {
        if (e.IsMap()) return true;
        invalid(e, path, "must be an object");
        return false;
    }

    bool scalar_str(const YAML::Node& n, const std::string& path, std::string& out) {
        if (kind_of(n) != Kind::Str) {
            invalid(n, path, "must be a string");
            return false;
        }
        out = n.Scalar();
        return true;
    }
    bool str(const Fields& f, const char* key, const std::string& path, std::string& out) {
        const YAML::Node* n = get(f, key);
        return n && scalar_str(*n, join(path, key), out);
    }

    bool boolean(const Fields& f, const char* key, const std::string& path, bool& out) {
        const YAML::Node* n = get(f, key);
        if (!n) return false;
        if (kind_of(*n) != Kind::Bool) {
            invalid(*n, join(path, key), "must be a boolean (true or false)");
            return false;
        }
        out = bool_value(n->Scalar());
        return true;
    }
    void opt_bool(const Fields& f, const char* key, const std::string& path,
                  std::optional<bool>& out) {
        bool v = false;
        if (boolean(f, key, path, v)) out = v;
    }

    bool scalar_i32(const YAML::Node& n, const std::string& path, int32_t& out) {
        long long v = 0;
        bool overflow = false;
        if (kind_of(n) != Kind::Int || !parse_int(n.Scalar(), v, overflow)) {
            invalid(n, path, "must be an integer");
            return false;
        }
        constexpr long long lo = std::numeric_limits<int32_t>::min();
        constexpr long long hi = std::numeric_limits<int32_t>::max();
        if (overflow || v < lo || v > hi) {
            invalid(n, path,
                    "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                        ", inclusive");
            return false;
        }
        out = int32_t(v);
        return true;
    }
    bool i32(const Fields& f, const char* key, const std::string& path, int32_t& out) {
        const YAML::Node* n = get(f, key);
        return n && scalar_i32(*n, join(path, key), out);
    }
    void opt_i32(const Fields& f, const char* key, const std::string& path,
                 std::optional<int32_t>& out) {
        int32_t v = 0;
        if (i32(f, key, path, v)) out = v;
    }

    void strings(const Fields& f, const char* key, const std::string& path,
                 std::vector<std::string>& out) {
        const YAML::Node* n = list(f, key, path);
        if (!n) return;
        const std::string p = join(path, key);
        out.clear();
        for (size_t i = 0; i < n->size(); i++) {
            std::string s;
            if (scalar_str((*n)[i], index(p, i), s)) out.push_back(std::move(s));
        }
    }

    // labels, annotations, selector: an object of string values.
    bool string_map(const Fields& f, const char* key, const std::string& path,
                    std::map<std::string, std::string>& out) {
        const YAML::Node* n = object(f, key, path);
        if (!n) return false;
        const std::string p = join(path, key);
        out.clear();
        for (auto it = n->begin(); it != n->end(); ++it) {
            const YAML::Node kn = it->first;
            const YAML::Node v = it->second;
            std::string k;
            if (!scalar_str(kn, p, k)) continue;
            if (out.count(k)) {
                error(kn, p + "[" + k + "]", "duplicate field " + go_quote(k));
                continue;
            }
            if (kind_of(v) == Kind::Null) {
                out[k] = "";
                continue;
            }
            std::string s;
            if (scalar_str(v, p + "[" + k + "]", s)) out[k] = std::move(s);
        }
        return true;
    }

private:
    std::string name_;
    Errors& errs_;
    std::vector<std::string>& notices_;
    std::string object_;
    int fallback_line_ = 0;
};

// ObjectMeta fields svclb does not model (server-set or irrelevant here): accepted, unread.
#define IGNORED_META                                                                      \
    "generateName", "uid", "resourceVersion", "generation", "creationTimestamp",          \
        "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers", \
        "managedFields", "selfLink"

struct Meta {
    std::string name, ns = "default";
    std::map<std::string, std::string> labels, annotations;
};

void read_metadata(Reader& r, const Fields& top, const YAML::Node& obj, Meta& m) {
    const YAML::Node* md = r.object(top, "metadata", "");
    if (!md) {
        if (!top.count("metadata")) r.error(obj, "metadata", "Required value");
        return;
    }
    Fields f = r.fields(*md, "metadata", {"name", "namespace", "labels", "annotations"},
                        {IGNORED_META});
    r.str(f, "name", "metadata", m.name);
    r.str(f, "namespace", "metadata", m.ns);
    if (m.ns.empty()) m.ns = "default";
    r.string_map(f, "labels", "metadata", m.labels);
    r.string_map(f, "annotations", "metadata", m.annotations);
}

// ---- Service ---------------------------------------------------------------------------

void read_service_port(Reader& r, const YAML::Node& n, const std::string& p, ServicePort& sp) {
    sp.loc = r.loc(n);
    Fields f = r.fields(n, p, {"name", "protocol", "port", "targetPort", "nodePort", "appProtocol"});
    r.str(f, "name", p, sp.name);
    r.str(f, "protocol", p, sp.protocol);
    r.i32(f, "port", p, sp.port);
    if (const YAML::Node* t = r.get(f, "targetPort")) {
        Kind k = kind_of(*t);
        if (k == Kind::Str) {
            sp.targetPort.set = true;
            sp.targetPort.is_name = true;
            sp.targetPort.name = t->Scalar();
        } else if (k == Kind::Int) {
            if (r.scalar_i32(*t, p + ".targetPort", sp.targetPort.num)) sp.targetPort.set = true;
        } else {
            r.invalid(*t, p + ".targetPort", "must be an integer or a string");
        }
    }
    r.i32(f, "nodePort", p, sp.nodePort);
    r.str(f, "appProtocol", p, sp.appProtocol);
}

void read_service_spec(Reader& r, const YAML::Node& n, Service& svc) {
    const std::string p = "spec";
    Fields f = r.fields(n, p,
                        {"type", "selector", "clusterIP", "clusterIPs", "ipFamilies",
                         "ipFamilyPolicy", "ports", "externalIPs", "sessionAffinity",
                         "sessionAffinityConfig", "externalTrafficPolicy",
                         "internalTrafficPolicy", "healthCheckNodePort",
                         "loadBalancerSourceRanges", "allocateLoadBalancerNodePorts",
                         "loadBalancerClass", "externalName", "publishNotReadyAddresses",
                         "trafficDistribution", "loadBalancerIP"});
    r.str(f, "type", p, svc.type);
    if (r.string_map(f, "selector", p, svc.selector)) svc.has_selector = !svc.selector.empty();
    r.str(f, "clusterIP", p, svc.clusterIP);
    r.strings(f, "clusterIPs", p, svc.clusterIPs);
    r.strings(f, "ipFamilies", p, svc.ipFamilies);
    r.str(f, "ipFamilyPolicy", p, svc.ipFamilyPolicy);
    if (const YAML::Node* ports = r.list(f, "ports", p)) {
        for (size_t i = 0; i < ports->size(); i++) {
            const YAML::Node& e = (*ports)[i];
            const std::string ep = index(p + ".ports", i);
            if (!r.element_object(e, ep)) continue;
            read_service_port(r, e, ep, svc.ports.emplace_back());
        }
    }
    r.strings(f, "externalIPs", p, svc.externalIPs);
    r.str(f, "sessionAffinity", p, svc.sessionAffinity);
    if (const YAML::Node* sac = r.object(f, "sessionAffinityConfig", p)) {
        const std::string sp = p + ".sessionAffinityConfig";
        Fields sf = r.fields(*sac, sp, {"clientIP"});
        if (const YAML::Node* cip = r.object(sf, "clientIP", sp)) {
            Fields cf = r.fields(*cip, sp + ".clientIP", {"timeoutSeconds"});
            r.opt_i32(cf, "timeoutSeconds", sp + ".clientIP", svc.affinityTimeoutSeconds);
        }
    }
    r.str(f, "externalTrafficPolicy", p, svc.externalTrafficPolicy);
    r.str(f, "internalTrafficPolicy", p, svc.internalTrafficPolicy);
    r.i32(f, "healthCheckNodePort", p, svc.healthCheckNodePort);
    r.strings(f, "loadBalancerSourceRanges", p, svc.loadBalancerSourceRanges);
    r.opt_bool(f, "allocateLoadBalancerNodePorts", p, svc.allocateLoadBalancerNodePorts);
    r.str(f, "loadBalancerClass", p, svc.loadBalancerClass);
    r.str(f, "externalName", p, svc.externalName);
    r.boolean(f, "publishNotReadyAddresses", p, svc.publishNotReadyAddresses);
    r.str(f, "trafficDistribution", p, svc.trafficDistribution);
    if (auto it = f.find("loadBalancerIP"); it != f.end())
        r.notice(it->second.key,
                 "Service " + svc.key() +
                     ": spec.loadBalancerIP is deprecated and not read; "
                     "svclb serves status.loadBalancer.ingress[].ip");
}

void read_service_status(Reader& r, const YAML::Node& n, Service& svc) {
    Fields f = r.fields(n, "status", {"loadBalancer"}, {"conditions"});
    const YAML::Node* lb = r.object(f, "loadBalancer", "status");
    if (!lb) return;
    const std::string p = "status.loadBalancer";
    Fields lf = r.fields(*lb, p, {"ingress"});
    const YAML::Node* ing = r.list(lf, "ingress", p);
    if (!ing) return;
    for (size_t i = 0; i < ing->size(); i++) {
        const YAML::Node& e = (*ing)[i];
        const std::string ep = index(p + ".ingress", i);
        if (!r.element_object(e, ep)) continue;
        LoadBalancerIngress& in = svc.ingress.emplace_back();
        Fields ef = r.fields(e, ep, {"ip", "hostname", "ipMode"}, {"ports"});
        r.str(ef, "ip", ep, in.ip);
        r.str(ef, "hostname", ep, in.hostname);
        r.str(ef, "ipMode", ep, in.ipMode);
    }
}

void read_service(Reader& r, const YAML::Node& n, const Fields& top, const Meta& m,
                  Config& cfg) {
    Service& svc = cfg.services.emplace_back();
    svc.loc = r.loc(n);
    svc.name = m.name;
    svc.ns = m.ns;
    svc.labels = m.labels;
    svc.annotations = m.annotations;
    if (const YAML::Node* spec = r.object(top, "spec", ""))
        read_service_spec(r, *spec, svc);
    else if (!top.count("spec"))
        r.error(n, "spec", "Required value");
    if (const YAML::Node* st = r.object(top, "status", "")) read_service_status(r, *st, svc);
}

// ---- EndpointSlice ---------------------------------------------------------------------

void read_endpoint(Reader& r, const YAML::Node& n, const std::string& p, Endpoint& ep) {
    ep.loc = r.loc(n);
    Fields f = r.fields(n, p, {"addresses", "conditions", "nodeName", "zone", "hostname"},
                        {"targetRef", "deprecatedTopology", "hints"});
    r.strings(f, "addresses", p, ep.addresses);
    if (const YAML::Node* c = r.object(f, "conditions", p)) {
        const std::string cp = p + ".conditions";
        Fields cf = r.fields(*c, cp, {"ready", "serving", "terminating"});
        r.opt_bool(cf, "ready", cp, ep.conditions.ready);
        r.opt_bool(cf, "serving", cp, ep.conditions.serving);
        r.opt_bool(cf, "terminating", cp, ep.conditions.terminating);
    }
    r.str(f, "nodeName", p, ep.nodeName);
    r.str(f, "zone", p, ep.zone);
    r.str(f, "hostname", p, ep.hostname);
}

void slice_service(Reader& r, const YAML::Node& n, EndpointSlice& sl) {
    auto it = sl.labels.find(kServiceNameLabel);
    if (it != sl.labels.end()) {
        sl.service = it->second;
    } else {
        r.error(n, std::string("metadata.labels[") + kServiceNameLabel + "]",
                "Required value: the name of the service these endpoints belong to");
    }
}

void read_slice(Reader& r, const YAML::Node& n, const Fields& top, const Meta& m, Config& cfg) {
    EndpointSlice& sl = cfg.slices.emplace_back();
    sl.loc = r.loc(n);
    sl.name = m.name;
    sl.ns = m.ns;
    sl.labels = m.labels;
    slice_service(r, n, sl);
    if (!r.str(top, "addressType", "", sl.addressType) && !top.count("addressType"))
        r.error(n, "addressType", "Required value");
    if (const YAML::Node* ports = r.list(top, "ports", "")) {
        for (size_t i = 0; i < ports->size(); i++) {
            const YAML::Node& e = (*ports)[i];
            const std::string ep = index("ports", i);
            if (!r.element_object(e, ep)) continue;
            EndpointPort& port = sl.ports.emplace_back();
            Fields f = r.fields(e, ep, {"name", "protocol", "port", "appProtocol"});
            r.str(f, "name", ep, port.name);
            r.str(f, "protocol", ep, port.protocol);
            r.opt_i32(f, "port", ep, port.port);
            r.str(f, "appProtocol", ep, port.appProtocol);
        }
    }
    if (const YAML::Node* eps = r.list(top, "endpoints", "")) {
        sl.endpoints.reserve(eps->size());
        for (size_t i = 0; i < eps->size(); i++) {
            const YAML::Node& e = (*eps)[i];
            const std::string ep = index("endpoints", i);
            if (!r.element_object(e, ep)) continue;
            read_endpoint(r, e, ep, sl.endpoints.emplace_back());
        }
    }
}

// ---- core/v1 Endpoints -> EndpointSlices ---------------------------------------------------

// One slice per subset and address family, as the EndpointSlice mirroring controller does;
// names are "<endpoints name>-<n>", n counting the slices made from this object.
void read_endpoints(Reader& r, const YAML::Node& n, const Fields& top, const Meta& m,
                    Config& cfg) {
    if (m.name.empty() && top.count("metadata"))
        r.error(n, "metadata.name", "Required value: name or generateName is required");
    if (auto it = m.labels.find(kSkipMirrorLabel); it != m.labels.end() && it->second == "true") {
        r.notice(n, "Endpoints " + m.ns + "/" + m.name + ": labelled " + kSkipMirrorLabel + "=true: not mirrored");
        return;
    }
    const YAML::Node* subsets = r.list(top, "subsets", "");
    if (!subsets) return;
    int made = 0;
    for (size_t i = 0; i < subsets->size(); i++) {
        const YAML::Node& s = (*subsets)[i];
        const std::string sp = index("subsets", i);
        if (!r.element_object(s, sp)) continue;
        Fields f = r.fields(s, sp, {"addresses", "notReadyAddresses", "ports"});
        std::vector<EndpointPort> ports;
        if (const YAML::Node* pl = r.list(f, "ports", sp)) {
            for (size_t j = 0; j < pl->size(); j++) {
                const YAML::Node& e = (*pl)[j];
                const std::string pp = index(sp + ".ports", j);
                if (!r.element_object(e, pp)) continue;
                EndpointPort& port = ports.emplace_back();
                Fields pf = r.fields(e, pp, {"name", "protocol", "port", "appProtocol"});
                r.str(pf, "name", pp, port.name);
                r.str(pf, "protocol", pp, port.protocol);
                r.opt_i32(pf, "port", pp, port.port);
                r.str(pf, "appProtocol", pp, port.appProtocol);
            }
        }
        // Endpoints by family: [0] IPv4, [1] IPv6.
        std::vector<Endpoint> fam[2];
        for (const char* key : {"addresses", "notReadyAddresses"}) {
            const YAML::Node* al = r.list(f, key, sp);
            if (!al) continue;
            const bool ready = std::strcmp(key, "addresses") == 0;
            for (size_t j = 0; j < al->size(); j++) {
                const YAML::Node& e = (*al)[j];
                const std::string ap = index(sp + "." + key, j);
                if (!r.element_object(e, ap)) continue;
                Fields af = r.fields(e, ap, {"ip", "hostname", "nodeName"}, {"targetRef"});
                Endpoint ep;
                ep.loc = r.loc(e);
                std::string ip;
                if (!r.str(af, "ip", ap, ip) && !af.count("ip"))
                    r.error(e, ap + ".ip", "Required value");
                ep.addresses = {ip};
                ep.conditions.ready = ready;
                r.str(af, "hostname", ap, ep.hostname);
                r.str(af, "nodeName", ap, ep.nodeName);
                fam[ip.find(':') != std::string::npos ? 1 : 0].push_back(std::move(ep));
            }
        }
        for (int k = 0; k < 2; k++) {
            if (fam[k].empty()) continue;
            EndpointSlice& sl = cfg.slices.emplace_back();
            sl.loc = r.loc(s);
            sl.name = m.name + "-" + std::to_string(made++);
            sl.ns = m.ns;
            sl.labels = m.labels;
            sl.labels[kServiceNameLabel] = m.name;
            sl.labels[kManagedByLabel] = kMirrorController;
            sl.service = m.name;
            sl.addressType = k == 0 ? "IPv4" : "IPv6";
            sl.ports = ports;
            sl.endpoints = std::move(fam[k]);
            sl.mirrored_from = m.name;
        }
    }
}

// ---- documents -------------------------------------------------------------------------

// The object of errors and notices: "Service prod/web", or just "Service" without a name.
std::string object_label(const std::string& kind, const YAML::Node& n) {
    std::string name, ns = "default";
    const YAML::Node md = n["metadata"];
    if (md && md.IsMap()) {
        if (md["name"] && kind_of(md["name"]) == Kind::Str) name = md["name"].Scalar();
        if (md["namespace"] && kind_of(md["namespace"]) == Kind::Str &&
            !md["namespace"].Scalar().empty())
            ns = md["namespace"].Scalar();
    }
    return name.empty() ? kind : kind + " " + ns + "/" + name;
}

void read_object(Reader& r, const YAML::Node& n, Config& cfg, int depth) {
    r.set_object("");
    if (kind_of(n) == Kind::Null) return; // an empty document ("---" at the end)
    if (!n.IsMap()) {
        r.invalid(n, "", "must be a Kubernetes object (a map with apiVersion and kind)");
        return;
    }
    r.set_fallback_line(r.line(n));
    std::string kind, api;
    // Read kind and apiVersion first: they decide which fields are known.
    if (n["kind"] && kind_of(n["kind"]) == Kind::Str) kind = n["kind"].Scalar();
    if (n["apiVersion"] && kind_of(n["apiVersion"]) == Kind::Str) api = n["apiVersion"].Scalar();

    const bool is_list = kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "List") == 0;
    const bool known = kind == "Service" || kind == "EndpointSlice" || kind == "Endpoints";
    if (!known && !is_list) {
        if (kind.empty()) {
            if (n["kind"] && kind_of(n["kind"]) != Kind::Null)
                r.invalid(n["kind"], "kind", "must be a string");
            else
                r.error(n, "kind", "Required value");
            return;
        }
        r.notice(n, object_label(kind, n) +
                        ": ignored (svclb reads Service, EndpointSlice and Endpoints)");
        return;
    }

    r.set_object(object_label(kind, n));
    Fields top;
    if (kind == "Service")
        top = r.fields(n, "", {"apiVersion", "kind", "metadata", "spec", "status"});
    else if (kind == "EndpointSlice")
        top = r.fields(n, "", {"apiVersion", "kind", "metadata", "addressType", "ports",
                               "endpoints"});
    else if (kind == "Endpoints")
        top = r.fields(n, "", {"apiVersion", "kind", "metadata", "subsets"});
    else
        top = r.fields(n, "", {"apiVersion", "kind", "metadata", "items"});

    const char* want = kind == "EndpointSlice" ? "discovery.k8s.io/v1" : "v1";
    if (!top.count("apiVersion"))
        r.error(n, "apiVersion", "Required value");
    else if (kind_of(top["apiVersion"].value) != Kind::Str)
        r.invalid(top["apiVersion"].value, "apiVersion", "must be a string");
    else if (api != want && !is_list)
        r.error(top["apiVersion"].value, "apiVersion",
                "Unsupported value: " + go_quote(api) + ": supported values: " + go_quote(want));

    if (is_list) {
        const YAML::Node* items = r.list(top, "items", "");
        if (!items) return;
        if (depth > 8) {
            r.invalid(*items, "items", "lists nested too deep");
            return;
        }
        for (size_t i = 0; i < items->size(); i++) read_object(r, (*items)[i], cfg, depth + 1);
        return;
    }

    Meta m;
    read_metadata(r, top, n, m);
    if (kind == "Service")
        read_service(r, n, top, m, cfg);
    else if (kind == "EndpointSlice")
        read_slice(r, n, top, m, cfg);
    else
        read_endpoints(r, n, top, m, cfg);
    r.set_object("");
}

bool load(const std::string& text, const std::string& name, Config& cfg, Errors& errs,
          std::vector<std::string>& notices) {
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        errs.push_back(ConfigError{SourceLoc{name, e.mark.line < 0 ? 0 : e.mark.line + 1}, "",
                                   "", e.msg});
        return false;
    }
    Reader r(name, errs, notices);
    for (const YAML::Node& d : docs) {
        // Errors in file order: fields are read in the model's order, not the file's.
        const size_t first = errs.size();
        read_object(r, d, cfg, 0);
        std::stable_sort(errs.begin() + long(first), errs.end(),
                         [](const ConfigError& a, const ConfigError& b) {
                             return a.loc.line < b.loc.line;
                         });
    }
    return true;
}

bool is_manifest_name(const std::filesystem::path& p) {
    const std::string ext = p.extension().string();
    return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

bool load_manifest_string(const std::string& text, const std::string& name, Config& cfg,
                          Errors& errs, std::vector<std::string>& notices) {
    return load(text, name, cfg, errs, notices);
}

bool load_manifest_file(const std::string& path, Config& cfg, Errors& errs,
                        std::vector<std::string>& notices) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        errs.push_back(ConfigError{{}, "", "", path + ": " + std::strerror(errno)});
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return load(ss.str(), path, cfg, errs, notices);
}

bool load_manifest_path(const std::string& path, Config& cfg, Errors& errs,
                        std::vector<std::string>& notices) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(path, ec)) return load_manifest_file(path, cfg, errs, notices);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path, ec)) {
        std::error_code ec2;
        if (e.is_regular_file(ec2) && is_manifest_name(e.path()))
            files.push_back(e.path().filename().string());
    }
    if (ec) {
        errs.push_back(ConfigError{{}, "", "", path + ": " + ec.message()});
        return false;
    }
    std::sort(files.begin(), files.end());
    const std::string dir = path.empty() || path.back() == '/' ? path : path + "/";
    bool ok = true;
    for (const auto& f : files) ok = load_manifest_file(dir + f, cfg, errs, notices) && ok;
    return ok;
}

void settle_endpoint_slices(Config& cfg) {
    auto notice = [&](const SourceLoc& loc, const std::string& text) {
        const std::string n = loc.file + ":" + std::to_string(loc.line) + ": " + text;
        if (std::find(cfg.notices.begin(), cfg.notices.end(), n) == cfg.notices.end()) cfg.notices.push_back(n);
    };
    std::map<std::pair<std::string, std::string>, const Service*> services;
    for (const auto& svc : cfg.services) services.emplace(std::pair{svc.ns, svc.name}, &svc);
    std::set<std::pair<std::string, std::string>> has_own; // services with non-mirrored slices
    for (const auto& sl : cfg.slices)
        if (sl.mirrored_from.empty()) has_own.insert({sl.ns, sl.service});
    auto orphan_notice = [](const EndpointSlice& sl) {
        return (sl.mirrored_from.empty() ? "EndpointSlice " + sl.ns + "/" + sl.name
                                         : "Endpoints " + sl.ns + "/" + sl.mirrored_from) +
               ": no service \"" + sl.service + "\" in namespace \"" + sl.ns + "\": ignored";
    };
    // A source loaded since (a manifest after the config file) may have brought the service
    // of a slice noticed as an orphan: that notice goes.
    for (const auto& sl : cfg.slices) {
        if (!services.count({sl.ns, sl.service})) continue;
        const std::string stale = sl.loc.file + ":" + std::to_string(sl.loc.line) + ": " + orphan_notice(sl);
        std::erase(cfg.notices, stale);
    }
    std::vector<EndpointSlice> kept;
    for (auto& sl : cfg.slices) {
        const std::pair key{sl.ns, sl.service};
        const auto svc = services.find(key);
        if (!sl.mirrored_from.empty() && svc != services.end() && svc->second->has_selector && has_own.count(key)) {
            notice(sl.loc, "Endpoints " + sl.ns + "/" + sl.mirrored_from + ": not mirrored: service " + sl.ns + "/" +
                               sl.service + " has a selector and EndpointSlices of its own");
            continue;
        }
        if (svc == services.end() && !sl.service.empty()) notice(sl.loc, orphan_notice(sl));
        kept.push_back(std::move(sl));
    }
    cfg.slices = std::move(kept);
}

}  // namespace svclb::cp
