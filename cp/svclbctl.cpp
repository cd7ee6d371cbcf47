// SPDX-License-Identifier: Apache-2.0
// svclbctl: asks a running svclb over its Unix socket (root only).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: svclbctl [-s SOCKET] COMMAND\n"
                 "  -s SOCKET        control socket (default /run/svclb/svclb.sock)\n"
                 "commands:\n"
                 "  stats            counters as JSON: rx, tx, events, drops by reason\n"
                 "  get services     service ports with their backends and Maglev size\n"
                 "  get neighbours   the ARP cache\n"
                 "  generation       the snapshot generation being served\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::string sock = "/run/svclb/svclb.sock";
    int i = 1;
    for (; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        }
        if (a == "-s" && i + 1 < argc) {
            sock = argv[++i];
            continue;
        }
        break;
    }
    std::string req;
    for (; i < argc; i++) req += (req.empty() ? "" : " ") + std::string(argv[i]);
    if (req == "get services") req = "services";
    else if (req == "get neighbours" || req == "get neighbors") req = "neighbours";
    else if (req != "stats" && req != "generation") {
        usage(stderr);
        return 2;
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::fprintf(stderr, "svclbctl: cannot reach svclb at %s: %s\n", sock.c_str(), std::strerror(errno));
        return 1;
    }
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    req += "\n";
    if (write(fd, req.data(), req.size()) != ssize_t(req.size())) {
        std::fprintf(stderr, "svclbctl: write failed: %s\n", std::strerror(errno));
        return 1;
    }
    char buf[4096];
    ssize_t n;
    size_t total = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        fwrite(buf, 1, size_t(n), stdout);
        total += size_t(n);
    }
    close(fd);
    if (total == 0) {
        std::fprintf(stderr, "svclbctl: no answer from %s\n", sock.c_str());
        return 1;
    }
    return 0;
}
