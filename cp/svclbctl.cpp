// SPDX-License-Identifier: Apache-2.0
// svclbctl: asks a running svclb over its Unix socket (root only); `trace` and `env` also
// work offline on a configuration file.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cp/config_loader.h"
#include "cp/env.h"
#include "cp/trace.h"
#include "cp/validate.h"


namespace {

using namespace svclb::cp;

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: svclbctl [-s SOCKET] COMMAND\n"
                 "  -s SOCKET        control socket (default /run/svclb/svclb.sock)\n"
                 "commands:\n"
                 "  stats            counters as JSON: rx, tx, events, drops by reason\n"
                 "  get services     service ports with their backends and Maglev size\n"
                 "  get neighbours   the ARP cache\n"
                 "  generation       the snapshot generation being served\n"
                 "  metrics          Prometheus text: drops by reason, events, new flows per service port\n"
                 "                   (labels: service, port, protocol, app_protocol)\n"
                 "  trace -c CONFIG|-f MANIFEST... --proto tcp|udp|sctp|icmp --src IP[:PORT]\n"
                 "        --dst IP:PORT [--ingress PORT] [--service-cidr CIDR]... [--nodeport-range A-B]\n"
                 "        [--node-address IP]... [--node-name NAME]...\n"
                 "                   one packet through the real pipeline, in process: JSON verdict\n"
                 "  trace --proto tcp|udp|sctp|icmp --src IP[:PORT] --dst IP:PORT [--ingress PORT]\n"
                 "                   the same on the running daemon's live snapshot and flow tables\n"
                 "  env [-c CONFIG] [-f MANIFEST]... NAMESPACE   (at least one of them)\n"
                 "                   the kubelet's service environment variables for NAMESPACE\n");
}

// `svclbctl env [-c CONFIG] [-f MANIFEST]... NAMESPACE`
int env_command(const std::vector<std::string>& args) {
    std::string config, ns;
    std::vector<std::string> manifests;
    for (size_t i = 0; i < args.size(); i++) {
        if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) config = args[++i];
        else if ((args[i] == "-f" || args[i] == "--filename") && i + 1 < args.size()) manifests.push_back(args[++i]);
        else if (ns.empty() && !args[i].empty() && args[i][0] != '-') ns = args[i];
        else {
            std::fprintf(stderr, "svclbctl env: unexpected argument \"%s\"\n", args[i].c_str());
            return 2;
        }
    }
    if (ns.empty()) {
        std::fprintf(stderr, "usage: svclbctl env [-c CONFIG] [-f MANIFEST]... NAMESPACE\n");
        return 2;
    }
    if (config.empty() && manifests.empty()) {
        std::fprintf(stderr, "svclbctl: env needs -c CONFIG or -f MANIFEST (the daemon does not serve env)\n");
        return 2;
    }
    Errors errs;
    auto loaded = load_sources(config, manifests, errs, std::cerr, "svclbctl env");
    if (!loaded) return 1;
    Config cfg = std::move(*loaded);
    errs = validate_loaded(cfg, nullptr, errs); // every error at once; allocated clusterIPs
    if (!errs.empty()) {
        for (const auto& e : errs) std::fprintf(stderr, "%s\n", e.str().c_str());
        std::fprintf(stderr, "%zu error%s\n", errs.size(), errs.size() == 1 ? "" : "s");
        return 1;
    }
    for (const auto& [k, v] : service_env(cfg, ns)) std::printf("%s=%s\n", k.c_str(), v.c_str());
    return 0;
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
    if (i < argc && (std::string(argv[i]) == "trace" || std::string(argv[i]) == "env")) {
        const std::string cmd = argv[i];
        const std::vector<std::string> rest(argv + i + 1, argv + argc);
        if (cmd == "env") return env_command(rest);
        return trace_command(rest, std::cout, std::cerr, true, sock);
    }
    std::string req;
    for (; i < argc; i++) req += (req.empty() ? "" : " ") + std::string(argv[i]);
    if (req == "get services") req = "services";
    else if (req == "get neighbours" || req == "get neighbors") req = "neighbours";
    else if (req != "stats" && req != "generation" && req != "metrics") {
        usage(stderr);
        return 2;
    }
    const auto answer = ask_daemon(sock, req, std::cerr);
    if (!answer) return 1;
    std::fwrite(answer->data(), 1, answer->size(), stdout);
    return 0;
}
