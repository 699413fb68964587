// SPDX-License-Identifier: GPL-3.0-or-later
// The scheme registry: the table of families, name parsing with helpful errors, and a cache of parsed
// schemes (scheme objects are immutable, so one instance per canonical name is shared).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>

#include "core/ggml/ggml_type_traits.h"
#include "core/io/checkpoint.h"
#include "core/quant/scheme.h"
#include "core/quant/scheme_family.h"
#include "core/util/format.h"

namespace qs {

namespace {

std::string lowerCase(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

// When `name` (case-insensitive, also with the importance suffix "_im") is the ggml name of a type-table row
// that no scheme writes (iq2_xxs, tq1_0, mxfp4, q8_K, f32, ...), what QuantScope does with that type: the
// readers take it, so "unknown" would be wrong. Empty for any other name.
std::string readOnlyGgmlTypeNote(std::string_view name) {
    const std::string l = lowerCase(name);
    for (const ggml::TypeTraits& r : ggml::typeTraitsTable()) {
        const std::string_view ggmlName = r.info().ggmlName;
        if (ggmlName.empty() || r.isScheme()) continue;
        const std::string g = lowerCase(ggmlName);
        if (l != g && l != g + "_im") continue;
        const std::string what = dtypeConvertibleToFloat(r.type) ? "reads and decodes but does not quantize to"
                                                                 : "reads but neither decodes nor quantizes to";
        const std::string subject = l == g ? "'" + std::string(name) + "' is a ggml type"
                                           : "'" + std::string(name) + "': " + std::string(ggmlName) + " is a ggml type";
        return subject + " QuantScope " + what + " (`quantscope-cli types` lists what each type supports)";
    }
    return {};
}

}  // namespace

ByteBreakdown& ByteBreakdown::operator+=(const ByteBreakdown& o) {
    payload += o.payload;
    scales += o.scales;
    zeros += o.zeros;
    codebook += o.codebook;
    outliers += o.outliers;
    meta += o.meta;
    return *this;
}

const std::vector<SchemeFamily>& schemeFamilies() {
    // Display order = picker order. Register a new family with one line here.
    static const std::vector<SchemeFamily> kFamilies = {
        ggmlSchemeFamily(),
        rtnSchemeFamily(),
        bnb4SchemeFamily(),
        hqqSchemeFamily(),
        kmeansSchemeFamily(),
        sortbinsSchemeFamily(),
        gptqSchemeFamily(),
        awqSchemeFamily(),
        llmint8SchemeFamily(),
    };
    return kFamilies;
}

std::string validSchemeForms() {
    std::string out;
    for (const auto& f : schemeFamilies()) {
        for (const auto& form : f.forms) {
            if (!out.empty()) out += ", ";
            out += form;
        }
    }
    return out;
}

SchemeFamily prefixedSchemeFamily(std::string id, std::string prefix, std::vector<std::string> forms,
                                  std::vector<std::string> representatives,
                                  Result<std::shared_ptr<const Scheme>> (*parse)(std::string_view name)) {
    SchemeFamily f;
    f.id = std::move(id);
    f.forms = std::move(forms);
    f.representatives = std::move(representatives);
    f.parse = [prefix = std::move(prefix),
               parse](std::string_view name) -> std::optional<Result<std::shared_ptr<const Scheme>>> {
        if (splitSchemeName(name).base.rfind(prefix, 0) != 0) return std::nullopt;
        return parse(name);
    };
    return f;
}

SchemeNameParts splitSchemeName(std::string_view name) {
    SchemeNameParts parts;
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    size_t start = 0;
    bool first = true;
    while (start <= lower.size()) {
        const size_t end = std::min(lower.find('_', start), lower.size());
        std::string piece = lower.substr(start, end - start);
        if (first) parts.base = std::move(piece);
        else parts.options.push_back(std::move(piece));
        first = false;
        start = end + 1;
    }
    return parts;
}

std::optional<long long> parseNumberAfter(std::string_view text, std::string_view prefix) {
    if (text.size() <= prefix.size() || text.substr(0, prefix.size()) != prefix) return std::nullopt;
    const std::string_view digits = text.substr(prefix.size());
    if (digits.size() > 9 || !std::isdigit(static_cast<unsigned char>(digits[0]))) return std::nullopt;
    long long v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
    return v;
}

Result<std::shared_ptr<const Scheme>> parseScheme(std::string_view name) {
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const Scheme>, std::less<>> cache;
    {
        std::lock_guard lock(mutex);
        if (auto it = cache.find(name); it != cache.end()) return it->second;
    }
    for (const auto& family : schemeFamilies()) {
        auto parsed = family.parse(name);
        if (!parsed) continue;
        if (!parsed->ok()) return Error{parsed->message() + " (valid forms: " + validSchemeForms() + ")"};
        std::shared_ptr<const Scheme> scheme = parsed->value();
        std::lock_guard lock(mutex);
        // Keep the canonical instance so "Q4_K" and "q4_K" share one object.
        auto [it, inserted] = cache.try_emplace(scheme->name(), scheme);
        cache.try_emplace(std::string(name), it->second);
        return it->second;
    }
    if (std::string note = readOnlyGgmlTypeNote(name); !note.empty())
        return Error{note + "; valid forms: " + validSchemeForms()};
    return Error{"unknown quantization scheme '" + quoteBounded(name) + "'; valid forms: " + validSchemeForms()};
}

std::shared_ptr<const Scheme> findScheme(std::string_view name) {
    auto r = parseScheme(name);
    return r.ok() ? r.value() : nullptr;
}

std::vector<std::shared_ptr<const Scheme>> listSchemes() {
    std::vector<std::shared_ptr<const Scheme>> out;
    for (const auto& family : schemeFamilies())
        for (const auto& n : family.representatives)
            if (auto s = findScheme(n)) out.push_back(std::move(s));
    return out;
}

}  // namespace qs
