// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/sweep_groups.h"
#include "core/sweep/sweep.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "core/quant/scheme.h"

namespace qs {

namespace {

bool roleMatches(RuleRole rule, Role role) {
    switch (rule) {
        case RuleRole::Embedding: return role == Role::Embedding;
        case RuleRole::Head: return role == Role::Head;
        case RuleRole::Attention: return role == Role::Attention;
        case RuleRole::Mlp: return role == Role::Mlp;
        case RuleRole::Body: return role == Role::Attention || role == Role::Mlp;
        default: return false;  // groups use only the roles above
    }
}

bool groupSelects(const QuantRule& r, const TensorEntry& e) {
    return e.isParameter && roleMatches(r.role, e.role) && (r.layers.empty() || (e.layer >= 0 && r.matchesLayer(e.layer)));
}

int countMatches(const ModelInfo& info, const QuantRule& r) {
    int n = 0;
    for (const TensorEntry& e : info.entries)
        if (groupSelects(r, e)) ++n;
    // A tie without a stored head: the head is the embedding (quant_map_resolve.h's virtual head).
    if (r.role == RuleRole::Head && n == 0 && info.tie && info.tie->head < 0 && info.tie->embedding >= 0) n = 1;
    return n;
}

int blockCount(const ModelInfo& info) {
    int blocks = 0;
    for (const TensorEntry& e : info.entries) blocks = std::max(blocks, e.layer + 1);
    return blocks;
}

// Per layer that has one: its attention and MLP parameter tensors (what layerN.attention and layerN.mlp select).
// 'layers' and 'layer-parts' make groups for these only, so the groups follow the tensors present, not the
// highest index a tensor name gives (one tensor named "layers.99999999" made 10^8 groups and ran out of memory),
// and are counted in one pass (a count per group was quadratic in the layers).
std::map<int, std::pair<int, int>> partCounts(const ModelInfo& info) {
    std::map<int, std::pair<int, int>> counts;
    for (const TensorEntry& e : info.entries) {
        if (!e.isParameter || e.layer < 0) continue;
        if (e.role == Role::Attention) ++counts[e.layer].first;
        else if (e.role == Role::Mlp) ++counts[e.layer].second;
    }
    return counts;
}

SweepGroup makeGroup(std::string name, RuleRole role, int layer = -1, int tensors = 0) {
    SweepGroup g;
    g.tensors = tensors;
    g.name = std::move(name);
    g.selector.role = role;
    if (layer >= 0) g.selector.layers.push_back({layer, layer});
    return g;
}

// "layer12" / "layer12.attention" / "layer12.mlp".
std::optional<SweepGroup> parseLayerGroup(std::string_view name) {
    if (name.rfind("layer", 0) != 0) return std::nullopt;
    std::string_view rest = name.substr(5);
    const size_t dot = rest.find('.');
    const std::string_view digits = rest.substr(0, dot);
    int layer = -1;
    // Decimal digits only: from_chars would take a sign ("layer-1"), which names no block.
    if (digits.empty() || digits.size() > 6 || (digits.size() > 1 && digits[0] == '0') ||
        !std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        return std::nullopt;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), layer);
    if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
    if (dot == std::string_view::npos) return makeGroup(std::string(name), RuleRole::Body, layer);
    const std::string_view part = rest.substr(dot + 1);
    if (part == "attention") return makeGroup(std::string(name), RuleRole::Attention, layer);
    if (part == "mlp") return makeGroup(std::string(name), RuleRole::Mlp, layer);
    return std::nullopt;
}

}  // namespace

std::string sweepGroupList() {
    return "embedding, head, body, attention, mlp, layers, layer-parts, layerN, layerN.attention, layerN.mlp";
}

