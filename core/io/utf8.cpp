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

namespace {

// The code point of a formatting character that changes what a terminal shows without showing itself, starting at
// valid[i], else 0: the bidirectional and line-separating ones, U+061C, U+200E, U+200F, U+2028..U+202E,
// U+2066..U+2069 (Unicode UAX #9 explicit formatting characters; the "Trojan Source" characters of CVE-2021-42574,
// which reorder a line), and the zero-width ones, U+200B..U+200D, U+2060..U+2064 and U+FEFF, which make two
// different names look the same. `valid` is well-formed UTF-8.
uint32_t formattingControl(const std::string& valid, size_t i) {
    const auto at = [&](size_t k) { return k < valid.size() ? static_cast<unsigned char>(valid[k]) : 0u; };
    if (at(i) == 0xD8 && at(i + 1) == 0x9C) return 0x061C;
    if (at(i) == 0xEF && at(i + 1) == 0xBB && at(i + 2) == 0xBF) return 0xFEFF;
    if (at(i) != 0xE2) return 0;
    const uint32_t cp = 0x2000u | ((at(i + 1) & 0x3Fu) << 6) | (at(i + 2) & 0x3Fu);
    if (at(i + 1) < 0x80 || at(i + 2) < 0x80) return 0;
    const bool bidi = cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
    const bool zeroWidth = (cp >= 0x200B && cp <= 0x200D) || (cp >= 0x2060 && cp <= 0x2064);
    return bidi || zeroWidth ? cp : 0;
}

}  // namespace

void appendCodePoint(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

std::string printableText(std::string_view s) {
    std::string valid, out;
    appendUtf8(s, valid);
    out.reserve(valid.size());
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < valid.size(); ++i) {
        const auto c = static_cast<unsigned char>(valid[i]);
        const bool c1 = c == 0xC2 && i + 1 < valid.size() && static_cast<unsigned char>(valid[i + 1]) <= 0x9F;
        if (const uint32_t cp = formattingControl(valid, i); cp != 0) {
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
            i += cp < 0x800 ? 1 : 2;
        } else if (c1) {  // U+0080..U+009F, two bytes C2 80..C2 9F
            const auto low = static_cast<unsigned char>(valid[++i]);
            out += "\\u00";
            out += kHex[(low >> 4) & 0xF];
            out += kHex[low & 0xF];
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7F) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        } else {
            out += char(c);
        }
    }
    return out;
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
