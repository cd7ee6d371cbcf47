// SPDX-License-Identifier: Apache-2.0
#include "cp/exception.h"

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "cp/neighbour.h"
#include "lb/dataplane.h"
#include "lb/snapshot.h"
#include "lb/worker.h"

namespace svclb::cp {

namespace {

constexpr uint32_t kRulePriority = 1000; // after "local" (0), before "main" (32766)

// ---- rtnetlink: one request, one acknowledgement -----------------------------------------

class Netlink {
public:
    Netlink() {
        fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd_ < 0) throw std::runtime_error(std::string("netlink socket: ") + std::strerror(errno));
        timeval tv{2, 0};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~Netlink() { close(fd_); }
    Netlink(const Netlink&) = delete;
    Netlink& operator=(const Netlink&) = delete;

    // The request under construction: header, family header, attributes.
    struct Msg {
        alignas(NLMSG_ALIGNTO) uint8_t buf[256] = {};
        nlmsghdr* h() { return reinterpret_cast<nlmsghdr*>(buf); }
        template <typename T> T* body() { return reinterpret_cast<T*>(NLMSG_DATA(h())); }
        void attr(uint16_t type, const void* data, size_t len) {
            auto* a = reinterpret_cast<rtattr*>(buf + NLMSG_ALIGN(h()->nlmsg_len));
            a->rta_type = type;
            a->rta_len = uint16_t(RTA_LENGTH(len));
            std::memcpy(RTA_DATA(a), data, len);
            h()->nlmsg_len = uint32_t(NLMSG_ALIGN(h()->nlmsg_len) + RTA_ALIGN(a->rta_len));
        }
        void u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
    };
    template <typename T> static Msg start(uint16_t type, uint16_t flags) {
        Msg m;
        m.h()->nlmsg_len = NLMSG_LENGTH(sizeof(T));
        m.h()->nlmsg_type = type;
        m.h()->nlmsg_flags = uint16_t(NLM_F_REQUEST | NLM_F_ACK | flags);
        return m;
    }

