// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/sentencepiece_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <sentencepiece_processor.h>

#include "core/infer/sentencepiece_charsmap.h"
#include "core/io/bounded_text.h"

namespace qs {

SentencePieceTokenizer::SentencePieceTokenizer() : m_sp(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

Result<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::load(const std::string& path) {
    std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer);
    auto bytes = io::readBoundedFile(path, io::kMaxJsonFileBytes, "a SentencePiece tokenizer.model");
    if (!bytes) return Error{bytes.message()};
    const auto status = t->m_sp->LoadFromSerializedProto(absl::string_view(bytes->data(), bytes->size()));
    if (!status.ok()) {
        if (std::string where = sentencePieceFramingBreak(*bytes); !where.empty())
            return Error{path + ": the SentencePiece tokenizer.model is truncated or damaged (" + std::to_string(bytes->size()) +
                         " bytes): " + where};
        return Error{path + ": not a SentencePiece model: " + status.ToString()};
    }
    // The charsmaps are checked in the ModelProto the library parsed (re-serialized: each spec once, its fields in
    // order), not in the file: protobuf merges repeated specs and skips unknown groups, so a walk of the file can
    // find another blob than the one the library follows. Loading only stores the trie (normalizer.cc, Init); the
    // first trie walk is the Encode below.
    if (Status s = checkSentencePieceCharsMaps(t->m_sp->serialized_model_proto(), path); !s) return Error{s.message()};
    if (t->m_sp->GetPieceSize() <= 0) return Error{path + ": SentencePiece model without pieces"};
    t->m_path = path;
    // The processor does not expose normalizer_spec.add_dummy_prefix without the protobuf headers; a one-letter
    // text shows it: with the prefix its first piece starts with ▁ (or with the byte fallback of ▁).
    std::vector<std::string> pieces;
    if (t->m_sp->Encode("a", &pieces).ok() && !pieces.empty())
        t->m_dummyPrefix = pieces.front().rfind("\xE2\x96\x81", 0) == 0 || pieces.front() == "<0xE2>";
    if (auto spec = readSentencePieceSpec(t->m_sp->serialized_model_proto())) t->planCuts(*spec);
    return t;
}

// Where a text T may be cut, before a space at p, into A = T[0, p) and B = T[p, end), with
// encode(T) = encode(A) ++ encode(B') where B' is B, or B without its space when the model adds a dummy prefix.
//
// libsentencepiece (normalizer.cc, Normalize) maps T to N(T) and the model segments N(T). Conditions and why:
// 1. The byte b = T[p-1] is printable ASCII and in no charsmap key, and no key holds a space: b and the space
//    are each copied alone (b as is, the space as U+2581 "▁"), so N(T) = N(A) + "▁" + rest, and no rule spans p.
// 2. With add_dummy_prefix, N(B without its space) = "▁" + rest: the dummy "▁" stands for the space. With
//    remove_extra_whitespaces too, both normalizations are then in the same state (last output a space, later
//    spaces dropped: the heading-space loop drops what the in-text loop would); N(A) ends in b, so no trailing
//    space is stripped from A that T keeps. Without a dummy prefix and without remove_extra_whitespaces, N(B) is
//    "▁" + rest already. (No dummy prefix with remove_extra_whitespaces would strip B's space: no cuts.)
// 3. BPE only (bpe_model.cc), with scores that are numbers (a NaN has no order): a merge joins two adjacent
//    symbols into a piece of the vocabulary. No piece holds b right before "▁" (scanned below), so no merge
//    ever joins a symbol ending at p with one starting there; the
//    merges on each side depend only on that side's pairs, and the queue (best score, then leftmost) applies
//    each side's merges in the order it would alone. Unigram's Viterbi compares sums of float scores, which a
//    prefix's sum can round differently: its texts are encoded whole.
// 4. "▁" is itself a piece, so B's first token is never unknown and never merges with an unknown token ending A
//    (SentencePieceProcessor merges runs of unknown pieces); user-defined symbols (matched on the raw text before
//    normalization) hold no space or "▁", so none spans p either.
// treat_whitespace_as_suffix and escape_whitespaces = false change the framing above: no cuts.
void SentencePieceTokenizer::planCuts(const SentencePieceSpec& spec) {
    if (spec.modelType != 2 || spec.treatWhitespaceAsSuffix || !spec.escapeWhitespaces) return;
    if (!spec.addDummyPrefix && spec.removeExtraWhitespaces) return;
    if (spec.charsMapKeyBytes[uint8_t(' ')] || spec.userDefinedHoldsSpace) return;
    const std::string_view marker = "\xE2\x96\x81";
    std::array<bool, 256> beforeMarker{};
    bool markerIsPiece = false;
    for (int id = 0; id < vocabSize(); ++id) {
        // A NaN score has no order: the merge queue's choices then depend on every part's candidates.
        if (std::isnan(m_sp->GetScore(id))) return;
        if (m_sp->IsControl(id)) continue;  // never matched in text (sentencepiece_model.proto)
        const std::string& p = m_sp->IdToPiece(id);
        if (p == marker && !m_sp->IsUnused(id) && !m_sp->IsUnknown(id) && !m_sp->IsByte(id)) markerIsPiece = true;
        for (size_t k = p.find(marker, 1); k != std::string::npos; k = p.find(marker, k + 1))
            beforeMarker[uint8_t(p[k - 1])] = true;
    }
    if (!markerIsPiece) return;
    for (int b = 0x21; b < 0x7F; ++b) m_cutAfter[size_t(b)] = !beforeMarker[size_t(b)] && !spec.charsMapKeyBytes[size_t(b)];
    m_partDropsSpace = spec.addDummyPrefix;
}

std::string SentencePieceTokenizer::describe() const {
    return "SentencePiece tokenizer.model (" + std::to_string(vocabSize()) + " pieces)";
}

std::string SentencePieceTokenizer::invalidUtf8Handling() const {
    return "libsentencepiece replaces each byte that is not UTF-8 with U+FFFD before tokenizing, so the "
           "tokenizer does not see those bytes";
}

int SentencePieceTokenizer::vocabSize() const { return m_sp->GetPieceSize(); }
int SentencePieceTokenizer::bos() const { return m_sp->bos_id(); }
int SentencePieceTokenizer::eos() const { return m_sp->eos_id(); }

// The first allowed cut at or after `from` (planCuts), npos when there is none: a space with a byte after it, the
// byte before it one that m_cutAfter allows.
size_t SentencePieceTokenizer::findCut(std::string_view text, size_t from) const {
    for (size_t p = std::max<size_t>(from, 1); p + 1 < text.size(); ++p) {
        const auto before = uint8_t(text[p - 1]);
        if (text[p] == ' ' && before < 0x80 && m_cutAfter[before]) return p;
    }
    return std::string_view::npos;
}

std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool addBos, bool /*parseSpecial*/) const {
    constexpr size_t kPartBytes = size_t(64) << 10;
    std::vector<int> ids;
    if (addBos && bos() >= 0) ids.push_back(bos());
    std::vector<int> part;
    for (size_t start = 0; start < text.size();) {
        const size_t cut = text.size() - start > 2 * kPartBytes ? findCut(text, start + kPartBytes) : std::string_view::npos;
        std::string_view piece = text.substr(start, cut == std::string_view::npos ? std::string_view::npos : cut - start);
        if (start > 0 && m_partDropsSpace) piece.remove_prefix(1);
        if (!m_sp->Encode(absl::string_view(piece.data(), piece.size()), &part).ok()) return ids;
        ids.insert(ids.end(), part.begin(), part.end());
        if (cut == std::string_view::npos) break;
        start = cut;
    }
    return ids;
}

