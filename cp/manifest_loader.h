// SPDX-License-Identifier: Apache-2.0
// The Kubernetes-manifest front end of the control plane: reads Services, EndpointSlices
// (discovery.k8s.io/v1) and core/v1 Endpoints from YAML or JSON manifests (docs/manifests.md)
// into the same model as the libconfig loader (cp/model.h). Like that loader it checks shape
// only (types, unknown fields, apiVersion / kind); cp/validate.h checks the values, so a
// caller runs load_manifest_* (and/or load_config_*) and then validate_and_allocate.
//
// Parser: yaml-cpp (JSON is read as YAML flow style). Plain scalars resolve the way
// Kubernetes' YAML decoder (go-yaml v2, YAML 1.1) resolves them: `80` is an integer,
// `yes` / `true` booleans, `1.0` a float, `~` / empty null (= field unset); quoted scalars are
// strings.
//
// Runs on: the control-plane thread (or a test). Reentrant (no globals).
#pragma once

#include <string>
#include <vector>

#include "cp/model.h"

namespace svclb::cp {

// Reads a manifest file: YAML (one or more `---`-separated documents) or JSON; a document
// may be a `kind: List` (or `<Kind>List`) whose `items` are read in order. Appends every
// Service to cfg.services and every EndpointSlice to cfg.slices; each core/v1 Endpoints
// object becomes one EndpointSlice per subset and address family (addresses ready,
// notReadyAddresses ready=false, ports copied by name). Other kinds (Pod, Deployment, ...)
// are skipped with a notice ("<file>:<line>: ignoring Pod default/nginx: ...") appended to
// `notices`. Every shape problem is appended to `errs` with file:line, the object
// ("Service default/web") and the field path in Kubernetes style, e.g.
//   "f.yaml:12: Service default/web: spec.ports[0].port: Invalid value: \"80\": must be an integer"
// and loading continues, so every problem is reported at once (objects with errors are still
// appended; the caller must not apply anything while `errs` is non-empty).
// Returns false when the file cannot be read or is not valid YAML/JSON (one error; nothing
// appended), true otherwise.
bool load_manifest_file(const std::string& path, Config& cfg, Errors& errs,
                        std::vector<std::string>& notices);

// Same, from a string; `name` stands for the file name in every SourceLoc, error and notice.
bool load_manifest_string(const std::string& text, const std::string& name, Config& cfg,
                          Errors& errs, std::vector<std::string>& notices);

// Loads a file, or every *.yaml, *.yml and *.json file of a directory (not recursive; sorted
// by name). Returns false when `path` does not exist or any file failed as above.
bool load_manifest_path(const std::string& path, Config& cfg, Errors& errs,
                        std::vector<std::string>& notices);

// After every source is loaded: what the EndpointSlice controllers would leave. Slices made
// from Endpoints objects are dropped (with a notice) for a service that has a selector and
// EndpointSlices of its own, as the mirroring controller never mirrors for selector
// services (svclb still uses them when a selector service has nothing else: hand-written
// Service + Endpoints manifests). Slices whose service is not loaded are kept for
// validation and ignored by the dataplane, with a notice, as kube-proxy ignores them.
// Idempotent; a notice already in `cfg.notices` is not repeated.
void settle_endpoint_slices(Config& cfg);

}  // namespace svclb::cp
