// SPDX-License-Identifier: Apache-2.0
#include "cp/compile.h"

#include <algorithm>
#include <map>
#include <functional>
#include <stdexcept>

#include "lb/maglev.h"

namespace svclb::cp {

uint8_t protocol_number(const std::string& p) {
    if (p == "UDP") return kProtoUdp;
    if (p == "SCTP") return kProtoSctp;
    return kProtoTcp;
}

std::vector<UsableBackend> usable_backends(const Config& cfg, const Service& svc, const ServicePort& sp,
                                           bool local_only, Family family) {
    const auto& nodes = cfg.cluster.nodeNames;
    struct Cand {
        UsableBackend b;
        bool ready, serving;
    };
    std::vector<Cand> all;
    for (const auto& sl : cfg.slices) {
        if (sl.ns != svc.ns || sl.service != svc.name || sl.addressType == "FQDN") continue;
        const EndpointPort* ep = nullptr;
        for (const auto& p : sl.ports)
            if (p.name == sp.name && p.protocol == sp.protocol) ep = &p;
        if (!ep || !ep->port) continue;
        for (const auto& e : sl.endpoints) {
            if (local_only && std::find(nodes.begin(), nodes.end(), e.nodeName) == nodes.end()) continue;
            const bool ready = svc.publishNotReadyAddresses || e.conditions.ready.value_or(true);
            const bool serving = svc.publishNotReadyAddresses || e.conditions.serving.value_or(ready);
            const bool terminating = e.conditions.terminating.value_or(false);
            for (const auto& a : e.addresses) {
                auto ip = parse_ip(a);
                if (!ip || (family != Family::kNone && ip->family != family)) continue;
                all.push_back({{*ip, uint16_t(*ep->port), e.weight, terminating}, ready, serving});
            }
        }
    }
    std::vector<UsableBackend> out;
    for (const auto& c : all)
        // publishNotReadyAddresses: every endpoint counts as ready, terminating ones too
        // (the EndpointSlice controller publishes them as ready; svclb plays its part).
        // Ready ones (kube-proxy's IsReady: a ready endpoint is used even while terminating,
        // which the EndpointSlice controller reports only for publishNotReadyAddresses),
        // but never one that says it is not serving (SEMANTICS.md "Usable endpoints").
        if (svc.publishNotReadyAddresses || (c.ready && c.serving)) out.push_back(c.b);
    if (out.empty()) // Kubernetes' terminating-endpoint fallback
        for (const auto& c : all)
            if (c.serving && c.b.terminating) out.push_back(c.b);
    // One backend per (address, port): duplicates across slices collapse.
    std::sort(out.begin(), out.end(), [](const UsableBackend& a, const UsableBackend& b) {
        return std::tie(a.addr, a.port) < std::tie(b.addr, b.port);
    });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const UsableBackend& a, const UsableBackend& b) {
                              return a.addr == b.addr && a.port == b.port;
                          }),
              out.end());
    // Draining: serving and terminating while ready ones take the new flows. They stay in
    // the table for the flows they already have (SEMANTICS.md "Flows and affinity").
    const size_t usable = out.size();
    if (!svc.publishNotReadyAddresses && usable)
        for (const auto& c : all) {
            if (!c.serving || !c.b.terminating || c.ready) continue;
            const bool known = std::any_of(out.begin(), out.end(), [&](const UsableBackend& u) {
                return u.addr == c.b.addr && u.port == c.b.port;
            });
            if (known) continue;
            UsableBackend d = c.b;
            d.weight = 0;
            d.draining = true;
            out.push_back(d);
        }
    return out;
}

uint32_t drain_timeout_seconds(const Service& svc) {
    if (auto it = svc.annotations.find(kDrainTimeoutAnnotation); it != svc.annotations.end()) {
        const std::string& v = it->second;
        const auto digit = [](char c) { return c >= '0' && c <= '9'; };
        if (!v.empty() && v.size() <= 5 && std::all_of(v.begin(), v.end(), digit) && std::stoul(v) <= 86400)
            return uint32_t(std::stoul(v));
    }
    return 30;
}

