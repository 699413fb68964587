// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/format.h"

#include <cstdio>

namespace qs {

std::string formatBytes(uint64_t bytes) {
    static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";
    double v = double(bytes) / 1024.0;
    int unit = 0;
    while (v >= 1024.0 && unit < 4) {
        v /= 1024.0;
        ++unit;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[unit]);
    return buf;
}

std::string formatCount(uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string formatBitsPerWeight(uint64_t bytes, uint64_t elements) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", elements ? 8.0 * double(bytes) / double(elements) : 0.0);
    return buf;
}

}  // namespace qs
