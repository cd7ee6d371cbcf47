// SPDX-License-Identifier: Apache-2.0
#include "cp/model.h"

#include <cstdio>

namespace svclb::cp {

std::string json_quote(std::string_view s) {
    std::string o = "\"";
    for (const char c : s) {
        switch (c) {
        case '"': o += "\\\""; break;
        case '\\': o += "\\\\"; break;
        case '\n': o += "\\n"; break;
        case '\t': o += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char b[8];
                std::snprintf(b, sizeof b, "\\u%04x", c);
                o += b;
            } else {
                o += c;
            }
        }
    }
    return o + "\"";
}

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
