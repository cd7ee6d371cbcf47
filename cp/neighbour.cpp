// SPDX-License-Identifier: Apache-2.0
#include "cp/neighbour.h"

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "lb/packet.h"

namespace svclb::cp {

NeighbourResolver::~NeighbourResolver() {
    for (auto& [ip, e] : entries_)
        for (rte_mbuf* m : e.queue) rte_pktmbuf_free(m);
}

const NeighbourResolver::Iface* NeighbourResolver::source_for(uint16_t port, const IpAddr& target) const {
    const Iface* first = nullptr;
    for (const auto& i : ifaces_) {
        if (i.port != port || i.host.family != target.family) continue;
        if (i.net.contains(target)) return &i;
        if (!first) first = &i;
    }
    return first;
}

void NeighbourResolver::configure(const Config& cfg, const std::vector<PortBinding>& ports,
                                  const Snapshot& snap, uint64_t now_ms) {
    timeout_ms_ = uint64_t(cfg.appliance.neighbourTimeout) * 1000;
    ifaces_.clear();
    std::map<std::string, const PortBinding*> by_name;
    for (const auto& b : ports) by_name[b.name] = &b;
    for (const auto& p : cfg.appliance.ports) {
        const PortBinding* b = by_name.at(p.name);
        for (const auto& a : p.addresses) {
            IpAddr host;
            if (auto net = parse_cidr(a, &host)) ifaces_.push_back({b->port_id, host, *net, b->mac});
        }
    }
    for (const auto& n : cfg.appliance.neighbours) {
        auto ip = parse_ip(n.ip);
        auto mac = parse_mac(n.mac);
        if (!ip || !mac) continue;
        uint16_t port = ports.empty() ? 0 : ports[0].port_id;
        if (!n.port.empty() && by_name.count(n.port)) port = by_name[n.port]->port_id;
        else
            for (const auto& i : ifaces_)
                if (i.net.contains(*ip)) port = i.port;
        Entry& e = entries_[*ip];
        e.slot = dp_.neigh().ensure(*ip, port);
        if (e.slot < 0) continue;
        e.port = port;
        e.state = State::kStatic;
        e.mac = *mac;
        e.updated_ms = now_ms;
        dp_.neigh().set_mac(e.slot, *mac);
        for (rte_mbuf* m : e.queue) { // flush anything that waited
            auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
            std::memcpy(eth->dst_addr.addr_bytes, mac->b.data(), 6);
            std::memcpy(eth->src_addr.addr_bytes, dp_.port_mac(port).b.data(), 6);
            dp_.send(m, port);
            queued_--;
        }
        e.queue.clear();
    }
    // Gratuitous ARP (RFC 5227 announcement) and unsolicited neighbour advertisements
    // (RFC 4861 section 7.2.6) for owned addresses that just appeared.
    std::set<std::pair<uint16_t, IpAddr>> now_owned;
    for (const auto& l : snap.locals)
        for (const auto& p : snap.ports) now_owned.insert({p.port_id, l.addr});
    for (const auto& [port, ip] : now_owned) {
        if (announced_.count({port, ip})) continue;
        if (ip.is_v4())
            send_arp(port, RTE_ARP_OP_REQUEST, ip, MacAddr{}, ip);
        else
            send_nd(port, false, ip, ip);
    }
    announced_ = std::move(now_owned);
}

uint8_t* NeighbourResolver::new_frame(uint16_t port, const MacAddr& dst, uint16_t ethertype, size_t len,
                                      rte_mbuf** out) {
    rte_mbuf* m = rte_pktmbuf_alloc(dp_.pool());
    if (!m) return nullptr;
    const uint16_t vlan = dp_.port_vlan(port);
    const size_t l2 = sizeof(rte_ether_hdr) + (vlan ? sizeof(rte_vlan_hdr) : 0);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, uint16_t(l2 + len)));
    std::memcpy(eth->dst_addr.addr_bytes, dst.b.data(), 6);
    std::memcpy(eth->src_addr.addr_bytes, dp_.port_mac(port).b.data(), 6);
    if (vlan) {
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
        auto* vh = reinterpret_cast<rte_vlan_hdr*>(eth + 1);
        vh->vlan_tci = rte_cpu_to_be_16(vlan);
        vh->eth_proto = rte_cpu_to_be_16(ethertype);
    } else {
        eth->ether_type = rte_cpu_to_be_16(ethertype);
    }
    *out = m;
    return reinterpret_cast<uint8_t*>(eth) + l2;
}