std::vector<IpAddr> node_addresses(const Config& cfg) {
    std::vector<IpAddr> addrs;
    if (!cfg.cluster.nodeAddresses.empty()) {
        for (const auto& s : cfg.cluster.nodeAddresses)
            if (auto ip = parse_ip(s)) addrs.push_back(*ip);
    } else {
        for (const auto& p : cfg.appliance.ports)
            for (const auto& a : p.addresses) {
                IpAddr host;
                if (parse_cidr(a, &host)) addrs.push_back(host);
            }
    }
    if (cfg.cluster.nodePortAddresses.empty()) return addrs;
    std::vector<IpAddr> out;
    for (const auto& a : addrs)
        for (const auto& c : cfg.cluster.nodePortAddresses) {
            auto cidr = parse_cidr(c);
            if (cidr && cidr->contains(a)) {
                out.push_back(a);
                break;
            }
        }
    return out;
}

namespace {

// loadBalancerSourceRanges, or its annotation when the field is empty (Kubernetes'
// precedence), whitespace trimmed.
std::vector<std::string> source_ranges(const Service& svc) {
    if (!svc.loadBalancerSourceRanges.empty()) return svc.loadBalancerSourceRanges;
    std::vector<std::string> out;
    auto it = svc.annotations.find("service.beta.kubernetes.io/load-balancer-source-ranges");
    if (it == svc.annotations.end()) return out;
    size_t pos = 0;
    const std::string& v = it->second;
    while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string::npos) comma = v.size();
        std::string item = v.substr(pos, comma - pos);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) out.push_back(item);
        pos = comma + 1;
    }
    return out;
}

struct Iface {
    uint16_t port_id;
    IpAddr host;
    Cidr net;
};

}  // namespace

