// SPDX-License-Identifier: Apache-2.0
// svclb: the daemon. Owns the process: reads and validates the config, derives the EAL
// arguments from it, brings up the dataplane (lb/), publishes the first snapshot, launches
// the workers and runs the control loop on the main lcore until SIGINT/SIGTERM. SIGHUP
// reloads the config file; a bad file is reported and the running config keeps serving.
#include <getopt.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "cp/config_loader.h"
#include "cp/controller.h"
#include "cp/validate.h"

using namespace svclb;
using namespace svclb::cp;

namespace {

constexpr const char* kExceptionVdev = "net_tap_svclb"; // the exception path's TAP port
std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void on_signal(int sig) {
    if (sig == SIGHUP)
        g_reload = true;
    else
        g_stop = true;
}

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: svclb -c FILE [--check]\n"
                 "  -c, --config FILE   appliance configuration (libconfig; see docs/config.md)\n"
                 "      --check         validate FILE, print every error, and exit (0 = valid)\n"
                 "  -h, --help          this help\n"
                 "Signals: SIGHUP reloads FILE (a bad file keeps the running config), SIGINT/SIGTERM stop.\n"
                 "EAL arguments are derived from the config (appliance.lcores, ports, hugepages, eal).\n");
}

std::optional<Config> load_and_check(const std::string& path, const Config* previous, Errors& errs) {
    auto cfg = load_config_file(path, errs);
    if (!cfg) return std::nullopt;
    Config copy = *cfg;
    errs = validate_loaded(copy, previous, errs); // load errors, then the rest: all at once
    if (!errs.empty()) return std::nullopt;
    return cfg;
}

void print_errors(const Errors& errs) {
    for (const auto& e : errs) std::fprintf(stderr, "%s\n", e.str().c_str());
    std::fprintf(stderr, "%zu error%s\n", errs.size(), errs.size() == 1 ? "" : "s");
}

