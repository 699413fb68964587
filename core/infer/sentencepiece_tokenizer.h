// SPDX-License-Identifier: GPL-3.0-or-later
// SentencePieceTokenizer: a SentencePiece tokenizer.model through Debian's libsentencepiece, so QuantScope's
// own BPE engine can be checked against the reference implementation.
#pragma once

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
    std::unique_ptr<sentencepiece::SentencePieceProcessor> m_sp;
    std::string m_path;
    bool m_dummyPrefix = true;
};

}  // namespace qs
