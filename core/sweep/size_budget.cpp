// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/size_budget.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

namespace qs::sweep {

namespace {

constexpr std::array<std::pair<std::string_view, double>, 9> kUnits{{{"b", 1.0},
                                                                     {"kb", 1e3},
                                                                     {"mb", 1e6},
                                                                     {"gb", 1e9},
                                                                     {"tb", 1e12},
                                                                     {"kib", 1024.0},
                                                                     {"mib", 1048576.0},
                                                                     {"gib", 1073741824.0},
                                                                     {"tib", 1099511627776.0}}};

Error bad(std::string_view text, const std::string& why) {
    return Error{"budget \"" + std::string(text) + "\": " + why +
                 " (expected bytes such as 123456789, 800MiB or 2.1GB, or bits per weight such as 3.5bpw)"};
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

}  // namespace

Result<SizeBudget> parseSizeBudget(std::string_view text) {
    SizeBudget b;
    b.text = std::string(text);
    size_t numEnd = 0;
    while (numEnd < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[numEnd])) || text[numEnd] == '.'))
        ++numEnd;
    const std::string_view num = text.substr(0, numEnd);
    const std::string unit = lower(text.substr(numEnd));
    if (num.empty()) return bad(text, "no number");
    double value = 0;
    const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), value);
    if (ec != std::errc() || ptr != num.data() + num.size() || !std::isfinite(value))
        return bad(text, "\"" + std::string(num) + "\" is not a number");
    if (!(value > 0)) return bad(text, "the budget must be positive");

    if (unit == "bpw") {
        if (value > 64) return bad(text, "more than 64 bits per weight");
        b.kind = SizeBudget::Kind::BitsPerWeight;
        b.bitsPerWeight = value;
        return b;
    }
    double scale = 0;
    if (unit.empty()) {
        if (num.find('.') != std::string_view::npos) return bad(text, "a byte count must be a whole number");
        scale = 1;
    }
    for (const auto& [name, s] : kUnits)
        if (unit == name) scale = s;
    if (scale == 0) return bad(text, "unknown unit \"" + std::string(text.substr(numEnd)) + "\"");
    // Exact decimal arithmetic: "0.3MB" is 300000 bytes, not floor(0.29999999999999998890 x 1e6) = 299999.
    // The number is digits/10^k (at most 20 significant digits, else refused as too precise) times an integer unit.
    unsigned __int128 mantissa = 0, tenPow = 1;
    int digits = 0;
    bool afterPoint = false;
    for (char c : num) {
        if (c == '.') {
            if (afterPoint) return bad(text, "\"" + std::string(num) + "\" is not a number");
            afterPoint = true;
            continue;
        }
        if (mantissa == 0 && c == '0' && !afterPoint) continue;
        if (++digits > 20) return bad(text, "more than 20 significant digits");
        mantissa = mantissa * 10 + unsigned(c - '0');
        if (afterPoint) tenPow *= 10;
    }
    const unsigned __int128 whole = mantissa * (unsigned __int128)(uint64_t)scale / tenPow;  // floor
    if (whole >= (unsigned __int128)9200000000000000000ull) return bad(text, "too large");
    if (whole < 1) return bad(text, "less than one byte");
    b.kind = SizeBudget::Kind::Bytes;
    b.bytes = uint64_t(whole);
    if (unit.empty()) {  // exact, without the detour through double for large counts
        uint64_t exact = 0;
        const auto [p2, e2] = std::from_chars(num.data(), num.data() + num.size(), exact);
        if (e2 != std::errc() || p2 != num.data() + num.size()) return bad(text, "too large");
        b.bytes = exact;
    }
    return b;
}

uint64_t SizeBudget::bytesFor(uint64_t weightElements) const {
    if (kind == Kind::Bytes) return bytes;
    return uint64_t(std::floor((long double)bitsPerWeight * (long double)weightElements / 8.0L));
}

std::string SizeBudget::describe() const {
    if (kind == Kind::BitsPerWeight) return text + " (bits per weight)";
    return text + " (" + std::to_string(bytes) + " bytes)";
}

}  // namespace qs::sweep
