// SPDX-License-Identifier: GPL-3.0-or-later
// BoundedRegex: a regular expression on PCRE2 whose matching has bounded time and memory, for patterns and
// subjects that come from users or files (quantization-map "regex:" rules against tensor names). std::regex
// recurses once per character (a 30,000-character name overflowed the stack) and backtracks without limit
// (`^(.*)*x$` never finished); here a match that exceeds a limit is an Error, never a crash, a hang or a
// silent "no match".
//
// Syntax: ECMAScript-like, as std::regex's ECMAScript grammar for the usual features (. * + ? {m,n} | ()
// (?:) [] [^] \d \w \s \b ^ $ lookahead, backreferences), compiled with PCRE2_ALT_BSUX (\u, \x as in
// ECMAScript), PCRE2_ALLOW_EMPTY_CLASS ([] never matches), PCRE2_MATCH_UNSET_BACKREF (an unset group matches
// empty) and PCRE2_DOLLAR_ENDONLY ($ only at the very end). Bytes, not UTF-8 code points (as std::regex on
// char). PCRE2 accepts more than ECMAScript (lookbehind, atomic groups, possessive quantifiers, \p{...},
// (?i) and other inline options); differences on what both accept: ECMAScript's . also excludes \r (PCRE2's
// only \n), and \s is ASCII whitespace here.
//
// Limits (on PCRE2's interpreter, no JIT): searchBudget(n) work units for the whole search of an n-byte
// subject, over every start position (regex_work_budget.h; 250,000 + 16n units, about 0.05 s + 3 us per byte
// at most; a usual pattern costs 1-2 units per byte, `.*x` failing 2), and per start position kMatchLimit backtracking steps, kDepthLimit nested backtracking
// frames, kHeapLimitKiB of backtracking memory. PCRE2's own step limit counts per start position only,
// which let a 3000-byte name take minutes under `(a|a){18}b` with no position over it.
//
// Thread-safety: a compiled BoundedRegex is immutable; search() may be called from any thread at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/util/regex_work_budget.h"
#include "core/util/result.h"

namespace qs {

class BoundedRegex {
public:
    // Work units allowed for one search() of an n-byte subject: kSearchBudgetBase + kSearchBudgetPerByte x n.
    static constexpr uint64_t kSearchBudgetBase = 250'000;
    static constexpr uint64_t kSearchBudgetPerByte = 16;
    static uint64_t searchBudget(size_t subjectBytes);
    static constexpr uint32_t kMatchLimit = 1'000'000;  // about 0.1 s of backtracking on one position
    static constexpr uint32_t kDepthLimit = 1'000'000;
    static constexpr uint32_t kHeapLimitKiB = 64 * 1024;

    // Compiles `pattern`; the error gives PCRE2's message and the byte offset of the problem.
    static Result<std::shared_ptr<const BoundedRegex>> compile(std::string_view pattern);
    ~BoundedRegex();
    BoundedRegex(const BoundedRegex&) = delete;
    BoundedRegex& operator=(const BoundedRegex&) = delete;

    // True when the pattern matches anywhere in `subject` (any bytes, any length). Error when a limit is hit:
    // "exceeded the regex work bound (298032 steps for the whole search, over every start position; at byte
    // 41 of 3002)", "exceeded PCRE2's match limit (1000000 steps)" (or depth/heap limit), or another PCRE2
    // match error. Worst case searchBudget(subject.size()) units: about 0.05 s for a tensor name.
    // `total`, when given, bounds many searches together (one map resolution: every rule against every tensor
    // name): this search may use no more than `total` has left, its units are added to `total->used`, and
    // running out of `total` is the error "exceeded the regex work bound of all searches together (N steps;
    // ...)". Without it a search is bounded alone, and N searches cost up to N x 0.05 s.
    Result<bool> search(std::string_view subject, RegexWorkBudget* total = nullptr) const;

    const std::string& pattern() const { return m_pattern; }

private:
    BoundedRegex() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::string m_pattern;
};

}  // namespace qs
