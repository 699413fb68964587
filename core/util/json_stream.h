// SPDX-License-Identifier: GPL-3.0-or-later
// A JSON document whose one large array member is written element by element: `quantize --json` and
// `inspect --json` of a file of 300,000 tensors built the whole "tensors" array as one nlohmann::json tree first
// (~4 KB a tensor: 1.2 GB for a 36 MB file; issue 13). Here the rest of the document is dumped as usual and the
// array's elements are made, dumped and dropped one at a time, so the output is byte for byte what
// document.dump(indent) would give with the array filled in.
// Thread-safety: a pure function; `element` and `write` are called on the calling thread, in order.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace qs {

// Writes `document` (an object holding `key` at its top level as an empty array) as
// document.dump(indent, ' ', false, error_handler_t::replace) would with that array holding element(0) ..
// element(count - 1), to `write` in pieces of about 64 KiB. `indent` must be >= 1 (the array's place is found
// as the top-level member's line, which only indentation tells from a nested member of the same name). Throws
// std::invalid_argument when `key` is not a top-level empty array of `document` or `indent` < 1 (a
// programming error).
void writeJsonWithArray(const nlohmann::json& document, std::string_view key, size_t count,
                        const std::function<nlohmann::json(size_t)>& element, int indent,
                        const std::function<void(std::string_view)>& write);

}  // namespace qs
