// SPDX-License-Identifier: Apache-2.0
#include "cp/model.h"

#include <cstdio>

namespace svclb::cp {

std::string go_quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    return out + "\"";
}

std::string ConfigError::str() const {
    std::string s;
    if (!loc.file.empty()) s += loc.file + ":" + std::to_string(loc.line) + ": ";
    if (!object.empty()) s += object + ": ";
    if (!path.empty()) s += path + ": ";
    s += message;
    return s;
}

}  // namespace svclb::cp
