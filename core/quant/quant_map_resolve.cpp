// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quant_map_resolve.h"

#include <algorithm>
#include <limits>
#include <map>

#include "core/ggml/ggml_type_traits.h"
#include "core/model/tensor_naming.h"
#include "core/quant/quant_map_index.h"
#include "core/quant/scheme.h"
#include "core/util/format.h"

namespace qs {

namespace {

// What a rule is matched against: a stored tensor, or the virtual head of a tie whose file stores none.
struct Candidate {
    Role role = Role::Other;
    int layer = -1;
    size_t rank = 0;
    bool parameter = true;
    std::string name, ggufName;
};

// Integer and boolean element types: position ids, attention masks, token type ids. Never quantized.
bool isIntegerType(DType t) { return t <= DType::U64; }

bool roleMatches(RuleRole rr, Role role) {
    switch (rr) {
        case RuleRole::Embedding: return role == Role::Embedding;
        case RuleRole::Head: return role == Role::Head;
        case RuleRole::Attention: return role == Role::Attention;
        case RuleRole::Mlp: return role == Role::Mlp;
        case RuleRole::Norm: return role == Role::Norm;
        case RuleRole::Other: return role == Role::Other;
        case RuleRole::Body: return role == Role::Attention || role == Role::Mlp;
        case RuleRole::All: return true;
    }
    return false;
}

std::string ruleLabel(const QuantMap& map, int k) {
    // People count rules from 1, as the map editor's table and the exported JSON's "rule" do.
    return "rule " + std::to_string(k + 1) + " (" + map.rules[size_t(k)].describe() + ")";
}

// The map and its index, as resolution matches rules against tensors.
struct Rules {
    const QuantMap& map;
    QuantMapIndex index;
    std::vector<int> scratch;  // candidate rules of the tensor being matched
    uint64_t regexUnits = 0;   // every regex search of this resolution together
    struct RuleWork {
        uint64_t units = 0, searches = 0;
    };
    std::vector<RuleWork> ruleWork = std::vector<RuleWork>(map.rules.size());

