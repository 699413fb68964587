// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quant_map_index.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iterator>
#include <optional>

namespace qs {

namespace {

// PCRE2's metacharacters outside a class in its default (non-extended) syntax, plus ']' and '}' to be safe.
constexpr std::string_view kRegexMeta = "\\^$.|?*+()[]{}";

struct Key {
    std::string_view text;
    enum class At { Prefix, Suffix, Infix } at;
};

// The literal every match of a regex starts with, when simple to tell (see the header): its leading literal
// characters, `\.` and other escaped punctuation included, unless a quantifier follows the last one; after a
// leading `.*` or `.+` the literal that follows (then not anchored: it is somewhere in the name). Only
// without a '|' outside groups, so the leading literals cannot belong to one branch of an alternation. `anchored`:
// the pattern starts with ^ (a match starts the name; no multiline mode). Empty when there is none.
// Whether `p` has a '|' outside every group (escapes and bracket classes skipped): then a match need not hold the
// leading literal, which belongs to the first branch only. True too when the scan cannot tell (unbalanced).
bool hasTopLevelAlternation(std::string_view p) {
    int depth = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\') {
            ++i;  // the escaped character (\Q...\E holds no '|' the index would key past: a '\' stops the literal)
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < p.size() && p[j] == '^') ++j;
            if (j < p.size() && p[j] == ']') ++j;  // a ']' first in a class is literal
            while (j < p.size() && p[j] != ']') j += p[j] == '\\' ? 2 : 1;
            if (j >= p.size()) return true;
            i = j;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            if (--depth < 0) return true;
        } else if (c == '|' && depth == 0) {
            return true;
        }
    }
    return depth != 0;
}

std::string regexLeadingLiteral(std::string_view p, bool& anchored) {
    anchored = !p.empty() && p[0] == '^';
    // A '|' inside a group ("\.experts\.35\.(gate|up)_proj") leaves the literal before the group in every match.
    if (hasTopLevelAlternation(p)) return {};
    std::string lit;
    size_t i = anchored ? 1 : 0;
    // ".*gate_proj" (the usual Hugging Face / vLLM style), ".+", lazy or not: every match still holds the literal
    // after it, somewhere in the name rather than at its start.
    if (p.substr(i, 2) == ".*" || p.substr(i, 2) == ".+") {
        i += 2;
        if (i < p.size() && p[i] == '?') ++i;
        anchored = false;
    }
    size_t lastAtom = 0;  // lit.size() before the last literal character was added
    while (i < p.size()) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size() && !std::isalnum(static_cast<unsigned char>(p[i + 1]))) {
            lastAtom = lit.size();
            lit += p[i + 1];  // an escaped non-alphanumeric character is that character (PCRE2)
            i += 2;
        } else if (kRegexMeta.find(c) == std::string_view::npos) {
            lastAtom = lit.size();
            lit += c;
            ++i;
        } else {
            break;
        }
    }
    // "^abc?" requires only "ab": a quantifier applies to the character before it.
    if (i < p.size() && std::string_view("?*+{").find(p[i]) != std::string_view::npos) lit.resize(lastAtom);
    return lit;
}

// The key of a glob that is not one literal name (see the header).
std::optional<Key> globKey(const GlobLiterals& g) {
    const size_t anchored = std::max(g.prefix.size(), g.suffix.size());
    const size_t infix = std::min(g.longestRun.size(), QuantMapIndex::kInfixKeyBytes);
    if (anchored > 0 && anchored >= infix) {
        if (g.prefix.size() >= g.suffix.size())
            return Key{g.prefix.substr(0, QuantMapIndex::kAnchoredKeyBytes), Key::At::Prefix};
        const size_t n = std::min(g.suffix.size(), QuantMapIndex::kAnchoredKeyBytes);
        return Key{g.suffix.substr(g.suffix.size() - n), Key::At::Suffix};
    }
    if (infix > 0) return Key{g.longestRun.substr(0, infix), Key::At::Infix};
    return std::nullopt;
}

// Sorted, overlapping and adjacent ranges merged.
std::vector<LayerRange> mergedRanges(std::vector<LayerRange> r) {
    std::sort(r.begin(), r.end(), [](const LayerRange& a, const LayerRange& b) { return a.first < b.first; });
    std::vector<LayerRange> out;
    for (const LayerRange& x : r) {
        if (!out.empty() && int64_t(x.first) <= int64_t(out.back().last) + 1)
            out.back().last = std::max(out.back().last, x.last);
        else
            out.push_back(x);
    }
    return out;
}

}  // namespace

