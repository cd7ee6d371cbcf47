// SPDX-License-Identifier: Apache-2.0
// Pipeline cost in process (issue 3, item 2): ns per packet through the real
// Worker::process_burst on prebuilt 64-byte IPv4 TCP frames, one FullNAT service with 100
// backends, transmitting to a net_null port (no-rx=1), whose TX frees the mbufs as a NIC's
// completion would. No RX PMD: each burst is re-armed from templates (mbufs allocated from
// the dataplane's pool, 64 bytes copied in), and that re-arm is timed separately
// (rdtsc around each half of every burst) and reported as its own baseline line.
//
// Relies on: the worker is never launched here, so this thread is its only user (the flow
// table has one writer, lb/flow.h); Controller::apply publishes with no worker online, so
// the grace period is immediate. Established cases go through a handshake first: SYN from
// the client, SYN-ACK from the chosen backend to the SNAT address and port read back
// from the flow entry (the reverse key), so measured ACKs hit ESTABLISHED flows.
//
//   pipeline_bench [--flows F] [--syn S] [--packets P] [--reps R] [--json FILE]
//   pipeline_bench --callgrind CASE N [--flows F]   (under valgrind --tool=callgrind
//       --instr-atstart=no --collect-atstart=no: only process_burst + flush is collected)
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define SVCLB_HAVE_CALLGRIND 1
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#endif

#include "cp/config_loader.h"
#include "cp/controller.h"
#include "lb/dataplane.h"
#include "perf/bench_common.h"

using namespace svclb;
using namespace svclb::perf;

