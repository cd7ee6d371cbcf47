// SPDX-License-Identifier: Apache-2.0
#include "lb/snapshot.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lpm.h>

namespace svclb {

static std::atomic<uint64_t> g_snap_seq{0};

int32_t ServicePortRt::find_backend(uint64_t id) const noexcept {
    auto it = std::lower_bound(backends.begin(), backends.end(), id,
                               [](const BackendRt& b, uint64_t v) { return b.id < v; });
    if (it == backends.end() || it->id != id) return -1;
    return int32_t(it - backends.begin());
}

bool ServicePortRt::source_allowed(const IpAddr& dst, const IpAddr& client) const noexcept {
    if (source_ranges.empty()) return true;
    bool applies = false;
    for (const auto& f : range_frontends) applies |= f == dst;
    if (!applies) return true; // clusterIP, nodePort, externalIP: ranges do not apply
    for (const auto& c : source_ranges)
        if (c.contains(client)) return true;
    return false;
}

Snapshot::Snapshot(uint64_t gen, int socket) : generation(gen), socket_id(socket) {}

Snapshot::~Snapshot() {
    if (frontends_) rte_hash_free(frontends_);
    if (local4_) rte_lpm_free(local4_);
    if (local6_) rte_hash_free(local6_);
}

FrontendKey Snapshot::frontend_key(const IpAddr& addr, uint8_t proto, uint16_t port) noexcept {
    FrontendKey k{};
    std::memcpy(k.addr, addr.bytes.data(), 16);
    k.port_be = rte_cpu_to_be_16(port);
    k.proto = proto;
    k.family = uint8_t(addr.family);
    return k;
}

void Snapshot::add_local(const IpAddr& a, uint8_t kinds) {
    for (auto& l : locals)
        if (l.addr == a) {
            l.kinds |= kinds;
            return;
        }
    locals.push_back({a, kinds});
}

void Snapshot::add_service_cidr(const Cidr& c) { service_cidrs.push_back(c); }

void Snapshot::add_route(const Cidr& c, const NextHop& nh) {
    nexthops.push_back(nh);
    pending_routes_.push_back({c, uint32_t(nexthops.size() - 1)});
}

ServicePortRt& Snapshot::add_service_port(std::unique_ptr<ServicePortRt> sp) {
    sp->index = uint32_t(service_ports.size());
    service_ports.push_back(std::move(sp));
    return *service_ports.back();
}

void Snapshot::add_frontend(const IpAddr& addr, uint8_t proto, uint16_t port, uint32_t sp_index) {
    pending_frontends_.push_back({frontend_key(addr, proto, port), sp_index});
    add_local(addr, kAddrVip);
}

static rte_lpm* make_lpm(const std::string& name, int socket, uint32_t rules) {
    rte_lpm_config cfg{};
    cfg.max_rules = std::max<uint32_t>(rules, 16);
    cfg.number_tbl8s = std::max<uint32_t>(rules, 16);
    rte_lpm* l = rte_lpm_create(name.c_str(), socket, &cfg);
    if (!l) throw std::runtime_error("cannot create LPM " + name + ": " + rte_strerror(rte_errno));
    return l;
}

void Snapshot::finalize() {
    const std::string tag = std::to_string(g_snap_seq++);
    rte_hash_parameters p{};
    const std::string hname = "fe" + tag;
    p.name = hname.c_str();
    p.entries = std::max<uint32_t>(uint32_t(pending_frontends_.size()) * 2, 64);
    p.key_len = sizeof(FrontendKey);
    p.hash_func = rte_hash_crc;
    p.socket_id = socket_id;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    frontends_ = rte_hash_create(&p);
    if (!frontends_) throw std::runtime_error("cannot create the frontend hash: " + std::string(rte_strerror(rte_errno)));
    for (const auto& f : pending_frontends_)
        if (rte_hash_add_key_data(frontends_, &f.key, service_ports[f.sp_index].get()) < 0)
            throw std::runtime_error("frontend hash full");

    // Local addresses as /32 routes over the service CIDRs: the longest match tells a VIP
    // from an unallocated service-CIDR address.
    local4_ = make_lpm("loc" + tag, socket_id, uint32_t(locals.size() + service_cidrs.size()) * 2);
    for (const auto& c : service_cidrs)
        if (c.addr.is_v4()) rte_lpm_add(local4_, c.addr.v4_host(), c.len, uint32_t(0xffffff));
    for (size_t i = 0; i < locals.size(); i++)
        if (locals[i].addr.is_v4()) rte_lpm_add(local4_, locals[i].addr.v4_host(), 32, uint32_t(i));

    // IPv6 local addresses: an exact-match hash (an LPM6 costs 64 MiB per snapshot); the
    // service-CIDR check runs only on a miss.
    rte_hash_parameters p6{};
    const std::string h6 = "loc6" + tag;
    p6.name = h6.c_str();
    p6.entries = std::max<uint32_t>(uint32_t(locals.size()) * 2, 64);
    p6.key_len = 16;
    p6.hash_func = rte_hash_crc;
    p6.socket_id = socket_id;
    p6.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    local6_ = rte_hash_create(&p6);
    if (!local6_) throw std::runtime_error("cannot create the IPv6 local hash: " + std::string(rte_strerror(rte_errno)));
    for (size_t i = 0; i < locals.size(); i++) {
        if (!locals[i].addr.is_v6()) continue;
        alignas(8) uint8_t key[16]; // rte_hash_crc reads 64-bit words
        std::memcpy(key, locals[i].addr.bytes.data(), 16);
        rte_hash_add_key_data(local6_, key, reinterpret_cast<void*>(uintptr_t(i)));
    }

    routes_ = pending_routes_;
    std::stable_sort(routes_.begin(), routes_.end(),
                     [](const PendingRoute& a, const PendingRoute& b) { return a.cidr.len > b.cidr.len; });
    pending_frontends_.clear();
    pending_routes_.clear();
}

int32_t Snapshot::lookup_local6(const uint8_t* dst) const noexcept {
    alignas(8) uint8_t key[16];
    std::memcpy(key, dst, 16);
    void* d = nullptr;
    if (rte_hash_lookup_data(local6_, key, &d) >= 0) return int32_t(reinterpret_cast<uintptr_t>(d));
    const IpAddr a = IpAddr::v6(key);
    for (const auto& c : service_cidrs)
        if (c.contains(a)) return kUnallocated;
    return -1;
}

const NextHop* Snapshot::route(const IpAddr& dst) const noexcept {
    for (const auto& r : routes_)
        if (r.cidr.contains(dst)) return &nexthops[r.nh];
    return nullptr;
}

const ServicePortRt* Snapshot::lookup_frontend(const FrontendKey& k) const noexcept {
    void* d = nullptr;
    if (rte_hash_lookup_data(frontends_, &k, &d) < 0) return nullptr;
    return static_cast<const ServicePortRt*>(d);
}


}  // namespace svclb
