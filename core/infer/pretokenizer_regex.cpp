// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/pretokenizer_regex.h"

#include "core/util/format.h"
#include "core/util/input_limit_error.h"
#include "core/util/pcre2_limits.h"
#include "core/util/regex_work_budget.h"

#include <cstdint>
#include <new>

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
    // PCRE2_MATCH_INVALID_UTF lets arbitrary bytes through instead of failing the match; PCRE2_AUTO_CALLOUT
    // lets forEachMatch() measure the work of a whole split (regex_work_budget.h; JIT keeps the callouts).
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_AUTO_CALLOUT,
                                     &errorCode, &errorOffset, nullptr);
    if (!code)
        return Error{"pre-tokenizer regex does not compile at offset " + std::to_string(errorOffset) + ": " +
                     pcre2ErrorText(errorCode)};
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; the interpreter is used when JIT is absent
    std::unique_ptr<PreTokenizerRegex> r(new PreTokenizerRegex);
    r->m_impl = std::make_unique<Impl>();
    r->m_impl->code = code;
    r->m_pattern = pattern;
    return r;
}

namespace {

struct MatchState {
    pcre2_match_data* data = nullptr;
    ~MatchState() {
        if (data) pcre2_match_data_free(data);
    }
};

std::string limitMessage(const std::string& pattern, int rc, size_t pos, size_t size, uint64_t budget) {
    const std::string why = rc == kRegexBudgetExhausted
                                ? "the work bound of " + std::to_string(budget) + " steps for this text, over all matches"
                                : pcre2MatchErrorText(rc, kLimits);
    return "the tokenizer's regex /" + quoteBounded(pattern) +
           "/ cannot split this text (" + why + ", at byte " + std::to_string(pos) + " of " + std::to_string(size) +
           "); Hugging Face tokenizers matches with Oniguruma, also a backtracking engine (with a limit of "
           "10,000,000 retries per match by default), so its own result for this text may be an error too; no "
           "ids are given rather than possibly different ones";
}

}  // namespace

uint64_t PreTokenizerRegex::workBudget(size_t textBytes) {
    return kWorkBudgetBase + kWorkBudgetPerByte * static_cast<uint64_t>(textBytes);
}

void PreTokenizerRegex::forEachMatch(std::string_view text, const std::function<void(size_t, size_t)>& visit) const {
    MatchState st;
    st.data = pcre2_match_data_create_from_pattern(m_impl->code, nullptr);
    // Per call: the context's callout points at this split's budget.
    Pcre2MatchContext context = makePcre2MatchContext(kLimits);
    if (!st.data || !context) throw std::bad_alloc();
    RegexWorkBudget budget{workBudget(text.size())};
    attachRegexWorkBudget(context.get(), &budget);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos < text.size()) {
        const int rc = pcre2_match(m_impl->code, subject, text.size(), pos, 0, st.data, context.get());
        if (rc == PCRE2_ERROR_NOMATCH) break;
        // A limit (work bound, backtracking, depth, heap): the split cannot be computed; never "no more matches".
        if (rc < 0) throw InputLimitError(limitMessage(m_pattern, rc, pos, text.size(), budget.limit));
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
        const size_t start = ov[0], end = ov[1];
        if (end <= start) {  // empty match: step over one whole character so the loop progresses
            pos = start + 1;
            while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
            continue;
        }
        visit(start, end);
        pos = end;
    }
}

void PreTokenizerRegex::forEachPiece(std::string_view text, const std::function<void(std::string_view)>& visit) const {
    size_t gapStart = 0;
    forEachMatch(text, [&](size_t start, size_t end) {
        if (start > gapStart) visit(text.substr(gapStart, start - gapStart));
        visit(text.substr(start, end - start));
        gapStart = end;
    });
    if (gapStart < text.size()) visit(text.substr(gapStart));
}

}  // namespace qs
