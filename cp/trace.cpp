// SPDX-License-Identifier: Apache-2.0
// `svclbctl trace`: one synthesised packet through the real worker pipeline, in process
// (docs/trace.md). The appliance is built as tests/ring_appliance.h builds it: a net_ring
// port per configured port, one worker polled here, a Controller that applies the
// configuration; static neighbours for every address a packet could be sent to, so
// nothing waits on ARP. Runs on: the main lcore (EAL already initialised).
#include "cp/trace.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_cycles.h>
#include <rte_ring.h>

#include "cp/config_loader.h"
#include "cp/controller.h"
#include "cp/ring_appliance.h"
#include "cp/validate.h"
#include "lb/dataplane.h"
#include "lb/packet.h"
#include "lb/worker.h"

#include "cp/manifest_loader.h"

namespace svclb::cp {

namespace {

constexpr const char* kClientMac = "02:00:5e:10:00:01"; // the traced packet's sender
constexpr const char* kPeerMac = "02:00:5e:10:00:02";   // every backend and next hop
constexpr uint16_t kDefaultSrcPort = 40000;

using Bytes = std::vector<uint8_t>;

// ---- JSON ------------------------------------------------------------------------------

std::string json_opt(const std::string& s) { return s.empty() ? "null" : json_quote(s); }

// ---- endpoints -------------------------------------------------------------------------

struct HostPort {
    IpAddr ip;
    int port = -1; // -1 = none given
};

// "IP", "IP:PORT", "[V6]:PORT" or a bare IPv6 literal.
HostPort parse_host_port(const std::string& what, const std::string& s) {
    std::string host = s, port;
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos) throw std::invalid_argument(what + ": missing ']' in \"" + s + "\"");
        host = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') throw std::invalid_argument(what + ": expected ':' after ']' in \"" + s + "\"");
            port = s.substr(close + 2);
        }
    } else if (std::count(s.begin(), s.end(), ':') == 1) {
        host = s.substr(0, s.find(':'));
        port = s.substr(s.find(':') + 1);
    }
    HostPort hp;
    auto ip = parse_ip(host);
    if (!ip) throw std::invalid_argument(what + ": not an IP address: \"" + host + "\"");
    hp.ip = *ip;
    if (!port.empty() || (s.size() && s.back() == ':')) {
        if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
            std::stoi(port) < 1 || std::stoi(port) > 65535)
            throw std::invalid_argument(what + ": port must be between 1 and 65535: \"" + s + "\"");
        hp.port = std::stoi(port);
    }
    return hp;
}

std::string endpoint_str(const IpAddr& a, int port) { return port < 0 ? format_ip(a) : format_ip_port(a, uint16_t(port)); }

// ---- the packet ------------------------------------------------------------------------

void put16(Bytes& b, size_t off, uint16_t v) {
    b[off] = uint8_t(v >> 8);
    b[off + 1] = uint8_t(v);
}
void put32(Bytes& b, size_t off, uint32_t v) {
    put16(b, off, uint16_t(v >> 16));
    put16(b, off + 2, uint16_t(v));
}
uint16_t get16(const Bytes& b, size_t off) { return uint16_t(b[off] << 8 | b[off + 1]); }

