// SPDX-License-Identifier: GPL-3.0-or-later
// SentencePieceTokenizer: a SentencePiece tokenizer.model through Debian's libsentencepiece, so QuantScope's
// own BPE engine can be checked against the reference implementation.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "core/infer/tokenizer.h"
#include "core/util/result.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace qs {

class SentencePieceTokenizer final : public Tokenizer {
public:
    static Result<std::unique_ptr<SentencePieceTokenizer>> load(const std::string& path);
    ~SentencePieceTokenizer() override;

    std::string describe() const override;
    int vocabSize() const override;
    int bos() const override;
    int eos() const override;
    // A text over 128 KiB is encoded in parts of about 64 KiB, cut before a space or before a byte such as a
    // newline where the model's own encoding of the whole text has a token boundary (see planCuts); the ids are
    // those of the whole text, and libsentencepiece's working memory (about 95 bytes a text byte) stays that of
    // one part. Models whose encoding is not provably separable there (unigram, charsmaps with rules on spaces,
    // ...) and texts without such a place in 64 KiB get the longer part whole.
    std::vector<int> encode(std::string_view text, bool addBos, bool parseSpecial = false) const override;
    std::string piece(int id) const override;
    std::string rawPiece(int id) const override;
    TokenType type(int id) const override;
    float score(int id) const;  // the piece's score in the model proto (0 for out-of-range ids)
    bool addsDummyPrefix() const override { return m_dummyPrefix; }
    // libsentencepiece's normalizer replaces every byte that does not start a valid UTF-8 sequence with U+FFFD.
    std::string invalidUtf8Handling() const override;

private:
    SentencePieceTokenizer();
    void planCuts(const struct SentencePieceSpec& spec);
    struct Cut {
        size_t at = std::string_view::npos;  // byte offset of the cut; npos: none
        bool beforeSpace = false;            // before a space (m_cutAfter), else before a byte (m_cutBefore)
    };
    Cut findCut(std::string_view text, size_t from) const;
    std::unique_ptr<sentencepiece::SentencePieceProcessor> m_sp;
    std::string m_path;
    bool m_dummyPrefix = true;
    // Cuts (planCuts): m_cutAfter[b] when a text may be cut before a space that follows the ASCII byte b; no cut
    // when all are false. m_partDropsSpace: a later part is encoded without its leading space, which the dummy
    // prefix then stands for.
    std::array<bool, 128> m_cutAfter{};
    bool m_partDropsSpace = false;
    // m_cutBefore[c]: a text may be cut before the ASCII byte c (not a space), if m_cutBeforeAfter allows the byte
    // before it. m_dummyId: the id of the piece "▁" that the dummy prefix puts before such a part, dropped from
    // its ids (-1 without a dummy prefix).
    std::array<bool, 128> m_cutBefore{};
    std::array<bool, 256> m_cutBeforeAfter{};
    int m_dummyId = -1;
};

}  // namespace qs
