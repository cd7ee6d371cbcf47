// SPDX-License-Identifier: Apache-2.0
// The dataplane as a library the control plane drives: mbuf pool, ports, workers, the
// neighbour table, and RCU publication of snapshots.
// Queues: worker i owns RX queue i and TX queue i of every port. The control plane owns
// no queue; what it sends goes through worker 0's from_cp ring (so PMDs with one queue
// pair, such as AF_XDP with queue_count=1, work).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lb/counters.h"
#include "lb/neigh.h"
#include "lb/snapshot.h"
#include "lb/worker.h"

struct rte_mempool;
struct rte_rcu_qsbr;

namespace svclb {

struct DataplaneConfig {
    std::vector<uint16_t> ports;  // DPDK port ids (vdevs already probed)
    // Optional MAC per port (parallel to `ports`; zero = the PMD's). Set on the device where
    // the PMD allows it, else used by svclb in software (matching and rewriting).
    std::vector<MacAddr> port_macs;
    // Optional 802.1Q VLAN id per port (parallel to `ports`; 0 = untagged).
    std::vector<uint16_t> port_vlans;
    uint16_t workers = 1;
    uint32_t flow_capacity = 65536; // per worker
    uint32_t idle_backoff_us = 100;
    uint32_t neigh_capacity = 4096;
    uint32_t mbufs = 16383;
    uint16_t rx_desc = 1024, tx_desc = 1024;
    int socket_id = 0;
};

class Dataplane {
public:
    // Runs on: control plane. Creates the pool, configures and starts the ports, creates
    // workers. Throws std::runtime_error with the reason on failure.
    explicit Dataplane(const DataplaneConfig& cfg);
    ~Dataplane();
    Dataplane(const Dataplane&) = delete;
    Dataplane& operator=(const Dataplane&) = delete;

    // Runs on: control plane. Swaps in `next`, waits for a grace period, frees the old one.
    void publish(std::unique_ptr<Snapshot> next);
    // Runs on: any lcore. The current snapshot (workers: once per iteration).
    const Snapshot* current() const noexcept { return current_.load(std::memory_order_acquire); }

    // Runs on: control plane. Starts worker i on lcore lcores[i]; stop() joins them.
    void launch(const std::vector<unsigned>& lcores);
    void stop();

    // Runs on: control plane. Hands `m` to worker 0 for transmission on `port` as is.
    bool send(rte_mbuf* m, uint16_t port) noexcept;

    Worker& worker(size_t i) { return *workers_[i]; }
    size_t worker_count() const { return workers_.size(); }
    NeighTable& neigh() { return *neigh_; }
    rte_mempool* pool() const { return pool_; }
    rte_rcu_qsbr* qsv() const { return qsv_; }
    const std::vector<uint16_t>& ports() const { return cfg_.ports; }
    MacAddr port_mac(uint16_t port) const;
    uint16_t port_vlan(uint16_t port) const;
    // Runs on: any lcore. The worker whose SNAT range holds `port` (host order), or -1.
    // Worker i owns [kSnatLo + i * span, kSnatLo + (i + 1) * span).
    int snat_owner(uint16_t port) const noexcept {
        if (port < kSnatLo) return -1;
        const uint32_t w = (port - kSnatLo) / snat_span_;
        return w < workers_.size() ? int(w) : -1;
    }
    static constexpr uint32_t kSnatLo = 1024;
    const DataplaneConfig& config() const { return cfg_; }
    uint32_t idle_backoff_us() const { return cfg_.idle_backoff_us; }

    // Runs on: control plane. Sums every worker's counters (relaxed reads).
    void sum_counters(uint64_t drops[kNumDrops], uint64_t events[kNumEvents]) const;

private:
    void setup_port(uint16_t port);

    DataplaneConfig cfg_;
    rte_mempool* pool_ = nullptr;
    rte_rcu_qsbr* qsv_ = nullptr;
    std::unique_ptr<NeighTable> neigh_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<unsigned> lcores_;
    std::atomic<const Snapshot*> current_{nullptr};
    std::vector<uint16_t> started_;
    std::vector<std::pair<uint16_t, MacAddr>> mac_override_;
    uint32_t snat_span_ = 1;
};

}  // namespace svclb