// Ethernet (+ 802.1Q) + IPv4/IPv6 + TCP SYN / UDP datagram / SCTP INIT / ICMP echo request,
// every checksum computed in full.
Bytes build_packet(uint8_t proto, const HostPort& src, const HostPort& dst, const MacAddr& dst_mac,
                   uint16_t vlan) {
    const bool v6 = src.ip.is_v6();
    const uint16_t sport = uint16_t(src.port < 0 ? kDefaultSrcPort : src.port);
    const uint16_t dport = uint16_t(dst.port < 0 ? 0 : dst.port);
    Bytes l4;
    static const char kPayload[] = "svclb trace";
    const size_t plen = sizeof kPayload - 1;
    switch (proto) {
    case kProtoTcp:
        l4.assign(20, 0);
        put16(l4, 0, sport);
        put16(l4, 2, dport);
        put32(l4, 4, 1000);       // seq
        l4[12] = 5 << 4;          // data offset
        l4[13] = 0x02;            // SYN
        put16(l4, 14, 65535);     // window
        break;
    case kProtoUdp:
        l4.assign(8, 0);
        put16(l4, 0, sport);
        put16(l4, 2, dport);
        put16(l4, 4, uint16_t(8 + plen));
        l4.insert(l4.end(), kPayload, kPayload + plen);
        break;
    case kProtoSctp:
        l4.assign(12 + 20, 0);
        put16(l4, 0, sport);
        put16(l4, 2, dport);
        // verification tag 0 (INIT); INIT chunk: type 1, flags 0, length 20
        l4[12] = 1;
        put16(l4, 14, 20);
        put32(l4, 16, 0x5c1b0001); // initiate tag
        put32(l4, 20, 65535);      // a_rwnd
        put16(l4, 24, 1);          // outbound streams
        put16(l4, 26, 1);          // inbound streams
        put32(l4, 28, 1);          // initial TSN
        sctp_set_checksum(l4.data(), uint32_t(l4.size()));
        break;
    default: // ICMP / ICMPv6 echo request
        l4.assign(8, 0);
        l4[0] = v6 ? 128 : 8;
        put16(l4, 4, sport); // identifier
        put16(l4, 6, 1);     // sequence
        l4.insert(l4.end(), kPayload, kPayload + plen);
        break;
    }
    Bytes ip;
    const uint8_t l4proto = proto == kProtoIcmp && v6 ? uint8_t(IPPROTO_ICMPV6) : proto;
    if (!v6) {
        ip.assign(20, 0);
        ip[0] = 0x45;
        put16(ip, 2, uint16_t(20 + l4.size()));
        put16(ip, 4, 0x1234);
        put16(ip, 6, 0x4000); // DF
        ip[8] = 64;
        ip[9] = l4proto;
        std::memcpy(&ip[12], src.ip.bytes.data(), 4);
        std::memcpy(&ip[16], dst.ip.bytes.data(), 4);
        auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip.data());
        h->hdr_checksum = rte_ipv4_cksum(h);
    } else {
        ip.assign(40, 0);
        ip[0] = 0x60;
        put16(ip, 4, uint16_t(l4.size()));
        ip[6] = l4proto;
        ip[7] = 64;
        std::memcpy(&ip[8], src.ip.bytes.data(), 16);
        std::memcpy(&ip[24], dst.ip.bytes.data(), 16);
    }
    // L4 checksums (the SCTP CRC32c is already in place).
    if (proto == kProtoTcp || proto == kProtoUdp || (proto == kProtoIcmp && v6)) {
        const size_t off = proto == kProtoTcp ? 16 : proto == kProtoUdp ? 6 : 2;
        uint16_t ck;
        if (!v6)
            ck = rte_ipv4_udptcp_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip.data()), l4.data());
        else
            ck = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip.data()), l4.data());
        std::memcpy(&l4[off], &ck, 2);
    } else if (proto == kProtoIcmp) {
        const uint16_t ck = uint16_t(~rte_raw_cksum(l4.data(), l4.size()));
        std::memcpy(&l4[2], &ck, 2);
    }
    Bytes f(12, 0);
    std::memcpy(&f[0], dst_mac.b.data(), 6);
    std::memcpy(&f[6], parse_mac(kClientMac)->b.data(), 6);
    if (vlan) {
        f.resize(16);
        put16(f, 12, 0x8100);
        put16(f, 14, vlan & 0x0fff);
    }
    f.resize(f.size() + 2);
    put16(f, f.size() - 2, v6 ? 0x86dd : 0x0800);
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), l4.begin(), l4.end());
    return f;
}

