// SPDX-License-Identifier: Apache-2.0
#include "cp/controller.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "cp/trace.h"
#include "cp/validate.h"

namespace svclb::cp {

Controller::Controller(Dataplane& dp, std::vector<PortBinding> ports)
    : dp_(dp), ports_(std::move(ports)), resolver_(dp) {}

Controller::~Controller() {
    if (listen_fd_ >= 0) {
        close(listen_fd_);
        unlink(socket_path_.c_str());
    }
}

uint64_t Controller::now_ms() {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

Errors Controller::apply(Config next) {
    Errors errs = validate_and_allocate(next, have_cfg_ ? &cfg_ : nullptr);
    if (!errs.empty()) return errs;
    // The dataplane's shape (ports, lcores, table sizes) is fixed at start: a reload that
    // changes it is refused rather than half-applied.
    if (have_cfg_) {
        const auto& a = cfg_.appliance;
        const auto& b = next.appliance;
        auto same_ports = a.ports.size() == b.ports.size();
        for (size_t i = 0; same_ports && i < a.ports.size(); i++)
            same_ports = a.ports[i].name == b.ports[i].name && a.ports[i].device == b.ports[i].device &&
                         a.ports[i].vlan == b.ports[i].vlan && a.ports[i].mac == b.ports[i].mac;
        if (!same_ports || a.workerLcores != b.workerLcores || a.mainLcore != b.mainLcore ||
            a.flowTableSize != b.flowTableSize || a.hugepages != b.hugepages ||
            a.exceptionInterface != b.exceptionInterface || a.exceptionTable != b.exceptionTable)
            return {ConfigError{b.loc, "", "appliance",
                                "Forbidden: ports (device, mac, vlan), lcores, flowTableSize, hugepages and "
                                "exceptionPath take effect on restart only; restart svclb to change them"}};
    }
    std::unique_ptr<Snapshot> snap;
    try {
        snap = compile(next, ports_, generation_ + 1, dp_.config().socket_id);
    } catch (const std::exception& e) {
        return {ConfigError{next.appliance.loc, "", "", std::string("compile failed: ") + e.what()}};
    }
    // Draining backends: their flows may go on until drain_timeout_s after the first
    // generation that had them draining (kept across reloads).
    std::map<std::pair<std::string, uint64_t>, uint64_t> draining_since;
    const uint64_t now_tsc = rte_get_tsc_cycles(), hz = rte_get_tsc_hz();
    for (auto& sp : snap->service_ports)
        for (auto& b : sp->backends) {
            if (!b.draining) continue;
            const std::pair key{sp->name, b.id};
            auto it = draining_since_.find(key);
            const uint64_t since = it != draining_since_.end() ? it->second : now_tsc;
            draining_since.emplace(key, since);
            b.drain_deadline = since + uint64_t(sp->drain_timeout_s) * hz;
        }
    // Every backend's next hop gets its neighbour slot now, so a new flow needs no lookup.
    const size_t workers = dp_.worker_count();
    for (auto& sp : snap->service_ports) {
        for (auto& b : sp->backends) b.neigh = int16_t(dp_.neigh().ensure(b.nexthop, b.out_port));
        // One slot per worker, and one for the live trace's worker (index `workers`,
        // cp/trace.h), which counts there and is never summed.
        sp->per_worker = std::make_unique<ServicePortRt::Slot[]>(workers + 1);
    }
    // Counters survive the reload: each table carries over what the same one counted.
    if (const Snapshot* old = dp_.current()) {
        std::map<std::string, uint64_t> before;
        for (const auto& sp : old->service_ports) before[sp->name] = sp->flows_total(workers);
        for (auto& sp : snap->service_ports)
            if (auto it = before.find(sp->name); it != before.end()) sp->carried_flows = it->second;
    }
    const Snapshot* raw = snap.get();
    resolver_.configure(next, ports_, *raw, now_ms()); // before publish: `raw` is alive
    dp_.publish(std::move(snap));
    generation_++;
    cfg_ = std::move(next);
    have_cfg_ = true;
    draining_since_ = std::move(draining_since);
    // The kernel's side: healthCheckNodePort listeners, the exception path's addresses.
    // What the kernel refuses is reported; the configuration stays applied.
    if (health_enabled_)
        for (const auto& w : health_.configure(cfg_)) std::fprintf(stderr, "svclb: warning: %s\n", w.c_str());
    if (exception_) {
        std::vector<IpAddr> own;
        for (const auto& p : cfg_.appliance.ports)
            for (const auto& a : p.addresses) {
                IpAddr host;
                if (parse_cidr(a, &host)) own.push_back(host);
            }
        for (const auto& a : cfg_.cluster.nodeAddresses)
            if (auto ip = parse_ip(a)) own.push_back(*ip);
        try {
            for (const auto& w : exception_->sync(own))
                std::fprintf(stderr, "svclb: warning: exception path: %s\n", w.c_str());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "svclb: warning: exception path: %s\n", e.what());
        }
    }
    return {};
}

void Controller::listen(const std::string& path) {
    socket_path_ = path;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) {
        std::filesystem::create_directories(dir);
        chmod(dir.c_str(), 0700);
    }
    unlink(path.c_str());
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) throw std::runtime_error("socket path too long: " + path);
    std::strcpy(sa.sun_path, path.c_str());
    const mode_t old = umask(0077);
    const int rc = bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    umask(old);
    if (rc != 0 || ::listen(listen_fd_, 16) != 0)
        throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
    chmod(path.c_str(), 0600);
}

