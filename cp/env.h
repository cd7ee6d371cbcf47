// SPDX-License-Identifier: Apache-2.0
// The service environment variables a kubelet gives a pod (Docker-links form,
// pkg/kubelet/envvars FromServices). Pure C++: no DPDK. Runs on: anything.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cp/model.h"

namespace svclb::cp {

// The variables of every service of namespace `ns` that has a clusterIP (headless and
// ExternalName services have none and give nothing), plus the master service
// default/kubernetes unless NAMESPACE has its own "kubernetes", services in name order, each
// service's variables in the kubelet's order:
//   {SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT (first port), {SVC}_SERVICE_PORT_{NAME} per
//   named port, {SVC}_PORT (first port, proto://host:port), then per port
//   {SVC}_PORT_{P}_{PROTO}, _PROTO, _PORT, _ADDR.
// Names: upper case, '-' -> '_'; IPv6 hosts in brackets in the URL forms. The host is
// spec.clusterIP (or clusterIPs[0]): run validate_and_allocate first so that allocated
// addresses are filled in.
std::vector<std::pair<std::string, std::string>> service_env(const Config& cfg, const std::string& ns);

// The kubelet's makeEnvVariableName: upper case, '-' -> '_'.
std::string env_variable_name(const std::string& s);

}  // namespace svclb::cp