std::unique_ptr<Snapshot> compile(const Config& cfg, const std::vector<PortBinding>& ports,
                                  uint64_t generation, int socket_id) {
    auto snap = std::make_unique<Snapshot>(generation, socket_id);
    const Appliance& ap = cfg.appliance;
    const auto& t = ap.timeouts;
    snap->timeouts = {t.tcpSyn, t.tcpEstablished, t.tcpFin, t.tcpTimeWait, t.tcpClose, t.udp, t.icmp, t.sctp};
    snap->reject_rate = ap.rejectRateLimit;
    snap->exception_path = !ap.exceptionInterface.empty();
    snap->punt_rate = ap.exceptionRateLimit;

    std::map<std::string, uint16_t> port_by_name;
    for (const auto& b : ports) {
        port_by_name[b.name] = b.port_id;
        snap->ports.push_back({b.port_id, b.mac, b.name});
    }
    std::vector<Iface> ifaces;
    for (const auto& p : ap.ports) {
        const uint16_t pid = port_by_name.at(p.name);
        for (const auto& a : p.addresses) {
            IpAddr host;
            auto net = parse_cidr(a, &host);
            if (!net) continue;
            ifaces.push_back({pid, host, *net});
            snap->add_local(host, kAddrInterface);
            snap->add_route(*net, NextHop{pid, true, {}});
        }
    }
    auto connected_port = [&](const IpAddr& a) -> const Iface* {
        const Iface* best = nullptr;
        for (const auto& i : ifaces)
            if (i.net.contains(a) && (!best || i.net.len > best->net.len)) best = &i;
        return best;
    };
    IpAddr gw4, gw6;
    if (!ap.gateway.empty()) {
        gw4 = *parse_ip(ap.gateway);
        if (const Iface* i = connected_port(gw4)) {
            Cidr def{};
            def.addr = IpAddr::v4(0);
            snap->add_route(def, NextHop{i->port_id, false, gw4});
        }
    }
    if (!ap.gateway6.empty()) {
        gw6 = *parse_ip(ap.gateway6);
        if (const Iface* i = connected_port(gw6)) {
            Cidr def{};
            def.addr.family = Family::kV6;
            snap->add_route(def, NextHop{i->port_id, false, gw6});
        }
    }
    // SNAT source addresses: the configured ones, else (per family: IPv4-only snatAddresses
    // leave IPv6 to the interfaces, and the other way round) the interface addresses.
    std::vector<IpAddr> snats;
    for (const auto& s : ap.snatAddresses)
        if (auto ip = parse_ip(s)) snats.push_back(*ip);
    for (const Family f : {Family::kV4, Family::kV6})
        if (std::none_of(snats.begin(), snats.end(), [&](const IpAddr& a) { return a.family == f; }))
            for (const auto& i : ifaces)
                if (i.host.family == f) snats.push_back(i.host);
    for (const auto& s : snats) snap->add_local(s, kAddrSnat);
    for (const auto& c : cfg.cluster.serviceCIDRs)
        if (auto cidr = parse_cidr(c)) snap->add_service_cidr(*cidr);

    const std::vector<IpAddr> nodes = node_addresses(cfg);
    for (const auto& n : nodes) snap->add_local(n, kAddrNode);

    auto egress = [&](const IpAddr& dst, BackendRt& b) -> bool {
        if (const Iface* i = connected_port(dst)) {
            b.out_port = i->port_id;
            b.nexthop = dst;
        } else if (const IpAddr& gw = dst.is_v4() ? gw4 : gw6; gw.valid()) {
            const Iface* gi = connected_port(gw);
            if (!gi) return false;
            b.out_port = gi->port_id;
            b.nexthop = gw;
        } else {
            return false;
        }
        // SNAT: an address on the egress subnet if there is one, else the first of the family.
        const IpAddr* pick = nullptr;
        for (const auto& s : snats)
            if (s.family == dst.family) {
                if (!pick) pick = &s;
                for (const auto& i : ifaces)
                    if (i.port_id == b.out_port && i.net.contains(s) && i.net.contains(b.nexthop)) {
                        pick = &s;
                        goto done;
                    }
            }
    done:
        if (!pick) return false;
        b.snat = *pick;
        return true;
    };

    for (const auto& svc : cfg.services) {
        if (svc.type == "ExternalName" || svc.clusterIP == "None") continue;
        // One table per (service port, family): a dual-stack service's IPv4 frontends
        // choose among its IPv4 endpoints, its IPv6 frontends among its IPv6 ones.
        std::vector<Family> families;
        for (const auto& f : svc.ipFamilies) families.push_back(f == "IPv6" ? Family::kV6 : Family::kV4);
        if (families.empty())
            for (const auto& ip : svc.clusterIPs)
                if (auto a = parse_ip(ip)) families.push_back(a->family);
        const bool ours = svc.loadBalancerClass.empty() ? cfg.cluster.defaultLoadBalancer
                                                        : svc.loadBalancerClass == cfg.cluster.loadBalancerClass;
        // Traffic policies (SEMANTICS.md "Verdicts"): clusterIP frontends follow
        // internalTrafficPolicy, NodePort / ingress / externalIP frontends
        // externalTrafficPolicy. Local keeps the client address (DNAT, no SNAT) and only
        // this node's endpoints.
        const bool internal_local = svc.internalTrafficPolicy == "Local";
        const bool external_local = svc.externalTrafficPolicy == "Local";
        for (const auto& sp : svc.ports) {
            for (const Family fam : families) {
                // Per family: each family's table has its own fallback and draining, as
                // kube-proxy's per-family proxiers do.
                const std::vector<UsableBackend> all = usable_backends(cfg, svc, sp, false, fam);
                const uint8_t proto = protocol_number(sp.protocol);
                auto build = [&](bool local) -> uint32_t {
                    auto rt = std::make_unique<ServicePortRt>();
                    rt->name = svc.key() + ":" + (sp.name.empty() ? std::to_string(sp.port) : sp.name) +
                               (families.size() > 1 && fam == Family::kV6 ? " (IPv6)" : "") +
                               (local && !(internal_local && external_local) ? " (Local)" : "");
                    rt->proto = proto;
                    rt->snat = !local;
                    rt->service = svc.key();
                    rt->port_name = sp.name.empty() ? std::to_string(sp.port) : sp.name;
                    rt->app_protocol = sp.appProtocol;
                    if (rt->app_protocol.empty()) // else the slices' (the controller copies it there)
                        for (const auto& sl : cfg.slices)
                            if (sl.ns == svc.ns && sl.service == svc.name)
                                for (const auto& p : sl.ports)
                                    if (p.name == sp.name && p.protocol == sp.protocol && !p.appProtocol.empty())
                                        rt->app_protocol = p.appProtocol;
                    const std::vector<UsableBackend> usable = local ? usable_backends(cfg, svc, sp, true, fam) : all;
                    for (const auto& u : usable) {
                        if (u.addr.family != fam) continue;
                        BackendRt b;
                        b.addr = u.addr;
                        b.port = u.port;
                        b.weight = u.weight;
                        b.terminating = u.terminating;
                        b.draining = u.draining;
                        b.id = backend_identity(u.addr, u.port);
                        if (!egress(u.addr, b)) continue; // no route to it: not usable
                        rt->backends.push_back(b);
                    }
                    if (local)
                        for (const auto& u : all) rt->drop_if_empty |= u.addr.family == fam;
                    std::stable_sort(rt->backends.begin(), rt->backends.end(),
                                     [](const BackendRt& a, const BackendRt& b) { return a.id < b.id; });
                    std::vector<MaglevBackend> mb;
                    for (const auto& b : rt->backends) mb.push_back({b.id, b.weight});
                    rt->maglev = maglev_build(mb, maglev_table_size(mb.size()));
                    rt->drain_timeout_s = drain_timeout_seconds(svc);
                    if (svc.sessionAffinity == "ClientIP")
                        rt->affinity_timeout_s = uint32_t(svc.affinityTimeoutSeconds.value_or(10800));
                    rt->stable_id =
                        backend_identity(IpAddr{}, uint16_t(sp.port)) ^ std::hash<std::string>{}(rt->name + sp.protocol);
                    if (svc.type == "LoadBalancer") {
                        for (const auto& c : source_ranges(svc))
                            if (auto cidr = parse_cidr(c); cidr && cidr->addr.family == fam) rt->source_ranges.push_back(*cidr);
                        for (const auto& ing : svc.ingress)
                            if (auto a = parse_ip(ing.ip); a && ing.ipMode != "Proxy") rt->range_frontends.push_back(*a);
                        // Ranges of the other family only: nobody of this family may connect.
                        if (rt->source_ranges.empty() && !source_ranges(svc).empty())
                            rt->source_ranges.push_back(Cidr{}); // family none: matches no client
                    }
                    if (local) snap->has_dnat = true;
                    return snap->add_service_port(std::move(rt)).index;
                };
                const uint32_t internal_idx = build(internal_local);
                const uint32_t external_idx = internal_local == external_local ? internal_idx : build(external_local);
                auto frontend = [&](const std::string& ip, int32_t port, uint32_t idx) {
                    if (auto a = parse_ip(ip); a && a->family == fam)
                        snap->add_frontend(*a, proto, uint16_t(port), idx);
                };
                for (const auto& ip : svc.clusterIPs) frontend(ip, sp.port, internal_idx);
                for (const auto& ip : svc.externalIPs) frontend(ip, sp.port, external_idx);
                if ((svc.type == "NodePort" || svc.type == "LoadBalancer") && sp.nodePort > 0)
                    for (const auto& n : nodes)
                        if (n.family == fam) snap->add_frontend(n, proto, uint16_t(sp.nodePort), external_idx);
                if (svc.type == "LoadBalancer" && ours)
                    for (const auto& ing : svc.ingress)
                        if (ing.ipMode != "Proxy") frontend(ing.ip, sp.port, external_idx);
            }
        }
    }
    snap->finalize();
    return snap;
}

}  // namespace svclb::cp
