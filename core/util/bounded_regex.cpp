// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/bounded_regex.h"

#include <algorithm>

#include "core/util/pcre2_limits.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/util/regex_work_budget.h"

namespace qs {

namespace {

struct MatchDataDeleter {
    void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

// One ovector pair is enough to know whether there is a match; per thread, so search() allocates nothing.
pcre2_match_data* threadMatchData() {
    thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(pcre2_match_data_create(1, nullptr));
    return md.get();
}

constexpr Pcre2Limits kLimits{BoundedRegex::kMatchLimit, BoundedRegex::kDepthLimit, BoundedRegex::kHeapLimitKiB};

// Per thread because search() points its callout at a budget on its own stack.
pcre2_match_context* threadMatchContext() {
    thread_local Pcre2MatchContext context = makePcre2MatchContext(kLimits);
    return context.get();
}

}  // namespace

struct BoundedRegex::Impl {
    pcre2_code* code = nullptr;
    ~Impl() {
        if (code) pcre2_code_free(code);
    }
};

BoundedRegex::~BoundedRegex() = default;

Result<std::shared_ptr<const BoundedRegex>> BoundedRegex::compile(std::string_view pattern) {
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    // PCRE2_AUTO_CALLOUT: the callouts measure the work of a whole search (regex_work_budget.h).
    const uint32_t options = PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS | PCRE2_MATCH_UNSET_BACKREF |
                             PCRE2_DOLLAR_ENDONLY | PCRE2_AUTO_CALLOUT;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                     &errorCode, &errorOffset, nullptr);
    if (!code) return Error{pcre2ErrorText(errorCode) + " at offset " + std::to_string(errorOffset)};
    std::shared_ptr<BoundedRegex> r(new BoundedRegex);
    r->m_impl = std::make_unique<Impl>();
    r->m_impl->code = code;
    r->m_pattern = std::string(pattern);
    return std::shared_ptr<const BoundedRegex>(std::move(r));
}

uint64_t BoundedRegex::searchBudget(size_t subjectBytes) {
    return kSearchBudgetBase + kSearchBudgetPerByte * static_cast<uint64_t>(subjectBytes);
}

Result<bool> BoundedRegex::search(std::string_view subject, RegexWorkBudget* total) const {
    pcre2_match_data* md = threadMatchData();
    if (!md) return Error{"out of memory creating PCRE2 match data"};
    pcre2_match_context* context = threadMatchContext();
    if (!context) return Error{"out of memory creating a PCRE2 match context"};
    const uint64_t own = searchBudget(subject.size());
    const uint64_t left = !total ? own : total->used >= total->limit ? 0 : total->limit - total->used;
    RegexWorkBudget budget{std::min(own, left)};
    attachRegexWorkBudget(context, &budget);
    // A null pointer is not a valid subject even when empty; any address works for length 0.
    static const char kEmpty = 0;
    const char* data = subject.empty() ? &kEmpty : subject.data();
    const int rc = pcre2_match(m_impl->code, reinterpret_cast<PCRE2_SPTR>(data), subject.size(), 0, 0, md, context);
    if (total) total->used += std::min(budget.used, budget.limit + 1);
    if (rc >= 0) return true;  // 0: matched, the ovector is too small for the groups (not needed)
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc == kRegexBudgetExhausted && left < own)
        return Error{"exceeded the regex work bound of all searches together (" + std::to_string(total->limit) +
                     " steps; this search stopped at byte " + std::to_string(budget.lastPosition) + " of " +
                     std::to_string(subject.size()) + ")"};
    if (rc == kRegexBudgetExhausted)
        return Error{"exceeded the regex work bound (" + std::to_string(budget.limit) +
                     " steps for the whole search, over every start position; at byte " +
                     std::to_string(budget.lastPosition) + " of " + std::to_string(subject.size()) + ")"};
    return Error{pcre2MatchErrorText(rc, kLimits)};
}

}  // namespace qs
