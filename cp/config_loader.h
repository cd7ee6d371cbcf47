// SPDX-License-Identifier: Apache-2.0
// The libconfig front end of the control plane: reads a configuration file (docs/config.md)
// into the Kubernetes-shaped model of cp/model.h. It checks shape only (types, unknown and
// structurally required keys); the meaning of the values is cp/validate.h's job, so a
// caller always runs load_config_* and then validate_and_allocate before applying.
//
// Runs on: the control-plane thread (or a test). Not thread-safe for a shared `errs`;
// otherwise reentrant (no globals).
#pragma once

#include <optional>
#include <string>

#include "cp/model.h"

namespace svclb::cp {

// Reads a libconfig file into the model. Returns nullopt when the file cannot be read or
// parsed at all (a syntax error gives one error with file, line and libconfig's message).
// Otherwise returns the model and appends to `errs` every type / shape problem found (wrong
// type, unknown key, missing required group), each with its line and field path; loading
// continues after an error so that all problems are reported at once. `@include` paths are
// resolved relative to the file's directory.
std::optional<Config> load_config_file(const std::string& path, Errors& errs);

// Same, from a string; `name` stands for the file name in every SourceLoc and error.
std::optional<Config> load_config_string(const std::string& text, const std::string& name,
                                         Errors& errs);

}  // namespace svclb::cp