void Controller::serve_one(int fd) {
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string req;
    char buf[512];
    while (req.find('\n') == std::string::npos && req.size() < 4096) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, size_t(n));
    }
    if (auto nl = req.find('\n'); nl != std::string::npos) req.resize(nl);
    const std::string resp = handle(req);
    size_t off = 0;
    while (off < resp.size()) {
        const ssize_t n = send(fd, resp.data() + off, resp.size() - off, MSG_NOSIGNAL); // svclbctl may be gone
        if (n <= 0) break;
        off += size_t(n);
    }
    close(fd);
}

// What a worker handed the control plane: for the kernel (exception path), or for the
// resolver (ARP / NA to learn from, a packet waiting for its next hop).
void Controller::from_worker(rte_mbuf* m, uint64_t now) {
    if (pkt_priv(m)->kind == kPrivPunt) {
        if (exception_) {
            exception_->deliver(m);
        } else {
            punts_dropped_++;
            rte_pktmbuf_free(m);
        }
        return;
    }
    if (pkt_priv(m)->kind == kPrivFlowAnswer) { // a live trace's, after it gave up waiting
        rte_pktmbuf_free(m);
        return;
    }
    resolver_.on_packet(m, now);
}

void Controller::poll(int timeout_ms) {
    std::vector<pollfd> fds;
    if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
    health_.add_pollfds(fds);
    // The exception path's TAP port has no descriptor to wait on: poll it every millisecond.
    if (exception_) timeout_ms = std::min(timeout_ms, 1);
    if (!fds.empty() && ::poll(fds.data(), fds.size(), timeout_ms) > 0) {
        if (listen_fd_ >= 0 && fds[0].revents)
            for (int i = 0; i < 8; i++) {
                const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) break;
                serve_one(fd);
            }
    }
    const uint64_t now = now_ms();
    health_.handle(fds, now);
    for (size_t w = 0; w < dp_.worker_count(); w++) {
        rte_mbuf* pkts[64];
        const unsigned n = rte_ring_sc_dequeue_burst(dp_.worker(w).to_cp(), reinterpret_cast<void**>(pkts),
                                                     64, nullptr);
        for (unsigned i = 0; i < n; i++) from_worker(pkts[i], now);
    }
    if (exception_) exception_->poll(dp_.current(), resolver_, now);
    resolver_.tick(now);
}

std::string Controller::handle(const std::string& request) {
    if (request == "stats") return stats_json();
    if (request == "services") return services_table();
    if (request == "neighbours") return resolver_.describe();
    if (request == "generation") return std::to_string(generation_) + "\n";
    if (request == "metrics") return metrics_text();
    if (request.starts_with("trace ")) return live_trace(request.substr(6));
    return "error: unknown request \"" + request + "\" (stats, services, neighbours, generation, metrics, trace)\n";
}

// "trace proto=P src=S dst=D [ingress=NAME]": one JSON line, or "error N: why" (N = 2 for a
// bad request, 1 when the dataplane could not answer), which svclbctl turns into its exit
// status.
std::string Controller::live_trace(const std::string& args) {
    TracePacket pkt;
    std::istringstream in(args);
    std::string tok;
    while (in >> tok) {
        const auto eq = tok.find('=');
        const std::string k = tok.substr(0, eq), v = eq == std::string::npos ? "" : tok.substr(eq + 1);
        if (k == "proto") pkt.proto = v;
        else if (k == "src") pkt.src = v;
        else if (k == "dst") pkt.dst = v;
        else if (k == "ingress") pkt.ingress = v;
        else return "error 2: unknown trace field \"" + k + "\"\n";
    }
    LiveTraceHooks hooks;
    hooks.pump = trace_pump_;
    hooks.other = [this](rte_mbuf* m) { from_worker(m, now_ms()); };
    try {
        return trace_live(dp_, ports_, pkt, hooks).json() + "\n";
    } catch (const std::invalid_argument& e) {
        return std::string("error 2: ") + e.what() + "\n";
    } catch (const std::exception& e) {
        return std::string("error 1: ") + e.what() + "\n";
    }
}

