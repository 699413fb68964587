// SPDX-License-Identifier: GPL-3.0-or-later
// Text and JSON read from files a user names (--text, --calib, --map, a sweep CSV, config.json,
// tokenizer_config.json, ...), bounded so that no file can exhaust memory or the stack: a FIFO or a device
// (/dev/zero) is refused before it is opened, a regular file above the caller's limit is refused by its size, and
// JSON deeper than kMaxJsonDepth is refused before it is parsed (nlohmann's parser keeps its own stack, but dump()
// and every recursive walk of the tree recurse once per level: a 200 KB file of 100,000 '[' overflows the stack).
// Thread-safe; no state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/util/result.h"

namespace qs::io {

// Real configs, maps and tokenizer files nest at most ~6 levels.
inline constexpr int kMaxJsonDepth = 64;

// The deepest [ / { nesting in JSON text (outside strings), counting stopped once past `stopAt`; `topMembers`,
// when given, gets the number of members of the top-level object (its ':' at depth 1).
int jsonNestingDepth(std::string_view text, int stopAt, size_t* topMembers = nullptr);

// `text` parsed; errors "<what>: JSON nests deeper than 64 levels" and "<what>: not valid JSON (syntax error at
// byte N)", N counted from 1.
Result<nlohmann::json> parseBoundedJson(std::string_view text, const std::string& what);

// The whole of a regular file of at most `maxBytes` bytes, read to its end (a /proc or /sys file says its size is
// 0). Errors name the path: "no such file (<what>)", "not a regular file" (FIFO, device, socket, folder), "cannot
// open", "N bytes, more than the M-byte limit of <what>" (or "more than the M-byte limit" when the size said less).
Result<std::string> readBoundedFile(const std::string& path, uint64_t maxBytes, const std::string& what);

// Limits for readBoundedFile: an evaluation or calibration text (WikiText-103's training split is 0.5 GB) and a
// small JSON or CSV file written by a tool (map, config, sweep table).
inline constexpr uint64_t kMaxTextFileBytes = 4ull << 30;
inline constexpr uint64_t kMaxJsonFileBytes = 256ull << 20;

}  // namespace qs::io
