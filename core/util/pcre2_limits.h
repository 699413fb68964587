// SPDX-License-Identifier: GPL-3.0-or-later
// How QuantScope bounds a PCRE2 match, in one place for its two PCRE2 users: BoundedRegex (quantization-map
// "regex:" rules, util/bounded_regex.h) and PreTokenizerRegex (tokenizer.json Split/Replace patterns,
// infer/pretokenizer_regex.h). Their compile options differ on purpose (ECMAScript-like bytes versus UTF-8
// with Unicode properties) and so do their limits; the match context that carries the limits and the wording
// of a stop at one are shared. Callers include <pcre2.h> with PCRE2_CODE_UNIT_WIDTH 8 themselves.
// Thread-safety: a context is read-only once made; pcre2_match may use one from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct pcre2_real_match_context_8;

namespace qs {

struct Pcre2Limits {
    uint32_t match = 0;    // backtracking steps per start position (pcre2_set_match_limit; the JIT counts too)
    uint32_t depth = 0;    // nested backtracking frames (pcre2_set_depth_limit; interpreter only)
    uint32_t heapKiB = 0;  // backtracking memory in KiB (pcre2_set_heap_limit; interpreter only)
};

struct Pcre2MatchContextFree {
    void operator()(pcre2_real_match_context_8* c) const;
};
using Pcre2MatchContext = std::unique_ptr<pcre2_real_match_context_8, Pcre2MatchContextFree>;

// A match context with `limits` set; null when PCRE2 cannot allocate one.
Pcre2MatchContext makePcre2MatchContext(const Pcre2Limits& limits);

// PCRE2's message for an error code (compile or match).
std::string pcre2ErrorText(int code);

// The message for a failed pcre2_match (rc < 0 and not PCRE2_ERROR_NOMATCH) under `limits`: "exceeded PCRE2's
// match limit (1000000 steps)", "... depth limit (N frames)", "... heap limit (N MiB)", "exceeded the PCRE2
// JIT stack", else "PCRE2 match error: <PCRE2's message>".
std::string pcre2MatchErrorText(int rc, const Pcre2Limits& limits);

}  // namespace qs
