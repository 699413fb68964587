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

}  // namespace qs
