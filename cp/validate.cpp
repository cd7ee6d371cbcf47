// SPDX-License-Identifier: Apache-2.0
// Validation follows Kubernetes v1.31 (pkg/apis/core/validation ValidateService,
// pkg/apis/discovery/validation ValidateEndpointSlice, apimachinery's name and IP helpers)
// for field paths and wording; allocation follows pkg/registry/core/service (ipallocator,
// portallocator, alloc.go) except that it is deterministic: lowest free value, after every
// explicit request and every previous allocation. svclb's own rules (appliance, cluster,
// slice -> service link, endpoint vs clusterIP, weights) use the same error shapes.
// docs/config.md lists every rule; keep the two in step.
#include "cp/validate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>

#include "lb/addr.h"

namespace svclb::cp {
namespace {

// ---- error formatting (apimachinery field.Error bodies) ---------------------------------

std::string quote(std::string_view s) { return go_quote(s); }

std::string quote_list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); i++) out += (i ? ", " : "") + quote(v[i]);
    return out + "]";
}

std::string idx(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

// Appends errors for one object; `loc` may be moved to a sub-object (a port, an endpoint)
// whose line is more precise.
struct Sink {
    Errors& errs;
    SourceLoc loc;
    std::string object;

    void add(const std::string& path, std::string msg) {
        errs.push_back(ConfigError{loc, object, path, std::move(msg)});
    }
    void required(const std::string& path, const std::string& detail = "") {
        add(path, detail.empty() ? "Required value" : "Required value: " + detail);
    }
    void forbidden(const std::string& path, const std::string& detail) {
        add(path, "Forbidden: " + detail);
    }
    void invalid(const std::string& path, const std::string& value, const std::string& detail) {
        add(path, "Invalid value: " + quote(value) + ": " + detail);
    }
    void invalid(const std::string& path, long long value, const std::string& detail) {
        add(path, "Invalid value: " + std::to_string(value) + ": " + detail);
    }
    void invalid_raw(const std::string& path, const std::string& rendered,
                     const std::string& detail) {
        add(path, "Invalid value: " + rendered + ": " + detail);
    }
    void not_supported(const std::string& path, const std::string& value,
                       std::initializer_list<const char*> supported) {
        std::string d;
        for (const char* s : supported) d += (d.empty() ? "" : ", ") + quote(s);
        add(path, "Unsupported value: " + quote(value) + ": supported values: " + d);
    }
    void duplicate(const std::string& path, const std::string& value) {
        add(path, "Duplicate value: " + quote(value));
    }
    void duplicate(const std::string& path, long long value) {
        add(path, "Duplicate value: " + std::to_string(value));
    }
    void too_many(const std::string& path, size_t n, size_t max) {
        add(path, "Too many: " + std::to_string(n) + ": must have at most " +
                      std::to_string(max) + " items");
    }
    void internal(const std::string& path, const std::string& detail) {
        add(path, "Internal error: " + detail);
    }
};

// ---- apimachinery name validation --------------------------------------------------------

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

std::string regex_error(const std::string& msg, const std::string& fmt,
                        std::initializer_list<const char*> examples) {
    std::string s = msg + " (e.g. ";
    bool first = true;
    for (const char* e : examples) {
        if (!first) s += " or ";
        first = false;
        s += "'" + std::string(e) + "', ";
    }
    return s + "regex used for validation is '" + fmt + "')";
}
std::string max_len_error(size_t n) {
    return "must be no more than " + std::to_string(n) + " characters";
}

const std::string kLabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const std::string kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character";
const std::string kSubdomainFmt = kLabelFmt + "(\\." + kLabelFmt + ")*";
const std::string kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character";
const std::string k1035Fmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
const std::string k1035Msg =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character";
const std::string kQNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const std::string kQNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
const std::string kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character";

bool match_label(std::string_view v) {  // [a-z0-9]([-a-z0-9]*[a-z0-9])?
    if (v.empty() || !is_lower_alnum(v.front()) || !is_lower_alnum(v.back())) return false;
    for (char c : v)
        if (!is_lower_alnum(c) && c != '-') return false;
    return true;
}
bool match_subdomain(std::string_view v) {
    size_t start = 0;
    while (true) {
        size_t dot = v.find('.', start);
        if (!match_label(v.substr(start, dot == std::string_view::npos ? dot : dot - start)))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}
bool match_qname(std::string_view v) {  // ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
    if (v.empty() || !is_alnum(v.front()) || !is_alnum(v.back())) return false;
    for (char c : v)
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
    return true;
}

std::vector<std::string> dns1123_label(std::string_view v) {
    std::vector<std::string> e;
    if (v.size() > 63) e.push_back(max_len_error(63));
    if (!match_label(v)) {
        if (match_subdomain(v))
            e.push_back("must not contain dots");
        else
            e.push_back(regex_error(kLabelMsg, kLabelFmt, {"my-name", "123-abc"}));
    }
    return e;
}
std::vector<std::string> dns1123_subdomain(std::string_view v) {
    std::vector<std::string> e;
    if (v.size() > 253) e.push_back(max_len_error(253));
    if (!match_subdomain(v)) e.push_back(regex_error(kSubdomainMsg, kSubdomainFmt, {"example.com"}));
    return e;
}
std::vector<std::string> dns1035_label(std::string_view v) {
    std::vector<std::string> e;
    if (v.size() > 63) e.push_back(max_len_error(63));
    bool ok = !v.empty() && v.front() >= 'a' && v.front() <= 'z' && match_label(v);
    if (!ok) e.push_back(regex_error(k1035Msg, k1035Fmt, {"my-name", "abc-123"}));
    return e;
}
std::vector<std::string> qualified_name(std::string_view v) {
    std::vector<std::string> e;
    std::string_view name = v;
    size_t slash = v.find('/');
    if (slash != std::string_view::npos) {
        if (v.find('/', slash + 1) != std::string_view::npos) {
            e.push_back("a qualified name " +
                        regex_error(kQNameMsg, kQNameFmt, {"MyName", "my.name", "123-abc"}) +
                        " with an optional DNS subdomain prefix and '/' (e.g. "
                        "'example.com/MyName')");
            return e;
        }
        std::string_view prefix = v.substr(0, slash);
        name = v.substr(slash + 1);
        if (prefix.empty()) {
            e.push_back("prefix part must be non-empty");
        } else {
            for (auto& m : dns1123_subdomain(prefix)) e.push_back("prefix part " + m);
        }
    }
    if (name.empty())
        e.push_back("name part must be non-empty");
    else if (name.size() > 63)
        e.push_back("name part " + max_len_error(63));
    if (!match_qname(name))
        e.push_back("name part " +
                    regex_error(kQNameMsg, kQNameFmt, {"MyName", "my.name", "123-abc"}));
    return e;
}
std::vector<std::string> label_value(std::string_view v) {
    std::vector<std::string> e;
    if (v.size() > 63) e.push_back(max_len_error(63));
    if (!v.empty() && !match_qname(v))
        e.push_back(regex_error(kLabelValueMsg, "(" + kQNameFmt + ")?",
                                {"MyValue", "my_value", "12345"}));
    return e;
}
// IANA_SVC_NAME (a named targetPort).
std::vector<std::string> port_name(std::string_view v) {
    std::vector<std::string> e;
    if (v.size() > 15) e.push_back(max_len_error(15));
    bool charset = !v.empty();
    bool letter = false;
    for (char c : v) {
        charset = charset && (is_lower_alnum(c) || c == '-');
        letter = letter || (c >= 'a' && c <= 'z');
    }
    if (!charset) e.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    if (!letter) e.push_back("must contain at least one letter (a-z)");
    if (v.find("--") != std::string_view::npos) e.push_back("must not contain consecutive hyphens");
    if (!v.empty() && (v.front() == '-' || v.back() == '-'))
        e.push_back("must not begin or end with a hyphen");
    return e;
}

void check_each(Sink& s, const std::string& path, const std::string& value,
                const std::vector<std::string>& msgs) {
    for (auto& m : msgs) s.invalid(path, value, m);
}

void validate_labels(Sink& s, const std::map<std::string, std::string>& m,
                     const std::string& path) {
    for (auto& [k, v] : m) {
        check_each(s, path, k, qualified_name(k));
        check_each(s, path, v, label_value(v));
    }
}
void validate_annotations(Sink& s, const std::map<std::string, std::string>& m,
                          const std::string& path) {
    for (auto& [k, v] : m) {
        std::string lower = k;
        for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
        check_each(s, path, k, qualified_name(lower));
    }
}

void validate_meta(Sink& s, const std::string& name, const std::string& ns,
                   const std::map<std::string, std::string>& labels,
                   std::vector<std::string> (*name_fn)(std::string_view)) {
    if (name.empty())
        s.required("metadata.name", "name or generateName is required");
    else
        check_each(s, "metadata.name", name, name_fn(name));
    if (ns.empty())
        s.required("metadata.namespace");
    else
        check_each(s, "metadata.namespace", ns, dns1123_label(ns));
    validate_labels(s, labels, "metadata.labels");
}

// ---- IP helpers (apimachinery validation/ip.go) -------------------------------------------

const char* kIpDetail = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const char* kCidrDetail = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

std::optional<IpAddr> valid_ip(Sink& s, const std::string& path, const std::string& v) {
    auto ip = parse_ip(v);
    if (!ip) s.invalid(path, v, kIpDetail);
    return ip;
}
std::optional<Cidr> valid_cidr(Sink& s, const std::string& path, const std::string& v) {
    auto c = parse_cidr(v);
    if (!c) s.invalid(path, v, kCidrDetail);
    return c;
}

// ValidateNonSpecialIP: endpoint addresses and externalIPs.
void non_special_ip(Sink& s, const std::string& path, const std::string& v) {
    auto ip = parse_ip(v);
    if (!ip) {
        s.invalid(path, v, "must be a valid IP address");
        return;
    }
    if (is_unspecified(*ip)) s.invalid(path, v, "may not be unspecified (" + v + ")");
    if (is_loopback(*ip)) s.invalid(path, v, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
    if (is_link_local_unicast(*ip))
        s.invalid(path, v, "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
    if (is_link_local_multicast(*ip))
        s.invalid(path, v,
                  "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

// An address the appliance takes as its own (SNAT source, NodePort address): a valid IP
// that is not special (ValidateNonSpecialIP's rules) nor the IPv4 broadcast address.
void own_address(Sink& s, const std::string& path, const std::string& v) {
    auto ip = parse_ip(v);
    if (!ip) {
        s.invalid(path, v, kIpDetail);
        return;
    }
    non_special_ip(s, path, v);
    if (ip->is_v4() && ip->bytes[0] == 255 && ip->bytes[1] == 255 && ip->bytes[2] == 255 && ip->bytes[3] == 255)
        s.invalid(path, v, "may not be the broadcast address");
    if (ip->is_v4() ? (ip->bytes[0] & 0xf0) == 0xe0 : ip->bytes[0] == 0xff)
        if (!is_link_local_multicast(*ip)) s.invalid(path, v, "may not be a multicast address");
}

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n\v\f";
    auto b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string object_label(const char* what, size_t i, const std::string& ns,
                         const std::string& name) {
    std::string l = std::string(what) + "[" + std::to_string(i) + "]";
    return name.empty() ? l : l + " (" + ns + "/" + name + ")";
}

// ---- service IP ranges (ipallocator's view of a service CIDR) -----------------------------

struct ServiceRange {
    Cidr cidr;
    uint64_t max = 0;  // allocatable offsets are 1..max from the network address

    static ServiceRange make(const Cidr& c) {
        ServiceRange r{c, 0};
        if (c.addr.is_v4()) {
            const unsigned host = 32u - c.len;
            const uint64_t size = uint64_t(1) << host;
            r.max = size >= 4 ? size - 2 : 0;  // no network, no broadcast
        } else {
            const unsigned host = 128u - c.len;
            const uint64_t size = host >= 16 ? 65536 : (uint64_t(1) << host);  // bitmap cap
            r.max = size >= 2 ? size - 1 : 0;  // no network (subnet-router anycast)
        }
        return r;
    }
    Family family() const { return cidr.addr.family; }
    std::optional<uint64_t> offset_of(const IpAddr& ip) const {
        if (!cidr.contains(ip)) return std::nullopt;
        uint64_t off = 0;
        if (ip.is_v4()) {
            off = ip.v4_host() - cidr.addr.v4_host();
        } else {
            for (int i = 0; i < 14; i++)
                if (ip.bytes[i] != cidr.addr.bytes[i]) return std::nullopt;
            off = (uint64_t(ip.bytes[14] ^ cidr.addr.bytes[14]) << 8) |
                  (ip.bytes[15] ^ cidr.addr.bytes[15]);
        }
        if (off < 1 || off > max) return std::nullopt;
        return off;
    }
    IpAddr at(uint64_t off) const {
        IpAddr a = cidr.addr;
        if (a.is_v4()) {
            uint32_t h = a.v4_host() + uint32_t(off);
            a = IpAddr::v4(htonl(h));
        } else {
            a.bytes[14] |= uint8_t(off >> 8);
            a.bytes[15] |= uint8_t(off);
        }
        return a;
    }
};

const char* family_name(Family f) { return f == Family::kV6 ? "IPv6" : "IPv4"; }

// ---- appliance and cluster ----------------------------------------------------------------

void validate_appliance(Appliance& a, Errors& errs) {
    Sink s{errs, a.loc, ""};
    const std::string p = "appliance";
    if (a.ports.empty()) s.required(p + ".ports", "at least one port is required");
    std::set<std::string> names;
    for (size_t i = 0; i < a.ports.size(); i++) {
        const PortConfig& port = a.ports[i];
        Sink ps{errs, port.loc, ""};
        const std::string pp = idx(p + ".ports", i);
        if (port.name.empty())
            ps.required(pp + ".name");
        else if (!names.insert(port.name).second)
            ps.duplicate(pp + ".name", port.name);
        if (port.device.empty()) ps.required(pp + ".device");
        for (size_t j = 0; j < port.addresses.size(); j++) {
            if (!parse_cidr(port.addresses[j]))
                ps.invalid(idx(pp + ".addresses", j), port.addresses[j],
                           "must be an address with its prefix length, (e.g. 198.51.100.1/24 "
                           "or 2001:db8::1/64)");
        }
        if (!port.mac.empty() && !parse_mac(port.mac))
            ps.invalid(pp + ".mac", port.mac, "must be a MAC address, (e.g. 02:00:5e:00:53:01)");
        if (port.vlan > 4094)
            ps.invalid(pp + ".vlan", port.vlan, "must be between 0 (untagged) and 4094, inclusive");
        if (port.mtu < 68 || port.mtu > 9600)
            ps.invalid(pp + ".mtu", port.mtu, "must be between 68 and 9600, inclusive");
    }
    // A gateway is a neighbour: it must be on a port's subnet, or nothing can reach it.
    std::vector<Cidr> nets;
    for (const auto& port : a.ports)
        for (const auto& addr : port.addresses)
            if (auto c = parse_cidr(addr)) nets.push_back(*c);
    auto on_link = [&](const IpAddr& ip) {
        return std::any_of(nets.begin(), nets.end(), [&](const Cidr& c) { return c.contains(ip); });
    };
    if (!a.gateway.empty()) {
        auto ip = parse_ip(a.gateway);
        if (!ip || !ip->is_v4()) s.invalid(p + ".gateway", a.gateway, "must be a valid IPv4 address");
        else if (!on_link(*ip)) s.invalid(p + ".gateway", a.gateway, "is on no port's subnet");
    }
    if (!a.gateway6.empty()) {
        auto ip = parse_ip(a.gateway6);
        if (!ip || !ip->is_v6())
            s.invalid(p + ".gateway6", a.gateway6, "must be a valid IPv6 address");
        else if (!on_link(*ip))
            s.invalid(p + ".gateway6", a.gateway6, "is on no port's subnet");
    }
    for (size_t i = 0; i < a.neighbours.size(); i++) {
        const StaticNeighbour& n = a.neighbours[i];
        Sink ns{errs, n.loc, ""};
        const std::string np = idx(p + ".neighbours", i);
        if (n.ip.empty())
            ns.required(np + ".ip");
        else
            valid_ip(ns, np + ".ip", n.ip);
        if (n.mac.empty())
            ns.required(np + ".mac");
        else if (!parse_mac(n.mac))
            ns.invalid(np + ".mac", n.mac, "must be a MAC address, (e.g. 02:00:5e:00:53:01)");
        if (!n.port.empty() && !names.count(n.port))
            ns.add(np + ".port", "Not found: " + quote(n.port));
    }
    const std::string lp = p + ".lcores.workers";
    if (a.workerLcores.empty()) s.required(lp, "at least one worker lcore is required");
    if (a.workerLcores.size() > 64) s.too_many(lp, a.workerLcores.size(), 64);
    std::set<uint32_t> seen;
    for (size_t i = 0; i < a.workerLcores.size(); i++) {
        uint32_t w = a.workerLcores[i];
        if (w == a.mainLcore)
            s.invalid(idx(lp, i), w, "may not be the main lcore");
        else if (!seen.insert(w).second)
            s.duplicate(idx(lp, i), w);
    }
    if (a.flowTableSize < 1024 || a.flowTableSize > 16777216)
        s.invalid(p + ".flowTableSize", a.flowTableSize,
                  "must be between 1024 and 16777216, inclusive");
    for (size_t i = 0; i < a.snatAddresses.size(); i++) own_address(s, idx(p + ".snatAddresses", i), a.snatAddresses[i]);
    if (a.neighbourTimeout == 0)
        s.invalid(p + ".neighbourTimeout", 0, "must be greater than 0");
    if (a.memoryMB == 0) s.invalid(p + ".memoryMB", 0, "must be greater than 0");
    if (a.socket.empty()) s.required(p + ".socket");
    if (!a.exceptionInterface.empty()) {
        const std::string& n = a.exceptionInterface;
        const bool shape = n.size() < 16 && n != "." && n != ".." &&
                           std::all_of(n.begin(), n.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                           });
        if (!shape)
            s.invalid(p + ".exceptionPath.interface", n,
                      "must be an interface name of at most 15 letters, digits, '-', '_' or '.'");
        for (size_t i = 0; i < a.ports.size(); i++)
            if (a.ports[i].device.find("iface=" + n) != std::string::npos)
                s.invalid(p + ".exceptionPath.interface", n, "is the interface of " + idx(p + ".ports", i));
        if (a.exceptionTable == 0 || (a.exceptionTable >= 253 && a.exceptionTable <= 255))
            s.invalid(p + ".exceptionPath.table", a.exceptionTable,
                      "must be a routing table other than 0 and 253-255 (the kernel's unspec, default, "
                      "main and local tables)");
        if (a.exceptionRateLimit == 0)
            s.invalid(p + ".exceptionPath.rateLimit", 0, "must be greater than 0");
    }
    const Timeouts& t = a.timeouts;
    const std::pair<const char*, uint32_t> tos[] = {
        {"tcpSyn", t.tcpSyn},           {"tcpEstablished", t.tcpEstablished},
        {"tcpFin", t.tcpFin},           {"tcpTimeWait", t.tcpTimeWait},
        {"tcpClose", t.tcpClose},       {"udp", t.udp},
        {"icmp", t.icmp},               {"sctp", t.sctp}};
    for (auto& [name, v] : tos)
        if (v == 0) s.invalid(p + ".timeouts." + name, 0, "must be greater than 0");
}

struct ClusterCheck {
    std::vector<ServiceRange> ranges;  // in configuration order, at most one per family
    bool ranges_ok = false;            // every service CIDR is sound: clusterIPs can be allocated
    bool node_ports_ok = false;        // the node port range is sound: nodePorts can be
};

ClusterCheck validate_cluster(Cluster& c, Errors& errs) {
    Sink s{errs, c.loc, ""};
    const std::string p = "cluster";
    ClusterCheck out;
    std::vector<ServiceRange>& ranges = out.ranges;
    const size_t before = errs.size();
    if (c.serviceCIDRs.empty()) s.required(p + ".serviceCIDRs");
    for (size_t i = 0; i < c.serviceCIDRs.size(); i++) {
        const std::string ip = idx(p + ".serviceCIDRs", i);
        auto cidr = valid_cidr(s, ip, c.serviceCIDRs[i]);
        if (!cidr) continue;
        auto r = ServiceRange::make(*cidr);
        bool dup = false;
        for (auto& o : ranges) dup = dup || o.family() == r.family();
        if (dup) {
            s.invalid(ip, c.serviceCIDRs[i], "may specify no more than one CIDR for each IP family");
            continue;
        }
        if (r.max == 0) {
            s.invalid(ip, c.serviceCIDRs[i], "must hold at least one assignable address");
            continue;
        }
        ranges.push_back(r);
    }
    out.ranges_ok = errs.size() == before && !ranges.empty();
    out.node_ports_ok = c.nodePortMin >= 1 && c.nodePortMin <= c.nodePortMax &&
                        c.nodePortMax <= 65535;
    if (!out.node_ports_ok)
        s.invalid(p + ".nodePortRange",
                  std::to_string(c.nodePortMin) + "-" + std::to_string(c.nodePortMax),
                  "must satisfy 1 <= first <= last <= 65535");
    for (size_t i = 0; i < c.nodeNames.size(); i++)
        check_each(s, idx(p + ".nodeNames", i), c.nodeNames[i], dns1123_subdomain(c.nodeNames[i]));
    for (size_t i = 0; i < c.nodeAddresses.size(); i++) own_address(s, idx(p + ".nodeAddresses", i), c.nodeAddresses[i]);
    for (size_t i = 0; i < c.nodePortAddresses.size(); i++)
        valid_cidr(s, idx(p + ".nodePortAddresses", i), c.nodePortAddresses[i]);
    if (!c.loadBalancerClass.empty())
        check_each(s, p + ".loadBalancerClass", c.loadBalancerClass,
                   qualified_name(c.loadBalancerClass));
    return out;
}

// ---- services -----------------------------------------------------------------------------

bool is_headless(const Service& svc) {
    return !svc.clusterIPs.empty() && svc.clusterIPs[0] == "None";
}
bool externally_accessible(const Service& svc) {
    return svc.type == "LoadBalancer" || svc.type == "NodePort" ||
           (svc.type == "ClusterIP" && !svc.externalIPs.empty());
}
bool needs_health_check(const Service& svc) {
    return svc.type == "LoadBalancer" && svc.externalTrafficPolicy == "Local";
}
bool wants_node_ports(const Service& svc) {
    return svc.type == "NodePort" || svc.type == "LoadBalancer";
}
bool allocates_node_ports(const Service& svc) {
    return svc.type == "NodePort" ||
           (svc.type == "LoadBalancer" && svc.allocateLoadBalancerNodePorts.value_or(true));
}

const std::string kSourceRangesAnnotation = "service.beta.kubernetes.io/load-balancer-source-ranges";

void validate_service_port(Sink& s, const ServicePort& sp, bool require_name,
                           std::set<std::string>& names, const std::string& p) {
    if (require_name && sp.name.empty()) {
        s.required(p + ".name");
    } else if (!sp.name.empty()) {
        check_each(s, p + ".name", sp.name, dns1123_label(sp.name));
        if (!names.insert(sp.name).second) s.duplicate(p + ".name", sp.name);
    }
    if (sp.port < 1 || sp.port > 65535)
        s.invalid(p + ".port", sp.port, "must be between 1 and 65535, inclusive");
    if (sp.protocol.empty())
        s.required(p + ".protocol");
    else if (sp.protocol != "TCP" && sp.protocol != "UDP" && sp.protocol != "SCTP")
        s.not_supported(p + ".protocol", sp.protocol, {"SCTP", "TCP", "UDP"});
    // targetPort 0 / "" is defaulted to port, as the API's defaulting does.
    if (sp.targetPort.set) {
        if (sp.targetPort.is_name && !sp.targetPort.name.empty())
            check_each(s, p + ".targetPort", sp.targetPort.name, port_name(sp.targetPort.name));
        else if (!sp.targetPort.is_name && sp.targetPort.num != 0 &&
                 (sp.targetPort.num < 1 || sp.targetPort.num > 65535))
            s.invalid(p + ".targetPort", sp.targetPort.num, "must be between 1 and 65535, inclusive");
    }
    if (!sp.appProtocol.empty())
        check_each(s, p + ".appProtocol", sp.appProtocol, qualified_name(sp.appProtocol));
}

// ValidateServiceClusterIPsRelatedFields. Returns false when the clusterIPs are unusable
// for allocation (invalid IPs, families not matching).
bool validate_cluster_ips(Sink& s, const Service& svc) {
    if (svc.type == "ExternalName") return false;
    bool ok = true;
    if (!svc.clusterIP.empty() && !svc.clusterIPs.empty() && svc.clusterIPs[0] != svc.clusterIP) {
        s.invalid_raw("spec.clusterIPs", quote_list(svc.clusterIPs),
                      "first value must match `clusterIP`");
        ok = false;
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < svc.ipFamilies.size(); i++) {
        const std::string& f = svc.ipFamilies[i];
        if (f != "IPv4" && f != "IPv6") {
            s.not_supported(idx("spec.ipFamilies", i), f, {"IPv4", "IPv6"});
            ok = false;
        }
        if (!seen.insert(f).second) {
            s.duplicate(idx("spec.ipFamilies", i), f);
            ok = false;
        }
    }
    const std::string& pol = svc.ipFamilyPolicy;
    if (!pol.empty() && pol != "SingleStack" && pol != "PreferDualStack" &&
        pol != "RequireDualStack") {
        s.not_supported("spec.ipFamilyPolicy", pol,
                        {"PreferDualStack", "RequireDualStack", "SingleStack"});
        ok = false;
    }
    bool bad_ip = false;
    for (size_t i = 0; i < svc.clusterIPs.size(); i++) {
        if (i == 0 && svc.clusterIPs[0] == "None") { // valid first, and only alone
            if (svc.clusterIPs.size() > 1) {
                s.invalid_raw("spec.clusterIPs", quote_list(svc.clusterIPs), "'None' must be the first and only value");
                bad_ip = true;
            }
            continue;
        }
        if (!valid_ip(s, idx("spec.clusterIPs", i), svc.clusterIPs[i])) bad_ip = true;
    }
    if (svc.clusterIPs.size() > 2) {
        s.invalid_raw("spec.clusterIPs", quote_list(svc.clusterIPs), "may only hold up to 2 values");
        ok = false;
    }
    if (bad_ip) return false;
    if (svc.clusterIPs.size() == 2) {
        auto a = parse_ip(svc.clusterIPs[0]), b = parse_ip(svc.clusterIPs[1]);
        if (!a || !b || a->family == b->family) {
            s.invalid_raw("spec.clusterIPs", quote_list(svc.clusterIPs),
                          "may specify no more than one IP for each IP family");
            ok = false;
        }
    }
    if (!is_headless(svc)) {
        for (size_t i = 0; i < svc.clusterIPs.size() && i < svc.ipFamilies.size(); i++) {
            auto ip = parse_ip(svc.clusterIPs[i]);
            if (!ip) continue;
            if (svc.ipFamilies[i] == "IPv4" && ip->is_v6()) {
                s.invalid(idx("spec.clusterIPs", i), svc.clusterIPs[i],
                          "expected an IPv4 value as indicated by `ipFamilies[" +
                              std::to_string(i) + "]`");
                ok = false;
            }
            if (svc.ipFamilies[i] == "IPv6" && !ip->is_v6()) {
                s.invalid(idx("spec.clusterIPs", i), svc.clusterIPs[i],
                          "expected an IPv6 value as indicated by `ipFamilies[" +
                              std::to_string(i) + "]`");
                ok = false;
            }
        }
    }
    return ok;
}

// Static checks of one service (ValidateService). Returns whether its clusterIP fields are
// usable for allocation.
bool validate_service(Sink& s, Service& svc) {
    validate_meta(s, svc.name, svc.ns, svc.labels, dns1035_label);
    validate_annotations(s, svc.annotations, "metadata.annotations");

    // The strategy keeps clusterIP and clusterIPs in step (PrepareForCreate).
    if (!svc.clusterIP.empty() && svc.clusterIPs.empty()) svc.clusterIPs = {svc.clusterIP};
    if (svc.clusterIP.empty() && !svc.clusterIPs.empty()) svc.clusterIP = svc.clusterIPs[0];
    const bool headless = is_headless(svc);

    if (svc.ports.empty() && !headless && svc.type != "ExternalName") s.required("spec.ports");
    if (svc.type == "LoadBalancer" && headless)
        s.invalid(idx("spec.clusterIPs", 0), svc.clusterIPs[0],
                  "may not be set to 'None' for LoadBalancer services");
    if (svc.type == "NodePort" && headless)
        s.invalid(idx("spec.clusterIPs", 0), svc.clusterIPs[0],
                  "may not be set to 'None' for NodePort services");
    if (svc.type == "ExternalName") {
        if (!svc.clusterIPs.empty())
            s.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
        if (!svc.ipFamilies.empty())
            s.forbidden("spec.ipFamilies", "may not be set for ExternalName services");
        if (!svc.ipFamilyPolicy.empty())
            s.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services");
        std::string cname = svc.externalName;
        if (!cname.empty() && cname.back() == '.') cname.pop_back();
        if (cname.empty())
            s.required("spec.externalName");
        else
            check_each(s, "spec.externalName", cname, dns1123_subdomain(cname));
    }

    std::set<std::string> names;
    for (size_t i = 0; i < svc.ports.size(); i++) {
        Sink ps{s.errs, svc.ports[i].loc, s.object};
        validate_service_port(ps, svc.ports[i], svc.ports.size() > 1, names, idx("spec.ports", i));
    }
    if (svc.has_selector) validate_labels(s, svc.selector, "spec.selector");

    if (svc.sessionAffinity.empty()) {
        s.required("spec.sessionAffinity");
    } else if (svc.sessionAffinity == "ClientIP") {
        if (!svc.affinityTimeoutSeconds) svc.affinityTimeoutSeconds = 10800;  // API default
        const int32_t t = *svc.affinityTimeoutSeconds;
        if (t <= 0 || t > 86400)
            s.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                      "must be greater than 0 and less than 86400");
    } else if (svc.sessionAffinity == "None") {
        if (svc.affinityTimeoutSeconds)
            s.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None");
    } else {
        s.not_supported("spec.sessionAffinity", svc.sessionAffinity, {"ClientIP", "None"});
    }

    const bool ips_ok = validate_cluster_ips(s, svc);

    for (size_t i = 0; i < svc.externalIPs.size(); i++) {
        const std::string p = idx("spec.externalIPs", i);
        if (valid_ip(s, p, svc.externalIPs[i])) non_special_ip(s, p, svc.externalIPs[i]);
    }

    if (svc.type.empty())
        s.required("spec.type");
    else if (svc.type != "ClusterIP" && svc.type != "ExternalName" && svc.type != "LoadBalancer" &&
             svc.type != "NodePort")
        s.not_supported("spec.type", svc.type,
                        {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"});

    if (svc.type == "ClusterIP") {
        for (size_t i = 0; i < svc.ports.size(); i++) {
            if (svc.ports[i].nodePort == 0) continue;
            Sink ps{s.errs, svc.ports[i].loc, s.object};
            ps.forbidden(idx("spec.ports", i) + ".nodePort",
                         "may not be used when `type` is 'ClusterIP'");
        }
    }
    std::set<std::pair<std::string, int32_t>> node_ports, ports;
    for (size_t i = 0; i < svc.ports.size(); i++) {
        const ServicePort& sp = svc.ports[i];
        Sink ps{s.errs, sp.loc, s.object};
        if (sp.nodePort != 0 && !node_ports.insert({sp.protocol, sp.nodePort}).second)
            ps.duplicate(idx("spec.ports", i) + ".nodePort", sp.nodePort);
        if (!ports.insert({sp.protocol, sp.port}).second)
            ps.duplicate(idx("spec.ports", i), sp.protocol + "/" + std::to_string(sp.port));
    }

    // ValidateService (v1.31): one error for the whole list, its value as Go prints it, the
    // message with Kubernetes' trailing space. Entries are trimmed (utilnet.ParseIPNets).
    static const char* kRangesDetail = "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ";
    if (!svc.loadBalancerSourceRanges.empty()) {
        if (svc.type != "LoadBalancer")
            s.forbidden("spec.loadBalancerSourceRanges",
                        "may only be used when `type` is 'LoadBalancer'");
        bool ok = true;
        std::string printed = "[";
        for (size_t i = 0; i < svc.loadBalancerSourceRanges.size(); i++) {
            printed += (i ? " " : "") + svc.loadBalancerSourceRanges[i];
            std::string v = trim(svc.loadBalancerSourceRanges[i]);
            ok = ok && parse_cidr(v).has_value();
            svc.loadBalancerSourceRanges[i] = v;
        }
        if (!ok) s.invalid("spec.loadBalancerSourceRanges", printed + "]", kRangesDetail);
    } else if (auto it = svc.annotations.find(kSourceRangesAnnotation);
               it != svc.annotations.end()) {
        const std::string p = "metadata.annotations[" + kSourceRangesAnnotation + "]";
        if (svc.type != "LoadBalancer")
            s.forbidden(p, "may only be used when `type` is 'LoadBalancer'");
        const std::string v = trim(it->second); // empty: 0.0.0.0/0, everything allowed
        bool ok = true;
        for (size_t start = 0; !v.empty();) {
            const size_t comma = v.find(',', start);
            ok = ok && parse_cidr(trim(v.substr(start, comma == std::string::npos ? comma : comma - start))).has_value();
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        if (!ok) s.invalid(p, it->second, kRangesDetail);
    }

    // svclb's drain timeout (cp/compile.h kDrainTimeoutAnnotation).
    if (auto it = svc.annotations.find("svclb.io/drain-timeout-seconds"); it != svc.annotations.end()) {
        const std::string& v = it->second;
        const auto digit = [](char c) { return c >= '0' && c <= '9'; };
        if (v.empty() || v.size() > 5 || !std::all_of(v.begin(), v.end(), digit) || std::stoul(v) > 86400)
            s.invalid("metadata.annotations[svclb.io/drain-timeout-seconds]", v,
                      "must be a whole number of seconds between 0 and 86400");
    }

    if (!externally_accessible(svc)) {
        if (!svc.externalTrafficPolicy.empty())
            s.invalid("spec.externalTrafficPolicy", svc.externalTrafficPolicy,
                      "may only be set for externally-accessible services");
    } else if (!svc.externalTrafficPolicy.empty() && svc.externalTrafficPolicy != "Cluster" &&
               svc.externalTrafficPolicy != "Local") {
        s.not_supported("spec.externalTrafficPolicy", svc.externalTrafficPolicy,
                        {"Cluster", "Local"});
    }
    // A requested healthCheckNodePort's range is the allocator's check (as in Kubernetes,
    // where allocation runs first and reports it).
    if (!needs_health_check(svc) && svc.healthCheckNodePort != 0)
        s.invalid("spec.healthCheckNodePort", svc.healthCheckNodePort,
                  "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` "
                  "is 'Local'");
    if (!svc.internalTrafficPolicy.empty() && svc.internalTrafficPolicy != "Cluster" &&
        svc.internalTrafficPolicy != "Local")
        s.not_supported("spec.internalTrafficPolicy", svc.internalTrafficPolicy,
                        {"Cluster", "Local"});
    if (!svc.loadBalancerClass.empty()) {
        if (svc.type == "LoadBalancer")
            check_each(s, "spec.loadBalancerClass", svc.loadBalancerClass,
                       qualified_name(svc.loadBalancerClass));
        else
            s.forbidden("spec.loadBalancerClass",
                        "may only be used when service type is 'LoadBalancer'");
    }
    if (!svc.trafficDistribution.empty() && svc.trafficDistribution != "PreferClose")
        s.not_supported("spec.trafficDistribution", svc.trafficDistribution, {"PreferClose"});
    if (svc.allocateLoadBalancerNodePorts && svc.type != "LoadBalancer")
        s.forbidden("spec.allocateLoadBalancerNodePorts",
                    "may only be used when `type` is 'LoadBalancer'");

    // status.loadBalancer (ValidateLoadBalancerStatus).
    const std::string ip = "status.loadBalancer.ingress";
    if (!svc.ingress.empty() && svc.type != "LoadBalancer") {
        s.forbidden(ip, "may only be used when `spec.type` is 'LoadBalancer'");
    } else {
        for (size_t i = 0; i < svc.ingress.size(); i++) {
            LoadBalancerIngress& in = svc.ingress[i];
            const std::string p = idx(ip, i);
            if (!in.ip.empty()) valid_ip(s, p + ".ip", in.ip);
            if (!in.ipMode.empty() && in.ip.empty())
                s.forbidden(p + ".ipMode", "may not be specified when `ip` is not set");
            else if (!in.ipMode.empty() && in.ipMode != "VIP" && in.ipMode != "Proxy")
                s.not_supported(p + ".ipMode", in.ipMode, {"Proxy", "VIP"});
            if (in.ipMode.empty() && !in.ip.empty()) in.ipMode = "VIP";  // API default
            if (!in.hostname.empty()) {
                check_each(s, p + ".hostname", in.hostname, dns1123_subdomain(in.hostname));
                if (parse_ip(in.hostname))
                    s.invalid(p + ".hostname", in.hostname, "must be a DNS name, not an IP address");
            }
        }
    }
    return ips_ok;
}

// ---- allocation ---------------------------------------------------------------------------

// One clusterIP to settle: explicit (`want`), kept from the previous config (`prev`), or new.
struct IpSlot {
    size_t svc;
    size_t pos;  // index in the service's clusterIPs
    Family fam;
    std::optional<IpAddr> want;
    std::optional<IpAddr> prev;
    std::optional<IpAddr> result;
    bool failed = false;
};

class IpAllocator {
public:
    IpAllocator(const std::vector<ServiceRange>& ranges, std::vector<Service>& svcs,
                std::vector<Errors>& svc_errs)
        : ranges_(ranges), svcs_(svcs), errs_(svc_errs) {}

    void avoid(const IpAddr& a) { avoid_.insert(a); }

    // Decides the families of service `i` and queues its slots.
    void plan(size_t i, const Service* prev) {
        Service& svc = svcs_[i];
        Sink s = sink(i);
        std::vector<Family> fams;
        std::vector<std::optional<IpAddr>> wants;
        for (auto& f : svc.ipFamilies) fams.push_back(f == "IPv6" ? Family::kV6 : Family::kV4);
        // Headless services get the same family checks, and no address.
        const bool headless = is_headless(svc);
        std::string policy = svc.ipFamilyPolicy;
        if (policy.empty())
            policy = (headless && !svc.has_selector) ||
                             std::max(svc.ipFamilies.size(), svc.clusterIPs.size()) == 2
                         ? "RequireDualStack"
                         : "SingleStack";
        // initIPFamilyFields: the policy against what was given, then the families inferred
        // from clusterIPs (a family this cluster lacks is named on the clusterIP that asks
        // for it); any error here ends the service's allocation.
        bool bad = false;
        if (policy == "SingleStack" && (svc.clusterIPs.size() > 1 || svc.ipFamilies.size() > 1)) {
            s.invalid("spec.ipFamilyPolicy", policy,
                      svc.clusterIPs.size() > 1
                          ? "must be 'RequireDualStack' or 'PreferDualStack' when multiple "
                            "cluster IPs are specified"
                          : "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP "
                            "families are specified");
            bad = true;
        }
        for (size_t k = 0; k < svc.clusterIPs.size(); k++) {
            if (svc.clusterIPs[k] == "None") break;
            auto ip = parse_ip(svc.clusterIPs[k]);
            if (k >= fams.size()) {
                if (!range_of(ip->family)) {
                    s.invalid_raw(idx("spec.clusterIPs", k), quote_list(svc.clusterIPs),
                                  std::string(family_name(ip->family)) + " is not configured on this cluster");
                    bad = true;
                } else {
                    fams.push_back(ip->family);
                }
            }
            wants.push_back(ip);
        }
        if (bad) return;
        // Headless and selectorless: any families go (Kubernetes' special case).
        if (headless && !svc.has_selector) return;
        if (policy == "RequireDualStack" && ranges_.size() < 2) {
            s.invalid("spec.ipFamilyPolicy", policy,
                      "this cluster is not configured for dual-stack services");
            bad = true;
        }
        for (size_t k = 0; k < fams.size(); k++) {
            if (!range_of(fams[k])) {
                s.invalid(idx("spec.ipFamilies", k), family_name(fams[k]),
                          "not configured on this cluster");
                bad = true;
            }
        }
        if (bad || headless) return;
        if (fams.empty()) fams.push_back(ranges_[0].family());
        if (policy != "SingleStack" && ranges_.size() == 2 && fams.size() == 1)
            fams.push_back(fams[0] == Family::kV4 ? Family::kV6 : Family::kV4);
        svc.ipFamilies.clear();
        for (Family f : fams) svc.ipFamilies.push_back(family_name(f));
        svc.ipFamilyPolicy = policy;
        svc.clusterIPs.resize(fams.size());
        for (size_t k = 0; k < fams.size(); k++) {
            IpSlot slot{i, k, fams[k], k < wants.size() ? wants[k] : std::nullopt, {}, {}};
            if (prev && !is_headless(*prev) && prev->type != "ExternalName") {
                for (auto& old : prev->clusterIPs) {
                    auto ip = parse_ip(old);
                    if (ip && ip->family == fams[k]) slot.prev = ip;
                }
            }
            slots_.push_back(slot);
        }
    }

    void run() {
        // 1. explicit requests that the same service already held
        for (auto& sl : slots_)
            if (sl.want && sl.prev && *sl.want == *sl.prev) reserve(sl);
        // 2. previous allocations of unset fields, when still in range and free
        for (auto& sl : slots_) {
            if (sl.want || !sl.prev) continue;
            const ServiceRange* r = range_of(sl.fam);
            if (r->offset_of(*sl.prev) && !owner_.count(*sl.prev)) {
                owner_[*sl.prev] = sl.svc;
                sl.result = sl.prev;
            }
        }
        // 3. the other explicit requests, in configuration order
        for (auto& sl : slots_)
            if (sl.want && !sl.result && !sl.failed) reserve(sl);
        // 4. new allocations: lowest free address
        for (auto& sl : slots_) {
            if (sl.want || sl.result) continue;
            const ServiceRange* r = range_of(sl.fam);
            uint64_t& cur = cursor_[size_t(sl.fam)];
            if (cur == 0) cur = 1;
            while (cur <= r->max && (owner_.count(r->at(cur)) || avoid_.count(r->at(cur)))) cur++;
            if (cur > r->max) {
                sink(sl.svc).internal("spec.clusterIPs",
                                      "failed to allocate a serviceIP: range is full");
                continue;
            }
            sl.result = r->at(cur);
            owner_[*sl.result] = sl.svc;
        }
        for (auto& sl : slots_) {
            if (!sl.result) continue;
            Service& svc = svcs_[sl.svc];
            if (!sl.want) svc.clusterIPs[sl.pos] = format_ip(*sl.result);
            if (sl.pos == 0) svc.clusterIP = svc.clusterIPs[0];
        }
    }

private:
    Sink sink(size_t i) {
        const Service& svc = svcs_[i];
        return Sink{errs_[i], svc.loc, object_label("services", i, svc.ns, svc.name)};
    }
    const ServiceRange* range_of(Family f) const {
        for (auto& r : ranges_)
            if (r.family() == f) return &r;
        return nullptr;
    }
    void reserve(IpSlot& sl) {
        const ServiceRange* r = range_of(sl.fam);
        Service& svc = svcs_[sl.svc];
        const std::string ip = format_ip(*sl.want);
        std::string why;
        if (!r->offset_of(*sl.want)) {
            why = "the provided IP (" + ip + ") is not in the valid range. The range of valid IPs is " +
                  format_cidr(r->cidr);
        } else if (auto it = owner_.find(*sl.want); it != owner_.end() && it->second != sl.svc) {
            why = "provided IP is already allocated";
        } else {
            owner_[*sl.want] = sl.svc;
            sl.result = sl.want;
            return;
        }
        sink(sl.svc).invalid_raw("spec.clusterIPs", quote_list(svc.clusterIPs),
                                 "failed to allocate IP " + ip + ": " + why);
        sl.failed = true;
    }

    const std::vector<ServiceRange>& ranges_;
    std::vector<Service>& svcs_;
    std::vector<Errors>& errs_;
    std::vector<IpSlot> slots_;
    std::map<IpAddr, size_t> owner_;
    std::set<IpAddr> avoid_;
    uint64_t cursor_[7] = {};
};

// One node port to settle. `port` is the index in spec.ports, or -1 for healthCheckNodePort.
struct PortSlot {
    size_t svc;
    int port;
    int32_t want = 0;
    int32_t prev = 0;
    int32_t result = 0;
    bool failed = false;
    bool held = false; // `want` was this service's before (an update: updateNodePorts keeps it)
};

class PortAllocator {
public:
    PortAllocator(const Cluster& c, std::vector<Service>& svcs, std::vector<Errors>& svc_errs)
        : min_(c.nodePortMin), max_(c.nodePortMax), svcs_(svcs), errs_(svc_errs) {}

    void plan(size_t i, const Service* prev) {
        Service& svc = svcs_[i];
        const bool prev_np = prev && wants_node_ports(*prev);
        std::set<int32_t> used_now;  // values requested explicitly by this service
        std::set<std::pair<std::string, int32_t>> requested; // (protocol, nodePort) so far
        for (auto& sp : svc.ports)
            if (sp.nodePort) used_now.insert(sp.nodePort);
        for (size_t k = 0; k < svc.ports.size(); k++) {
            const ServicePort& sp = svc.ports[k];
            if (!sp.nodePort && !allocates_node_ports(svc)) continue;
            // A second (protocol, nodePort) is the static check's "Duplicate value" already.
            if (sp.nodePort && !requested.insert({sp.protocol, sp.nodePort}).second) continue;
            PortSlot slot{i, int(k)};
            slot.want = sp.nodePort;
            if (!sp.nodePort && prev_np) {
                // patchAllocatedValues: by port name, unless used explicitly elsewhere.
                for (auto& op : prev->ports)
                    if (op.name == sp.name && op.nodePort && !used_now.count(op.nodePort))
                        slot.prev = op.nodePort;
            }
            slots_.push_back(slot);
        }
        if (needs_health_check(svc)) {
            PortSlot slot{i, -1};
            slot.want = svc.healthCheckNodePort;
            if (!slot.want && prev && needs_health_check(*prev)) slot.prev = prev->healthCheckNodePort;
            slots_.push_back(slot);
        }
    }

    void run(const std::map<std::string, const Service*>& previous) {
        auto held_before = [&](const PortSlot& sl) {
            const Service& svc = svcs_[sl.svc];
            auto it = previous.find(svc.key());
            if (it == previous.end() || !wants_node_ports(*it->second)) return false;
            const Service& old = *it->second;
            if (sl.port < 0) return needs_health_check(old) && old.healthCheckNodePort == sl.want;
            for (auto& op : old.ports)
                if (op.nodePort == sl.want) return true;
            return false;
        };
        // 1. explicit requests the same service already held
        for (auto& sl : slots_) sl.held = sl.want && held_before(sl);
        for (auto& sl : slots_)
            if (sl.held) reserve(sl);
        // 2. previous allocations of unset fields
        for (auto& sl : slots_) {
            if (sl.want || !sl.prev || sl.prev < min_ || sl.prev > max_) continue;
            if (free_for(sl, sl.prev)) take(sl, sl.prev);
        }
        // 3. the other explicit requests
        for (auto& sl : slots_)
            if (sl.want && !sl.result && !sl.failed) reserve(sl);
        // 4. new allocations: ports with the same port number share one nodePort
        int32_t cur = min_;
        for (size_t n = 0; n < slots_.size(); n++) {
            PortSlot& sl = slots_[n];
            if (sl.want || sl.result) continue;
            if (sl.port >= 0) {
                // A service's slots are contiguous (plan() runs once per service).
                const auto& ports = svcs_[sl.svc].ports;
                size_t b = n, e = n + 1;
                while (b > 0 && slots_[b - 1].svc == sl.svc) b--;
                while (e < slots_.size() && slots_[e].svc == sl.svc) e++;
                for (size_t k = b; k < e; k++) {
                    const PortSlot& o = slots_[k];
                    if (k != n && o.port >= 0 && o.result &&
                        ports[size_t(o.port)].port == ports[size_t(sl.port)].port) {
                        sl.result = o.result;
                        break;
                    }
                }
                if (sl.result) continue;
            }
            while (cur <= max_ && owner_.count(cur)) cur++;
            if (cur > max_) {
                Sink s = sink(sl);
                s.internal(path(sl), sl.port >= 0
                                         ? "failed to allocate a nodePort: range is full"
                                         : "failed to allocate a HealthCheck NodePort: range is full");
                continue;
            }
            take(sl, cur);
        }
        for (auto& sl : slots_) {
            if (!sl.result) continue;
            Service& svc = svcs_[sl.svc];
            if (sl.port >= 0)
                svc.ports[size_t(sl.port)].nodePort = sl.result;
            else
                svc.healthCheckNodePort = sl.result;
        }
    }

private:
    struct Owner {
        size_t svc;
        bool health;
        int32_t port; // the service port's number; -1 for a healthCheckNodePort
    };
    Sink sink(const PortSlot& sl) {
        const Service& svc = svcs_[sl.svc];
        SourceLoc loc = sl.port >= 0 ? svc.ports[size_t(sl.port)].loc : svc.loc;
        return Sink{errs_[sl.svc], loc, object_label("services", sl.svc, svc.ns, svc.name)};
    }
    static std::string path(const PortSlot& sl) {
        return sl.port >= 0 ? idx("spec.ports", size_t(sl.port)) + ".nodePort"
                            : "spec.healthCheckNodePort";
    }
    // A service owns a node port whatever the protocol; its health check port is its own.
    // initNodePorts: within a service, ports share a nodePort only when they have the same
    // port number (TCP and UDP 53, say); any other second use is "already allocated". On an
    // update a nodePort the service held before may serve any of its ports (updateNodePorts).
    int32_t port_number(const PortSlot& sl) const { return sl.port >= 0 ? svcs_[sl.svc].ports[size_t(sl.port)].port : -1; }
    bool free_for(const PortSlot& sl, int32_t v) const {
        auto it = owner_.find(v);
        if (it == owner_.end()) return true;
        return sl.port >= 0 && it->second.svc == sl.svc && !it->second.health &&
               (it->second.port == port_number(sl) || sl.held);
    }
    void take(PortSlot& sl, int32_t v) {
        if (!owner_.count(v)) owner_[v] = Owner{sl.svc, sl.port < 0, port_number(sl)};
        sl.result = v;
    }
    void reserve(PortSlot& sl) {
        std::string why;
        if (sl.want < min_ || sl.want > max_) {
            why = "provided port is not in the valid range. The range of valid ports is " +
                  std::to_string(min_) + "-" + std::to_string(max_);
        } else if (!free_for(sl, sl.want)) {
            why = "provided port is already allocated";
        } else {
            take(sl, sl.want);
            return;
        }
        sl.failed = true;
        Sink s = sink(sl);
        if (sl.port >= 0)
            s.invalid(path(sl), sl.want, why);
        else
            s.invalid(path(sl), sl.want,
                      "failed to allocate requested HealthCheck NodePort " +
                          std::to_string(sl.want) + ": " + why);
    }

    int32_t min_, max_;
    std::vector<Service>& svcs_;
    std::vector<Errors>& errs_;
    std::vector<PortSlot> slots_;
    std::map<int32_t, Owner> owner_;
};

// ---- endpoint slices ----------------------------------------------------------------------

void validate_slice(Sink& s, const EndpointSlice& sl, const std::map<IpAddr, std::string>& cluster_ips) {
    validate_meta(s, sl.name, sl.ns, sl.labels, dns1123_subdomain);
    // A slice whose service is not there is valid, and ignored (a notice from
    // settle_endpoint_slices), as the API server accepts it and kube-proxy ignores it.
    if (sl.service.empty()) s.required("service", "the name of the service these endpoints belong to");
    const std::string& at = sl.addressType;
    const bool v4 = at == "IPv4", v6 = at == "IPv6", fqdn = at == "FQDN";
    if (at.empty())
        s.required("addressType");
    else if (!v4 && !v6 && !fqdn)
        s.not_supported("addressType", at, {"FQDN", "IPv4", "IPv6"});

    if (sl.endpoints.size() > 1000) s.too_many("endpoints", sl.endpoints.size(), 1000);
    for (size_t i = 0; i < sl.endpoints.size() && i < 1000; i++) {
        const Endpoint& ep = sl.endpoints[i];
        Sink es{s.errs, ep.loc, s.object};
        const std::string p = idx("endpoints", i);
        const std::string ap = p + ".addresses";
        if (ep.addresses.empty())
            es.required(ap, "must contain at least 1 address");
        else if (ep.addresses.size() > 100)
            es.too_many(ap, ep.addresses.size(), 100);
        for (size_t j = 0; j < ep.addresses.size(); j++) {
            const std::string& a = ep.addresses[j];
            const std::string aj = idx(ap, j);
            if (v4 || v6) {
                auto ip = parse_ip(a);
                if (v4 && (!ip || !ip->is_v4())) es.invalid(aj, a, "must be a valid IPv4 address");
                // IsValidIPv6Address: an IPv4-mapped address (::ffff:a.b.c.d) is IPv4 to Go.
                const bool mapped = ip && ip->is_v6() &&
                                    std::all_of(ip->bytes.begin(), ip->bytes.begin() + 10, [](uint8_t b) { return b == 0; }) &&
                                    ip->bytes[10] == 0xff && ip->bytes[11] == 0xff;
                if (v6 && (!ip || !ip->is_v6() || mapped)) es.invalid(aj, a, "must be a valid IPv6 address");
                non_special_ip(es, aj, a);
                if (ip) {
                    if (auto it = cluster_ips.find(*ip); it != cluster_ips.end())
                        es.invalid(aj, a, "may not be the clusterIP of service " + it->second);
                }
            } else if (fqdn) {
                std::string n = a;
                if (n.empty()) {
                    es.required(aj);
                    continue;
                }
                if (n.back() == '.') n.pop_back();
                auto msgs = dns1123_subdomain(n);
                if (!msgs.empty()) {
                    std::string joined;
                    for (auto& m : msgs) joined += (joined.empty() ? "" : ",") + m;
                    es.invalid(aj, n, joined);
                } else if (n.find('.') == std::string::npos) {
                    es.invalid(aj, n, "should be a domain with at least two segments separated by dots");
                }
            }
        }
        if (!ep.nodeName.empty())
            check_each(es, p + ".nodeName", ep.nodeName, dns1123_subdomain(ep.nodeName));
        if (!ep.hostname.empty())
            check_each(es, p + ".hostname", ep.hostname, dns1123_label(ep.hostname));
        if (ep.weight > 65535)
            es.invalid(p + ".weight", ep.weight, "must be between 0 and 65535, inclusive");
    }

    std::set<std::string> names;
    for (size_t i = 0; i < sl.ports.size(); i++) {
        const EndpointPort& port = sl.ports[i];
        const std::string p = idx("ports", i);
        if (!port.name.empty()) check_each(s, p + ".name", port.name, dns1123_label(port.name));
        if (!names.insert(port.name).second) s.duplicate(p + ".name", port.name);
        if (port.protocol.empty())
            s.required(p + ".protocol");
        else if (port.protocol != "TCP" && port.protocol != "UDP" && port.protocol != "SCTP")
            s.not_supported(p + ".protocol", port.protocol, {"SCTP", "TCP", "UDP"});
        if (port.port && (*port.port < 1 || *port.port > 65535))
            s.invalid(p + ".port", *port.port, "must be between 1 and 65535, inclusive");
        if (!port.appProtocol.empty())
            check_each(s, p + ".appProtocol", port.appProtocol, qualified_name(port.appProtocol));
    }
}

void sort_by_line(Errors& e) {
    std::stable_sort(e.begin(), e.end(), [](const ConfigError& a, const ConfigError& b) {
        return a.loc.line < b.loc.line;
    });
}

}  // namespace

namespace {
// `unread_cidrs` / `unread_ports`: the loader could not read the service CIDRs / the node
// port range, so the defaults stand in for them and allocating against them is noise.
Errors validate_impl(Config& cfg, const Config* previous, bool unread_cidrs, bool unread_ports);
}  // namespace

Errors validate_and_allocate(Config& cfg, const Config* previous) { return validate_impl(cfg, previous, false, false); }

namespace {
Errors validate_impl(Config& cfg, const Config* previous, bool unread_cidrs, bool unread_ports) {
    Errors errs;
    validate_appliance(cfg.appliance, errs);
    ClusterCheck cluster = validate_cluster(cfg.cluster, errs);
    if (unread_cidrs) cluster.ranges_ok = false;
    if (unread_ports) cluster.node_ports_ok = false;

    std::map<std::string, const Service*> prev;
    if (previous)
        for (auto& svc : previous->services) prev.emplace(svc.key(), &svc);
    auto prev_of = [&](const Service& svc) -> const Service* {
        auto it = prev.find(svc.key());
        return it == prev.end() ? nullptr : it->second;
    };

    // Static checks, one error list per service so that allocation errors join their object.
    std::vector<Errors> svc_errs(cfg.services.size());
    std::vector<bool> ips_ok(cfg.services.size());
    std::set<std::pair<std::string, std::string>> keys;
    for (size_t i = 0; i < cfg.services.size(); i++) {
        Service& svc = cfg.services[i];
        Sink s{svc_errs[i], svc.loc, object_label("services", i, svc.ns, svc.name)};
        ips_ok[i] = validate_service(s, svc);
        if (!svc.name.empty() && !keys.insert({svc.ns, svc.name}).second)
            s.duplicate("metadata.name", svc.name);
    }

    // Allocation needs sound ranges; without them its errors would only be noise.
    if (cluster.ranges_ok) {
        IpAllocator ipa(cluster.ranges, cfg.services, svc_errs);
        for (auto& sl : cfg.slices) {
            if (sl.addressType != "IPv4" && sl.addressType != "IPv6") continue;
            for (auto& ep : sl.endpoints)
                for (auto& a : ep.addresses)
                    if (auto ip = parse_ip(a)) ipa.avoid(*ip);
        }
        for (size_t i = 0; i < cfg.services.size(); i++) {
            const Service& svc = cfg.services[i];
            if (!ips_ok[i] || svc.type == "ExternalName") continue;
            ipa.plan(i, prev_of(svc)); // headless: the family checks only
        }
        ipa.run();
    }
    if (cluster.node_ports_ok) {
        PortAllocator pa(cfg.cluster, cfg.services, svc_errs);
        for (size_t i = 0; i < cfg.services.size(); i++)
            if (wants_node_ports(cfg.services[i])) pa.plan(i, prev_of(cfg.services[i]));
        pa.run(prev);
    }
    for (auto& e : svc_errs) {
        sort_by_line(e);
        errs.insert(errs.end(), e.begin(), e.end());
    }

    // Slices last: they are checked against the final clusterIPs.
    std::map<IpAddr, std::string> cluster_ips;
    for (auto& svc : cfg.services) {
        if (svc.type == "ExternalName" || is_headless(svc)) continue;
        for (auto& a : svc.clusterIPs)
            if (auto ip = parse_ip(a)) cluster_ips.emplace(*ip, svc.key());
    }
    std::set<std::pair<std::string, std::string>> slice_keys;
    for (size_t i = 0; i < cfg.slices.size(); i++) {
        const EndpointSlice& sl = cfg.slices[i];
        Errors e;
        Sink s{e, sl.loc, object_label("endpointSlices", i, sl.ns, sl.name)};
        validate_slice(s, sl, cluster_ips);
        if (!sl.name.empty() && !slice_keys.insert({sl.ns, sl.name}).second)
            s.duplicate("metadata.name", sl.name);
        sort_by_line(e);
        errs.insert(errs.end(), e.begin(), e.end());
    }
    return errs;
}
}  // namespace

namespace {

// The object an error is about, the same whichever source named it: "svc ns/name",
// "slice ns/name" or "endpoints ns/name" (loaders say "Service default/web" in manifests
// and "services[0] (default/web)" in libconfig, as the validator does), "" for none.
std::string object_key(const std::string& object) {
    auto named = [&](const std::string& prefix) -> std::string {
        if (object.rfind(prefix, 0) != 0) return "";
        if (const auto open = object.find(" ("); open != std::string::npos && object.back() == ')')
            return object.substr(open + 2, object.size() - open - 3);
        return object.substr(prefix.size());
    };
    if (auto n = named("services["); !n.empty()) return "svc " + n;
    if (auto n = named("Service "); !n.empty()) return "svc " + n;
    if (auto n = named("endpointSlices["); !n.empty()) return "slice " + n;
    if (auto n = named("EndpointSlice "); !n.empty()) return "slice " + n;
    if (auto n = named("Endpoints "); !n.empty()) return "endpoints " + n;
    return "";
}

}  // namespace

Errors validate_loaded(Config& cfg, const Config* previous, const Errors& load_errs) {
    Errors out = load_errs;
    // What the loaders could not read: (object, field path). A field that failed to load
    // keeps its default, so validation's errors on it (or inside it, or on a list that
    // holds it) would repeat the load error in other words. Errors about a whole file
    // (no object, no path: syntax, unreadable) hide nothing.
    std::set<std::pair<std::string, std::string>> unread;
    std::set<std::string> endpoints_objects;
    bool unread_cidrs = false, unread_ports = false;
    for (const auto& e : load_errs) {
        const std::string k = object_key(e.object);
        if (k.empty() && e.path.empty()) continue;
        unread.insert({k, e.path});
        if (k.rfind("endpoints ", 0) == 0) endpoints_objects.insert(k.substr(10));
        unread_cidrs |= k.empty() && e.path.rfind("cluster.serviceCIDR", 0) == 0;
        unread_ports |= k.empty() && e.path.rfind("cluster.nodePortRange", 0) == 0;
    }
    auto related = [](const std::string& a, const std::string& b) { // a is b, or inside it
        return a.rfind(b, 0) == 0 && (a.size() == b.size() || a[b.size()] == '.' || a[b.size()] == '[');
    };
    for (auto& e : validate_impl(cfg, previous, unread_cidrs, unread_ports)) {
        std::string k = object_key(e.object);
        // A slice made from an Endpoints object is that object's (its paths are the slice's).
        bool skip = false;
        for (const auto& sl : cfg.slices)
            if (!sl.mirrored_from.empty() && k == "slice " + sl.ns + "/" + sl.name &&
                endpoints_objects.count(sl.ns + "/" + sl.mirrored_from))
                skip = true;
        for (const auto& [uk, up] : unread)
            if (uk == k && ((up.empty() && !uk.empty()) || (!up.empty() && (related(e.path, up) || related(up, e.path)))))
                skip = true;
        if (!skip) out.push_back(std::move(e));
    }
    return out;
}

}  // namespace svclb::cp