// The addresses of a transmitted frame: "ip:port" (ports for TCP, UDP and SCTP), or false
// for something that is not IP.
bool frame_addresses(const Bytes& f, HostPort& src, HostPort& dst) {
    size_t off = 12;
    if (f.size() < 14) return false;
    uint16_t type = get16(f, off);
    if (type == 0x8100) {
        off += 4;
        if (f.size() < off + 2) return false;
        type = get16(f, off);
    }
    off += 2;
    uint8_t proto;
    if (type == 0x0800) {
        if (f.size() < off + 20) return false;
        const size_t ihl = (f[off] & 0x0f) * 4u;
        proto = f[off + 9];
        uint32_t s, d;
        std::memcpy(&s, &f[off + 12], 4);
        std::memcpy(&d, &f[off + 16], 4);
        src.ip = IpAddr::v4(s);
        dst.ip = IpAddr::v4(d);
        off += ihl;
    } else if (type == 0x86dd) {
        if (f.size() < off + 40) return false;
        proto = f[off + 6];
        src.ip = IpAddr::v6(&f[off + 8]);
        dst.ip = IpAddr::v6(&f[off + 24]);
        off += 40;
    } else {
        return false;
    }
    src.port = dst.port = -1;
    if ((proto == kProtoTcp || proto == kProtoUdp || proto == kProtoSctp) && f.size() >= off + 4) {
        src.port = get16(f, off);
        dst.port = get16(f, off + 2);
    }
    return true;
}

uint8_t proto_from_name(const std::string& p) {
    if (p == "tcp" || p == "TCP") return kProtoTcp;
    if (p == "udp" || p == "UDP") return kProtoUdp;
    if (p == "sctp" || p == "SCTP") return kProtoSctp;
    if (p == "icmp" || p == "ICMP") return kProtoIcmp;
    throw std::invalid_argument("--proto: must be one of tcp, udp, sctp, icmp: \"" + p + "\"");
}

// ---- the in-process appliance ------------------------------------------------------------

// Static neighbours (a fixed MAC) for every address the packet or its translation could
// be sent to: endpoints, gateways, the client. Configured neighbours are kept.
void add_synthetic_neighbours(Config& cfg, const IpAddr& client) {
    std::set<IpAddr> have;
    for (const auto& n : cfg.appliance.neighbours)
        if (auto ip = parse_ip(n.ip)) have.insert(*ip);
    std::set<IpAddr> owned;
    for (const auto& p : cfg.appliance.ports)
        for (const auto& a : p.addresses) {
            IpAddr host;
            if (parse_cidr(a, &host)) owned.insert(host);
        }
    auto add = [&](const std::string& s) {
        auto ip = parse_ip(s);
        if (!ip || owned.count(*ip) || !have.insert(*ip).second) return;
        StaticNeighbour n;
        n.ip = format_ip(*ip);
        n.mac = kPeerMac;
        n.loc = cfg.appliance.loc;
        cfg.appliance.neighbours.push_back(n);
    };
    add(cfg.appliance.gateway);
    add(cfg.appliance.gateway6);
    add(format_ip(client));
    for (const auto& sl : cfg.slices)
        for (const auto& e : sl.endpoints)
            for (const auto& a : e.addresses) add(a);
}

std::string frontend_name(const std::string& rt_name) {
    // compile() suffixes a dual-stack service's IPv6 table with " (IPv6)" and the table of
    // a traffic policy Local beside a Cluster one with " (Local)": "namespace/name:port".
    std::string n = rt_name;
    for (const std::string suffix : {" (Local)", " (IPv6)"})
        if (n.size() > suffix.size() && n.ends_with(suffix)) n.resize(n.size() - suffix.size());
    return n;
}


// The packet a TracePacket describes. Throws std::invalid_argument for a bad description.
struct ParsedPacket {
    uint8_t proto;
    HostPort src, dst;
};
ParsedPacket parse_packet(const TracePacket& pkt) {
    ParsedPacket p{proto_from_name(pkt.proto), parse_host_port("--src", pkt.src), parse_host_port("--dst", pkt.dst)};
    if (p.src.ip.family != p.dst.ip.family) throw std::invalid_argument("--src and --dst must be of one IP family");
    if (p.proto != kProtoIcmp && p.dst.port < 0)
        throw std::invalid_argument("--dst: a port is required: \"" + pkt.dst + "\"");
    return p;
}