void NeighbourResolver::send_arp(uint16_t port, uint16_t op, const IpAddr& sip, const MacAddr& tha,
                                 const IpAddr& tip) {
    const MacAddr bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    rte_mbuf* m;
    auto* arp = reinterpret_cast<rte_arp_hdr*>(new_frame(port, bcast, RTE_ETHER_TYPE_ARP, sizeof(rte_arp_hdr), &m));
    if (!arp) return;
    const MacAddr mine = dp_.port_mac(port);
    arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(op);
    std::memcpy(arp->arp_data.arp_sha.addr_bytes, mine.b.data(), 6);
    arp->arp_data.arp_sip = sip.v4_be();
    std::memcpy(arp->arp_data.arp_tha.addr_bytes, tha.b.data(), 6);
    arp->arp_data.arp_tip = tip.v4_be();
    if (dp_.send(m, port)) requests_sent_++;
}

void NeighbourResolver::send_nd(uint16_t port, bool solicitation, const IpAddr& src, const IpAddr& target) {
    constexpr size_t kIcmpLen = 32; // 24 bytes of NS/NA and one link-layer address option
    const MacAddr mine = dp_.port_mac(port);
    // Destination: the solicited-node group ff02::1:ffXX:XXXX, or all nodes ff02::1.
    uint8_t dst[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    if (solicitation) {
        dst[11] = 0x01;
        dst[12] = 0xff;
        std::memcpy(dst + 13, target.bytes.data() + 13, 3);
    }
    const MacAddr mcast{{0x33, 0x33, dst[12], dst[13], dst[14], dst[15]}};
    rte_mbuf* m;
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(
        new_frame(port, mcast, RTE_ETHER_TYPE_IPV6, sizeof(rte_ipv6_hdr) + kIcmpLen, &m));
    if (!ip6) return;
    ip6->vtc_flow = RTE_BE32(6u << 28);
    ip6->payload_len = RTE_BE16(kIcmpLen);
    ip6->proto = IPPROTO_ICMPV6;
    ip6->hop_limits = 255;
    std::memcpy(ip6->src_addr, src.bytes.data(), 16);
    std::memcpy(ip6->dst_addr, dst, 16);
    uint8_t* icmp = reinterpret_cast<uint8_t*>(ip6 + 1);
    std::memset(icmp, 0, kIcmpLen);
    icmp[0] = solicitation ? 135 : 136;
    if (!solicitation) icmp[4] = 0x20; // override
    std::memcpy(icmp + 8, target.bytes.data(), 16);
    icmp[24] = solicitation ? 1 : 2; // source / target link-layer address
    icmp[25] = 1;
    std::memcpy(icmp + 26, mine.b.data(), 6);
    const uint16_t ck = icmp6_checksum(ip6, icmp, kIcmpLen);
    std::memcpy(icmp + 2, &ck, 2);
    if (dp_.send(m, port)) requests_sent_++;
}

void NeighbourResolver::probe(const IpAddr& target, Entry& e, uint64_t now_ms) {
    const Iface* src = source_for(e.port, target);
    if (src && target.is_v4()) send_arp(e.port, RTE_ARP_OP_REQUEST, src->host, MacAddr{}, target);
    if (src && target.is_v6()) send_nd(e.port, true, src->host, target);
    e.last_probe_ms = now_ms;
    e.probes++;
}

void NeighbourResolver::fail(Entry& e) {
    for (rte_mbuf* m : e.queue) rte_pktmbuf_free(m);
    unresolved_drops_ += e.queue.size();
    queued_ -= e.queue.size();
    e.queue.clear();
    e.state = State::kFailed;
    if (e.slot >= 0) dp_.neigh().invalidate(e.slot);
}

void NeighbourResolver::on_packet(rte_mbuf* m, uint64_t now_ms) {
    const PktPriv* pv = pkt_priv(m);
    if (pv->kind == kPrivAwaitNeigh) {
        const IpAddr nh = pv->nexthop;
        const uint16_t port = pv->out_port;
        Entry& e = entries_[nh];
        if (e.slot < 0) {
            e.slot = dp_.neigh().ensure(nh, port);
            e.port = port;
        }
        if (e.state == State::kReachable || e.state == State::kStatic || e.state == State::kProbing) {
            // Resolved since the worker looked: send it straight away.
            auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
            std::memcpy(eth->dst_addr.addr_bytes, e.mac.b.data(), 6);
            std::memcpy(eth->src_addr.addr_bytes, dp_.port_mac(port).b.data(), 6);
            dp_.send(m, port);
            return;
        }
        if (e.queue.size() >= kQueuePerNeighbour || queued_ >= kQueueTotal) {
            rte_pktmbuf_free(m);
            queue_drops_++;
        } else {
            e.queue.push_back(m);
            queued_++;
        }
        if (e.state == State::kFailed) { // a new attempt
            e.state = State::kIncomplete;
            e.probes = 0;
        }
        if (e.probes == 0 || now_ms - e.last_probe_ms >= kProbeIntervalMs) probe(nh, e, now_ms);
        return;
    }
    if (pv->kind == kPrivArp) {
        uint16_t type;
        std::memcpy(&type, rte_pktmbuf_mtod_offset(m, const uint8_t*, pv->l2 - 2), 2);
        if (type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
            const auto* arp = rte_pktmbuf_mtod_offset(m, const rte_arp_hdr*, pv->l2);
            MacAddr mac;
            std::memcpy(mac.b.data(), arp->arp_data.arp_sha.addr_bytes, 6);
            learn(IpAddr::v4(arp->arp_data.arp_sip), mac, now_ms);
        } else if (type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
            // A neighbour advertisement (the worker checked its length): target at 8, then
            // options; the target link-layer address option (type 2) carries the MAC.
            const uint32_t na = pv->l2 + sizeof(rte_ipv6_hdr);
            const uint8_t* p = rte_pktmbuf_mtod_offset(m, const uint8_t*, na);
            const uint32_t len = rte_pktmbuf_data_len(m) - na;
            for (uint32_t o = 24; o + 8 <= len && p[o + 1] != 0; o += p[o + 1] * 8u)
                if (p[o] == 2) {
                    MacAddr mac;
                    std::memcpy(mac.b.data(), p + o + 2, 6);
                    learn(IpAddr::v6(p + 8), mac, now_ms);
                    break;
                }
        }
    }
    rte_pktmbuf_free(m);
}

void NeighbourResolver::learn(const IpAddr& ip, const MacAddr& mac, uint64_t now_ms) {
    {
        auto it = entries_.find(ip);
        // Learn only for next hops we asked about (no unsolicited cache entries).
        if (it != entries_.end() && it->second.state != State::kStatic && !mac.is_zero()) {
            Entry& e = it->second;
            e.mac = mac;
            e.state = State::kReachable;
            e.updated_ms = now_ms;
            e.probes = 0;
            dp_.neigh().set_mac(e.slot, mac);
            const MacAddr mine = dp_.port_mac(e.port);
            for (rte_mbuf* q : e.queue) {
                auto* eth = rte_pktmbuf_mtod(q, rte_ether_hdr*);
                std::memcpy(eth->dst_addr.addr_bytes, mac.b.data(), 6);
                std::memcpy(eth->src_addr.addr_bytes, mine.b.data(), 6);
                dp_.send(q, e.port);
            }
            queued_ -= e.queue.size();
            e.queue.clear();
        }
    }
}

void NeighbourResolver::tick(uint64_t now_ms) {
    for (auto& [ip, e] : entries_) {
        switch (e.state) {
        case State::kIncomplete:
            if (now_ms - e.last_probe_ms < kProbeIntervalMs) break;
            if (e.probes >= kMaxProbes)
                fail(e);
            else
                probe(ip, e, now_ms);
            break;
        case State::kReachable:
            // Refresh before the entry ages out; traffic keeps flowing meanwhile.
            if (now_ms - e.updated_ms >= timeout_ms_) {
                e.state = State::kProbing;
                e.probes = 0;
                probe(ip, e, now_ms);
            }
            break;
        case State::kProbing:
            if (now_ms - e.last_probe_ms < kProbeIntervalMs) break;
            if (e.probes >= kMaxProbes)
                fail(e);
            else
                probe(ip, e, now_ms);
            break;
        case State::kFailed:
        case State::kStatic: break;
        }
    }
}

std::string NeighbourResolver::describe() const {
    static const char* names[] = {"INCOMPLETE", "REACHABLE", "PROBING", "FAILED", "STATIC"};
    std::string out;
    for (const auto& [ip, e] : entries_)
        out += format_ip(ip) + " " + format_mac(e.mac) + " port " + std::to_string(e.port) + " " +
               names[int(e.state)] + " queued " + std::to_string(e.queue.size()) + "\n";
    return out;
}

}  // namespace svclb::cp
