// SPDX-License-Identifier: Apache-2.0
// Validation and allocation of a loaded configuration, with the Kubernetes v1.31 API
// server's field paths and wording wherever Kubernetes has a rule (docs/config.md lists
// the rules and svclb's own additions). All errors are returned at once; the caller applies
// nothing unless the list is empty.
//
// Runs on: the control-plane thread (or a test). Pure function of (cfg, previous): no
// globals, deterministic, so the same input always yields the same allocations.
#pragma once

#include "cp/model.h"

namespace svclb::cp {

// Validates the whole config (appliance, cluster, services, slices) and performs allocation:
// unset clusterIP(s) get the lowest free address of the service CIDR(s) (family of the first
// CIDR unless ipFamilies / ipFamilyPolicy say otherwise; the network address, the IPv4
// broadcast address and addresses used by endpoints are never handed out), NodePort and
// LoadBalancer ports without nodePort get the lowest free port of the node port range
// (ports of one service with the same port number share one), and LoadBalancer services
// with externalTrafficPolicy Local get a healthCheckNodePort.
//
// `previous` is the running config (may be nullptr): a service (same namespace/name) keeps
// its previously allocated clusterIPs, nodePorts and healthCheckNodePort while they are
// still valid, so a reload never renumbers. Every explicitly requested value and every
// previous allocation is honoured before anything new is allocated.
//
// After success every non-headless, non-ExternalName service has clusterIPs filled (and
// clusterIP = clusterIPs[0]), ipFamilies / ipFamilyPolicy set, every NodePort port and
// every LoadBalancer port (unless allocateLoadBalancerNodePorts is false) has nodePort
// set, ClientIP affinity has its timeout (default 10800), ingress ipMode defaults to VIP
// and loadBalancerSourceRanges are trimmed. Returns every error, sorted by source line
// (empty = valid). On error `cfg` may be partly filled and must not be applied.
Errors validate_and_allocate(Config& cfg, const Config* previous);

// "All errors at once" across loading and validation: `load_errs` (what the loaders
// reported for a configuration they could still build), then validate_and_allocate's
// errors for every object the loaders had nothing to say about (an object with a load
// error is half-read: its validation errors would be noise). Empty = valid.
Errors validate_loaded(Config& cfg, const Config* previous, const Errors& load_errs);

}  // namespace svclb::cp