// The frontend (protocol, destination) matches on `snap`: its name and its usable
// backends, in address order (the table is in identity order).
void describe_frontend(TraceResult& r, const Snapshot& snap, uint8_t proto, const HostPort& dst) {
    if (proto == kProtoIcmp) return;
    const ServicePortRt* sp = snap.lookup_frontend(Snapshot::frontend_key(dst.ip, proto, uint16_t(dst.port)));
    if (!sp) return;
    r.frontend = frontend_name(sp->name);
    std::vector<const BackendRt*> bs;
    for (const auto& b : sp->backends)
        if (!b.draining) bs.push_back(&b); // existing flows only: no candidate
    std::sort(bs.begin(), bs.end(), [](const BackendRt* a, const BackendRt* b) {
        return std::tie(a->addr, a->port) < std::tie(b->addr, b->port);
    });
    for (const BackendRt* b : bs) r.candidates.push_back(format_ip_port(b->addr, b->port));
}

// The verdict from what the pipeline did with the packet: the frames it sent (or handed
// to the control plane) and its counter deltas.
void summarize(TraceResult& r, const std::vector<Bytes>& out, const uint64_t* drops, const uint64_t* events,
               const HostPort& src) {
    auto ev = [&](Ev e) { return events[size_t(e)]; };
    for (size_t i = 0; i < kNumDrops && r.reason.empty(); i++)
        if (drops[i]) r.reason = std::string(drop_name(Drop(i)));
    // The first IP frame transmitted is the packet's outcome (forwarded, or the reply).
    HostPort os, od;
    bool have_out = false;
    for (const auto& f : out)
        if (frame_addresses(f, os, od)) {
            have_out = true;
            break;
        }
    if (ev(Ev::kPunted)) { // for the appliance's kernel (exception path): it answers
        r.verdict = "local";
        r.reason = "exception_path";
        return;
    }
    if (ev(Ev::kIcmpEchoReplies) || ev(Ev::kArpReplies) || ev(Ev::kNdAdverts)) r.verdict = "local";
    else if (ev(Ev::kRejectsSent)) r.verdict = "reject";
    else if (have_out && r.reason.empty()) r.verdict = "forward";
    else {
        r.verdict = "drop";
        if (r.reason.empty() && ev(Ev::kToControl)) r.reason = "to_control";
    }
    if (have_out) {
        r.out_src = endpoint_str(os.ip, os.port);
        r.out_dst = endpoint_str(od.ip, od.port);
        if (r.verdict == "forward") {
            r.backend = r.out_dst;
            const HostPort in_src{src.ip, src.port < 0 ? int(kDefaultSrcPort) : src.port};
            r.snat = !(os.ip == in_src.ip && os.port == in_src.port);
        }
    }
}

}  // namespace

// ---- public API ------------------------------------------------------------------------

std::string TraceResult::json() const {
    std::string o = "{\"verdict\":" + json_quote(verdict) + ",\"reason\":" + json_opt(reason) +
                    ",\"frontend\":" + json_opt(frontend) + ",\"candidates\":[";
    for (size_t i = 0; i < candidates.size(); i++) o += (i ? "," : "") + json_quote(candidates[i]);
    o += "],\"backend\":" + json_opt(backend) + ",\"snat\":" + (snat ? "true" : "false") + ",\"out\":";
    if (out_src.empty() && out_dst.empty()) o += "null";
    else o += "{\"src\":" + json_quote(out_src) + ",\"dst\":" + json_quote(out_dst) + "}";
    if (live) {
        o += ",\"flow\":";
        if (flow_state.empty()) o += "null";
        else o += "{\"worker\":" + std::to_string(flow_worker) + ",\"state\":" + json_quote(flow_state) + "}";
    }
    return o + "}";
}

