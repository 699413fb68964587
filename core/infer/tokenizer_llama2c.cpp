// SPDX-License-Identifier: GPL-3.0-or-later
// llama2.c's tokenizer.bin (karpathy/llama2.c tokenizer.py export(); read by run.c build_tokenizer()).
#include <cstring>

#include "core/infer/bpe_tokenizer.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/bounded_text.h"

namespace qs {

namespace {
constexpr uint64_t kMaxTokenizerFile = 256ull << 20;
constexpr int32_t kMaxPieceBytes = 1 << 16;
}  // namespace

Result<std::unique_ptr<Tokenizer>> loadLlama2cTokenizer(const std::string& path) {
    auto read = io::readBoundedFile(path, kMaxTokenizerFile, "a llama2.c tokenizer.bin");
    if (!read) return Error{read.message()};
    const std::string& bytes = *read;
    const uint64_t size = bytes.size();

    auto readAt = [&](uint64_t off, void* dst, uint64_t n) {
        if (off > size || n > size - off) return false;
        std::memcpy(dst, bytes.data() + off, n);
        return true;
    };
    int32_t maxLen = 0;
    if (!readAt(0, &maxLen, 4)) return Error{path + ": shorter than the 4-byte max_token_length header"};
    if (maxLen <= 0 || maxLen > kMaxPieceBytes)
        return Error{path + ": max_token_length " + std::to_string(maxLen) + " is not a plausible llama2.c tokenizer.bin header"};

    std::vector<std::string> pieces;
    std::vector<float> scores;
    uint64_t off = 4;
    while (off < size) {
        float score = 0;
        int32_t len = 0;
        if (!readAt(off, &score, 4) || !readAt(off + 4, &len, 4))
            return Error{path + ": token " + std::to_string(pieces.size()) + " record truncated at offset " + std::to_string(off)};
        if (len < 0)
            return Error{path + ": token " + std::to_string(pieces.size()) + " at offset " + std::to_string(off) +
                         " has a negative length " + std::to_string(len)};
        if (len > kMaxPieceBytes || uint64_t(len) > size - off - 8)
            return Error{path + ": token " + std::to_string(pieces.size()) + " at offset " + std::to_string(off) +
                         " claims " + std::to_string(len) + " bytes, past the end of the file"};
        pieces.emplace_back(bytes.data() + off + 8, size_t(len));
        scores.push_back(score);
        off += 8 + uint64_t(len);
    }
    if (pieces.size() < 3) return Error{path + ": only " + std::to_string(pieces.size()) + " tokens; llama2.c needs <unk>, BOS and EOS"};

    std::vector<TokenType> types(pieces.size(), TokenType::Normal);
    types[0] = TokenType::Unknown;
    types[1] = TokenType::Control;
    types[2] = TokenType::Control;
    for (size_t i = 3; i < pieces.size(); ++i) {
        const std::string& p = pieces[i];
        if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>') types[i] = TokenType::Byte;
    }
    BpeSettings s;
    s.description = "llama2.c tokenizer.bin (" + std::to_string(pieces.size()) + " tokens)";
    s.mergeRule = BpeSettings::MergeRule::Scores;
    s.spaces = BpeSettings::Spaces::Raw;
    s.dummyPrefix = true;
    s.byteFallback = true;
    s.llama2cByteIds = true;
    s.bos = 1;
    s.eos = 2;
    s.unk = 0;
    auto t = BpeTokenizer::create(path, std::move(s), std::move(pieces), std::move(scores), std::move(types));
    if (!t) return t.error();
    return std::unique_ptr<Tokenizer>(std::move(t.value()));
}

}  // namespace qs