std::vector<std::string> eal_args(const Config& cfg) {
    const Appliance& a = cfg.appliance;
    std::string lcores = std::to_string(a.mainLcore);
    for (uint32_t w : a.workerLcores) lcores += "," + std::to_string(w);
    // appliance.eal may map lcores to CPUs itself (--lcores=0@0,1@1,2@0: more workers
    // than CPUs in tests); then -l would conflict with it and is left out.
    bool mapped = false;
    for (const auto& e : a.ealArgs) mapped |= e.rfind("--lcores", 0) == 0;
    std::vector<std::string> args{"svclb"};
    if (!mapped) args.insert(args.end(), {"-l", lcores});
    args.insert(args.end(), {"--main-lcore", std::to_string(a.mainLcore), "--no-pci", "--log-level=*:notice"});
    for (const auto& p : a.ports) args.push_back("--vdev=" + p.device);
    if (!a.exceptionInterface.empty()) args.push_back("--vdev=" + std::string(kExceptionVdev) + ",iface=" + a.exceptionInterface);
    if (a.hugepages) {
        args.push_back("--in-memory");
    } else {
        args.push_back("--no-huge");
        args.push_back("--no-shconf");
    }
    args.push_back("-m");
    args.push_back(std::to_string(a.memoryMB));
    args.push_back("--no-telemetry");
    for (const auto& e : a.ealArgs) args.push_back(e);
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    std::string path;
    bool check = false;
    static const option opts[] = {{"config", required_argument, nullptr, 'c'},
                                  {"check", no_argument, nullptr, 'k'},
                                  {"help", no_argument, nullptr, 'h'},
                                  {nullptr, 0, nullptr, 0}};
    for (int c; (c = getopt_long(argc, argv, "c:h", opts, nullptr)) != -1;) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'k': check = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (path.empty()) {
        usage(stderr);
        return 2;
    }
    Errors errs;
    auto cfg = load_and_check(path, nullptr, errs);
    if (!cfg) {
        print_errors(errs);
        return 1;
    }
    for (const auto& n : cfg->notices) std::fprintf(stderr, "svclb: notice: %s\n", n.c_str());
    if (check) {
        std::printf("%s: valid (%zu services, %zu endpoint slices)\n", path.c_str(), cfg->services.size(),
                    cfg->slices.size());
        return 0;
    }

    auto args = eal_args(*cfg);
    std::vector<char*> argv_eal;
    for (auto& s : args) argv_eal.push_back(s.data());
    std::fprintf(stderr, "svclb: EAL");
    for (auto& s : args) std::fprintf(stderr, " %s", s.c_str());
    std::fprintf(stderr, "\n");
    if (rte_eal_init(int(argv_eal.size()), argv_eal.data()) < 0) {
        std::fprintf(stderr, "svclb: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN); // a client that hangs up is the socket's error, not the daemon's death

    int rc = 0;
    std::vector<std::pair<std::string, std::string>> sysctl_restore; // (file, value before svclb)
    try {
        std::vector<PortBinding> bindings;
        DataplaneConfig dc;
        for (const auto& p : cfg->appliance.ports) {
            const std::string vdev = p.device.substr(0, p.device.find(','));
            uint16_t pid;
            if (rte_eth_dev_get_port_by_name(vdev.c_str(), &pid) != 0)
                throw std::runtime_error("port " + p.name + ": no DPDK device \"" + vdev + "\" (device " +
                                         p.device + " failed to probe?)");
            dc.ports.push_back(pid);
            dc.port_macs.push_back(p.mac.empty() ? MacAddr{} : *parse_mac(p.mac));
            dc.port_vlans.push_back(p.vlan);
            bindings.push_back({p.name, pid, {}});
        }
        dc.workers = uint16_t(cfg->appliance.workerLcores.size());
        dc.flow_capacity = cfg->appliance.flowTableSize;
        dc.idle_backoff_us = cfg->appliance.idleBackoffUs;
        dc.socket_id = int(rte_socket_id());
        Dataplane dp(dc);
        for (auto& b : bindings) b.mac = dp.port_mac(b.port_id);
        Controller ctl(dp, bindings);
        ctl.enable_health_checks();
        std::unique_ptr<ExceptionPath> exception;
        if (const auto& ifname = cfg->appliance.exceptionInterface; !ifname.empty()) {
            uint16_t pid;
            if (rte_eth_dev_get_port_by_name(kExceptionVdev, &pid) != 0)
                throw std::runtime_error("exception path: the TAP device for " + ifname + " failed to probe");
            exception = std::make_unique<ExceptionPath>(dp, pid, ifname, cfg->appliance.exceptionTable);
            for (const auto& p : cfg->appliance.ports) quiet_af_packet_port(p.device, sysctl_restore);
            ctl.set_exception_path(exception.get());
            std::fprintf(stderr, "svclb: exception path: kernel interface %s (DPDK port %u), routing table %u\n",
                         ifname.c_str(), pid, cfg->appliance.exceptionTable);
        }
        if (Errors e = ctl.apply(*cfg); !e.empty()) {
            print_errors(e);
            throw std::runtime_error("initial configuration rejected");
        }
        ctl.listen(cfg->appliance.socket);
        std::vector<unsigned> lcores(cfg->appliance.workerLcores.begin(), cfg->appliance.workerLcores.end());
        dp.launch(lcores);
        for (const auto& b : bindings)
            std::fprintf(stderr, "svclb: port %s = DPDK port %u, MAC %s\n", b.name.c_str(), b.port_id,
                         format_mac(b.mac).c_str());
        std::fprintf(stderr, "svclb: serving generation %lu on %zu worker(s); control socket %s\n",
                     (unsigned long)ctl.generation(), lcores.size(), cfg->appliance.socket.c_str());
        while (!g_stop.load()) {
            if (g_reload.exchange(false)) {
                Errors re;
                auto next = load_config_file(path, re);
                if (next && re.empty()) {
                    re = ctl.apply(*next);
                } else if (next) { // every error at once: the validation's too
                    Config copy = *next;
                    re = validate_loaded(copy, &ctl.config(), re);
                }
                if (re.empty()) {
                    std::fprintf(stderr, "svclb: reloaded %s: generation %lu\n", path.c_str(),
                                 (unsigned long)ctl.generation());
                } else {
                    std::fprintf(stderr, "svclb: reload of %s rejected; still serving generation %lu\n",
                                 path.c_str(), (unsigned long)ctl.generation());
                    print_errors(re);
                }
            }
            ctl.poll(2);
        }
        std::fprintf(stderr, "svclb: stopping\n");
        dp.stop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "svclb: %s\n", e.what());
        rc = 1;
    }
    for (const auto& [file, value] : sysctl_restore) write_sysctl(file, value); // as they were
    rte_eal_cleanup();
    return rc;
}