    // What rule k may still use on its next search: its own allowance (quant_map_resolve.h) and what is left of
    // the total, whichever is less.
    uint64_t regexLeft(size_t k) const {
        const RuleWork& w = ruleWork[k];
        const uint64_t own = kResolveRegexRuleBase + kResolveRegexRulePerName * (w.searches + 1);
        const uint64_t ruleLeft = own > w.units ? own - w.units : 0;
        const uint64_t totalLeft = kResolveRegexWorkBudget > regexUnits ? kResolveRegexWorkBudget - regexUnits : 0;
        return std::min(ruleLeft, totalLeft);
    }
};

// The refusal when rule k ran out of its allowance or of the total on `name` (rather than one search's bound).
std::string regexWorkRefusal(const Rules& rules, size_t k, const std::string& name) {
    const Rules::RuleWork& w = rules.ruleWork[k];
    const std::string where = ruleLabel(rules.map, int(k)) + ": matching '" + quoteBounded(name) + "'";
    if (rules.regexUnits > kResolveRegexWorkBudget)
        return "quantization map: the regex rules together exceeded the work bound of one resolution (" +
               std::to_string(kResolveRegexWorkBudget) + " steps) at " + where +
               "; give regex rules a literal the index can key (a literal after ^, .* or .+, e.g. regex:gate_proj "
               "or glob:*gate_proj*): such rules are tried only on names holding it";
    return "quantization map: " + where + " exceeded the rule's regex work bound (" + std::to_string(w.units) +
           " steps over " + std::to_string(w.searches) + " tensor names; " + std::to_string(kResolveRegexRuleBase) +
           " + " + std::to_string(kResolveRegexRulePerName) + " a name allowed); simplify the pattern";
}

// Whether rule k selects c. Fails when its regex exceeds PCRE2's limits on a name: that is neither a match
// nor a non-match (either would silently give the tensor a scheme the user did not choose).
Result<bool> ruleMatches(Rules& rules, size_t k, const Candidate& c) {
    const QuantMap& map = rules.map;
    const QuantRule& r = map.rules[k];
    if (!c.parameter || c.rank == 0) return false;
    // 1-D tensors (norms, biases) need a rule naming their role; see quant_map.h.
    if (c.rank == 1 && (r.role == RuleRole::All || r.role == RuleRole::Body)) return false;
    if (!roleMatches(r.role, c.role)) return false;
    if (!rules.index.matchesLayer(k, c.layer)) return false;
    if (r.patternKind == QuantRule::PatternKind::None) return true;
    for (const std::string* name : {&c.name, &c.ggufName}) {
        if (name == &c.ggufName && (c.ggufName.empty() || c.ggufName == c.name)) continue;
        RegexWorkBudget shared{rules.regexLeft(k)};
        auto m = r.matchesName(*name, &shared);
        if (r.patternKind == QuantRule::PatternKind::Regex) {
            rules.ruleWork[k].units += shared.used;
            rules.ruleWork[k].searches += 1;
            rules.regexUnits += shared.used;
            if (!m && shared.exhausted() && shared.limit < BoundedRegex::searchBudget(name->size()))
                return Error{regexWorkRefusal(rules, k, *name)};
        }
        if (!m)
            return Error{"quantization map: " + ruleLabel(map, int(k)) + ": matching '" + quoteBounded(*name) +
                         "' " + m.message() + "; simplify the pattern"};
        if (*m) return true;
    }
    return false;
}

// The last rule selecting c (-1: none); marks every rule selecting it as used. Only the index's candidates
// are tried, in rule order: the rules it leaves out cannot match (quant_map_index.h).
Result<int> winningRule(Rules& rules, const Candidate& c, std::vector<bool>& used) {
    int win = -1;
    rules.index.candidates(c.name, c.ggufName, rules.scratch);
    for (int k : rules.scratch) {
        auto m = ruleMatches(rules, size_t(k), c);
        if (!m) return m.error();
        if (*m) {
            win = k;
            used[size_t(k)] = true;
        }
    }
    return win;
}

// Fills plan.scheme/requested/fallbackReason for a tensor governed by rule `win` (-1: none).
Status choose(const QuantMap& map, int win, const TensorInfo& t, TensorPlan& plan, ResolvedMap& out, int index) {
    plan.rule = win;
    if (win < 0 || map.rules[size_t(win)].keeps()) return {};
    const std::string& name = map.rules[size_t(win)].scheme;
    if (!dtypeConvertibleToFloat(t.dtype)) {
        out.warnings.push_back(quoteBounded(t.name) + ": stored as " + std::string(dtypeName(t.dtype)) +
                               ", which QuantScope cannot decode; it stays as stored (" + ruleLabel(map, win) + ")");
        return {};
    }
    plan.ruleAsks = true;
    auto scheme = findScheme(name);
    if (!scheme) return Error{"quantization map: " + ruleLabel(map, win) + ": scheme \"" + name + "\" is not in the registry"};
    std::string reason = scheme->rejectReason(plan.rows, plan.cols);
    if (reason.empty()) {
        plan.scheme = scheme->name();
        return {};
    }
    plan.fallbackReason = reason;
    for (const std::string& cand : fallbackChain(name, plan.cols)) {
        auto s = findScheme(cand);
        if (s && s->accepts(plan.rows, plan.cols)) {
            plan.scheme = s->name();
            break;
        }
    }
    out.fallbacks.push_back(index);
    out.warnings.push_back(quoteBounded(t.name) + ": " + name + " cannot take it (" + reason + "); " +
                           (plan.scheme.empty() ? std::string("no fallback accepts the shape, it stays as stored")
                                                : "using " + plan.scheme + " instead"));
    return {};
}

bool storedQuantized(DType t) {
    return t != DType::F64 && t != DType::F32 && t != DType::F16 && t != DType::BF16;
}

// One warning for every tensor quantized again (see ResolvedMap::requantized), llama-quantize's wording.
void noteRequantized(const std::vector<TensorInfo>& tensors, ResolvedMap& out) {
    std::map<std::string, int> byType;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const TensorPlan& p = out.tensors[i];
        if (!p.quantized() || !storedQuantized(tensors[i].dtype)) continue;
        out.requantized.push_back(int(i));
        ++byType[std::string(dtypeName(tensors[i].dtype))];
    }
    if (out.requantized.empty()) return;
    std::string types;
    for (const auto& [name, n] : byType) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + name;
    out.warnings.push_back("re-quantizing " + std::to_string(out.requantized.size()) +
                           " tensor(s) already stored quantized (" + types +
                           "), as llama-quantize --allow-requantize would: precision lost earlier cannot come "
                           "back, and the errors are measured against the stored (already quantized) values, "
                           "not the original weights");
}

}  // namespace

Result<std::pair<int64_t, int64_t>> matrixShape(const TensorInfo& t) {
    if (t.shape.empty()) return std::pair<int64_t, int64_t>{1, 1};
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < t.shape.size(); ++d) {
        const int64_t n = t.shape[d];
        if (n < 0 || (n > 0 && rows > std::numeric_limits<int64_t>::max() / n))
            return Error{quoteBounded(t.name) + ": shape dimension " + std::to_string(n) + " is negative or overflows"};
        rows *= n;
    }
    const int64_t cols = t.shape.back();
    if (cols < 0 || (cols > 0 && rows > std::numeric_limits<int64_t>::max() / cols))
        return Error{quoteBounded(t.name) + ": shape dimension " + std::to_string(cols) + " is negative or overflows"};
    return std::pair<int64_t, int64_t>{rows, cols};
}

