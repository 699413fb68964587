// SPDX-License-Identifier: GPL-3.0-or-later
// RegexWorkBudget: a bound on the total work of ONE regex search (one map rule against one tensor name; one
// tokenizer Split regex over one text), across every pcre2_match call and every start position it tries.
//
// Why: PCRE2's match limit counts per start position of an unanchored search (pcre2_match resets its
// counter before each position), so a subject of n bytes may cost n times the limit with no call over it:
// `(a|a){18}b` against 'a' x 3000 ran for minutes. PCRE2 reports no step count, so the work is measured
// here with callouts: patterns are compiled with PCRE2_AUTO_CALLOUT (a callout before every pattern item,
// also on every retry after backtracking) and the callout charges the distance the subject position moved
// since the previous callout, at least 1 unit (so a single item scanning far, as `\p{L}+`, is charged its
// length, and a step back after a failure is charged 1). When the total passes `limit` the callout returns kRegexBudgetExhausted, which pcre2_match
// returns as its result; the caller turns it into an error naming the regex and the input.
//
// Units: about 2-3 per subject byte for the GPT-2 / Llama 3 pre-tokenizer patterns on English text;
// measured 68 ns per unit with JIT and about 180 ns on the interpreter (pathological backtracking, loaded
// 2-core machine), so 1,000,000 units is roughly 0.1-0.2 s.
//
// Ownership / threads: a budget belongs to one search on one thread; the match context it is attached to
// must be used by that thread only while the budget lives.
#pragma once

#include <cstddef>
#include <cstdint>

struct pcre2_real_match_context_8;

namespace qs {

struct RegexWorkBudget {
    uint64_t limit = 0;        // units allowed in total
    uint64_t used = 0;         // units charged so far
    size_t lastPosition = 0;   // subject offset at the previous callout (set to the first start offset)
    bool exhausted() const { return used > limit; }
};

// pcre2_match's result when the budget ran out (PCRE2_ERROR_CALLOUT: reserved for callout functions).
inline constexpr int kRegexBudgetExhausted = -37;

// Installs the counting callout on `context` with `budget` as its data (neither is owned). Only patterns
// compiled with PCRE2_AUTO_CALLOUT are measured fully.
void attachRegexWorkBudget(pcre2_real_match_context_8* context, RegexWorkBudget* budget);

}  // namespace qs
