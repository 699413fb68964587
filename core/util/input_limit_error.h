// SPDX-License-Identifier: GPL-3.0-or-later
// InputLimitError: the one exception bad input can raise, and only where a third-party engine reaches a resource
// limit deep in a path with no error channel (PCRE2's match limit while a tokenizer.json regex splits a text: encode
// returns ids), as std::bad_alloc does for memory. The entry points (each CLI command in app/cli_main.cpp, each GUI
// job in ui/jobs/job_runner.cpp) catch it and report its message as an error of the input, never as an internal
// error; nothing is left half-done by it. Everything else bad input causes is a Result (util/result.h).
#pragma once

#include <stdexcept>

namespace qs {

class InputLimitError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace qs