namespace {

struct Target {
    const char* name;
    double ns;
};
constexpr Target kTargets[] = {
    {"established_1flow", 35}, {"established_1m", 150}, {"syn_new", 250}, {"non_vip", 20}};

double target_of(const std::string& c) {
    for (auto& t : kTargets)
        if (c == t.name) return t.ns;
    return 0;
}

struct Bench {
    Dataplane* dp;
    Worker* w;
    const Snapshot* s;
    uint16_t port;
    rte_mempool* pool;
    bool collect = false; // callgrind: toggle collection around the pipeline half
};

struct Timing {
    uint64_t packets = 0;
    uint64_t rearm_cyc = 0, pipe_cyc = 0, wall_cyc = 0;
};

// Runs `packets` packets taken in order (cyclically) from `tmpl`, starting at `*cursor`.
Timing run(Bench& b, const std::vector<Frame>& tmpl, uint64_t packets, size_t* cursor) {
    Timing t;
    rte_mbuf* pkts[kBurst];
    size_t at = *cursor;
    const uint64_t w0 = rte_rdtsc();
    for (uint64_t done = 0; done < packets; done += kBurst) {
        const uint16_t n = uint16_t(std::min<uint64_t>(kBurst, packets - done));
        const uint64_t t0 = rte_rdtsc();
        if (rte_pktmbuf_alloc_bulk(b.pool, pkts, n) != 0) {
            std::fprintf(stderr, "pipeline_bench: mbuf pool exhausted\n");
            std::exit(1);
        }
        for (uint16_t i = 0; i < n; i++) {
            rte_mbuf* m = pkts[i];
            std::memcpy(rte_pktmbuf_mtod(m, void*), tmpl[at].b, kFrameLen);
            m->data_len = kFrameLen;
            m->pkt_len = kFrameLen;
            if (++at == tmpl.size()) at = 0;
        }
        const uint64_t t1 = rte_rdtsc();
        if (b.collect) CALLGRIND_TOGGLE_COLLECT;
        b.w->process_burst(*b.s, b.port, pkts, n);
        b.w->flush_tx();
        if (b.collect) CALLGRIND_TOGGLE_COLLECT;
        const uint64_t t2 = rte_rdtsc();
        t.rearm_cyc += t1 - t0;
        t.pipe_cyc += t2 - t1;
    }
    t.wall_cyc = rte_rdtsc() - w0;
    t.packets = packets;
    *cursor = at;
    return t;
}

uint64_t ev(Dataplane& dp, Ev e) {
    uint64_t d[kNumDrops], v[kNumEvents];
    dp.sum_counters(d, v);
    return v[size_t(e)];
}
std::string drops_delta(const uint64_t* before, Dataplane& dp) {
    uint64_t d[kNumDrops], v[kNumEvents];
    dp.sum_counters(d, v);
    std::string s;
    for (size_t i = 0; i < kNumDrops; i++)
        if (d[i] != before[i])
            s += (s.empty() ? "" : ",") + std::string(drop_name(Drop(i))) + "=" + std::to_string(d[i] - before[i]);
    return s.empty() ? "none" : s;
}
void drops_now(Dataplane& dp, uint64_t* d) {
    uint64_t v[kNumEvents];
    dp.sum_counters(d, v);
}

Frame client_frame(uint32_t k, uint16_t base, uint8_t flags, const char* dst = kVip) {
    return tcp_frame(kLbMac, kPeerMac, client_ip(k), ip4(dst), htons(client_port(k, base)), htons(kVipPort), flags,
                     1000 + k, flags & RTE_TCP_ACK_FLAG ? 5000 : 0);
}

// SYN from each client k in [k0, k1), then the backend's SYN-ACK through the reverse path.
// Returns the number of flows that reached ESTABLISHED.
uint32_t handshake(Bench& b, uint32_t k0, uint32_t k1, uint16_t base) {
    std::vector<Frame> chunk;
    size_t cur = 0;
    constexpr uint32_t kChunk = 65536;
    for (uint32_t k = k0; k < k1; k += kChunk) {
        const uint32_t e = std::min(k1, k + kChunk);
        chunk.clear();
        for (uint32_t j = k; j < e; j++) chunk.push_back(client_frame(j, base, RTE_TCP_SYN_FLAG));
        cur = 0;
        run(b, chunk, chunk.size(), &cur);
        chunk.clear();
        for (uint32_t j = k; j < e; j++) {
            FlowKey4 fk{};
            fk.src = client_ip(j);
            fk.dst = ip4(kVip);
            fk.sport = htons(client_port(j, base));
            fk.dport = htons(kVipPort);
            fk.proto = IPPROTO_TCP;
            const int32_t r = b.w->flows().lookup(fk);
            if (r < 0 || (r & 1)) continue;
            const FlowKey4& rv = b.w->flows().at(uint32_t(r) >> 1).rev;
            chunk.push_back(tcp_frame(kLbMac, kPeerMac, rv.src, rv.dst, rv.sport, rv.dport,
                                      RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, 9000, 1001 + j));
        }
        cur = 0;
        run(b, chunk, chunk.size(), &cur);
    }
    uint32_t est = 0;
    for (uint32_t j = k0; j < k1; j++) {
        FlowKey4 fk{};
        fk.src = client_ip(j);
        fk.dst = ip4(kVip);
        fk.sport = htons(client_port(j, base));
        fk.dport = htons(kVipPort);
        fk.proto = IPPROTO_TCP;
        const int32_t r = b.w->flows().lookup(fk);
        if (r >= 0 && b.w->flows().at(uint32_t(r) >> 1).state == FlowState::kTcpEstablished) est++;
    }
    return est;
}

struct Result {
    std::string name;
    uint64_t packets;
    double rearm_ns, pipe_ns, wall_ns;
    std::string drops;
};

Result measure(Bench& b, const std::string& name, const std::vector<Frame>& tmpl, uint64_t packets, int reps,
               size_t* cursor) {
    const double ns_per_cyc = 1e9 / double(rte_get_tsc_hz());
    uint64_t d0[kNumDrops];
    drops_now(*b.dp, d0);
    Result best{name, packets, 1e30, 1e30, 1e30, ""};
    for (int r = 0; r < reps; r++) {
        Timing t = run(b, tmpl, packets, cursor);
        const double pipe = double(t.pipe_cyc) * ns_per_cyc / double(t.packets);
        if (pipe < best.pipe_ns) {
            best.pipe_ns = pipe;
            best.rearm_ns = double(t.rearm_cyc) * ns_per_cyc / double(t.packets);
            best.wall_ns = double(t.wall_cyc) * ns_per_cyc / double(t.packets);
        }
    }
    best.packets = packets;
    best.drops = drops_delta(d0, *b.dp);
    return best;
}

void usage() {
    std::fprintf(stderr,
                 "usage: pipeline_bench [--flows F] [--syn S] [--packets P] [--reps R] [--json FILE]\n"
                 "       pipeline_bench --callgrind CASE N [--flows F]\n"
                 "cases: established_1flow established_1m syn_new non_vip\n");
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t flows = 1000000, syn = 300000;
    uint64_t packets = 4000000;
    int reps = 3;
    std::string json, cg_case;
    uint64_t cg_n = 0;
    bool flows_set = false;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--flows") flows = uint32_t(std::stoul(next())), flows_set = true;
        else if (a == "--syn") syn = uint32_t(std::stoul(next()));
        else if (a == "--packets") packets = std::stoull(next());
        else if (a == "--reps") reps = std::stoi(next());
        else if (a == "--json") json = next();
        else if (a == "--callgrind") {
            cg_case = next();
            cg_n = std::stoull(next());
        } else {
            usage();
            return 2;
        }
    }
    const bool callgrind = !cg_case.empty();
    if (callgrind && !flows_set) flows = 100000; // setup under valgrind is ~50x slower
    if (callgrind && cg_case == "syn_new") syn = uint32_t(cg_n);
    const uint32_t per_pass = syn / uint32_t(std::max(reps, 1));
    // Flow entries: the established set + one flow + every syn_new flow + slack.
    const uint32_t capacity = flows + syn + 8192;
    const long mem_mb = 1024 + long(capacity) * 200 / (1 << 20) + (callgrind ? 0 : 128);
    const bool huge = eal_init_bench(argv[0], mem_mb, callgrind, "net_null0,no-rx=1");

