// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/bounded_text.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include "core/io/regular_file.h"

namespace qs::io {

int jsonNestingDepth(std::string_view text, int stopAt, size_t* topMembers) {
    int depth = 0, maxDepth = 0;
    size_t members = 0;
    bool inString = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (inString) {
            if (ch == '\\') ++i;
            else if (ch == '"') inString = false;
        } else if (ch == '"') {
            inString = true;
        } else if (ch == '[' || ch == '{') {
            maxDepth = std::max(maxDepth, ++depth);
            if (maxDepth > stopAt) break;
        } else if (ch == ']' || ch == '}') {
            --depth;
        } else if (ch == ':' && depth == 1) {
            ++members;
        }
    }
    if (topMembers) *topMembers = members;
    return maxDepth;
}

Result<nlohmann::json> parseBoundedJson(std::string_view text, const std::string& what) {
    if (jsonNestingDepth(text, kMaxJsonDepth) > kMaxJsonDepth)
        return Error{what + ": JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        // e.byte: 1-based position of the byte where parsing stopped (nlohmann::json's parse_error)
        return Error{what + ": not valid JSON (syntax error at byte " + std::to_string(e.byte) + ")"};
    }
}

Result<std::string> readBoundedFile(const std::string& path, uint64_t maxBytes, const std::string& what) {
    if (!isRegularFile(path)) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) return Error{path + ": no such file (" + what + ")"};
        return Error{path + ": not a regular file"};  // the words every probe uses
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot open"};
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) return Error{path + ": cannot read its size"};
    if (size > maxBytes)
        return Error{path + ": " + std::to_string(size) + " bytes, more than the " + std::to_string(maxBytes) +
                     "-byte limit of " + what};
    std::string text(size, '\0');
    in.read(text.data(), std::streamsize(size));
    if (uint64_t(in.gcount()) != size) return Error{path + ": cannot read (it changed while being read?)"};
    // A file that holds more than its size says (/proc and /sys files say 0: the kernel makes the text as it is
    // read) is read to its end, within the same limit.
    std::array<char, 65536> chunk;
    while (in.read(chunk.data(), std::streamsize(chunk.size())) || in.gcount() > 0) {
        if (text.size() + uint64_t(in.gcount()) > maxBytes)
            return Error{path + ": more than the " + std::to_string(maxBytes) + "-byte limit of " + what};
        text.append(chunk.data(), size_t(in.gcount()));
    }
    if (in.bad()) return Error{path + ": cannot read"};
    return text;
}

}  // namespace qs::io
