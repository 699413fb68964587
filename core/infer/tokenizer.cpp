// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/tokenizer.h"

namespace qs {

std::string Tokenizer::decode(std::span<const int> ids) const {
    std::string out;
    for (int id : ids) out += piece(id);
    // encode() put one space in front of the text (the dummy prefix); the inverse takes it off again.
    if (addsDummyPrefix() && !out.empty() && out.front() == ' ') out.erase(0, 1);
    return out;
}

std::string Tokenizer::invalidUtf8Handling() const { return "the tokenizer is given its bytes as they are"; }

std::string invalidUtf8Warning(const std::string& source, size_t byte, const Tokenizer& tok) {
    return source + " is not valid UTF-8 (byte " + std::to_string(byte) + "); " + tok.invalidUtf8Handling();
}

}  // namespace qs
