// SPDX-License-Identifier: GPL-3.0-or-later
// HfTokenizer: a Hugging Face tokenizer.json with a BPE model, run as the `tokenizers` library runs it
// (tokenizers/src/tokenizer/mod.rs encode_single_sequence, added_vocabulary.rs):
//   1. the text is split on the added tokens that are not `normalized` (leftmost, then longest match;
//      `single_word`, `lstrip`, `rstrip` as AddedVocabulary::find_matches applies them);
//   2. each remaining piece is normalized, then split on the `normalized` added tokens (matched in their
//      normalized form);
//   3. each remaining piece is pre-tokenized into words, and each word goes through the BPE model (merge
//      ranks, byte fallback, fuse_unk, ignore_merges: BpeTokenizer);
//   4. with special tokens, the post-processor's single-sequence template wraps the ids.
// Added tokens may have ids past the model vocabulary; vocabSize() is the largest id + 1 over both.
// Decoding renders each token through the decoder (ByteLevel, Replace, ByteFallback, Metaspace) and the
// whole-sequence decode drops the leading space the decoder strips. Special added tokens decode to "".
//
// Special tokens and parseSpecial: non-special added tokens are always matched (as llama.cpp matches
// USER_DEFINED tokens); special ones only when parseSpecial is true (Hugging Face always matches them unless
// split_special_tokens is set; encodeWithSpecialTokens() does).
// Thread-safety: immutable after creation; encode/decode may be called from several threads.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/infer/bpe_tokenizer.h"
#include "core/infer/hf_components.h"
#include "core/infer/tokenizer.h"
#include "core/util/result.h"

namespace qs {

struct HfAddedToken {
    std::string content;
    int id = -1;
    bool special = false, lstrip = false, rstrip = false, singleWord = false, normalized = false;
};

struct HfTokenizerParts {
    std::string description;
    HfNormalizer normalizer;
    HfPreTokenizer preTokenizer;
    HfPostProcessor postProcessor;
    HfDecoder decoder;
    std::unique_ptr<BpeTokenizer> model;  // the BPE model over the model vocabulary only (ids as in the file)
    std::vector<HfAddedToken> added;
    int bos = -1, eos = -1;
};

class HfTokenizer final : public Tokenizer {
public:
    // Fails when an added token or a template id is outside [0, 2^24), naming `path`.
    static Result<std::unique_ptr<HfTokenizer>> create(const std::string& path, HfTokenizerParts parts);
    ~HfTokenizer() override;

    std::string describe() const override { return m_parts.description; }
    int vocabSize() const override { return m_vocabSize; }
    int bos() const override { return m_parts.bos; }
    int eos() const override { return m_parts.eos; }
    // Whether the post-processor puts anything before the text (BOS for Llama 3, Gemma; nothing for Qwen).
    bool addsBos() const override { return !m_parts.postProcessor.prefix.empty(); }
    // addBos puts the template's prefix (not its suffix: an EOS after a prompt would end it) before the ids.
    std::vector<int> encode(std::string_view text, bool addBos, bool parseSpecial = false) const override;
    std::vector<int> encodeWithSpecialTokens(std::string_view text, bool addSpecialTokens) const override;
    std::string piece(int id) const override;
    std::string rawPiece(int id) const override;
    TokenType type(int id) const override;
    bool addsDummyPrefix() const override { return m_parts.decoder.stripStart() > 0; }
    std::string decode(std::span<const int> ids) const override;

    int pieceId(std::string_view piece) const;  // an added token's content or a model piece; -1 when absent
    const std::vector<int>& templatePrefix() const { return m_parts.postProcessor.prefix; }
    const std::vector<int>& templateSuffix() const { return m_parts.postProcessor.suffix; }

private:
    // Added tokens matched on raw (not normalized) or normalized text.
    struct Matcher {
        std::unordered_map<std::string, int> byContent;   // content -> index into m_parts.added
        std::array<std::vector<size_t>, 256> lengths;     // by first byte: the distinct lengths, longest first
    };

    HfTokenizer() = default;
    // The segments of `s` around the added tokens that m matches, in order: emit(text, -1, atStart) for text
    // between them, emit({}, id, false) for a token.
    void split(const Matcher& m, std::string_view s, bool atStart, bool parseSpecial,
               const std::function<void(std::string_view text, int id, bool atStart)>& emit) const;
    void encodeText(std::string_view text, bool parseSpecial, std::vector<int>& out) const;

    HfTokenizerParts m_parts;
    Matcher m_raw, m_normalized;
    std::unordered_map<int, int> m_addedById;  // id -> index into m_parts.added
    int m_vocabSize = 0;
};

}  // namespace qs