Config trace_default_config() {
    Config cfg;
    cfg.file = "(trace defaults)";
    PortConfig p;
    p.name = "p0";
    p.device = "net_ring_trace";
    p.addresses = {"203.0.113.1/24", "2001:db8:5c1b::1/64"};
    cfg.appliance.ports.push_back(p);
    cfg.appliance.gateway = "203.0.113.254";
    cfg.appliance.gateway6 = "2001:db8:5c1b::fe";
    cfg.appliance.exceptionInterface = "svclb0"; // as a real appliance has: healthCheckNodePorts trace "local"
    return cfg;
}

std::optional<Config> load_sources(const std::string& config, const std::vector<std::string>& manifests,
                                   Errors& errs, std::ostream& err, const std::string& who) {
    Config cfg;
    if (!config.empty()) {
        auto c = load_config_file(config, errs);
        if (!c) {
            for (const auto& e : errs) err << e.str() << "\n";
            if (errs.empty()) err << who << ": cannot read " << config << "\n";
            return std::nullopt;
        }
        cfg = std::move(*c);
    } else {
        cfg = trace_default_config();
    }
    for (const auto& m : manifests) load_manifest_path(m, cfg, errs, cfg.notices);
    settle_endpoint_slices(cfg);
    for (const auto& n : cfg.notices) err << n << "\n";
    return cfg;
}

Errors trace_prepare(Config& cfg, const TraceOverrides& o, const Errors& load_errs) {
    Errors errs = load_errs;
    if (!o.service_cidrs.empty()) cfg.cluster.serviceCIDRs = o.service_cidrs;
    if (!o.node_addresses.empty()) cfg.cluster.nodeAddresses = o.node_addresses;
    if (!o.node_names.empty()) cfg.cluster.nodeNames = o.node_names;
    if (!o.nodeport_range.empty()) {
        const auto dash = o.nodeport_range.find('-');
        int a = 0, b = 0;
        char tail = 0;
        if (dash == std::string::npos ||
            std::sscanf(o.nodeport_range.c_str(), "%d-%d%c", &a, &b, &tail) != 2 || a < 1 || b > 65535 || a > b) {
            errs.push_back({{"--nodeport-range", 0}, "", "cluster.nodePortRange",
                            "Invalid value: " + go_quote(o.nodeport_range) +
                                ": must be a port range \"A-B\" with 1 <= A <= B <= 65535"});
            return errs;
        }
        cfg.cluster.nodePortMin = a;
        cfg.cluster.nodePortMax = b;
    }
    return validate_loaded(cfg, nullptr, load_errs);
}

TraceResult trace_packet(const Config& cfg_in, const TracePacket& pkt) {
    const auto [proto, src, dst] = parse_packet(pkt);
    if (cfg_in.appliance.ports.empty()) throw std::invalid_argument("the configuration has no port");
    Config cfg = cfg_in;
    add_synthetic_neighbours(cfg, src.ip);

    RingApplianceOptions ro;
    for (size_t i = 0; i < cfg.appliance.ports.size(); i++) {
        const PortConfig& pc = cfg.appliance.ports[i];
        MacAddr mac;
        if (auto m = parse_mac(pc.mac); m && !pc.mac.empty()) mac = *m;
        else mac.b = {0x02, 0x53, 0x56, 0x00, 0x00, uint8_t(i + 1)};
        ro.ports.push_back({pc.name, mac, pc.vlan});
    }
    const std::string ingress = pkt.ingress.empty() ? cfg.appliance.ports[0].name : pkt.ingress;
    RingAppliance app(cfg, ro);
    const size_t port = app.port_index(ingress);
    if (port == SIZE_MAX) throw std::invalid_argument("--ingress: no port named \"" + ingress + "\"");

    TraceResult r;
    describe_frontend(r, *app.dp().current(), proto, dst);

    const auto o = app.send(port, build_packet(proto, src, dst, ro.ports[port].mac, ro.ports[port].vlan), 0, true);
    summarize(r, o.out, o.drops, o.events, src);
    return r;
}

