// SPDX-License-Identifier: GPL-3.0-or-later
// Generated texts for the tokenizer tests that check where a long text may be cut.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace qstest {

// Lines of CJK ideographs (no space after an ASCII byte, so only cuts before other bytes apply) ended by what
// normalization and the cut rules treat differently: a space or a tab before the newline, CRLF, runs of newlines,
// an ideographic full stop or space. `bytes` long at least; the same for the same seed.
inline std::string cjkLines(size_t bytes, uint32_t seed) {
    const std::vector<std::string> ends = {"\n", "\n\n", " \n", "  \n", "\t\n", "\xE3\x80\x82\n" /* 。 */, "\r\n",
                                           " ", "\n ", "\n\t", "\xE3\x80\x80\n" /* U+3000 */};
    std::mt19937 rng(seed);
    std::string text;
    while (text.size() < bytes) {
        for (uint32_t n = 1 + rng() % 12; n > 0; --n) {
            const uint32_t cp = 0x4E00 + rng() % 600;  // the most common ideographs sit low in the block
            text += char(0xE0 | (cp >> 12));
            text += char(0x80 | ((cp >> 6) & 0x3F));
            text += char(0x80 | (cp & 0x3F));
        }
        text += ends[rng() % ends.size()];
    }
    return text;
}

}  // namespace qstest
