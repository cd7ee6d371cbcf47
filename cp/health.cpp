// SPDX-License-Identifier: Apache-2.0
#include "cp/health.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "lb/addr.h"

namespace svclb::cp {

namespace {

constexpr size_t kMaxConns = 64;
constexpr uint64_t kConnTimeoutMs = 2000;
constexpr size_t kMaxRequest = 4096;

// A listening socket on `port`, every address: IPv6 with IPV6_V6ONLY off where the kernel
// has IPv6, else IPv4. -1 and `err` on failure.
int listen_on(uint16_t port, std::string& err) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1, zero = 0;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        a.sin6_addr = in6addr_any;
        if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd, 64) == 0) return fd;
        const int e = errno;
        err = std::strerror(e);
        close(fd);
        if (e == EADDRINUSE) return -1; // not a missing IPv6: IPv4 would fail the same way
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = std::strerror(errno);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd, 64) == 0) return fd;
    err = std::strerror(errno);
    close(fd);
    return -1;
}

}  // namespace

std::map<uint16_t, HealthCheck> health_checks(const Config& cfg) {
    std::map<uint16_t, HealthCheck> out;
    const auto& nodes = cfg.cluster.nodeNames;
    for (const auto& svc : cfg.services) {
        if (svc.type != "LoadBalancer" || svc.externalTrafficPolicy != "Local" || svc.healthCheckNodePort <= 0 ||
            svc.healthCheckNodePort > 65535)
            continue;
        // Only the load balancers svclb implements (its class, or none when it is the default).
        const bool ours = svc.loadBalancerClass.empty() ? cfg.cluster.defaultLoadBalancer
                                                        : svc.loadBalancerClass == cfg.cluster.loadBalancerClass;
        if (!ours) continue;
        std::set<IpAddr> local[2]; // by family: a dual-stack pod is one endpoint in each
        for (const auto& sl : cfg.slices) {
            if (sl.ns != svc.ns || sl.service != svc.name || sl.addressType == "FQDN") continue;
            for (const auto& e : sl.endpoints) {
                if (std::find(nodes.begin(), nodes.end(), e.nodeName) == nodes.end()) continue;
                // Usable as ready (cp/compile.cpp usable_backends): ready and not serving=false.
                const bool r = e.conditions.ready.value_or(true);
                const bool ready = svc.publishNotReadyAddresses || (r && e.conditions.serving.value_or(r));
                if (!ready) continue;
                for (const auto& a : e.addresses)
                    if (auto ip = parse_ip(a)) local[ip->is_v6()].insert(*ip);
            }
        }
        // kube-proxy's proxier of either family counts that family's endpoints.
        out[uint16_t(svc.healthCheckNodePort)] = {svc.ns, svc.name,
                                                  uint32_t(std::max(local[0].size(), local[1].size())),
                                                  {uint32_t(local[0].size()), uint32_t(local[1].size())}};
    }
    return out;
}

std::string health_response(const HealthCheck& hc, int64_t count) {
    const uint32_t n = count < 0 ? hc.local_endpoints : uint32_t(count);
    const bool ok = n > 0;
    const std::string body = "{\"service\":{\"namespace\":" + json_quote(hc.ns) + ",\"name\":" +
                             json_quote(hc.name) + "},\"localEndpoints\":" + std::to_string(n) +
                             ",\"serviceProxyHealthy\":true}\n";
    return std::string(ok ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 503 Service Unavailable\r\n") +
           "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
           "X-Load-Balancing-Endpoint-Weight: " + std::to_string(n) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

HealthServer::~HealthServer() {
    for (auto& [port, l] : listeners_) close(l.fd);
    for (auto& c : conns_) close(c.fd);
}

std::vector<std::string> HealthServer::configure(const Config& cfg) {
    std::vector<std::string> warnings;
    auto want = health_checks(cfg);
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        if (!want.count(it->first)) {
            close(it->second.fd);
            it = listeners_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& [port, hc] : want) {
        auto it = listeners_.find(port);
        if (it == listeners_.end()) {
            std::string err;
            const int fd = listen_on(port, err);
            if (fd < 0) {
                warnings.push_back("healthCheckNodePort " + std::to_string(port) + " (" + hc.ns + "/" + hc.name +
                                   "): cannot listen: " + err);
                continue;
            }
            it = listeners_.emplace(port, Listener{fd, {}}).first;
        }
        it->second.hc = hc;
    }
    return warnings;
}

std::vector<uint16_t> HealthServer::ports() const {
    std::vector<uint16_t> out;
    for (const auto& [port, l] : listeners_) out.push_back(port);
    return out;
}

void HealthServer::add_pollfds(std::vector<pollfd>& fds) const {
    for (const auto& [port, l] : listeners_) fds.push_back({l.fd, POLLIN, 0});
    for (const auto& c : conns_) fds.push_back({c.fd, POLLIN, 0});
}

void HealthServer::close_conn(size_t i) {
    close(conns_[i].fd);
    conns_[i] = std::move(conns_.back());
    conns_.pop_back();
}

void HealthServer::handle(const std::vector<pollfd>& fds, uint64_t now_ms) {
    std::set<int> ready;
    for (const auto& p : fds)
        if (p.revents) ready.insert(p.fd);
    // Requests: read what is there; answer once the header is complete (or too long).
    for (size_t i = 0; i < conns_.size();) {
        Conn& c = conns_[i];
        bool done = false;
        if (ready.count(c.fd)) {
            char buf[1024];
            const ssize_t n = read(c.fd, buf, sizeof buf);
            if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
                close_conn(i);
                continue;
            }
            if (n > 0) c.in.append(buf, size_t(n));
            done = c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos ||
                   c.in.size() >= kMaxRequest;
        }
        if (done) {
            auto l = listeners_.find(c.port);
            if (l != listeners_.end()) {
                const HealthCheck& hc = l->second.hc;
                const std::string resp = health_response(hc, hc.local_by_family[c.family]);
                // Small enough for an empty socket buffer; a peer that does not read loses it.
                if (send(c.fd, resp.data(), resp.size(), MSG_NOSIGNAL) == ssize_t(resp.size())) answered_++;
                // Unread request bytes would make close() reset the connection under the
                // answer: finish sending, then read off what is left (bounded).
                shutdown(c.fd, SHUT_WR);
                char sink[1024];
                for (int k = 0; k < 4 && read(c.fd, sink, sizeof sink) > 0; k++) {
                }
            }
            close_conn(i);
            continue;
        }
        if (now_ms >= c.deadline_ms) {
            close_conn(i);
            continue;
        }
        i++;
    }
    for (auto& [port, l] : listeners_) {
        if (!ready.count(l.fd)) continue;
        for (int k = 0; k < 8; k++) {
            sockaddr_storage peer{};
            socklen_t plen = sizeof peer;
            const int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            if (conns_.size() >= kMaxConns) {
                close(fd);
                continue;
            }
            const auto* p6 = reinterpret_cast<const sockaddr_in6*>(&peer);
            const int family = peer.ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr) ? 1 : 0;
            conns_.push_back({fd, port, now_ms + kConnTimeoutMs, {}, family});
        }
    }
}

}  // namespace svclb::cp