    // 0, or the kernel's errno for the request.
    int request(Msg& m) {
        m.h()->nlmsg_seq = ++seq_;
        sockaddr_nl sa{};
        sa.nl_family = AF_NETLINK;
        if (sendto(fd_, m.buf, m.h()->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return errno;
        alignas(NLMSG_ALIGNTO) uint8_t rbuf[4096];
        for (int i = 0; i < 16; i++) { // bounded: the acknowledgement is the next message
            const ssize_t n = recv(fd_, rbuf, sizeof rbuf, 0);
            if (n < 0) return errno;
            int left = int(n);
            for (auto* r = reinterpret_cast<nlmsghdr*>(rbuf); NLMSG_OK(r, left); r = NLMSG_NEXT(r, left)) {
                if (r->nlmsg_seq != seq_ || r->nlmsg_type != NLMSG_ERROR) continue;
                return -static_cast<const nlmsgerr*>(NLMSG_DATA(r))->error;
            }
        }
        return ETIMEDOUT;
    }

private:
    int fd_ = -1;
    uint32_t seq_ = 0;
};

uint8_t family_of(const IpAddr& a) { return a.is_v6() ? AF_INET6 : AF_INET; }
size_t addr_len(const IpAddr& a) { return a.is_v6() ? 16 : 4; }
uint8_t host_len(const IpAddr& a) { return a.is_v6() ? 128 : 32; }

int address(Netlink& nl, bool add, int ifindex, const IpAddr& a) {
    auto m = Netlink::start<ifaddrmsg>(add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
    auto* b = m.body<ifaddrmsg>();
    b->ifa_family = family_of(a);
    b->ifa_prefixlen = host_len(a);
    b->ifa_flags = a.is_v6() ? IFA_F_NODAD : 0;
    b->ifa_index = uint32_t(ifindex);
    m.attr(IFA_LOCAL, a.bytes.data(), addr_len(a));
    m.attr(IFA_ADDRESS, a.bytes.data(), addr_len(a));
    return nl.request(m);
}

int default_route(Netlink& nl, int family, uint32_t table, int ifindex) {
    auto m = Netlink::start<rtmsg>(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
    auto* r = m.body<rtmsg>();
    r->rtm_family = uint8_t(family);
    r->rtm_table = RT_TABLE_UNSPEC; // RTA_TABLE carries it (tables above 255)
    r->rtm_protocol = RTPROT_STATIC;
    r->rtm_scope = RT_SCOPE_LINK;
    r->rtm_type = RTN_UNICAST;
    m.u32(RTA_TABLE, table);
    m.u32(RTA_OIF, uint32_t(ifindex));
    return nl.request(m);
}

int rule(Netlink& nl, bool add, const IpAddr& from, uint32_t table) {
    auto m = Netlink::start<fib_rule_hdr>(add ? RTM_NEWRULE : RTM_DELRULE, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    auto* r = m.body<fib_rule_hdr>();
    r->family = family_of(from);
    r->src_len = host_len(from);
    r->action = FR_ACT_TO_TBL;
    m.attr(FRA_SRC, from.bytes.data(), addr_len(from));
    m.u32(FRA_TABLE, table);
    m.u32(FRA_PRIORITY, kRulePriority);
    const int rc = nl.request(m);
    return add && rc == EEXIST ? 0 : rc; // already there (a previous run): fine
}

std::string step(const std::string& what, int rc) {
    return what + ": " + std::strerror(rc);
}

}  // namespace

ExceptionPath::ExceptionPath(Dataplane& dp, uint16_t port_id, std::string iface, uint32_t table)
    : dp_(dp), port_(port_id), iface_(std::move(iface)), table_(table) {
    rte_eth_conf conf{};
    if (int rc = rte_eth_dev_configure(port_, 1, 1, &conf); rc != 0)
        throw std::runtime_error("exception path " + iface_ + ": configure: " + std::strerror(-rc));
    if (rte_eth_rx_queue_setup(port_, 0, 256, rte_eth_dev_socket_id(port_), nullptr, dp_.pool()) != 0 ||
        rte_eth_tx_queue_setup(port_, 0, 256, rte_eth_dev_socket_id(port_), nullptr) != 0)
        throw std::runtime_error("exception path " + iface_ + ": queue setup failed");
    if (int rc = rte_eth_dev_start(port_); rc != 0)
        throw std::runtime_error("exception path " + iface_ + ": start: " + std::strerror(-rc));
    rte_ether_addr mac;
    rte_eth_macaddr_get(port_, &mac);
    std::memcpy(mac_, mac.addr_bytes, 6);
    ifindex_ = int(if_nametoindex(iface_.c_str()));
    if (ifindex_ == 0) throw std::runtime_error("exception path: no kernel interface " + iface_);
    // Up, and NOARP: the kernel sends to its neighbours without asking (svclb resolves them).
    const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface_.c_str());
    const bool ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
                    (ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP | IFF_NOARP), ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
    const int err = errno;
    if (s >= 0) close(s);
    if (!ok) throw std::runtime_error("exception path " + iface_ + ": set up/NOARP: " + std::strerror(err));
    // IPv6 on, router advertisements ignored (the interface inherits the namespace's
    // defaults, which may have IPv6 off). Best effort: sync() reports what fails.
    for (const auto& [key, value] : {std::pair{"disable_ipv6", "0"}, std::pair{"accept_ra", "0"}})
        write_sysctl("/proc/sys/net/ipv6/conf/" + iface_ + "/" + key, value);
}

bool write_sysctl(const std::string& path, const std::string& value, std::string* before) {
    if (before)
        if (FILE* f = std::fopen(path.c_str(), "r")) {
            char buf[16] = {};
            if (std::fgets(buf, sizeof buf, f)) *before = buf;
            std::fclose(f);
        }
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    const bool ok = std::fputs(value.c_str(), f) >= 0;
    return std::fclose(f) == 0 && ok;
}

void quiet_af_packet_port(const std::string& device, std::vector<std::pair<std::string, std::string>>& restore) {
    const auto at = device.find("iface=");
    if (device.rfind("net_af_packet", 0) != 0 || at == std::string::npos) return;
    const std::string ifc = device.substr(at + 6, device.find(',', at) - at - 6);
    for (const auto& [file, value] : {std::pair{"/proc/sys/net/ipv4/conf/" + ifc + "/rp_filter", "1"},
                                      std::pair{"/proc/sys/net/ipv6/conf/" + ifc + "/disable_ipv6", "1"}}) {
        std::string before;
        if (write_sysctl(file, value, &before)) {
            if (!before.empty()) restore.emplace_back(file, before);
            std::fprintf(stderr, "svclb: exception path: %s = %s (af_packet port)\n", file.c_str(), value);
        } else {
            std::fprintf(stderr, "svclb: warning: cannot write %s: the kernel may answer the port's frames too\n",
                         file.c_str());
        }
    }
}

ExceptionPath::~ExceptionPath() {
    try {
        Netlink nl;
        for (const auto& a : addrs_) rule(nl, false, a, table_);
    } catch (const std::exception&) {
    }
    // Closed here, while the dataplane's pool its RX queue holds mbufs of still exists.
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
}

std::vector<std::string> ExceptionPath::sync(const std::vector<IpAddr>& want_list) {
    std::vector<std::string> warnings;
    Netlink nl;
    const std::set<IpAddr> want(want_list.begin(), want_list.end());
    for (const auto& a : addrs_)
        if (!want.count(a)) {
            rule(nl, false, a, table_);
            address(nl, false, ifindex_, a);
        }
    std::set<IpAddr> now;
    for (const auto& a : want) {
        const std::string what = iface_ + " " + format_ip(a);
        if (int rc = address(nl, true, ifindex_, a)) {
            warnings.push_back(step("address " + what, rc));
            continue;
        }
        const int fam = family_of(a);
        // Without its route and rule the address would answer through the wrong interface:
        // it is taken off again.
        if (!routes_.count(fam)) {
            if (int rc = default_route(nl, fam, table_, ifindex_)) {
                warnings.push_back(step("default route via " + iface_ + " in table " + std::to_string(table_), rc));
                address(nl, false, ifindex_, a);
                continue;
            }
            routes_.insert(fam);
        }
        if (int rc = rule(nl, true, a, table_)) {
            warnings.push_back(step("rule from " + format_ip(a) + " lookup " + std::to_string(table_), rc));
            rule(nl, false, a, table_); // one left from before, if any
            address(nl, false, ifindex_, a);
            continue;
        }
        now.insert(a);
    }
    addrs_ = std::move(now);
    return warnings;
}

void ExceptionPath::deliver(rte_mbuf* m) {
    if (rte_pktmbuf_mtod(m, rte_ether_hdr*)->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN))
        rte_vlan_strip(m);
    std::memcpy(rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr.addr_bytes, mac_, 6);
    if (rte_eth_tx_burst(port_, 0, &m, 1) == 1) {
        c_.to_kernel++;
    } else {
        rte_pktmbuf_free(m);
        c_.to_kernel_failed++;
    }
}

void ExceptionPath::poll(const Snapshot* snap, NeighbourResolver& resolver, uint64_t now_ms) {
    rte_mbuf* pkts[32];
    const uint16_t n = rte_eth_rx_burst(port_, 0, pkts, 32);
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf* m = pkts[i];
        c_.from_kernel++;
        const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        IpAddr src, dst;
        const uint32_t len = rte_pktmbuf_data_len(m);
        if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) && len >= 14 + 20) {
            const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
            src = IpAddr::v4(ip->src_addr);
            dst = IpAddr::v4(ip->dst_addr);
        } else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) && len >= 14 + 40) {
            const auto* ip6 = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
            src = IpAddr::v6(ip6->src_addr);
            dst = IpAddr::v6(ip6->dst_addr);
        }
        const bool multicast = dst.is_v6() ? dst.bytes[0] == 0xff : (dst.bytes[0] & 0xf0) == 0xe0 || dst.bytes[0] == 0xff;
        if (!snap || !src.valid() || multicast || !addrs_.count(src)) {
            c_.ignored++;
            rte_pktmbuf_free(m);
            continue;
        }
        const NextHop* nh = snap->route(dst);
        if (!nh) {
            c_.no_route++;
            rte_pktmbuf_free(m);
            continue;
        }
        if (const uint16_t vid = dp_.port_vlan(nh->port)) {
            m->vlan_tci = vid;
            if (rte_vlan_insert(&m) != 0) {
                rte_pktmbuf_free(m);
                c_.no_route++;
                continue;
            }
        }
        PktPriv* pv = pkt_priv(m);
        pv->nexthop = nh->connected ? dst : nh->gateway;
        pv->out_port = nh->port;
        pv->kind = kPrivAwaitNeigh;
        c_.sent++;
        resolver.on_packet(m, now_ms); // MACs filled in and sent, or queued until resolved
    }
}

}  // namespace svclb::cp
