// SPDX-License-Identifier: GPL-3.0-or-later
// PreTokenizerRegex: the word-splitting regex of byte-level BPE tokenizers (GPT-2, Llama 3), on PCRE2 with
// Unicode properties (\p{L}, \p{N}), which std::regex lacks. Splitting follows Hugging Face's Split
// pre-tokenizer with behaviour "Isolated": every match is a word and so is every gap between matches, so no
// byte of the input is lost. Invalid UTF-8 is matched byte by byte instead of failing.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/util/result.h"

namespace qs {

class PreTokenizerRegex {
public:
    static Result<std::unique_ptr<PreTokenizerRegex>> create(const std::string& pattern);
    ~PreTokenizerRegex();

    // Views into `text`, in order; their concatenation is `text`. Thread-safe (match data is per call).
    std::vector<std::string_view> split(std::string_view text) const;

    // The non-empty matches, left to right and non-overlapping, as [begin, end) byte offsets into `text`
    // (what Hugging Face's Split pre-tokenizer and Replace normalizer iterate over). Thread-safe. Throws
    // InputLimitError (util/input_limit_error.h) when PCRE2 stops at a limit (a pattern that backtracks exponentially on this
    // text): tokenizers' linear-time engine would have matched, so no split is returned rather than a wrong one.
    // Limits (util/pcre2_limits.h): 10,000,000 steps per start position and frames, 1 GiB of backtracking memory.
    std::vector<std::pair<size_t, size_t>> matches(std::string_view text) const;

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
