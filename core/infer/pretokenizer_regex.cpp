// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/pretokenizer_regex.h"

#include "core/util/format.h"
#include "core/util/input_limit_error.h"
#include "core/util/pcre2_limits.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace qs {

namespace {

// PCRE2's own defaults for steps and depth (Debian's build: 10,000,000 each), which tokenizer patterns have
// always run under; the backtracking memory bounded at 1 GiB instead of that build's 20,000,000 KiB. The JIT,
// used when present, counts steps but not depth or heap (its stack is bounded by itself).
constexpr Pcre2Limits kLimits{10'000'000, 10'000'000, 1024 * 1024};

}  // namespace

struct PreTokenizerRegex::Impl {
    pcre2_code* code = nullptr;
    Pcre2MatchContext context;
    ~Impl() {
        if (code) pcre2_code_free(code);
    }
};

PreTokenizerRegex::~PreTokenizerRegex() = default;

const char* PreTokenizerRegex::gpt2Pattern() {
    // GPT-2's encoder.py pattern, as tokenizers' ByteLevel pre-tokenizer uses it.
    return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
}

const char* PreTokenizerRegex::llama3Pattern() {
    // Meta Llama 3 tokenizer.json pre_tokenizer Split pattern (also tiktoken cl100k_base).
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

Result<std::unique_ptr<PreTokenizerRegex>> PreTokenizerRegex::create(const std::string& pattern) {
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    // PCRE2_UCP makes \s, \d and \w Unicode-aware like Rust's regex crate (which tokenizers uses);
    // PCRE2_MATCH_INVALID_UTF lets arbitrary bytes through instead of failing the match.
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &errorCode, &errorOffset,
                                     nullptr);
    if (!code)
        return Error{"pre-tokenizer regex does not compile at offset " + std::to_string(errorOffset) + ": " +
                     pcre2ErrorText(errorCode)};
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; the interpreter is used when JIT is absent
    std::unique_ptr<PreTokenizerRegex> r(new PreTokenizerRegex);
    r->m_impl = std::make_unique<Impl>();
    r->m_impl->code = code;
    r->m_impl->context = makePcre2MatchContext(kLimits);
    if (!r->m_impl->context) return Error{"out of memory creating a PCRE2 match context"};
    r->m_pattern = pattern;
    return r;
}

std::vector<std::pair<size_t, size_t>> PreTokenizerRegex::matches(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> out;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(m_impl->code, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos < text.size()) {
        const int rc = pcre2_match(m_impl->code, subject, text.size(), pos, 0, md, m_impl->context.get());
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {  // a limit (backtracking, depth, heap): the split cannot be computed; never "no more matches"
            pcre2_match_data_free(md);
            throw InputLimitError("the tokenizer's regex /" + quoteBounded(m_pattern) + "/ cannot split this text (" +
                                  pcre2MatchErrorText(rc, kLimits) + " at byte " + std::to_string(pos) + " of " +
                                  std::to_string(text.size()) +
                                  "); Hugging Face tokenizers' regex engine has no such limit, so its ids cannot be "
                                  "reproduced");
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t start = ov[0], end = ov[1];
        if (end <= start) {  // empty match: step over one whole character so the loop progresses
            pos = start + 1;
            while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
            continue;
        }
        out.emplace_back(start, end);
        pos = end;
    }
    pcre2_match_data_free(md);
    return out;
}

std::vector<std::string_view> PreTokenizerRegex::split(std::string_view text) const {
    std::vector<std::string_view> out;
    size_t gapStart = 0;
    for (const auto& [start, end] : matches(text)) {
        if (start > gapStart) out.push_back(text.substr(gapStart, start - gapStart));
        out.push_back(text.substr(start, end - start));
        gapStart = end;
    }
    if (gapStart < text.size()) out.push_back(text.substr(gapStart));
    return out;
}

}  // namespace qs
