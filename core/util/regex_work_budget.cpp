// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/regex_work_budget.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace qs {

static_assert(kRegexBudgetExhausted == PCRE2_ERROR_CALLOUT);

namespace {

int chargeWork(pcre2_callout_block* block, void* data) {
    auto* budget = static_cast<RegexWorkBudget*>(data);
    const size_t pos = block->current_position;
    const size_t moved = pos > budget->lastPosition ? pos - budget->lastPosition : budget->lastPosition - pos;
    budget->lastPosition = pos;
    budget->used += moved > 0 ? moved : 1;  // a step, or a scan of `moved` bytes
    return budget->exhausted() ? PCRE2_ERROR_CALLOUT : 0;
}

}  // namespace

void attachRegexWorkBudget(pcre2_match_context* context, RegexWorkBudget* budget) {
    pcre2_set_callout(context, chargeWork, budget);
}

}  // namespace qs