std::string SentencePieceTokenizer::rawPiece(int id) const {
    return id >= 0 && id < vocabSize() ? m_sp->IdToPiece(id) : std::string();
}

float SentencePieceTokenizer::score(int id) const {
    return id >= 0 && id < vocabSize() ? m_sp->GetScore(id) : 0.0f;
}

TokenType SentencePieceTokenizer::type(int id) const {
    if (id < 0 || id >= vocabSize()) return TokenType::Unknown;
    if (m_sp->IsUnknown(id)) return TokenType::Unknown;
    if (m_sp->IsControl(id)) return TokenType::Control;
    if (m_sp->IsByte(id)) return TokenType::Byte;
    if (m_sp->IsUnused(id)) return TokenType::Unused;
    return TokenType::Normal;
}

std::string SentencePieceTokenizer::piece(int id) const {
    if (id < 0 || id >= vocabSize() || m_sp->IsControl(id)) return {};
    const std::string& p = m_sp->IdToPiece(id);
    if (m_sp->IsByte(id)) {
        unsigned v = 0;
        if (p.size() == 6 && std::sscanf(p.c_str() + 3, "%2x", &v) == 1) return std::string(1, char(v));
    }
    if (m_sp->IsUnknown(id)) return " \xE2\x81\x87 ";  // what SentencePiece's decoder prints for <unk>
    std::string out;
    for (size_t i = 0; i < p.size();) {
        if (p.compare(i, 3, "\xE2\x96\x81") == 0) {
            out += ' ';
            i += 3;
        } else {
            out += p[i++];
        }
    }
    return out;
}

}  // namespace qs
