// SPDX-License-Identifier: GPL-3.0-or-later
// QS_CHECK: an always-on assertion for programming errors (never for bad input, which is a Result).
// It prints the condition, the location and a context message, then aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace qs::detail {
[[noreturn]] inline void checkFailed(const char* cond, const char* file, int line, const std::string& context) {
    std::fprintf(stderr, "QuantScope internal error: %s at %s:%d%s%s\n", cond, file, line,
                 context.empty() ? "" : ": ", context.c_str());
    std::abort();
}
}  // namespace qs::detail

#define QS_CHECK(cond, ...)                                                                     \
    do {                                                                                        \
        if (!(cond)) ::qs::detail::checkFailed(#cond, __FILE__, __LINE__, std::string{__VA_ARGS__}); \
    } while (0)