TraceResult trace_live(Dataplane& dp, const std::vector<PortBinding>& ports, const TracePacket& pkt,
                       const LiveTraceHooks& hooks) {
    const auto [proto, src, dst] = parse_packet(pkt);
    if (ports.empty()) throw std::invalid_argument("the appliance has no port");
    const PortBinding* in = &ports[0];
    if (!pkt.ingress.empty()) {
        in = nullptr;
        for (const auto& b : ports)
            if (b.name == pkt.ingress) in = &b;
        if (!in) throw std::invalid_argument("--ingress: no port named \"" + pkt.ingress + "\"");
    }
    const Snapshot* snap = dp.current(); // the control plane publishes: alive while we run
    if (!snap) throw std::runtime_error("no configuration is being served yet");

    TraceResult r;
    r.live = true;
    describe_frontend(r, *snap, proto, dst);

    // The live worker that holds this 5-tuple's flow, if one does: asked through its own
    // ring (it is its table's only reader, lb/flow.h), the entry copied back.
    FlowQuery found{};
    bool have_flow = false;
    if (proto != kProtoIcmp) {
        static uint64_t trace_seq = 0; // the control plane's thread only
        FlowQuery q{};
        q.seq = ++trace_seq;
        q.v6 = src.ip.is_v6();
        const uint16_t sport = rte_cpu_to_be_16(uint16_t(src.port < 0 ? kDefaultSrcPort : src.port));
        const uint16_t dport = rte_cpu_to_be_16(uint16_t(dst.port));
        if (q.v6) {
            std::memcpy(q.key6.src.b, src.ip.bytes.data(), 16);
            std::memcpy(q.key6.dst.b, dst.ip.bytes.data(), 16);
            q.key6.sport = sport, q.key6.dport = dport, q.key6.proto = proto;
        } else {
            std::memcpy(&q.key4.src, src.ip.bytes.data(), 4);
            std::memcpy(&q.key4.dst, dst.ip.bytes.data(), 4);
            q.key4.sport = sport, q.key4.dport = dport, q.key4.proto = proto;
        }
        size_t asked = 0, answered = 0;
        for (size_t w = 0; w < dp.worker_count(); w++) {
            rte_mbuf* m = rte_pktmbuf_alloc(dp.pool());
            if (!m) throw std::runtime_error("no mbuf for the flow query");
            void* d = rte_pktmbuf_append(m, sizeof(FlowQuery));
            if (!d) {
                rte_pktmbuf_free(m);
                throw std::runtime_error("mbuf too small for the flow query");
            }
            std::memcpy(d, &q, sizeof q);
            pkt_priv(m)->kind = kPrivFlowQuery;
            if (rte_ring_sp_enqueue(dp.worker(w).from_cp(), m) != 0) {
                rte_pktmbuf_free(m);
                throw std::runtime_error("worker " + std::to_string(w) + " is not taking requests (ring full)");
            }
            asked++;
        }
        const uint64_t deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() / 2; // 500 ms
        while (answered < asked && rte_get_tsc_cycles() < deadline) {
            if (hooks.pump) hooks.pump();
            bool any = false;
            for (size_t w = 0; w < dp.worker_count(); w++) {
                rte_mbuf* m;
                while (rte_ring_sc_dequeue(dp.worker(w).to_cp(), reinterpret_cast<void**>(&m)) == 0) {
                    any = true;
                    if (pkt_priv(m)->kind != kPrivFlowAnswer) {
                        if (hooks.other) hooks.other(m);
                        else rte_pktmbuf_free(m);
                        continue;
                    }
                    FlowQuery a;
                    std::memcpy(&a, rte_pktmbuf_mtod(m, const void*), sizeof a);
                    rte_pktmbuf_free(m);
                    if (a.seq != q.seq) continue; // an earlier trace's, answered after it gave up
                    answered++;
                    if (a.found && !have_flow) {
                        found = a;
                        have_flow = true;
                    }
                }
            }
            if (!any) rte_delay_us_sleep(100);
        }
        if (answered < asked)
            throw std::runtime_error("a worker did not answer the flow query within 500 ms");
    }

    // A worker of its own (never launched, not an RCU reader) runs the packet on the live
    // snapshot, with the live flow copied into its table: the real pipeline, without
    // touching the real workers' state or sending anything.
    Worker tw(dp, uint16_t(dp.worker_count()), 1024, Dataplane::kSnatLo, 65536, true);
    if (have_flow) {
        r.flow_worker = found.worker;
        if (found.v6) {
            r.flow_state = flow_state_name(found.flow6.state);
            const int32_t idx = tw.flows6().create(found.flow6.fwd, found.flow6.rev);
            if (idx >= 0) tw.flows6().at(uint32_t(idx)) = found.flow6;
        } else {
            r.flow_state = flow_state_name(found.flow4.state);
            const int32_t idx = tw.flows().create(found.flow4.fwd, found.flow4.rev);
            if (idx >= 0) tw.flows().at(uint32_t(idx)) = found.flow4;
        }
    }
    const Bytes frame = build_packet(proto, src, dst, dp.port_mac(in->port_id), dp.port_vlan(in->port_id));
    rte_mbuf* m = rte_pktmbuf_alloc(dp.pool());
    if (!m) throw std::runtime_error("no mbuf for the traced packet");
    std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
    tw.adopt_rates(*snap);
    tw.process_burst(*snap, in->port_id, &m, 1);
    std::vector<Bytes> out;
    for (rte_mbuf* o : tw.take_output()) {
        const auto* p = rte_pktmbuf_mtod(o, const uint8_t*);
        out.emplace_back(p, p + rte_pktmbuf_pkt_len(o));
        rte_pktmbuf_free(o);
    }
    uint64_t drops[kNumDrops], events[kNumEvents];
    for (size_t i = 0; i < kNumDrops; i++) drops[i] = tw.counters().drops[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < kNumEvents; i++) events[i] = tw.counters().events[i].load(std::memory_order_relaxed);
    summarize(r, out, drops, events, src);
    return r;
}

