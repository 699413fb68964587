// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/pcre2_limits.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace qs {

void Pcre2MatchContextFree::operator()(pcre2_real_match_context_8* c) const { pcre2_match_context_free(c); }

Pcre2MatchContext makePcre2MatchContext(const Pcre2Limits& limits) {
    Pcre2MatchContext context(pcre2_match_context_create(nullptr));
    if (!context) return context;
    pcre2_set_match_limit(context.get(), limits.match);
    pcre2_set_depth_limit(context.get(), limits.depth);
    pcre2_set_heap_limit(context.get(), limits.heapKiB);
    return context;
}

std::string pcre2ErrorText(int code) {
    PCRE2_UCHAR buffer[256];
    if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
    return reinterpret_cast<const char*>(buffer);
}

std::string pcre2MatchErrorText(int rc, const Pcre2Limits& limits) {
    switch (rc) {
        case PCRE2_ERROR_MATCHLIMIT: return "exceeded PCRE2's match limit (" + std::to_string(limits.match) + " steps)";
        case PCRE2_ERROR_DEPTHLIMIT: return "exceeded PCRE2's depth limit (" + std::to_string(limits.depth) + " frames)";
        case PCRE2_ERROR_HEAPLIMIT:
            return "exceeded PCRE2's heap limit (" + std::to_string(limits.heapKiB / 1024) + " MiB)";
        case PCRE2_ERROR_JIT_STACKLIMIT: return "exceeded the PCRE2 JIT stack";
        default: return "PCRE2 match error: " + pcre2ErrorText(rc);
    }
}

}  // namespace qs
