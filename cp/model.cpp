// SPDX-License-Identifier: Apache-2.0
#include "cp/model.h"

namespace svclb::cp {

std::string ConfigError::str() const {
    std::string s;
    if (!loc.file.empty()) s += loc.file + ":" + std::to_string(loc.line) + ": ";
    if (!object.empty()) s += object + ": ";
    if (!path.empty()) s += path + ": ";
    s += message;
    return s;
}

}  // namespace svclb::cp
