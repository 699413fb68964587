// SPDX-License-Identifier: GPL-3.0-or-later
// BpeTokenizer: the one byte-pair-encoding engine behind the llama2.c, GGUF and tokenizer.json vocabularies.
// Two merge rules exist in the wild and both are here:
//   - Scores (SentencePiece BPE, llama2.c's encode, llama.cpp's SPM tokenizer): repeatedly merge the adjacent
//     pair whose concatenation is a vocabulary piece with the highest score; the leftmost pair wins ties.
//   - Ranks (Hugging Face BPE, GPT-2, Llama 3): repeatedly merge the adjacent pair with the lowest rank in the
//     merges list; the leftmost pair wins ties.
// Both run in O(n log n) with a heap of candidate pairs over a linked list of symbols (SentencePiece's
// bpe_model.cc algorithm), which gives exactly the result of llama2.c's quadratic rescan: the heap orders by
// (priority, left position) and a merged symbol keeps its left position, so "leftmost best" is preserved.
//
// Space handling, which is where the vocabularies differ:
//   - Raw: llama2.c's tokenizer.bin stores pieces with a plain space; the text is used as is.
//   - MetaSpace: SentencePiece/GGUF "llama"/Llama-2 tokenizer.json: spaces become U+2581 ▁.
//   - ByteLevel: GPT-2/Llama 3: the text is split by a pre-tokenizer regex, and each byte is mapped to a
//     printable character (GPT-2's bytes_to_unicode) before merging.
#pragma once

#include <array>
#include <bitset>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/infer/tokenizer.h"
#include "core/util/result.h"

namespace qs {

class PreTokenizerRegex;

struct BpeSettings {
    enum class MergeRule { Scores, Ranks };
    enum class Spaces { Raw, MetaSpace, ByteLevel };

    std::string description;        // for describe()
    MergeRule mergeRule = MergeRule::Scores;
    Spaces spaces = Spaces::MetaSpace;
    bool dummyPrefix = true;        // prepend one space (▁) to the text (SentencePiece add_dummy_prefix)
    bool byteFallback = true;       // unknown characters become <0xNN> byte tokens
    bool llama2cByteIds = false;    // llama2.c: byte b is token b + 3, whatever the vocabulary says
    bool fuseUnknown = false;       // consecutive unknown characters give one unknown token (HF fuse_unk)
    bool ignoreMerges = false;      // ByteLevel (Llama 3): a word that is a piece is emitted without merging
    bool mergeOnlyNormal = false;   // Scores: only Normal/UserDefined pieces may result from a merge
    // Ranks: a merge whose two pieces or result are not in the vocabulary fails create() (HF tokenizers'
    // MergeTokenOutOfVocabulary); when false such merges are skipped with a warning (GGUF vocabularies).
    bool strictMerges = false;
    std::string preTokenizerPattern;  // ByteLevel: PCRE2 pattern splitting the text into words ("" = none)
    bool metaSpaceSplit = false;    // MetaSpace: split into words before each ▁ (HF Metaspace split=true)
    int bos = -1, eos = -1, unk = -1;
    bool addBos = true;             // whether the model expects BOS
};

class BpeTokenizer final : public Tokenizer {
public:
    // pieces/scores/types are parallel (scores may be empty for the Ranks rule). merges (Ranks rule) are
    // pairs of piece strings in priority order. Fails on inconsistent input (sizes, a merge naming a piece
    // that is not in the vocabulary when strictMerges, an invalid regex), naming `source`.
    static Result<std::unique_ptr<BpeTokenizer>> create(
        const std::string& source, BpeSettings settings, std::vector<std::string> pieces, std::vector<float> scores,
        std::vector<TokenType> types, const std::vector<std::pair<std::string, std::string>>& merges = {});
    ~BpeTokenizer() override;

    std::string describe() const override { return m_settings.description; }
    int vocabSize() const override { return int(m_pieces.size()); }
    int bos() const override { return m_settings.bos; }
    int eos() const override { return m_settings.eos; }
    bool addsBos() const override { return m_settings.addBos && m_settings.bos >= 0; }
    std::vector<int> encode(std::string_view text, bool addBos, bool parseSpecial = false) const override;
    std::string piece(int id) const override;
    std::string rawPiece(int id) const override;
    TokenType type(int id) const override;
    bool addsDummyPrefix() const override { return m_settings.dummyPrefix; }

    const BpeSettings& settings() const { return m_settings; }
    int pieceId(std::string_view piece) const;  // -1 when absent
    float score(int id) const;                  // the piece's score (Scores rule; 0 without scores or out of range)

private:
    BpeTokenizer() = default;
    // Steps of create(): the byte-token and byte-level tables, the merge ranks (Ranks rule), the special
    // tokens matched before pre-tokenization.
    void buildByteTables();
    Status indexMerges(const std::string& source, const std::vector<std::pair<std::string, std::string>>& merges);
    void indexSpecialTokens();
    void indexMarkerCuts();
    void indexCharCuts();
    void encodeSegment(std::string_view text, bool atStart, std::vector<int>& out) const;
    void encodeWord(std::string_view word, std::vector<int>& out) const;
    // Raw/MetaSpace: encodeWord over the whole text, computed part by part where a cut provably changes nothing
    // (the .cpp proves it), so a long text needs scratch memory for its longest part, not for all of it.
    void encodeSpaced(std::string_view text, std::vector<int>& out) const;
    bool mayCut(std::string_view text, size_t prevStart, size_t i, size_t len, bool longPart) const;
    void appendUnknown(std::string_view ch, std::vector<int>& out) const;

    BpeSettings m_settings;
    std::vector<std::string> m_pieces;
    std::vector<float> m_scores;
    std::vector<TokenType> m_types;
    std::unordered_map<std::string, int> m_ids;
    std::unordered_map<uint64_t, std::pair<int, int>> m_merges;  // (left << 32 | right) -> (rank, merged id)
    std::array<int, 256> m_byteTokens{};                        // -1 when the vocabulary lacks the byte token
    std::array<std::string, 256> m_byteChars;                    // ByteLevel: byte -> its printable character
    std::unordered_map<std::string, uint8_t> m_charBytes;        // ByteLevel: printable character -> byte
    std::vector<int> m_special;                                  // Control/UserDefined ids matched whole in text
    std::array<bool, 256> m_specialFirstByte{};                  // first bytes of m_special's pieces
    bool m_hasUserDefined = false;
    struct MarkerCut {
        int id;                            // the piece " " or ▁ before which a text may be cut
        std::array<bool, 256> bytesBefore; // the bytes some piece holds right before that marker
    };
    std::vector<MarkerCut> m_markerCuts;   // Raw/MetaSpace text only (encodeSpaced)
    std::array<bool, 128> m_charCuts{};    // ASCII characters no merge touches: a cut before one (encodeSpaced)
    std::bitset<65536> m_bytePairs;        // bit a << 8 | b: some piece holds byte a right before byte b
    std::unique_ptr<PreTokenizerRegex> m_regex;
};

// GPT-2's reversible byte -> printable-character table (as UTF-8 strings).
std::array<std::string, 256> byteLevelAlphabet();

}  // namespace qs
