// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quant_map.h"

#include <charconv>
#include <iterator>
#include <fstream>
#include <sstream>

#include "core/io/bounded_text.h"
#include "core/quant/scheme.h"
#include "core/util/format.h"

namespace qs {

namespace {

constexpr std::string_view kRuleRoleNames[] = {"embedding", "head", "attention", "mlp", "norm", "other", "body", "all"};
constexpr int kMaxLayer = 1 << 20;     // far beyond any real model; keeps ranges and their text bounded
constexpr size_t kMaxRules = 100000;   // a map is typed or generated per tensor; never more than this
constexpr size_t kMaxPatternLength = 4096;

Error mapError(const std::string& where, const std::string& what) {
    return Error{"quantization map: " + where + ": " + what};
}

std::string trim(std::string_view s) {
    size_t a = 0, b = s.size();
    while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
    return std::string(s.substr(a, b - a));
}

std::optional<int> parseLayerNumber(std::string_view s) {
    std::string t = trim(s);
    if (t.empty()) return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size() || v < 0 || v > kMaxLayer) return std::nullopt;
    return v;
}

// Validates a scheme name against the registry; "keep" passes through.
Result<std::string> checkScheme(std::string_view name) {
    std::string t = trim(name);
    if (t == kKeepScheme) return t;
    if (t.empty()) return Error{"empty scheme name (expected a registry name such as q8_0, or \"keep\")"};
    auto s = parseScheme(t);
    if (!s) return Error{s.message() + "; or \"keep\" (the tensors stay as stored)"};
    return (*s)->name();
}

}  // namespace

std::string_view ruleRoleName(RuleRole r) { return kRuleRoleNames[int(r)]; }

std::optional<RuleRole> ruleRoleFromName(std::string_view s) {
    for (int i = 0; i < int(std::size(kRuleRoleNames)); ++i)
        if (kRuleRoleNames[i] == s) return RuleRole(i);
    return std::nullopt;
}

std::string ruleRoleList() {
    std::string out;
    for (auto n : kRuleRoleNames) out += (out.empty() ? "" : ", ") + std::string(n);
    return out;
}

bool QuantRule::matchesLayer(int layer) const {
    if (layers.empty()) return true;
    if (layer < 0) return false;
    for (const auto& r : layers)
        if (layer >= r.first && layer <= r.last) return true;
    return false;
}

Result<bool> QuantRule::matchesName(std::string_view name, RegexWorkBudget* total) const {
    switch (patternKind) {
        case PatternKind::None: return true;
        case PatternKind::Glob: return globMatch(pattern, name);
        case PatternKind::Regex:
            if (!compiledRegex) return Error{"regular expression \"" + pattern + "\" was not compiled"};
            return compiledRegex->search(name, total);
    }
    return false;
}

std::string QuantRule::layersText() const {
    std::string out;
    for (const auto& r : layers) {
        if (!out.empty()) out += ',';
        out += std::to_string(r.first);
        if (r.last != r.first) out += '-' + std::to_string(r.last);
    }
    return out;
}

std::string QuantRule::patternText() const {
    switch (patternKind) {
        case PatternKind::None: return {};
        case PatternKind::Glob: return "glob:" + pattern;
        case PatternKind::Regex: return "regex:" + pattern;
    }
    return {};
}

std::string QuantRule::describe() const {
    std::string out(ruleRoleName(role));
    if (!layers.empty()) out += " layers " + quoteBounded(layersText());
    if (patternKind != PatternKind::None) out += " " + quoteBounded(patternText());
    return out + " -> " + scheme;
}

namespace {

// The bracket class starting at p[i] == '[': the index just past its closing ']', or npos when unterminated
// (then the '[' is a literal character). `found` says whether c is in the class (negation applied). globMatch
// and globLiterals both scan classes here, so they agree on where a class ends.
size_t globClassEnd(std::string_view p, size_t i, char c, bool& found) {
    size_t j = i + 1;
    const bool negate = j < p.size() && (p[j] == '!' || p[j] == '^');
    if (negate) ++j;
    bool in = false, first = true;
    for (; j < p.size() && (p[j] != ']' || first); ++j, first = false) {
        if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
            if (c >= p[j] && c <= p[j + 2]) in = true;
            j += 2;
        } else if (p[j] == c) {
            in = true;
        }
    }
    if (j >= p.size()) return std::string_view::npos;
    found = in != negate;
    return j + 1;
}

}  // namespace

GlobLiterals globLiterals(std::string_view p) {
    GlobLiterals out;
    bool meta = false;
    size_t runStart = 0;
    auto closeRun = [&](size_t end) {
        if (end - runStart > out.longestRun.size()) out.longestRun = p.substr(runStart, end - runStart);
    };
    for (size_t i = 0; i < p.size();) {
        const char c = p[i];
        if (c != '*' && c != '?' && c != '[') {
            ++i;
            continue;
        }
        if (!meta) out.prefix = p.substr(0, i);
        meta = true;
        closeRun(i);
        bool found = false;
        // An unterminated class is a literal '[': skipping just it is conservative (the run is cut there).
        const size_t end = c == '[' ? globClassEnd(p, i, '\0', found) : std::string_view::npos;
        i = end == std::string_view::npos ? i + 1 : end;
        runStart = i;
    }
    closeRun(p.size());
    out.exact = !meta;
    out.prefix = meta ? out.prefix : p;
    out.suffix = meta ? p.substr(runStart) : p;
    return out;
}