    uint16_t port;
    if (rte_eth_dev_get_port_by_name("net_null0", &port) != 0) {
        std::fprintf(stderr, "no net_null0 port\n");
        return 1;
    }
    MacAddr mac;
    std::memcpy(mac.b.data(), kLbMac, 6);
    DataplaneConfig dc;
    dc.ports = {port};
    dc.port_macs = {mac};
    dc.flow_capacity = capacity;
    dc.idle_backoff_us = 0;
    dc.mbufs = 8191;
    int rc = 0;
    try {
        Dataplane dp(dc);
        cp::Controller ctl(dp, {{"p0", port, mac}});
        cp::Errors errs;
        auto cfg = cp::load_config_string(bench_config("net_null0,no-rx=1", 100, capacity), "bench.conf", errs);
        if (!cfg || !errs.empty()) throw std::runtime_error("bench config: " + errs.at(0).str());
        errs = ctl.apply(*cfg);
        if (!errs.empty()) throw std::runtime_error("bench config: " + errs.at(0).str());
        Worker& w = dp.worker(0);
        w.poll_once(); // sends what the control plane queued (gratuitous ARP)
        Bench b{&dp, &w, dp.current(), port, dp.pool()};
        std::fprintf(stderr, "bench: 1 service, %zu backends, Maglev M=%zu, flow table %u flows\n",
                     b.s->service_ports.at(0)->backends.size(), b.s->service_ports.at(0)->maglev.size(),
                     capacity);

        // --- one established flow (client base port 60000, outside the 1 M set)
        uint64_t hd0[kNumDrops];
        drops_now(dp, hd0);
        if (handshake(b, 0, 1, 60000) != 1)
            throw std::runtime_error("handshake of the single flow failed; drops: " + drops_delta(hd0, dp) +
                                     ", to_control: " + std::to_string(ev(dp, Ev::kToControl)));
        std::vector<Frame> one{client_frame(0, 60000, RTE_TCP_ACK_FLAG)};
        std::vector<Frame> nonvip;
        for (uint32_t k = 0; k < 1024; k++) nonvip.push_back(client_frame(k, 1024, RTE_TCP_ACK_FLAG, kNonVip));

        // --- the established set
        const uint64_t h0 = rte_rdtsc();
        const bool need_1m = !callgrind || cg_case == "established_1m";
        uint32_t est = 0;
        if (need_1m) {
            est = handshake(b, 0, flows, 1024);
            std::fprintf(stderr, "bench: handshake of %u flows: %u established in %.1f s (%u in table)\n", flows,
                         est, double(rte_rdtsc() - h0) / double(rte_get_tsc_hz()), w.flows().size());
            if (est != flows) throw std::runtime_error("not every flow reached ESTABLISHED");
        }
        // ACKs of the established set in a random order (templates are read sequentially, as
        // from a NIC ring; the flow entries they hit are spread over the table).
        std::vector<Frame> acks;
        if (need_1m) {
            std::vector<uint32_t> order(flows);
            std::iota(order.begin(), order.end(), 0u);
            std::shuffle(order.begin(), order.end(), std::mt19937(42));
            acks.reserve(flows);
            for (uint32_t k : order) acks.push_back(client_frame(k, 1024, RTE_TCP_ACK_FLAG));
        }
        // New flows: SYNs from client ports above the established set (base 30000).
        auto syns = [&](uint32_t k0, uint32_t n) {
            std::vector<Frame> v;
            v.reserve(n);
            for (uint32_t k = k0; k < k0 + n; k++) v.push_back(client_frame(k, 30000, RTE_TCP_SYN_FLAG));
            return v;
        };

        if (callgrind) {
            const std::vector<Frame>* t = cg_case == "established_1flow" ? &one
                                          : cg_case == "established_1m"  ? &acks
                                          : cg_case == "non_vip"         ? &nonvip
                                                                         : nullptr;
            std::vector<Frame> s;
            if (cg_case == "syn_new") {
                s = syns(0, uint32_t(cg_n));
                t = &s;
            }
            if (!t) {
                usage();
                return 2;
            }
            size_t cur = 0;
            run(b, *t, std::min<uint64_t>(cg_n, 4096), &cur); // warm (instrumentation off)
            if (cg_case == "syn_new") { // fresh flows for the measured run
                s = syns(uint32_t(cg_n), uint32_t(cg_n));
                cur = 0;
            }
            b.collect = true;
            CALLGRIND_START_INSTRUMENTATION;
            run(b, *t, cg_n, &cur);
            CALLGRIND_STOP_INSTRUMENTATION;
            std::printf("callgrind case %s: %" PRIu64 " packets collected (flows in table: %u)\n", cg_case.c_str(),
                        cg_n, w.flows().size());
        } else {
            std::vector<Result> res;
            size_t cur = 0;
            // Warm-up: caches, branch predictors, the mbuf pool's per-lcore cache.
            run(b, one, 1 << 16, &cur);
            cur = 0;
            res.push_back(measure(b, "established_1flow", one, packets, reps, &cur));
            cur = 0;
            res.push_back(measure(b, "established_1m", acks, packets, reps, &cur));
            cur = 0;
            res.push_back(measure(b, "non_vip", nonvip, packets, reps, &cur));
            // syn_new: every rep its own fresh flows, so every SYN inserts.
            {
                const double ns_per_cyc = 1e9 / double(rte_get_tsc_hz());
                uint64_t d0[kNumDrops];
                drops_now(dp, d0);
                const uint64_t c0 = ev(dp, Ev::kFwdNew);
                Result best{"syn_new", per_pass, 1e30, 1e30, 1e30, ""};
                for (int r = 0; r < reps; r++) {
                    auto v = syns(uint32_t(r) * per_pass, per_pass);
                    size_t c = 0;
                    Timing t = run(b, v, v.size(), &c);
                    const double pipe = double(t.pipe_cyc) * ns_per_cyc / double(t.packets);
                    if (pipe < best.pipe_ns) {
                        best.pipe_ns = pipe;
                        best.rearm_ns = double(t.rearm_cyc) * ns_per_cyc / double(t.packets);
                        best.wall_ns = double(t.wall_cyc) * ns_per_cyc / double(t.packets);
                    }
                }
                best.drops = drops_delta(d0, dp);
                const uint64_t created = ev(dp, Ev::kFwdNew) - c0;
                if (created != uint64_t(per_pass) * uint64_t(reps))
                    best.drops += " (only " + std::to_string(created) + " flows created)";
                res.push_back(best);
            }

            const double rearm =
                std::accumulate(res.begin(), res.end(), 0.0, [](double a, auto& r) { return a + r.rearm_ns; }) /
                double(res.size());
            std::printf("\npipeline_bench: Worker::process_burst + flush_tx per packet, 64-byte IPv4 TCP,\n"
                        "1 FullNAT service, 100 backends, 1 worker, %s, TSC %.3f GHz, best of %d\n\n",
                        huge ? "hugepages" : "no hugepages", double(rte_get_tsc_hz()) / 1e9, reps);
            std::printf("%-20s %10s %8s %10s %9s %12s  %s\n", "case", "ns/pkt", "Mpps", "target ns", "verdict",
                        "rearm ns/pkt", "drops");
            for (auto& r : res) {
                const double tg = target_of(r.name);
                std::printf("%-20s %10.1f %8.2f %10.0f %9s %12.1f  %s\n", r.name.c_str(), r.pipe_ns,
                            1e3 / r.pipe_ns, tg, r.pipe_ns <= tg ? "met" : "MISSED", r.rearm_ns, r.drops.c_str());
            }
            std::printf("%-20s %10.1f %8.2f %10s %9s %12s  %s\n", "rearm (baseline)", rearm, 1e3 / rearm, "-", "-",
                        "-", "mbuf alloc + 64-byte copy, excluded from ns/pkt above");
            std::printf("\nflows in table at the end: %u; established set: %u\n", w.flows().size(), est);
            if (!json.empty()) {
                FILE* f = std::fopen(json.c_str(), "w");
                if (!f) throw std::runtime_error("cannot write " + json);
                std::fprintf(f, "{\"hugepages\": %s, \"tsc_hz\": %" PRIu64 ", \"reps\": %d, \"flows\": %u, "
                                "\"backends\": 100, \"cases\": [",
                             huge ? "true" : "false", rte_get_tsc_hz(), reps, flows);
                for (size_t i = 0; i < res.size(); i++) {
                    auto& r = res[i];
                    std::fprintf(f,
                                 "%s{\"case\": \"%s\", \"packets\": %" PRIu64 ", \"ns_per_pkt\": %.2f, \"mpps\": %.3f, "
                                 "\"target_ns\": %.0f, \"met\": %s, \"rearm_ns\": %.2f, \"gross_ns\": %.2f, "
                                 "\"drops\": \"%s\"}",
                                 i ? ", " : "", r.name.c_str(), r.packets, r.pipe_ns, 1e3 / r.pipe_ns,
                                 target_of(r.name), r.pipe_ns <= target_of(r.name) ? "true" : "false", r.rearm_ns,
                                 r.wall_ns, r.drops.c_str());
                }
                std::fprintf(f, "], \"rearm_ns\": %.2f}\n", rearm);
                std::fclose(f);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pipeline_bench: %s\n", e.what());
        rc = 1;
    }
    rte_eal_cleanup();
    return rc;
}
