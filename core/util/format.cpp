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

std::string quoteBounded(std::string_view s) {
    if (s.size() <= kQuotedBytes) return std::string(s);
    size_t keep = kQuotedBytes;
    // Back off over UTF-8 continuation bytes (10xxxxxx) so a character is not cut in two; at most 3.
    for (int i = 0; i < 3 && keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80; ++i) --keep;
    return std::string(s.substr(0, keep)) + "\xE2\x80\xA6 (" + std::to_string(s.size()) + " bytes)";
}

}  // namespace qs
