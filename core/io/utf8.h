// SPDX-License-Identifier: GPL-3.0-or-later
// UTF-8 hygiene for strings taken from files into JSON metadata: nlohmann::json throws when it dumps bytes that
// are not UTF-8, so readers pass file strings through appendUtf8 first.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace qs::io {

// Appends s to out, replacing every byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
// overlongs, no surrogates, at most U+10FFFF) with U+FFFD. Returns false when a replacement was needed.
bool appendUtf8(std::string_view s, std::string& out);

// Offset of the first byte of s that does not start a well-formed UTF-8 sequence (as above), or nullopt.
std::optional<size_t> firstInvalidUtf8(std::string_view s);

}  // namespace qs::io
