// SPDX-License-Identifier: GPL-3.0-or-later
// Human-readable numbers shared by the CLI and the GUI: binary byte units and bits per weight; and the one
// bounded quote of a user string (a map rule's field, a tensor name) inside a message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qs {

// "512 B", "1.50 KiB", "15.03 MiB", "7.48 GiB" (binary units, two decimals above bytes).
std::string formatBytes(uint64_t bytes);
// "1,234,567"
std::string formatCount(uint64_t n);
// "4.50" bits per weight (two decimals).
std::string formatBitsPerWeight(uint64_t bytes, uint64_t elements);

// A user string as an error or warning may echo it: `s` itself when it has at most kQuotedBytes bytes,
// otherwise its first kQuotedBytes bytes (shortened to end on a UTF-8 character boundary) followed by
// "… (N bytes)", N being s.size(). A 7 MB "layers" string or a 100,000-byte tensor name so costs a message
// about 100 bytes. No quotes are added; bytes are not validated or escaped (the CLI and GUI show invalid
// UTF-8 as U+FFFD). Pure; any thread.
inline constexpr size_t kQuotedBytes = 80;
std::string quoteBounded(std::string_view s);

}  // namespace qs