std::vector<std::string> fallbackChain(std::string_view scheme, int64_t cols) {
    static const std::map<std::string, std::vector<std::string>, std::less<>> kGgml = {
        {"q4_K", {"q5_0"}},
        {"q5_K", {"q5_1"}},
        {"q6_K", {"q8_0"}},
        {"q2_K", {"iq4_nl", "q4_0"}},
        {"q3_K", {"iq4_nl", "q4_0"}},
        {"iq2_xxs", {"iq4_nl", "q4_0"}},
        {"iq2_xs", {"iq4_nl", "q4_0"}},
        {"iq2_s", {"iq4_nl", "q4_0"}},
        {"iq3_xxs", {"iq4_nl", "q4_0"}},
        {"iq3_s", {"iq4_nl", "q4_0"}},
        {"iq1_s", {"iq4_nl", "q4_0"}},
        {"iq1_m", {"iq4_nl", "q4_0"}},
        {"iq4_xs", {"iq4_nl", "q4_0"}},
        {"tq1_0", {"q4_0"}},
        {"tq2_0", {"q4_0"}},
    };
    std::vector<std::string> chain;
    if (scheme.ends_with("_im") && kGgml.count(scheme.substr(0, scheme.size() - 3))) {
        // An importance-weighted K-quant falls back as its plain type does, keeping the importance where the
        // fallback type takes one (llama-quantize passes the imatrix to the fallback type too).
        for (const std::string& c : kGgml.find(scheme.substr(0, scheme.size() - 3))->second) {
            const std::string weighted = c + "_im";
            chain.push_back(ggml::findSchemeStorage(weighted) ? weighted : c);
        }
    } else if (auto it = kGgml.find(scheme); it != kGgml.end()) {
        chain = it->second;
    } else if (size_t g = scheme.rfind("_g"); g != std::string_view::npos) {
        // <prefix>_g<G><suffix>: smaller groups that divide the row, largest first.
        size_t d = g + 2, e = d;
        while (e < scheme.size() && scheme[e] >= '0' && scheme[e] <= '9') ++e;
        if (e > d && e - d <= 9) {
            const int64_t group = std::stoll(std::string(scheme.substr(d, e - d)));
            for (int64_t k = std::min(group - 1, cols); k >= 8; --k)
                if (cols % k == 0)
                    chain.push_back(std::string(scheme.substr(0, d)) + std::to_string(k) + std::string(scheme.substr(e)));
        }
    }
    if (scheme != "f16") chain.push_back("f16");
    return chain;
}

