// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/bounded_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace qs {

namespace {

std::string pcre2Message(int code) {
    PCRE2_UCHAR buffer[256];
    if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
    return reinterpret_cast<const char*>(buffer);
}

struct MatchDataDeleter {
    void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

// One ovector pair is enough to know whether there is a match; per thread, so search() allocates nothing.
pcre2_match_data* threadMatchData() {
    thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(pcre2_match_data_create(1, nullptr));
    return md.get();
}

}  // namespace

struct BoundedRegex::Impl {
    pcre2_code* code = nullptr;
    pcre2_match_context* context = nullptr;
    ~Impl() {
        if (context) pcre2_match_context_free(context);
        if (code) pcre2_code_free(code);
    }
};

BoundedRegex::~BoundedRegex() = default;

Result<std::shared_ptr<const BoundedRegex>> BoundedRegex::compile(std::string_view pattern) {
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    const uint32_t options =
        PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS | PCRE2_MATCH_UNSET_BACKREF | PCRE2_DOLLAR_ENDONLY;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                     &errorCode, &errorOffset, nullptr);
    if (!code) return Error{pcre2Message(errorCode) + " at offset " + std::to_string(errorOffset)};
    std::shared_ptr<BoundedRegex> r(new BoundedRegex);
    r->m_impl = std::make_unique<Impl>();
    r->m_impl->code = code;
    r->m_pattern = std::string(pattern);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    if (!context) return Error{"out of memory creating a PCRE2 match context"};
    r->m_impl->context = context;
    pcre2_set_match_limit(context, kMatchLimit);
    pcre2_set_depth_limit(context, kDepthLimit);
    pcre2_set_heap_limit(context, kHeapLimitKiB);
    return std::shared_ptr<const BoundedRegex>(std::move(r));
}

Result<bool> BoundedRegex::search(std::string_view subject) const {
    pcre2_match_data* md = threadMatchData();
    if (!md) return Error{"out of memory creating PCRE2 match data"};
    // A null pointer is not a valid subject even when empty; any address works for length 0.
    static const char kEmpty = 0;
    const char* data = subject.empty() ? &kEmpty : subject.data();
    const int rc = pcre2_match(m_impl->code, reinterpret_cast<PCRE2_SPTR>(data), subject.size(), 0, 0, md,
                               m_impl->context);
    if (rc >= 0) return true;  // 0: matched, the ovector is too small for the groups (not needed)
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    switch (rc) {
        case PCRE2_ERROR_MATCHLIMIT:
            return Error{"exceeded PCRE2's match limit (" + std::to_string(kMatchLimit) + " steps)"};
        case PCRE2_ERROR_DEPTHLIMIT:
            return Error{"exceeded PCRE2's depth limit (" + std::to_string(kDepthLimit) + " frames)"};
        case PCRE2_ERROR_HEAPLIMIT:
            return Error{"exceeded PCRE2's heap limit (" + std::to_string(kHeapLimitKiB / 1024) + " MiB)"};
        default: return Error{"PCRE2 match error: " + pcre2Message(rc)};
    }
}

}  // namespace qs
