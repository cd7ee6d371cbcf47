// SPDX-License-Identifier: Apache-2.0
// Micro-benchmarks of the dataplane's building blocks (issue 3, item 1), Google Benchmark.
// EAL is initialised once in main (hugepages when free ones exist, else --no-huge); every
// DPDK object is created outside the timed loops. Quality beside speed (STYLE.md 12): the
// Maglev build reports the share of flows that move when one backend leaves against the
// ideal 1/N, and the table's imbalance.
//
//   build/perf/micro_bench [--benchmark_filter=REGEX] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "cp/compile.h"
#include "cp/config_loader.h"
#include "cp/validate.h"
#include "lb/flow.h"
#include "lb/maglev.h"
#include "lb/packet.h"
#include "lb/snapshot.h"
#include "perf/bench_common.h"

using namespace svclb;
using namespace svclb::perf;

namespace {

// ---------------------------------------------------------------- shared fixtures

// The benchmark appliance's snapshot (1 service, 100 backends), compiled once.
const Snapshot& bench_snapshot() {
    static std::unique_ptr<Snapshot> snap = [] {
        cp::Errors errs;
        auto cfg = cp::load_config_string(bench_config("net_null0", 100, 65536), "bench.conf", errs);
        if (!cfg || !errs.empty()) throw std::runtime_error("bench config: " + errs.at(0).str());
        errs = cp::validate_and_allocate(*cfg, nullptr);
        if (!errs.empty()) throw std::runtime_error("bench config: " + errs.at(0).str());
        MacAddr mac;
        std::memcpy(mac.b.data(), kLbMac, 6);
        return cp::compile(*cfg, {{"p0", 0, mac}}, 1, 0);
    }();
    return *snap;
}

FlowKey4 flow_key(uint32_t k) {
    FlowKey4 key{};
    key.src = client_ip(k);
    key.dst = ip4(kVip);
    key.sport = htons(client_port(k, 1024));
    key.dport = htons(kVipPort);
    key.proto = IPPROTO_TCP;
    return key;
}
FlowKey4 rev_key(uint32_t k) {
    FlowKey4 key{};
    key.src = ip4_host(0xc6336400u + 3 + k % 100); // a backend
    key.dst = ip4(kSnat);
    key.sport = htons(kTargetPort);
    key.dport = htons(uint16_t(1024 + k / 100 % 64512));
    key.proto = IPPROTO_TCP;
    // Disambiguate beyond 64512 * 100 flows (not reached here): fold k's top bits in.
    key.src ^= htonl(uint32_t(k / 6451200) << 8);
    return key;
}

// ---------------------------------------------------------------- parse / classify

// What the worker does before the flow lookup: Ethernet, IPv4 and TCP header checks, the
// local-address LPM and, on a flow miss, the frontend hash (here always, as for a SYN).
void BM_ParseClassify(benchmark::State& st) {
    const Snapshot& s = bench_snapshot();
    rte_mempool* pool = rte_pktmbuf_pool_create("mb_parse", 1023, 0, 0, 2048, 0);
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    Frame f = tcp_frame(kLbMac, kPeerMac, client_ip(1), ip4(kVip), htons(40000), htons(kVipPort),
                        RTE_TCP_SYN_FLAG);
    std::memcpy(rte_pktmbuf_append(m, kFrameLen), f.b, kFrameLen);
    uint64_t found = 0;
    for (auto _ : st) {
        auto* eth = header_at<rte_ether_hdr>(m, 0);
        auto* ip = header_at<rte_ipv4_hdr>(m, sizeof(rte_ether_hdr));
        benchmark::DoNotOptimize(eth);
        if (!ip || (ip->version_ihl >> 4) != 4 || eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
            continue;
        const uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
        auto* tcp = header_at<rte_tcp_hdr>(m, sizeof(rte_ether_hdr) + ihl);
        if (!tcp || (tcp->data_off >> 4) < 5) continue;
        const int32_t local = s.lookup_local4(ip->dst_addr);
        if (local < 0) continue;
        const auto* sp = s.lookup_frontend(
            Snapshot::frontend_key(IpAddr::v4(ip->dst_addr), ip->next_proto_id, ntohs(tcp->dst_port)));
        found += sp != nullptr;
        benchmark::ClobberMemory();
    }
    if (found != uint64_t(st.iterations())) st.SkipWithError("classification failed");
    st.SetItemsProcessed(st.iterations());
    rte_pktmbuf_free(m);
    rte_mempool_free(pool);
}
BENCHMARK(BM_ParseClassify);

// ---------------------------------------------------------------- checksums / rewrite

void BM_CsumUpdate16(benchmark::State& st) {
    uint16_t ck = 0x1234, v = 1;
    for (auto _ : st) {
        benchmark::DoNotOptimize(v);
        ck = csum::update16(ck, v, uint16_t(v + 1));
        v++;
    }
    benchmark::DoNotOptimize(ck);
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_CsumUpdate16);

void BM_CsumUpdate32(benchmark::State& st) {
    uint16_t ck = 0x1234;
    uint32_t v = 0x01020304;
    for (auto _ : st) {
        benchmark::DoNotOptimize(v);
        ck = csum::update32(ck, v, v * 2654435761u);
        v++;
    }
    benchmark::DoNotOptimize(ck);
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_CsumUpdate32);

// Full recomputation of a 20-byte IPv4 header, for comparison: svclb's helper and DPDK's.
void BM_CsumFullIpv4Header(benchmark::State& st) {
    Frame f = tcp_frame(kLbMac, kPeerMac, client_ip(1), ip4(kVip), htons(40000), htons(kVipPort), 0x10);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.b + 14);
    for (auto _ : st) {
        benchmark::DoNotOptimize(ip);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = csum::finish(csum::partial(ip, 20));
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_CsumFullIpv4Header);

void BM_CsumRteIpv4Cksum(benchmark::State& st) {
    Frame f = tcp_frame(kLbMac, kPeerMac, client_ip(1), ip4(kVip), htons(40000), htons(kVipPort), 0x10);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.b + 14);
    for (auto _ : st) {
        benchmark::DoNotOptimize(ip);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_CsumRteIpv4Cksum);

// The FullNAT rewrite of one TCP packet (addresses, ports, TTL, both checksums, RFC 1624).
void BM_NatRewrite4(benchmark::State& st) {
    Frame f = tcp_frame(kLbMac, kPeerMac, client_ip(1), ip4(kVip), htons(40000), htons(kVipPort), 0x10);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.b + 14);
    uint8_t* l4 = f.b + 34;
    const uint32_t a = ip4(kSnat), b = ip4("198.51.100.3");
    uint16_t p = 1024;
    for (auto _ : st) {
        ip->time_to_live = 64;
        nat_rewrite4(ip, l4, IPPROTO_TCP, a, b, htons(p++), htons(kTargetPort));
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_NatRewrite4);

// ---------------------------------------------------------------- frontend lookup

void BM_FrontendLookup(benchmark::State& st) {
    const Snapshot& s = bench_snapshot();
    const FrontendKey k = Snapshot::frontend_key(IpAddr::v4(ip4(kVip)), kProtoTcp, kVipPort);
    for (auto _ : st) benchmark::DoNotOptimize(s.lookup_frontend(k));
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_FrontendLookup);

void BM_LocalLpmLookup(benchmark::State& st) {
    const Snapshot& s = bench_snapshot();
    uint32_t dst = ip4(kVip);
    for (auto _ : st) {
        benchmark::DoNotOptimize(dst);
        benchmark::DoNotOptimize(s.lookup_local4(dst));
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_LocalLpmLookup);

// ---------------------------------------------------------------- flow table

// A table holding `n` flows (2n keys), sized for n plus one insert batch, filled once and
// kept across the benchmarks with the same n (filling 4 M flows takes seconds).
struct FilledTable {
    uint32_t n = 0;
    std::unique_ptr<FlowTable> t;
};
FilledTable& table_with(uint32_t n, std::string* err) {
    static FilledTable cur;
    if (cur.n == n && cur.t) return cur;
    cur.t.reset();
    cur.n = 0;
    try {
        cur.t = std::make_unique<FlowTable>(n + 4096, 0, "mb_flows" + std::to_string(n));
    } catch (const std::exception& e) {
        *err = std::string("skipped: ") + e.what() + " (needs hugepages: scripts/bench.sh sets them)";
        return cur;
    }
    for (uint32_t k = 0; k < n; k++)
        if (cur.t->create(flow_key(k), rev_key(k)) < 0) {
            *err = "fill failed at " + std::to_string(k);
            cur.t.reset();
            return cur;
        }
    cur.n = n;
    return cur;
}

// Bulk lookups of 32 random existing forward keys, as a worker does per burst.
void BM_FlowLookupBulk(benchmark::State& st) {
    const uint32_t n = uint32_t(st.range(0));
    std::string err;
    FilledTable& ft = table_with(n, &err);
    if (!ft.t) {
        st.SkipWithError(err.c_str());
        return;
    }
    constexpr uint32_t kKeys = 1 << 16;
    std::vector<FlowKey4> keys(kKeys);
    std::mt19937 rng(7);
    for (auto& k : keys) k = flow_key(rng() % n);
    std::vector<const FlowKey4*> ptrs(kKeys);
    for (uint32_t i = 0; i < kKeys; i++) ptrs[i] = &keys[i];
    int32_t out[32];
    uint32_t at = 0;
    uint64_t hits = 0;
    for (auto _ : st) {
        ft.t->lookup_bulk(&ptrs[at], 32, out);
        for (int i = 0; i < 32; i++) hits += out[i] >= 0;
        at = (at + 32) & (kKeys - 1);
    }
    if (hits != uint64_t(st.iterations()) * 32) st.SkipWithError("lookups missed");
    st.SetItemsProcessed(st.iterations() * 32);
    st.counters["flows"] = n;
}
BENCHMARK(BM_FlowLookupBulk)->Arg(1024)->Arg(65536)->Arg(1 << 20)->Arg(4 << 20)->Unit(benchmark::kNanosecond);

// Flow creation (both keys, after the two existence checks) into a table holding n flows;
// each batch of 1024 is removed again, untimed, so the occupancy stays at n.
void BM_FlowInsert(benchmark::State& st) {
    const uint32_t n = uint32_t(st.range(0));
    std::string err;
    FilledTable& ft = table_with(n, &err);
    if (!ft.t) {
        st.SkipWithError(err.c_str());
        return;
    }
    constexpr uint32_t kBatch = 1024;
    std::vector<FlowKey4> fwd(kBatch), rev(kBatch);
    for (uint32_t i = 0; i < kBatch; i++) {
        fwd[i] = flow_key(n + i);
        rev[i] = rev_key(n + i);
    }
    int32_t idx[kBatch];
    uint64_t inserted = 0;
    for (auto _ : st) {
        for (uint32_t i = 0; i < kBatch; i++) idx[i] = ft.t->create(fwd[i], rev[i]);
        st.PauseTiming();
        for (uint32_t i = 0; i < kBatch; i++)
            if (idx[i] >= 0) {
                inserted++;
                ft.t->remove(uint32_t(idx[i]));
            }
        st.ResumeTiming();
    }
    if (inserted != uint64_t(st.iterations()) * kBatch) st.SkipWithError("inserts failed");
    st.SetItemsProcessed(st.iterations() * kBatch);
    st.counters["flows"] = n;
}
BENCHMARK(BM_FlowInsert)->Arg(1024)->Arg(65536)->Arg(1 << 20)->Arg(4 << 20)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------- Maglev

// What a SYN does to choose a backend: CRC of the 5-tuple, modulo M, table, backend.
void BM_MaglevLookup(benchmark::State& st) {
    const Snapshot& s = bench_snapshot();
    const ServicePortRt& sp = *s.service_ports.at(0);
    uint32_t k = 0;
    uint64_t sum = 0;
    for (auto _ : st) {
        FlowKey4 key = flow_key(k++);
        const uint32_t h = rte_hash_crc(&key, sizeof key, 0);
        sum += sp.backends[sp.maglev[h % sp.maglev.size()]].id;
    }
    benchmark::DoNotOptimize(sum);
    st.SetItemsProcessed(st.iterations());
    st.counters["M"] = double(sp.maglev.size());
    st.counters["backends"] = double(sp.backends.size());
}
BENCHMARK(BM_MaglevLookup);

std::vector<MaglevBackend> maglev_backends(uint32_t n) {
    std::vector<MaglevBackend> b(n);
    for (uint32_t i = 0; i < n; i++)
        b[i].id = backend_identity(IpAddr::v4(ip4_host((10u << 24) | (i + 1))), 8080);
    std::stable_sort(b.begin(), b.end(), [](auto& x, auto& y) { return x.id < y.id; });
    return b;
}

// Build time for N backends and table size M, with quality counters: the share of table
// entries (= of flows, for uniformly hashed flows) whose backend changes when one backend
// leaves, against the ideal 1/N; and the imbalance max/min entries per backend.
void BM_MaglevBuild(benchmark::State& st) {
    const uint32_t n = uint32_t(st.range(0)), M = uint32_t(st.range(1));
    auto b = maglev_backends(n);
    for (auto _ : st) benchmark::DoNotOptimize(maglev_build(b, M));
    st.SetItemsProcessed(st.iterations());

    const auto full = maglev_build(b, M);
    std::vector<uint32_t> per(n, 0);
    for (uint32_t e : full) per[e]++;
    const auto [mn, mx] = std::minmax_element(per.begin(), per.end());
    // Remove the middle backend (sorted by identity) and compare by identity.
    const uint32_t gone = n / 2;
    std::vector<MaglevBackend> less(b);
    less.erase(less.begin() + gone);
    const auto after = maglev_build(less, M);
    uint64_t moved = 0;
    for (uint32_t i = 0; i < M; i++)
        if (b[full[i]].id != less[after[i]].id) moved++;
    const double frac = double(moved) / M, ideal = 1.0 / n;
    st.counters["moved_pct"] = 100.0 * frac;
    st.counters["ideal_pct"] = 100.0 * ideal;
    st.counters["moved_vs_ideal"] = frac / ideal;
    st.counters["imbalance"] = double(*mx) / double(std::max<uint32_t>(*mn, 1));
}
BENCHMARK(BM_MaglevBuild)
    ->ArgsProduct({{10, 100, 1000}, {65537, 655373}})
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- snapshot compile

// A configuration with `n` ClusterIP services, each one TCP port and one slice of 3
// endpoints, in 198.18.0.0/15 (service CIDR) and 198.51.100.0/24 (endpoints).
std::string many_services_config(uint32_t n) {
    std::string c = bench_config("net_null0", 0, 65536);
    // Replace the single service and slice with n of each.
    c = c.substr(0, c.find("services = ("));
    c.replace(c.find("198.18.0.0/24"), 13, "198.18.0.0/15");
    c += "services = (\n";
    for (uint32_t i = 0; i < n; i++) {
        const std::string ip = "198." + std::to_string(18 + (i + 1) / 65536) + "." +
                               std::to_string((i + 1) / 256 % 256) + "." + std::to_string((i + 1) % 256);
        c += std::string(i ? ",\n" : "") + "  { metadata = { name = \"s" + std::to_string(i) +
             "\"; }; spec = { clusterIP = \"" + ip +
             "\"; ports = ( { name = \"http\"; port = 80; targetPort = 8080; } ); }; }";
    }
    c += "\n);\nendpointSlices = (\n";
    for (uint32_t i = 0; i < n; i++) {
        c += std::string(i ? ",\n" : "") + "  { metadata = { name = \"s" + std::to_string(i) +
             "-1\"; }; service = \"s" + std::to_string(i) +
             "\"; addressType = \"IPv4\"; ports = ( { name = \"http\"; port = 8080; } ); endpoints = ( ";
        for (uint32_t e = 0; e < 3; e++)
            c += std::string(e ? ", " : "") + "{ addresses = [ \"198.51.100." + std::to_string(3 + (i * 3 + e) % 200) +
                 "\" ]; }";
        c += " ); }";
    }
    c += "\n);\n";
    return c;
}

struct ManyServices {
    std::string text;
    std::optional<cp::Config> validated;
};
ManyServices& many_services(uint32_t n) {
    static std::map<uint32_t, ManyServices> cache;
    auto& m = cache[n];
    if (m.text.empty()) {
        m.text = many_services_config(n);
        cp::Errors errs;
        auto cfg = cp::load_config_string(m.text, "many.conf", errs);
        if (cfg && errs.empty()) errs = cp::validate_and_allocate(*cfg, nullptr);
        if (cfg && errs.empty()) m.validated = std::move(cfg);
        else std::fprintf(stderr, "many-services config: %s\n", errs.empty() ? "?" : errs[0].str().c_str());
    }
    return m;
}

void BM_ConfigLoadValidate(benchmark::State& st) {
    auto& m = many_services(uint32_t(st.range(0)));
    for (auto _ : st) {
        cp::Errors errs;
        auto cfg = cp::load_config_string(m.text, "many.conf", errs);
        errs = cp::validate_and_allocate(*cfg, nullptr);
        benchmark::DoNotOptimize(errs);
    }
    st.counters["services"] = double(st.range(0));
}
BENCHMARK(BM_ConfigLoadValidate)->Arg(5000)->Unit(benchmark::kMillisecond)->Iterations(3);

// cp::compile: usable backends, Maglev tables, frontend hash, LPMs, for 5,000 services.
void BM_SnapshotCompile(benchmark::State& st) {
    auto& m = many_services(uint32_t(st.range(0)));
    if (!m.validated) {
        st.SkipWithError("config did not validate");
        return;
    }
    MacAddr mac;
    std::memcpy(mac.b.data(), kLbMac, 6);
    static uint64_t gen = 100;
    size_t maglev_entries = 0;
    for (auto _ : st) {
        auto snap = cp::compile(*m.validated, {{"p0", 0, mac}}, gen++, 0);
        maglev_entries = 0;
        for (auto& sp : snap->service_ports) maglev_entries += sp->maglev.size();
        st.PauseTiming();
        snap.reset();
        st.ResumeTiming();
    }
    st.counters["services"] = double(st.range(0));
    st.counters["maglev_entries"] = double(maglev_entries);
}
BENCHMARK(BM_SnapshotCompile)->Arg(5000)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
    // 4 M flows = 8 M keys plus 4 M flow entries: about 1.5 GiB with hugepages.
    eal_init_bench(argv[0], 3072);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
