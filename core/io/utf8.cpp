// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/utf8.h"

#include <cstdint>
#include <optional>

namespace qs::io {

namespace {
// Length of the well-formed UTF-8 sequence starting at p[i] (1..4), or 0 when p[i] does not start one.
size_t sequenceLength(const unsigned char* p, size_t i, size_t n) {
    const unsigned c = p[i];
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return 0;
    for (size_t k = 1; k < len; ++k)
        if ((p[i + k] & 0xC0) != 0x80) return 0;
    if (len == 1) return 1;
    uint32_t cp = c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    return cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) ? len : 0;
}
}  // namespace

bool appendUtf8(std::string_view s, std::string& out) {
    bool clean = true;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
        if (const size_t len = sequenceLength(p, i, s.size())) {
            out.append(s.data() + i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            clean = false;
            ++i;
        }
    }
    return clean;
}

std::optional<size_t> firstInvalidUtf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) {
        const size_t len = sequenceLength(p, i, s.size());
        if (len == 0) return i;
        i += len;
    }
    return std::nullopt;
}

}  // namespace qs::io
