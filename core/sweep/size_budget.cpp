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
    const long double bytes = std::floor((long double)value * scale);
    if (bytes >= 9.2e18L) return bad(text, "too large");
    if (bytes < 1) return bad(text, "less than one byte");
    b.kind = SizeBudget::Kind::Bytes;
    b.bytes = uint64_t(bytes);
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
    if (kind == Kind::BitsPerWeight) return text + " (bits per weight over the quantizable weights)";
    return text + " (" + std::to_string(bytes) + " bytes)";
}

}  // namespace qs::sweep