bool trace_eal_init(const char* argv0) {
    std::vector<std::string> args{argv0, "-l", "0", "--no-huge", "-m", "256", "--no-pci",
                                  "--no-shconf", "--no-telemetry", "--log-level=*:error"};
    std::vector<char*> a;
    for (auto& s : args) a.push_back(s.data());
    if (rte_eal_init(int(a.size()), a.data()) < 0) {
        std::fprintf(stderr, "svclbctl: EAL init failed: %s\n", rte_strerror(rte_errno));
        return false;
    }
    return true;
}

std::optional<std::string> ask_daemon(const std::string& socket_path, const std::string& request, std::ostream& err) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err << "svclbctl: socket: " << std::strerror(errno) << "\n";
        return std::nullopt;
    }
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        err << "svclbctl: cannot reach svclb at " << socket_path << ": " << std::strerror(errno) << "\n";
        close(fd);
        return std::nullopt;
    }
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string req = request + "\n";
    if (write(fd, req.data(), req.size()) != ssize_t(req.size())) {
        err << "svclbctl: write failed: " << std::strerror(errno) << "\n";
        close(fd);
        return std::nullopt;
    }
    std::string answer;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) answer.append(buf, size_t(n));
    close(fd);
    if (answer.empty()) {
        err << "svclbctl: no answer from " << socket_path << "\n";
        return std::nullopt;
    }
    return answer;
}

