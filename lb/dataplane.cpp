// SPDX-License-Identifier: Apache-2.0
#include "lb/dataplane.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

namespace svclb {

static std::string dpdk_err(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

Dataplane::Dataplane(const DataplaneConfig& cfg) : cfg_(cfg) {
    if (cfg_.workers == 0) throw std::runtime_error("at least one worker is needed");
    if (cfg_.neigh_capacity > 32767) throw std::runtime_error("flows keep neighbour slots in 16 bits");
    static int seq = 0;
    const std::string pname = "mbufs" + std::to_string(seq++);
    pool_ = rte_pktmbuf_pool_create(pname.c_str(), cfg_.mbufs, 256,
                                    RTE_ALIGN(sizeof(PktPriv), RTE_MBUF_PRIV_ALIGN),
                                    RTE_MBUF_DEFAULT_BUF_SIZE, cfg_.socket_id);
    if (!pool_) throw std::runtime_error("cannot create the mbuf pool: " + dpdk_err(rte_errno));
    const size_t qsz = rte_rcu_qsbr_get_memsize(cfg_.workers);
    qsv_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("rcu", qsz, RTE_CACHE_LINE_SIZE));
    if (!qsv_ || rte_rcu_qsbr_init(qsv_, cfg_.workers) != 0) throw std::runtime_error("cannot set up RCU");
    neigh_ = std::make_unique<NeighTable>(cfg_.neigh_capacity, cfg_.socket_id);
    for (size_t i = 0; i < cfg_.ports.size(); i++) {
        if (i < cfg_.port_macs.size() && !cfg_.port_macs[i].is_zero()) {
            rte_ether_addr a;
            std::memcpy(a.addr_bytes, cfg_.port_macs[i].b.data(), 6);
            if (rte_eth_dev_default_mac_addr_set(cfg_.ports[i], &a) != 0)
                mac_override_.push_back({cfg_.ports[i], cfg_.port_macs[i]});
        }
        setup_port(cfg_.ports[i]);
    }
    // Per-worker SNAT port ranges: the reply's destination port names the owning worker.
    snat_span_ = (65536 - kSnatLo) / cfg_.workers;
    for (uint16_t w = 0; w < cfg_.workers; w++)
        workers_.push_back(std::make_unique<Worker>(*this, w, cfg_.flow_capacity, kSnatLo + w * snat_span_,
                                                    kSnatLo + (w + 1) * snat_span_));
}

Dataplane::~Dataplane() {
    stop();
    workers_.clear();
    for (uint16_t p : started_) {
        rte_eth_dev_stop(p);
        rte_eth_dev_close(p);
    }
    delete current_.exchange(nullptr);
    rte_free(qsv_);
    rte_mempool_free(pool_);
}

void Dataplane::setup_port(uint16_t port) {
    rte_eth_dev_info info{};
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0) throw std::runtime_error("port " + std::to_string(port) + ": " + dpdk_err(rc));
    const uint16_t nq = cfg_.workers;
    if (info.max_rx_queues < nq || info.max_tx_queues < nq)
        throw std::runtime_error("port " + std::to_string(port) + " (" + info.driver_name + ") has " +
                                 std::to_string(info.max_rx_queues) + " RX queues, " + std::to_string(nq) +
                                 " workers need one each");
    rte_eth_conf conf{};
    if (nq > 1 && info.flow_type_rss_offloads) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    rc = rte_eth_dev_configure(port, nq, nq, &conf);
    if (rc != 0) throw std::runtime_error("port " + std::to_string(port) + ": configure: " + dpdk_err(rc));
    uint16_t nrx = cfg_.rx_desc, ntx = cfg_.tx_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
    const int sock = rte_eth_dev_socket_id(port) < 0 ? cfg_.socket_id : rte_eth_dev_socket_id(port);
    for (uint16_t q = 0; q < nq; q++) {
        rc = rte_eth_rx_queue_setup(port, q, nrx, sock, nullptr, pool_);
        if (rc != 0) throw std::runtime_error("port " + std::to_string(port) + ": RX queue: " + dpdk_err(rc));
        rc = rte_eth_tx_queue_setup(port, q, ntx, sock, nullptr);
        if (rc != 0) throw std::runtime_error("port " + std::to_string(port) + ": TX queue: " + dpdk_err(rc));
    }
    rc = rte_eth_dev_start(port);
    if (rc != 0) throw std::runtime_error("port " + std::to_string(port) + ": start: " + dpdk_err(rc));
    started_.push_back(port);
}

MacAddr Dataplane::port_mac(uint16_t port) const {
    for (const auto& [p, m] : mac_override_)
        if (p == port) return m;
    rte_ether_addr a{};
    rte_eth_macaddr_get(port, &a);
    MacAddr m;
    std::memcpy(m.b.data(), a.addr_bytes, 6);
    return m;
}

uint16_t Dataplane::port_vlan(uint16_t port) const {
    for (size_t i = 0; i < cfg_.ports.size() && i < cfg_.port_vlans.size(); i++)
        if (cfg_.ports[i] == port) return cfg_.port_vlans[i];
    return 0;
}

void Dataplane::publish(std::unique_ptr<Snapshot> next) {
    const Snapshot* old = current_.exchange(next.release(), std::memory_order_acq_rel);
    rte_rcu_qsbr_synchronize(qsv_, RTE_QSBR_THRID_INVALID); // no worker can still see `old`
    delete old;
}

static int worker_main(void* arg) {
    static_cast<Worker*>(arg)->run();
    return 0;
}

void Dataplane::launch(const std::vector<unsigned>& lcores) {
    if (lcores.size() != workers_.size()) throw std::runtime_error("one lcore per worker is needed");
    for (size_t i = 0; i < workers_.size(); i++) {
        const int rc = rte_eal_remote_launch(worker_main, workers_[i].get(), lcores[i]);
        if (rc != 0) {
            stop();
            throw std::runtime_error("cannot launch a worker on lcore " + std::to_string(lcores[i]) + ": " +
                                     dpdk_err(rc));
        }
        lcores_.push_back(lcores[i]);
    }
}

void Dataplane::stop() {
    for (auto& w : workers_) w->request_stop();
    for (unsigned l : lcores_) rte_eal_wait_lcore(l);
    lcores_.clear();
}

bool Dataplane::send(rte_mbuf* m, uint16_t port) noexcept {
    auto* pv = static_cast<PktPriv*>(rte_mbuf_to_priv(m));
    pv->out_port = port;
    pv->kind = kPrivSend;
    // Single producer: only the control plane thread calls send().
    if (rte_ring_sp_enqueue(workers_[0]->from_cp(), m) != 0) {
        rte_pktmbuf_free(m);
        return false;
    }
    return true;
}

void Dataplane::sum_counters(uint64_t drops[kNumDrops], uint64_t events[kNumEvents]) const {
    for (size_t i = 0; i < kNumDrops; i++) drops[i] = 0;
    for (size_t i = 0; i < kNumEvents; i++) events[i] = 0;
    for (const auto& w : workers_) {
        const auto& c = w->counters();
        for (size_t i = 0; i < kNumDrops; i++) drops[i] += c.drops[i].load(std::memory_order_relaxed);
        for (size_t i = 0; i < kNumEvents; i++) events[i] += c.events[i].load(std::memory_order_relaxed);
    }
}

}  // namespace svclb