bool globMatch(std::string_view p, std::string_view t) {
    // Iterative matcher with single-star backtracking: linear in practice, no recursion on hostile input.
    size_t pi = 0, ti = 0, starP = std::string_view::npos, starT = 0;
    auto matchClass = [&](size_t& i, char c) -> std::optional<bool> {
        // p[i] == '['; returns nullopt for an unterminated class (then '[' is literal).
        bool found = false;
        const size_t end = globClassEnd(p, i, c, found);
        if (end == std::string_view::npos) return std::nullopt;
        i = end;
        return found;
    };
    while (ti < t.size()) {
        if (pi < p.size() && p[pi] == '*') {
            starP = pi++;
            starT = ti;
            continue;
        }
        if (pi < p.size()) {
            if (p[pi] == '?') {
                ++pi, ++ti;
                continue;
            }
            if (p[pi] == '[') {
                size_t next = pi;
                auto m = matchClass(next, t[ti]);
                if (m.has_value()) {
                    if (*m) {
                        pi = next, ++ti;
                        continue;
                    }
                } else if (t[ti] == '[') {
                    ++pi, ++ti;
                    continue;
                }
            } else if (p[pi] == t[ti]) {
                ++pi, ++ti;
                continue;
            }
        }
        if (starP == std::string_view::npos) return false;
        pi = starP + 1;
        ti = ++starT;
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
}

Result<std::vector<LayerRange>> parseLayerRanges(std::string_view text) {
    std::vector<LayerRange> out;
    std::string t = trim(text);
    if (t.empty()) return Error{"empty layer range (expected e.g. \"3\", \"0-3\" or \"0-3,7\")"};
    size_t start = 0;
    while (start <= t.size()) {
        size_t comma = t.find(',', start);
        std::string_view part = std::string_view(t).substr(start, comma == std::string::npos ? std::string::npos
                                                                                              : comma - start);
        size_t dash = part.find('-');
        LayerRange r;
        auto bad = [&] {
            return Error{"bad layer range \"" + quoteBounded(t) + "\" at \"" + quoteBounded(trim(part)) +
                         "\" (expected N or A-B with 0 <= A <= B, e.g. \"0-3,7\")"};
        };
        if (dash == std::string_view::npos) {
            auto v = parseLayerNumber(part);
            if (!v) return bad();
            r.first = r.last = *v;
        } else {
            auto a = parseLayerNumber(part.substr(0, dash)), b = parseLayerNumber(part.substr(dash + 1));
            if (!a || !b || *a > *b) return bad();
            r.first = *a;
            r.last = *b;
        }
        out.push_back(r);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

Result<QuantRule> makePatternRule(QuantRule rule, std::string_view text) {
    std::string_view body = text;
    QuantRule::PatternKind kind = QuantRule::PatternKind::Glob;
    if (text.substr(0, 5) == "glob:") {
        body = text.substr(5);
    } else if (text.substr(0, 6) == "regex:") {
        body = text.substr(6);
        kind = QuantRule::PatternKind::Regex;
    }
    if (body.empty()) return Error{"empty pattern (expected \"glob:...\" or \"regex:...\")"};
    if (body.size() > kMaxPatternLength)
        return Error{"pattern \"" + quoteBounded(body) + "\" is longer than " + std::to_string(kMaxPatternLength) + " bytes"};
    rule.patternKind = kind;
    rule.pattern = std::string(body);
    rule.compiledRegex.reset();
    if (kind == QuantRule::PatternKind::Regex) {
        auto compiled = BoundedRegex::compile(rule.pattern);
        if (!compiled) return Error{"bad regular expression \"" + quoteBounded(rule.pattern) + "\": " + compiled.message()};
        rule.compiledRegex = std::move(*compiled);
    }
    return rule;
}

Result<QuantMap> quantMapFromJson(const nlohmann::json& j) {
    if (!j.is_object()) return mapError("top level", "expected a JSON object with \"version\" and \"rules\"");
    for (const auto& [key, value] : j.items()) {
        (void)value;
        if (key != "version" && key != "rules" && key != "resolved" && key != "warnings" && key != "model" &&
            key != "comment")
            return mapError("top level", "unknown field \"" + quoteBounded(key) + "\" (expected version, rules)");
    }
    if (!j.contains("version")) return mapError("version", "missing (expected " + std::to_string(kQuantMapVersion) + ")");
    const auto& v = j["version"];
    if (!v.is_number_integer() || v.get<int64_t>() != kQuantMapVersion)
        return mapError("version", "unsupported version " + quoteBounded(v.dump()) + " (this QuantScope reads version " +
                                       std::to_string(kQuantMapVersion) + ")");
    if (!j.contains("rules") || !j["rules"].is_array()) return mapError("rules", "missing or not an array");
    const auto& rules = j["rules"];
    if (rules.size() > kMaxRules) return mapError("rules", "more than " + std::to_string(kMaxRules) + " rules");
    QuantMap map;
    for (size_t i = 0; i < rules.size(); ++i) {
        const std::string at = "rules[" + std::to_string(i) + "]";
        const auto& r = rules[i];
        if (!r.is_object()) return mapError(at, "expected an object with role, layers, pattern, scheme");
        QuantRule rule;
        for (const auto& [key, value] : r.items()) {
            (void)value;
            if (key != "role" && key != "layers" && key != "pattern" && key != "scheme" && key != "comment")
                return mapError(at + "." + quoteBounded(key), "unknown field (expected role, layers, pattern, scheme, comment)");
        }
        if (r.contains("role")) {
            const auto& f = r["role"];
            auto role = f.is_string() ? ruleRoleFromName(f.get<std::string>()) : std::nullopt;
            if (!role) return mapError(at + ".role", "unknown role " + quoteBounded(f.dump()) + " (expected one of " + ruleRoleList() + ")");
            rule.role = *role;
        }
        if (r.contains("layers")) {
            const auto& f = r["layers"];
            std::string text;
            if (f.is_number_integer()) text = std::to_string(f.get<int64_t>());
            else if (f.is_string()) text = f.get<std::string>();
            else return mapError(at + ".layers", "expected a string such as \"0-3,7\" or a layer number, got " + quoteBounded(f.dump()));
            auto ranges = parseLayerRanges(text);
            if (!ranges) return mapError(at + ".layers", ranges.message());
            rule.layers = std::move(*ranges);
        }
        if (r.contains("pattern")) {
            const auto& f = r["pattern"];
            if (!f.is_string()) return mapError(at + ".pattern", "expected a string, got " + quoteBounded(f.dump()));
            auto withPattern = makePatternRule(rule, f.get<std::string>());
            if (!withPattern) return mapError(at + ".pattern", withPattern.message());
            rule = std::move(*withPattern);
        }
        if (!r.contains("scheme")) return mapError(at + ".scheme", "missing (expected a registry name such as q4_K, or \"keep\")");
        const auto& s = r["scheme"];
        if (!s.is_string()) return mapError(at + ".scheme", "expected a string, got " + quoteBounded(s.dump()));
        auto scheme = checkScheme(s.get<std::string>());
        if (!scheme) return mapError(at + ".scheme", scheme.message());
        rule.scheme = std::move(*scheme);
        if (r.contains("comment")) {
            if (!r["comment"].is_string()) return mapError(at + ".comment", "expected a string");
            rule.comment = r["comment"].get<std::string>();
        }
        map.rules.push_back(std::move(rule));
    }
    return map;
}

Result<QuantMap> parseQuantMap(std::string_view text) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        return Error{std::string("quantization map: not valid JSON: ") + e.what()};
    }
    return quantMapFromJson(j);
}

Result<QuantMap> loadQuantMap(const std::string& path) {
    auto text = io::readBoundedFile(path, io::kMaxJsonFileBytes, "a quantization map");
    if (!text) return text.error();
    auto m = parseQuantMap(*text);
    if (!m) return Error{path + ": " + m.message()};
    return m;
}

nlohmann::json quantMapToJson(const QuantMap& map) {
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : map.rules) {
        nlohmann::json o = nlohmann::json::object();
        o["role"] = std::string(ruleRoleName(r.role));
        if (!r.layers.empty()) o["layers"] = r.layersText();
        if (r.patternKind != QuantRule::PatternKind::None) o["pattern"] = r.patternText();
        o["scheme"] = r.scheme;
        if (!r.comment.empty()) o["comment"] = r.comment;
        rules.push_back(std::move(o));
    }
    return nlohmann::json{{"version", kQuantMapVersion}, {"rules", std::move(rules)}};
}

Result<QuantRule> parseRuleSpec(std::string_view spec) {
    size_t eq = spec.find('=');
    if (eq == std::string_view::npos)
        return Error{"rule \"" + quoteBounded(spec) + "\": expected ROLE=SCHEME, e.g. body=q4_K (roles: " +
                     ruleRoleList() + ")"};
    std::string roleText = trim(spec.substr(0, eq));
    auto role = ruleRoleFromName(roleText);
    if (!role)
        return Error{"rule \"" + quoteBounded(spec) + "\": unknown role \"" + quoteBounded(roleText) + "\" (expected one of " +
                     ruleRoleList() + ")"};
    auto scheme = checkScheme(spec.substr(eq + 1));
    if (!scheme) return Error{"rule \"" + quoteBounded(spec) + "\": " + scheme.message()};
    QuantRule r;
    r.role = *role;
    r.scheme = std::move(*scheme);
    return r;
}

}  // namespace qs