namespace {

Candidate candidateOf(const std::vector<TensorInfo>& tensors, const ModelInfo& info, size_t i) {
    const TensorInfo& t = tensors[i];
    const TensorEntry& e = info.entries[i];
    return Candidate{e.role, e.layer, t.shape.size(), e.isParameter, t.name, ggufTensorName(e.kind, e.layer)};
}

// One warning for all the rules that select nothing: a generated map may have 100,000 of them.
std::string unusedRulesWarning(const QuantMap& map, const std::vector<int>& unused) {
    constexpr size_t kNamed = 3;
    if (unused.size() == 1) return ruleLabel(map, unused.front()) + " matches no tensor of this model";
    std::string out = std::to_string(unused.size()) + " rules match no tensor of this model: ";
    for (size_t i = 0; i < unused.size() && i < kNamed; ++i) out += (i ? ", " : "") + ruleLabel(map, unused[i]);
    if (unused.size() > kNamed) out += " and " + std::to_string(unused.size() - kNamed) + " more";
    return out;
}

// The tied pair: one decision for both (see the header). Sets winner[embedding] to the pair's rule and returns
// {embedding, head} (-1 where absent; head -1 also when the head is not stored). Fails as winningRule does.
Result<std::pair<int, int>> resolveTie(Rules& rules, const std::vector<TensorInfo>& tensors, const ModelInfo& info,
                                       std::vector<int>& winner, std::vector<bool>& used, ResolvedMap& out) {
    const QuantMap& map = rules.map;
    if (!info.tie || info.tie->embedding < 0 || size_t(info.tie->embedding) >= tensors.size())
        return std::pair<int, int>{-1, -1};
    const int emb = info.tie->embedding, h = info.tie->head;
    int head = -1;
    if (h >= 0 && size_t(h) < tensors.size() && info.entries[size_t(h)].tiedTo == emb) head = h;
    int headWin = -1;
    if (head >= 0) {
        headWin = winner[size_t(head)];
    } else if (h < 0) {
        Candidate virt = candidateOf(tensors, info, size_t(emb));
        virt.role = Role::Head;
        virt.layer = -1;
        virt.name = virt.ggufName = "output.weight";
        auto w = winningRule(rules, virt, used);
        if (!w) return w.error();
        headWin = *w;
    }
    const int embWin = winner[size_t(emb)];
    out.tieRule = std::max(embWin, headWin);
    if (embWin >= 0 && headWin >= 0 && map.rules[size_t(embWin)].scheme != map.rules[size_t(headWin)].scheme) {
        out.tieDisagreement = true;
        out.warnings.push_back("tied embedding/head: " + ruleLabel(map, embWin) + " for the embedding and " +
                               ruleLabel(map, headWin) + " for the head disagree; the pair is stored once as " +
                               map.rules[size_t(out.tieRule)].scheme + " (the later rule wins)");
    }
    winner[size_t(emb)] = out.tieRule;
    return std::pair<int, int>{emb, head};
}

// Every tensor's plan from its winning rule (the stored head of a tied pair is skipped: it copies the
// embedding's plan afterwards).
Status planTensors(const QuantMap& map, const std::vector<TensorInfo>& tensors, const std::vector<int>& winner,
                   int head, ResolvedMap& out) {
    for (size_t i = 0; i < tensors.size(); ++i) {
        if (int(i) == head) continue;
        if (isIntegerType(tensors[i].dtype) && !tensors[i].shape.empty()) {
            // Rules were matched without regard to the element type; an integer tensor is never quantized.
            TensorPlan& p = out.tensors[i];
            p.note = "an integer tensor (" + std::string(dtypeName(tensors[i].dtype)) +
                     ": ids, masks) is never quantized" +
                     (winner[i] >= 0 && !map.rules[size_t(winner[i])].keeps()
                          ? "; " + ruleLabel(map, winner[i]) + " selects it and is not applied to it"
                          : std::string());
            continue;
        }
        if (Status s = choose(map, winner[i], tensors[i], out.tensors[i], out, int(i)); !s) return s;
    }
    return {};
}

}  // namespace

const std::string& TensorPlan::requested(const QuantMap& map) const {
    static const std::string kNone;
    return ruleAsks && rule >= 0 && size_t(rule) < map.rules.size() ? map.rules[size_t(rule)].scheme : kNone;
}

Result<ResolvedMap> resolveMap(const QuantMap& map, const std::vector<TensorInfo>& tensors, const ModelInfo& info) {
    if (info.entries.size() != tensors.size())
        return Error{"quantization map: the model analysis lists " + std::to_string(info.entries.size()) +
                     " tensors but the checkpoint has " + std::to_string(tensors.size())};
    ResolvedMap out;
    out.map = map;
    out.tensors.resize(tensors.size());
    std::vector<bool> used(map.rules.size(), false);
    std::vector<int> winner(tensors.size(), -1);
    Rules rules{map, QuantMapIndex(map), {}};
    for (size_t i = 0; i < tensors.size(); ++i) {
        auto shape = matrixShape(tensors[i]);
        if (!shape) return Error{"quantization map: " + shape.message()};
        out.tensors[i].rows = shape->first;
        out.tensors[i].cols = shape->second;
        auto w = winningRule(rules, candidateOf(tensors, info, i), used);
        if (!w) return w.error();
        winner[i] = *w;
    }
    auto tie = resolveTie(rules, tensors, info, winner, used, out);
    if (!tie) return tie.error();
    const auto [emb, head] = *tie;
    if (Status s = planTensors(map, tensors, winner, head, out); !s) return Error{s.message()};
    if (head >= 0) {
        TensorPlan& hp = out.tensors[size_t(head)];
        const TensorPlan& ep = out.tensors[size_t(emb)];
        hp.scheme = ep.scheme;
        hp.ruleAsks = ep.ruleAsks;
        hp.rule = ep.rule;
        hp.fallbackReason = ep.fallbackReason;
        hp.tiedTo = emb;
    }
    noteRequantized(tensors, out);
    for (size_t k = 0; k < map.rules.size(); ++k)
        if (!used[k]) out.unusedRules.push_back(int(k));
    if (!out.unusedRules.empty()) out.warnings.push_back(unusedRulesWarning(map, out.unusedRules));
    return out;
}

}  // namespace qs