void QuantMapIndex::KeyTable::add(std::string_view key, int rule) {
    buckets[key].push_back(rule);
    firstBytes[static_cast<unsigned char>(key.front())] = true;  // keys are never empty
}

void QuantMapIndex::KeyTable::finish() {
    for (const auto& [key, rules] : buckets) lengths.push_back(key.size());
    std::sort(lengths.begin(), lengths.end());
    lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
}

QuantMapIndex::QuantMapIndex(const QuantMap& map) {
    m_layers.reserve(map.rules.size());
    for (size_t k = 0; k < map.rules.size(); ++k) {
        addRule(map.rules[k], int(k));
        m_layers.push_back(mergedRanges(map.rules[k].layers));
    }
    m_prefix.finish();
    m_suffix.finish();
    m_infix.finish();
}

void QuantMapIndex::addRule(const QuantRule& r, int k) {
    std::optional<Key> key;
    if (r.patternKind == QuantRule::PatternKind::Glob) {
        const GlobLiterals g = globLiterals(r.pattern);
        if (g.exact) {
            m_exact[g.prefix].push_back(k);
            return;
        }
        key = globKey(g);
    } else if (r.patternKind == QuantRule::PatternKind::Regex) {
        bool anchored = false;
        std::string lit = regexLeadingLiteral(r.pattern, anchored);
        if (!lit.empty()) {
            if (!anchored && lit.size() > kInfixKeyBytes) lit.resize(kInfixKeyBytes);
            if (anchored && lit.size() > kAnchoredKeyBytes) lit.resize(kAnchoredKeyBytes);
            m_ownedKeys.push_back(std::move(lit));
            key = Key{m_ownedKeys.back(), anchored ? Key::At::Prefix : Key::At::Infix};
        }
    }
    if (!key) {
        m_always.push_back(k);
        return;
    }
    switch (key->at) {
        case Key::At::Prefix: m_prefix.add(key->text, k); break;
        case Key::At::Suffix: m_suffix.add(key->text, k); break;
        case Key::At::Infix: m_infix.add(key->text, k); break;
    }
}

void QuantMapIndex::lookup(std::string_view name, std::vector<const std::vector<int>*>& hits) const {
    auto probe = [&hits](const Buckets& b, std::string_view key) {
        if (auto it = b.find(key); it != b.end()) hits.push_back(&it->second);
    };
    probe(m_exact, name);
    for (size_t len : m_prefix.lengths) {
        if (len > name.size()) break;
        probe(m_prefix.buckets, name.substr(0, len));
    }
    for (size_t len : m_suffix.lengths) {
        if (len > name.size()) break;
        probe(m_suffix.buckets, name.substr(name.size() - len));
    }
    if (m_infix.lengths.empty()) return;
    for (size_t at = 0; at + m_infix.lengths.front() <= name.size(); ++at) {
        if (!m_infix.firstBytes[static_cast<unsigned char>(name[at])]) continue;
        for (size_t len : m_infix.lengths) {
            if (at + len > name.size()) break;
            probe(m_infix.buckets, name.substr(at, len));
        }
    }
}

void QuantMapIndex::candidates(std::string_view name, std::string_view altName, std::vector<int>& out) const {
    std::vector<const std::vector<int>*> hits;
    lookup(name, hits);
    if (!altName.empty() && altName != name) lookup(altName, hits);
    // A key found at many offsets (or in both names) names its bucket once; each rule is in one bucket.
    std::sort(hits.begin(), hits.end());
    hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
    std::vector<int> keyed;
    for (const std::vector<int>* b : hits) keyed.insert(keyed.end(), b->begin(), b->end());
    std::sort(keyed.begin(), keyed.end());
    out.clear();
    out.reserve(keyed.size() + m_always.size());
    std::merge(keyed.begin(), keyed.end(), m_always.begin(), m_always.end(), std::back_inserter(out));
}

bool QuantMapIndex::matchesLayer(size_t k, int layer) const {
    const std::vector<LayerRange>& r = m_layers[k];
    if (r.empty()) return true;
    if (layer < 0) return false;
    auto it = std::upper_bound(r.begin(), r.end(), layer, [](int v, const LayerRange& x) { return v < x.first; });
    return it != r.begin() && layer <= std::prev(it)->last;
}

}  // namespace qs
