// SPDX-License-Identifier: GPL-3.0-or-later
// PreTokenizerRegex: the word-splitting regex of byte-level BPE tokenizers (GPT-2, Llama 3), on PCRE2 with
// Unicode properties (\p{L}, \p{N}), which std::regex lacks. Splitting follows Hugging Face's Split
// pre-tokenizer with behaviour "Isolated": every match is a word and so is every gap between matches, so no
// byte of the input is lost. Invalid UTF-8 is matched byte by byte instead of failing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace qs {

class PreTokenizerRegex {
public:
    static Result<std::unique_ptr<PreTokenizerRegex>> create(const std::string& pattern);
    ~PreTokenizerRegex();

    // The non-empty matches, left to right and non-overlapping, as [begin, end) byte offsets into `text`
    // (what Hugging Face's Split pre-tokenizer and Replace normalizer iterate over), handed to `visit` one at a time
    // and not collected: a long text (an evaluation corpus) is split without a list of its words. Thread-safe
    // (match data is per call). Throws
    // InputLimitError (util/input_limit_error.h) naming the regex and the byte offset when the whole split
    // needs more than workBudget(text.size()) work units (regex_work_budget.h: a pattern that backtracks
    // heavily at many positions; the usual patterns take 2-3 units per byte) or PCRE2 stops at one of its
    // per-position limits (util/pcre2_limits.h: 10,000,000 steps per start position and
    // frames, 1 GiB of backtracking memory). Hugging Face tokenizers matches with Oniguruma, also backtracking and with its own
    // retry limit, so its result for such a text may be an error as well; no split is returned rather than a
    // possibly different one, though `visit` may have seen a prefix of it. Worst case about workBudget(n) x 70 ns
    // with JIT (0.08 s for 1 KB, 7 s for 1 MB).
    void forEachMatch(std::string_view text, const std::function<void(size_t, size_t)>& visit) const;
    // The text split at the matches: every match and every gap between them, in order, as views into `text`
    // (their concatenation is `text`). Throws as forEachMatch.
    void forEachPiece(std::string_view text, const std::function<void(std::string_view)>& visit) const;

    // Work units allowed for one split of a text of `textBytes` bytes.
    static constexpr uint64_t kWorkBudgetBase = 1'000'000;
    static constexpr uint64_t kWorkBudgetPerByte = 100;
    static uint64_t workBudget(size_t textBytes);

    // The patterns the common vocabularies use.
    static const char* gpt2Pattern();
    static const char* llama3Pattern();

private:
    PreTokenizerRegex() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    std::string m_pattern;  // as given, for messages
};

}  // namespace qs
