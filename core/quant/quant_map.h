// SPDX-License-Identifier: GPL-3.0-or-later
// The quantization map: an ordered list of rules saying which scheme each tensor gets. Resolution against a
// model (which rule governs each tensor, ties, fallbacks) is in quant_map_resolve.h.
//
// A rule selects tensors by
//   role     embedding | head | attention | mlp | norm | other | body (= attention + mlp) | all  (default all)
//            (`other`: the tensors the model analysis calls other, e.g. vision towers, per-layer embeddings)
//   layers   transformer blocks: "3", "0-3", "0-3,7,9-11" (inclusive). A rule with layers matches only
//            tensors inside a block (never the embedding, head or final norm).                (default any)
//   pattern  "glob:*attn*" (shell glob, whole name: * ? [abc] [a-z] [!a]) or "regex:attn_(q|k)" (ECMAScript-like
//            syntax on PCRE2, see core/util/bounded_regex.h; searched anywhere in the name, like llama.cpp's
//            --tensor-type). Matching is bounded: a pattern that backtracks too much on a name makes resolving
//            the map fail with an error naming the rule and the tensor (quant_map_resolve.h). No prefix means glob. A pattern
//            is tried on the name as the file spells it AND on the tensor's GGUF name (blk.3.attn_q.weight)
//            when its kind is known, so one map works for llama2.c, Hugging Face and GGUF files.
// and gives a scheme: a registry name (q4_K, q8_0, nf4, int4_g128 ... the name carries the parameters, e.g.
// the RTN bit width and group) or "keep" (leave the tensor as stored, e.g. to exempt layer 0).
//
// Semantics: rules apply in order and a later matching rule wins; a tensor no rule matches stays as stored.
// 1-D tensors (norm weights, biases) are only selected by a rule naming their role explicitly (role norm for
// norms): `all` and `body` skip them, so "all=q4_0" leaves norms as stored. Buffers that are not parameters
// (llama2.c RoPE tables) and scalars are never quantized, and neither are integer and boolean tensors
// (position ids, attention masks: BOOL, U8..U64, I8..I64): no rule selects them, and the resolved plan says why
// (TensorPlan::note).
//
// JSON (public interface):
//   {"version": 1, "rules": [{"role": "body", "layers": "0-3", "pattern": "glob:*attn*", "scheme": "q4_K"}, ...]}
// Every rule field but "scheme" is optional; "comment" (string) is kept and ignored. Unknown fields are
// errors, so a typo never silently widens a rule. Files written by --save-map add "resolved" and
// "warnings", which loading accepts and ignores. Errors name the rule ("rules[2]") and the field.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model_info.h"
#include "core/util/bounded_regex.h"
#include "core/util/result.h"

namespace qs {

enum class RuleRole { Embedding, Head, Attention, Mlp, Norm, Other, Body, All };
std::string_view ruleRoleName(RuleRole r);
std::optional<RuleRole> ruleRoleFromName(std::string_view s);
std::string ruleRoleList();  // "embedding, head, attention, mlp, norm, other, body, all"

inline constexpr int kQuantMapVersion = 1;
inline constexpr std::string_view kKeepScheme = "keep";

struct LayerRange {
    int first = 0, last = 0;  // inclusive
};

struct QuantRule {
    RuleRole role = RuleRole::All;
    std::vector<LayerRange> layers;  // empty: any tensor
    enum class PatternKind { None, Glob, Regex };
    PatternKind patternKind = PatternKind::None;
    std::string pattern;             // without its "glob:"/"regex:" prefix
    std::string scheme;              // canonical registry name, or "keep"
    std::string comment;

    bool keeps() const { return scheme == kKeepScheme; }
    bool matchesLayer(int layer) const;          // true when layers is empty
    // True when there is no pattern. Error when a regex exceeds its match limits on `name` (bounded_regex.h),
    // or what `total` has left of a bound over many names (BoundedRegex::search).
    Result<bool> matchesName(std::string_view name, RegexWorkBudget* total = nullptr) const;
    std::string layersText() const;              // "0-3,7" ("" when empty)
    std::string patternText() const;             // "glob:*attn*" ("" when none)
    // "body layers 0-3 glob:*attn* -> q4_K", for messages and tables: the layers and the pattern are quoted
    // bounded (util/format.h quoteBounded), so a 7 MB layer list costs about 100 bytes.
    std::string describe() const;

    std::shared_ptr<const BoundedRegex> compiledRegex;  // set for PatternKind::Regex by the parsers
};

struct QuantMap {
    std::vector<QuantRule> rules;
};

// Parsing and validation. Scheme names are checked against the registry (parseScheme) and stored in
// canonical spelling. Errors: "quantization map: rules[2].role: unknown role \"bdy\" (expected ...)".
Result<QuantMap> quantMapFromJson(const nlohmann::json& j);
Result<QuantMap> parseQuantMap(std::string_view jsonText);
Result<QuantMap> loadQuantMap(const std::string& path);  // errors also name the file
nlohmann::json quantMapToJson(const QuantMap& map);

// One rule from the CLI's --rule ROLE=SCHEME ("body=q4_0", "embedding=q8_0", "norm=keep").
Result<QuantRule> parseRuleSpec(std::string_view spec);

// Building blocks, exposed for the editor and the tests.
Result<std::vector<LayerRange>> parseLayerRanges(std::string_view text);  // "0-3,7"
Result<QuantRule> makePatternRule(QuantRule rule, std::string_view patternWithPrefix);  // validates, compiles
bool globMatch(std::string_view pattern, std::string_view text);  // whole-string shell glob

// The literal parts of a glob, for indexing rules (quant_map_index.h). Every text globMatch(pattern, text)
// accepts starts with `prefix`, ends with `suffix` and contains `longestRun` (the longest stretch of literal
// characters outside * ? and [...] classes). `exact`: no metacharacter at all, so the glob matches only the
// text equal to it (then prefix == suffix == longestRun == pattern). Views into `pattern`.
struct GlobLiterals {
    bool exact = false;
    std::string_view prefix, suffix, longestRun;
};
GlobLiterals globLiterals(std::string_view pattern);

}  // namespace qs
