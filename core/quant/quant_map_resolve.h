// SPDX-License-Identifier: GPL-3.0-or-later
// Resolving a quantization map against a model: which rule governs each tensor, which scheme it really gets
// (fallbacks), and how the tied embedding/head pair is handled. Arithmetic only: nothing is quantized, so the
// UI can resolve on every edit.
//
// Tied pair. A tied embedding/head (ModelInfo::tie) is quantized once. The rules are evaluated for the
// embedding (role embedding) and for the head (role head: the stored head tensor, or, when the file stores
// none, a virtual head named "output.weight" in no layer); of the two winning rules the later one governs the
// pair (consistent with "a later rule wins"). When both match and ask for different schemes, a warning names
// both rules and the scheme used. The embedding's plan carries the pair's scheme; a stored head copy gets
// tiedTo = embedding and counts 0 bytes after quantization, instead of silently storing two copies.
//
// Fallbacks. A scheme may refuse a shape (Scheme::rejectReason, e.g. a row length not divisible by the
// block). The tensor alone then falls back along this chain, the first scheme the registry has that accepts
// the shape winning:
//   ggml k-quants (256-element super-blocks), as llama.cpp's llama_tensor_get_type substitutes them:
//     <type>_im falls back as <type>, to the _im variant of each fallback type that has one (q4_K_im -> q5_0_im);
//     q4_K -> q5_0, q5_K -> q5_1, q6_K -> q8_0, q2_K/q3_K/iq2_*/iq3_*/iq1_*/iq4_xs -> iq4_nl -> q4_0,
//     tq1_0/tq2_0 -> q4_0; then f16 (llama.cpp: "f16" when the row is not a multiple of 32 either).
//   other ggml types (32-element blocks: q4_0, q8_0, ...) -> f16. (llama.cpp refuses the whole model;
//     QuantScope falls back for that tensor alone, e.g. stories260K's ffn_down rows of 172.)
//   schemes named <prefix>_g<G><suffix> (RTN int4_g128, hqq4_g64, ...): the same scheme with the largest
//     group smaller than G that divides the row and is at least 8, then f16.
//   anything else -> f16.
// If even f16 is unavailable the tensor stays as stored. Each fallback is listed in `warnings` with the
// reason and the scheme used.
//
// Stored types a scheme cannot read (dtypeConvertibleToFloat false) stay as stored, with a warning.
// Thread-safety: pure functions over their arguments.
#pragma once

#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/util/compact_text.h"
#include "core/util/result.h"

namespace qs {

// One per tensor, so kept small (88 bytes): the two texts almost every tensor leaves empty are CompactText
// (one pointer when empty, core/util/compact_text.h).
struct TensorPlan {
    std::string scheme;          // canonical scheme used; "" = stays as stored
    int rule = -1;               // governing rule index into QuantMap::rules, -1 when none matched
    int tiedTo = -1;             // tied head copy: the embedding index whose quantization it shares
    // The governing rule's scheme was tried for this tensor (false: no rule, a "keep" rule, or a stored type
    // QuantScope cannot decode). requested() gives it; not stored per tensor (a 300,000-tensor file: issue 13).
    bool ruleAsks = false;
    CompactText fallbackReason;  // non-empty when scheme != requested (the requested scheme's reject reason)
    CompactText note;            // why a tensor no rule may quantize stays as stored (integer/boolean tensors)
    int64_t rows = 0, cols = 0;  // matrix view: cols = innermost dimension, rows = elements / cols

    bool quantized() const { return !scheme.empty() && tiedTo < 0; }  // this tensor's own bytes get quantized
    // What the governing rule asked for: its scheme in `map`, the map this plan was resolved with
    // (ResolvedMap::map); "" when ruleAsks is false.
    const std::string& requested(const QuantMap& map) const;
};

struct ResolvedMap {
    QuantMap map;                     // the rules resolved (copied, so the result stands alone)
    std::vector<TensorPlan> tensors;  // parallel to Checkpoint::tensors
    std::vector<int> fallbacks;       // indices of tensors whose scheme differs from the requested one
    int tieRule = -1;                 // rule governing the tied pair (-1: none, or no tie)
    bool tieDisagreement = false;     // two rules asked for different schemes for the tied pair
    std::vector<int> unusedRules;     // indices of rules that match no tensor of this model (all of them;
                                      // `warnings` has one line for them naming the first three)
    // Tensors stored quantized already (anything but f64/f32/f16/bf16: ggml blocks, llama2.c Q8, fp8, ...)
    // that the map quantizes again. As llama-quantize's --allow-requantize says: precision lost earlier
    // cannot come back, and every error is measured against the stored (dequantized) values, not the
    // original weights. One warning in `warnings` names the count and the stored types.
    std::vector<int> requantized;
    std::vector<std::string> warnings;
};

// Rows/cols of the matrix view of a tensor (cols = innermost dimension; a 1-D tensor is one row; a scalar
// is 1x1). Fails on an overflowing shape or a negative dimension, naming the tensor.
Result<std::pair<int64_t, int64_t>> matrixShape(const TensorInfo& t);

// The regex work of one resolution (BoundedRegex units, 25-180 ns each by machine). Each search is bounded alone
// (BoundedRegex::searchBudget, ~250,000 units), but 300,000 names x a rule just under that bound would take hours,
// on the GUI thread. So each regex rule may use kResolveRegexRuleBase units plus kResolveRegexRulePerName for
// every name it was tried on (a usual regex costs 1-3 units a name byte: `.*gate_proj.*` ~150 on a 58-byte
// Hugging Face MoE name; a backtracking one thousands per name is refused after a few dozen names, in well under
// a second), and all rules together kResolveRegexWorkBudget (10-70 s: a map of hundreds of rules the index cannot
// key, each just under its own bound, on a 300,000-tensor model; measured 10 s on a 2 GHz Xeon). Rules the index
// keys (quant_map_index.h: a literal after ^, .* or .+, with no '|' outside groups) are tried only on names
// holding the literal.
inline constexpr uint64_t kResolveRegexRuleBase = 4'000'000;
inline constexpr uint64_t kResolveRegexRulePerName = 4'000;
inline constexpr uint64_t kResolveRegexWorkBudget = 400'000'000;

// Resolves `map` for the tensors of a checkpoint and their analysis (info.entries parallel to tensors).
// Fails on inconsistent input (entries not parallel, a bad shape), a scheme missing from the registry, or a
// "regex:" rule exceeding PCRE2's match limits, the work bound of one search on a tensor name, its own bound over
// all names (kResolveRegexRuleBase + kResolveRegexRulePerName a name), or kResolveRegexWorkBudget over all rules
// ("quantization map: rule 2 (body regex:^(.*)*x$ -> q8_0): matching 'blk.0.ffn_x.weight' exceeded the regex
// work bound (250304 steps ...); simplify the pattern"; bounded_regex.h); a shape a scheme refuses is a
// fallback, not a failure. Runs on the calling thread; its regex work is bounded per rule and in total (above).
Result<ResolvedMap> resolveMap(const QuantMap& map, const std::vector<TensorInfo>& tensors, const ModelInfo& info);

// The fallback chain tried after `scheme` for a shape it refuses (documented above), excluding `scheme`.
std::vector<std::string> fallbackChain(std::string_view scheme, int64_t cols);

}  // namespace qs
