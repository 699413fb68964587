// SPDX-License-Identifier: GPL-3.0-or-later
// QuantMapIndex: which rules of a quantization map could select a tensor, found without trying every rule,
// so resolving 10,000 rules against 100,000 tensors is not 10^9 pattern matches (quant_map_resolve.cpp).
//
// It is a pre-filter: it returns a superset of the rules whose name pattern matches, and resolution still
// checks each returned rule in full (role, layers, globMatch, the regex), in rule order. So "a later rule
// wins", which rules count as used, and which regex error is reported first are exactly as when every rule is
// tried. Keys, by rule:
//   glob without metacharacters       the whole name, in a hash table (exact-name rules)
//   other globs                       their literal prefix or suffix (whichever is longer, at most
//                                     kAnchoredKeyBytes), looked up at the start or end of the name; when
//                                     both are shorter than the longest literal inside ("*layers.12.*"),
//                                     up to kInfixKeyBytes of that literal, looked up at every offset
//   regex with no '|' outside groups  those characters (escaped punctuation such as \. included, a last one a
//   that starts with literal chars    quantifier makes optional left out): after a leading ^ looked up at the
//   (after ^, .* or .+)               start (at most kAnchoredKeyBytes), otherwise, and after .* or .+, at every
//                                     offset (at most kInfixKeyBytes): "^blk\.3\.", "attn_q\.weight",
//                                     "blk\.\d+\.attn_q", ".*gate_proj.*"
//   anything else (no pattern, "*", "[ab]*", other regexes)   tried for every tensor
// Layer lists are kept sorted and merged per rule, so a rule listing a million layers is a binary search.
//
// Cost per name: one hash lookup per distinct anchored key length (at most 2 x kAnchoredKeyBytes) plus
// one per distinct infix key length at each offset holding a byte some infix key starts with (at most name
// bytes x kInfixKeyBytes), plus the rules tried for every tensor.
//
// Lifetime: glob keys are views into the patterns of the QuantMap given to the constructor, which must
// outlive the index and not change. Thread-safety: immutable after construction; const members may be called
// from any thread at once.
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/quant/quant_map.h"

namespace qs {

class QuantMapIndex {
public:
    static constexpr size_t kAnchoredKeyBytes = 64;
    static constexpr size_t kInfixKeyBytes = 16;

    explicit QuantMapIndex(const QuantMap& map);

    // Replaces `out` with the indices, ascending and without repeats, of every rule whose name pattern may
    // match `name` or `altName` (pass "" for none): all rules that do are included.
    void candidates(std::string_view name, std::string_view altName, std::vector<int>& out) const;

    // QuantRule::matchesLayer of rule k, in O(log ranges).
    bool matchesLayer(size_t k, int layer) const;

private:
    using Buckets = std::unordered_map<std::string_view, std::vector<int>>;
    struct KeyTable {
        Buckets buckets;
        std::vector<size_t> lengths;  // distinct key lengths, ascending
        std::array<bool, 256> firstBytes{};  // the bytes keys start with: other offsets need no lookup
        void add(std::string_view key, int rule);
        void finish();
    };
    void addRule(const QuantRule& r, int k);
    void lookup(std::string_view name, std::vector<const std::vector<int>*>& hits) const;

    Buckets m_exact;
    KeyTable m_prefix, m_suffix, m_infix;
    std::deque<std::string> m_ownedKeys;             // regex keys (unescaped); stable addresses
    std::vector<int> m_always;                       // rules tried for every tensor, ascending
    std::vector<std::vector<LayerRange>> m_layers;   // per rule: sorted, merged (empty: any layer)
};

}  // namespace qs