Result<std::vector<SweepGroup>> expandGroups(const ModelInfo& info, const std::vector<std::string>& names) {
    std::vector<SweepGroup> out;
    const int blocks = blockCount(info);
    for (const std::string& name : names) {
        if (name == "embedding") out.push_back(makeGroup(name, RuleRole::Embedding));
        else if (name == "head") out.push_back(makeGroup(name, RuleRole::Head));
        else if (name == "body") out.push_back(makeGroup(name, RuleRole::Body));
        else if (name == "attention") out.push_back(makeGroup(name, RuleRole::Attention));
        else if (name == "mlp") out.push_back(makeGroup(name, RuleRole::Mlp));
        else if (name == "layers") {
            if (blocks == 0) return Error{"group 'layers': the model has no transformer blocks"};
            const size_t before = out.size();
            for (const auto& [l, n] : partCounts(info))
                if (n.first + n.second > 0)
                    out.push_back(makeGroup("layer" + std::to_string(l), RuleRole::Body, l, n.first + n.second));
            if (out.size() == before) return Error{"group 'layers': no block has attention or MLP matrices"};
        } else if (name == "layer-parts") {
            if (blocks == 0) return Error{"group 'layer-parts': the model has no transformer blocks"};
            const size_t before = out.size();
            for (const auto& [l, n] : partCounts(info)) {
                const std::string prefix = "layer" + std::to_string(l);
                if (n.first) out.push_back(makeGroup(prefix + ".attention", RuleRole::Attention, l, n.first));
                if (n.second) out.push_back(makeGroup(prefix + ".mlp", RuleRole::Mlp, l, n.second));
            }
            if (out.size() == before) return Error{"group 'layer-parts': no block has attention or MLP matrices"};
        } else if (auto g = parseLayerGroup(name)) {
            const int layer = g->selector.layers.front().first;
            if (layer >= blocks)
                return Error{"group '" + name + "': the model has " + std::to_string(blocks) + " blocks (layer0 .. layer" +
                             std::to_string(std::max(blocks - 1, 0)) + ")"};
            out.push_back(std::move(*g));
        } else {
            return Error{"unknown group '" + name + "' (expected " + sweepGroupList() + ")"};
        }
    }
    std::set<std::string> seen;
    bool embedding = false, head = false;
    for (SweepGroup& g : out) {
        if (!seen.insert(g.name).second) return Error{"group '" + g.name + "' is given twice"};
        if (g.tensors == 0) g.tensors = countMatches(info, g.selector);  // expanded groups are counted already
        if (g.tensors == 0) return Error{"group '" + g.name + "' matches no tensor of this model"};
        embedding |= g.name == "embedding";
        head |= g.name == "head";
    }
    if (embedding && head && info.tie)
        return Error{"groups 'embedding' and 'head': this model ties them (" + info.tie->describe() +
                     "), so they are one tensor; vary one of the two"};
    return out;
}

Status checkDisjointGroups(const ModelInfo& info, const std::vector<SweepGroup>& groups) {
    // One pass over the tensors (a test per pair of groups was quadratic in the groups: 2,222 layer groups took
    // over a minute). The pair named is the first in (a, b) order: the least over the tensors of the two first
    // groups selecting each.
    std::optional<std::pair<size_t, size_t>> first;
    for (const TensorEntry& e : info.entries) {
        std::optional<size_t> a;
        for (size_t g = 0; g < groups.size(); ++g) {
            if (!groupSelects(groups[g].selector, e)) continue;
            if (!a) {
                a = g;
                continue;
            }
            if (!first || std::pair(*a, g) < *first) first = std::pair(*a, g);
            break;
        }
    }
    if (!first) return {};
    const SweepGroup& a = groups[first->first];
    const SweepGroup& b = groups[first->second];
    int shared = 0;
    for (const TensorEntry& e : info.entries) shared += groupSelects(a.selector, e) && groupSelects(b.selector, e);
    return Error{"groups '" + a.name + "' and '" + b.name + "' overlap (" + std::to_string(shared) + " tensor" +
                 (shared == 1 ? "" : "s") +
                 " in both): each tensor may be in one group only (e.g. attention,mlp instead of body,attention)"};
}

Result<std::string> canonicalSchemeName(std::string_view scheme) {
    if (scheme == kKeepScheme) return std::string(kKeepScheme);
    auto s = parseScheme(scheme);
    if (!s) return s.error();
    return (*s)->name();
}

Result<QuantMap> mapFor(const ModelInfo& info, const QuantMap& baseline,
                        const std::vector<std::pair<SweepGroup, std::string>>& choices) {
    QuantMap map = baseline;
    std::optional<std::string> embeddingScheme, headScheme;
    for (const auto& [group, scheme] : choices) {
        auto canonical = canonicalSchemeName(scheme);
        if (!canonical) return Error{"group '" + group.name + "': " + canonical.message()};
        QuantRule r = group.selector;
        r.scheme = *canonical;
        r.comment = "sweep group " + group.name;
        if (r.role == RuleRole::Embedding && r.layers.empty()) embeddingScheme = r.scheme;
        if (r.role == RuleRole::Head && r.layers.empty()) headScheme = r.scheme;
        map.rules.push_back(std::move(r));
    }
    if (info.tie && embeddingScheme && headScheme && *embeddingScheme != *headScheme)
        return Error{"the tied embedding/head pair is one tensor (" + info.tie->describe() + "): embedding " +
                     *embeddingScheme + " and head " + *headScheme + " contradict each other"};
    return map;
}

std::string usedSchemeLabel(const ModelInfo& info, const SweepGroup& group, const std::string& requested,
                            const PointMeasure& point) {
    std::vector<std::string> used;
    int fellBack = 0;
    for (const TensorFallback& f : point.fallbacks) {
        if (f.tensor < 0 || size_t(f.tensor) >= info.entries.size()) continue;
        if (!groupSelects(group.selector, info.entries[size_t(f.tensor)])) continue;
        ++fellBack;
        if (std::find(used.begin(), used.end(), f.used) == used.end()) used.push_back(f.used);
    }
    if (used.empty()) return requested;
    std::string out = requested + "\u2192";
    for (size_t i = 0; i < used.size(); ++i) out += (i ? "/" : "") + used[i];
    if (fellBack < group.tensors)
        return out + " (fallback, " + std::to_string(fellBack) + " of " + std::to_string(group.tensors) + " tensors)";
    return out + " (fallback)";
}

}  // namespace qs