int trace_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool init_eal,
                  const std::string& socket) {
    std::string config;
    std::vector<std::string> manifests;
    TraceOverrides ov;
    TracePacket pkt;
    bool have_proto = false;
    for (size_t i = 0; i < args.size(); i++) {
        const std::string& a = args[i];
        auto value = [&](std::string& dst) -> bool {
            if (i + 1 >= args.size()) {
                err << "svclbctl trace: " << a << " needs a value\n";
                return false;
            }
            dst = args[++i];
            return true;
        };
        std::string v;
        if (a == "-c" || a == "--config") {
            if (!value(config)) return 2;
        } else if (a == "-f" || a == "--filename") {
            if (!value(v)) return 2;
            manifests.push_back(v);
        } else if (a == "--proto") {
            if (!value(pkt.proto)) return 2;
            have_proto = true;
        } else if (a == "--src") {
            if (!value(pkt.src)) return 2;
        } else if (a == "--dst") {
            if (!value(pkt.dst)) return 2;
        } else if (a == "--ingress") {
            if (!value(pkt.ingress)) return 2;
        } else if (a == "--service-cidr") {
            if (!value(v)) return 2;
            ov.service_cidrs.push_back(v);
        } else if (a == "--nodeport-range") {
            if (!value(ov.nodeport_range)) return 2;
        } else if (a == "--node-address") {
            if (!value(v)) return 2;
            ov.node_addresses.push_back(v);
        } else if (a == "--node-name") {
            if (!value(v)) return 2;
            ov.node_names.push_back(v);
        } else {
            err << "svclbctl trace: unknown argument \"" << a << "\"\n";
            return 2;
        }
    }
    if (!have_proto || pkt.src.empty() || pkt.dst.empty()) {
        err << "svclbctl trace: --proto, --src and --dst are required\n";
        return 2;
    }
    if (config.empty() && manifests.empty()) {
        // Live: the daemon's snapshot and flow tables (Controller::live_trace).
        if (!ov.service_cidrs.empty() || !ov.nodeport_range.empty() || !ov.node_addresses.empty() ||
            !ov.node_names.empty()) {
            err << "svclbctl trace: --service-cidr, --nodeport-range, --node-address and --node-name "
                   "apply to -c/-f only (a live trace uses the daemon's configuration)\n";
            return 2;
        }
        for (const std::string* v : {&pkt.proto, &pkt.src, &pkt.dst, &pkt.ingress})
            if (v->find_first_of(" \t\n=") != std::string::npos) {
                err << "svclbctl trace: unexpected character in \"" << *v << "\"\n";
                return 2;
            }
        std::string req = "trace proto=" + pkt.proto + " src=" + pkt.src + " dst=" + pkt.dst;
        if (!pkt.ingress.empty()) req += " ingress=" + pkt.ingress;
        const auto answer = ask_daemon(socket, req, err);
        if (!answer) return 1;
        if (answer->starts_with("{")) {
            out << *answer;
            return 0;
        }
        const int rc = answer->starts_with("error 2: ") ? 2 : 1;
        err << "svclbctl trace: " << (answer->starts_with("error ") ? answer->substr(9) : *answer);
        return rc;
    }
    Errors errs;
    auto loaded = load_sources(config, manifests, errs, err, "svclbctl trace");
    if (!loaded) return 1;
    Config cfg = std::move(*loaded);
    errs = trace_prepare(cfg, ov, errs); // load errors, then validation's: all at once
    if (!errs.empty()) {
        for (const auto& e : errs) err << e.str() << "\n";
        err << errs.size() << (errs.size() == 1 ? " error\n" : " errors\n");
        return 1;
    }
    // The packet description is checked before the EAL starts.
    try {
        parse_packet(pkt);
    } catch (const std::invalid_argument& e) {
        err << "svclbctl trace: " << e.what() << "\n";
        return 2;
    }
    if (init_eal && !trace_eal_init("svclbctl")) return 1;
    try {
        out << trace_packet(cfg, pkt).json() << "\n";
    } catch (const std::invalid_argument& e) {
        err << "svclbctl trace: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        err << "svclbctl trace: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace svclb::cp