std::string Controller::stats_json() {
    uint64_t drops[kNumDrops], events[kNumEvents];
    dp_.sum_counters(drops, events);
    uint64_t flows = 0;
    for (size_t w = 0; w < dp_.worker_count(); w++) flows += dp_.worker(w).flow_count();
    std::ostringstream o;
    o << "{\"generation\": " << generation_ << ", \"workers\": " << dp_.worker_count()
      << ", \"flows\": " << flows << ", \"rx\": " << events[size_t(Ev::kRx)]
      << ", \"tx\": " << events[size_t(Ev::kTx)] << ", \"events\": {";
    for (size_t i = 0; i < kNumEvents; i++)
        o << (i ? ", " : "") << '"' << event_name(Ev(i)) << "\": " << events[i];
    o << "}, \"drops\": {";
    bool first = true;
    for (size_t i = 0; i < kNumDrops; i++) {
        uint64_t v = drops[i];
        if (Drop(i) == Drop::kNeighUnresolved) v += resolver_.unresolved_drops();
        if (Drop(i) == Drop::kNeighQueueFull) v += resolver_.queue_drops();
        o << (first ? "" : ", ") << '"' << drop_name(Drop(i)) << "\": " << v;
        first = false;
    }
    o << "}, \"services\": [";
    if (const Snapshot* snap = dp_.current())
        for (size_t i = 0; i < snap->service_ports.size(); i++) {
            const auto& sp = *snap->service_ports[i];
            o << (i ? ", " : "") << "{\"service\": \"" << sp.service << "\", \"port\": \"" << sp.port_name
              << "\", \"protocol\": \"" << proto_name(sp.proto) << "\", \"appProtocol\": \"" << sp.app_protocol
              << "\", \"table\": \"" << sp.name << "\", \"backends\": " << sp.backends.size()
              << ", \"flows_created\": " << sp.flows_total(dp_.worker_count()) << "}";
        }
    o << "], \"neighbours\": {\"queued\": " << resolver_.queued()
      << ", \"requests_sent\": " << resolver_.requests_sent() << "}, \"exception_path\": ";
    if (exception_) {
        const auto& c = exception_->counters();
        o << "{\"interface\": \"" << exception_->iface() << "\", \"to_kernel\": " << c.to_kernel
          << ", \"to_kernel_failed\": " << c.to_kernel_failed << ", \"from_kernel\": " << c.from_kernel
          << ", \"sent\": " << c.sent << ", \"ignored\": " << c.ignored << ", \"no_route\": " << c.no_route << "}";
    } else {
        o << "{\"interface\": null, \"punts_dropped\": " << punts_dropped_ << "}";
    }
    o << ", \"health_checks\": {\"ports\": [";
    const auto hp = health_.ports();
    for (size_t i = 0; i < hp.size(); i++) o << (i ? ", " : "") << hp[i];
    o << "], \"answered\": " << health_.answered() << "}}\n";
    return o.str();
}

const char* Controller::proto_name(uint8_t p) {
    return p == kProtoUdp ? "UDP" : p == kProtoSctp ? "SCTP" : "TCP";
}

// Prometheus text exposition: the global counters by name, and new flows per service port
// with its appProtocol as a label.
std::string Controller::metrics_text() {
    uint64_t drops[kNumDrops], events[kNumEvents];
    dp_.sum_counters(drops, events);
    std::ostringstream o;
    o << "# HELP svclb_drops_total Packets dropped, by reason.\n# TYPE svclb_drops_total counter\n";
    for (size_t i = 0; i < kNumDrops; i++)
        o << "svclb_drops_total{reason=\"" << drop_name(Drop(i)) << "\"} " << drops[i] << "\n";
    o << "# HELP svclb_events_total Dataplane events.\n# TYPE svclb_events_total counter\n";
    for (size_t i = 0; i < kNumEvents; i++)
        o << "svclb_events_total{event=\"" << event_name(Ev(i)) << "\"} " << events[i] << "\n";
    o << "# HELP svclb_service_flows_created_total New flows per service port.\n"
         "# TYPE svclb_service_flows_created_total counter\n";
    if (const Snapshot* snap = dp_.current())
        for (const auto& sp : snap->service_ports)
            o << "svclb_service_flows_created_total{service=\"" << sp->service << "\",port=\"" << sp->port_name
              << "\",protocol=\"" << proto_name(sp->proto) << "\",app_protocol=\"" << sp->app_protocol
              << "\",table=\"" << sp->name << "\"} " << sp->flows_total(dp_.worker_count()) << "\n";
    o << "# HELP svclb_generation The snapshot generation served.\n# TYPE svclb_generation gauge\n"
      << "svclb_generation " << generation_ << "\n";
    return o.str();
}

std::string Controller::services_table() {
    const Snapshot* s = dp_.current();
    std::ostringstream o;
    o << "SERVICE PORT                      PROTO  BACKENDS  MAGLEV\n";
    if (!s) return o.str();
    for (const auto& sp : s->service_ports) {
        const char* proto = proto_name(sp->proto);
        std::string b;
        for (const auto& be : sp->backends) b += (b.empty() ? "" : ",") + format_ip_port(be.addr, be.port);
        char line[128];
        std::snprintf(line, sizeof line, "%-33s %-6s %-9zu %zu  ", sp->name.c_str(), proto,
                      sp->backends.size(), sp->maglev.size());
        o << line << b << "\n";
    }
    return o.str();
}

}  // namespace svclb::cp
