// SPDX-License-Identifier: GPL-3.0-or-later
// UTF-8 hygiene for strings taken from files into JSON metadata: nlohmann::json throws when it dumps bytes that
// are not UTF-8, so readers pass file strings through appendUtf8 first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qs::io {

// Appends s to out, replacing every byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
// overlongs, no surrogates, at most U+10FFFF) with U+FFFD. Returns false when a replacement was needed.
bool appendUtf8(std::string_view s, std::string& out);

// Appends the UTF-8 encoding of code point `cp` (at most U+10FFFF, not a surrogate: the caller checks) to out.
void appendCodePoint(std::string& out, uint32_t cp);

// s as one line of text a person reads (a file, folder or tensor name in a listing or a message): bytes that are
// not UTF-8 shown as U+FFFD (appendUtf8), and control characters — C0, DEL and C1 (U+0080..U+009F) — written as
// escapes (\t, \n, \r, \xHH, \u0085), so a name holding a newline, tab or terminal escape cannot forge a second
// line or a column; so are the bidirectional and line-separator formatting characters (U+061C, U+200E/F,
// U+2028..U+202E, U+2066..U+2069, written \u202e), which reorder what a terminal shows (CVE-2021-42574), and the
// zero-width ones (U+200B..U+200D, U+2060..U+2064, U+FEFF), which make two different names look alike.
// Returns the text; the name's real bytes are kept wherever it is used as a path.
std::string printableText(std::string_view s);

// Offset of the first byte of s that does not start a well-formed UTF-8 sequence (as above), or nullopt.
std::optional<size_t> firstInvalidUtf8(std::string_view s);

}  // namespace qs::io
