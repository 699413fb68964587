// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/sentencepiece_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <sentencepiece_processor.h>

#include "core/infer/sentencepiece_charsmap.h"
#include "core/io/bounded_text.h"
#include "core/io/utf8.h"

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
//
// Before a byte c (ASCII, not a space) at p, B' = B, and B's first id is dropped when the model adds a dummy prefix:
// 5. c is in no charsmap key, no piece longer than one byte holds c (libsentencepiece matches pieces only whole:
//    user-defined symbols in the normalizer, merges into vocabulary entries in BPE; control, unknown and byte
//    pieces are never matched in text), and c encoded alone gives no unknown token. Then c is normalized alone
//    and copied, UTF-8 decoding ends before p in both texts (c is never a continuation byte), c is a symbol no
//    merge touches, so each side's merges are those it has alone (3.), and no run of unknown pieces spans p
//    (4.). With add_dummy_prefix, N(B) = "▁" + c + ...; "▁" cannot merge with c, so B's first token is the
//    piece "▁", which the whole text does not have there, and the rest are T's.
// 6. With remove_extra_whitespaces, the byte b = T[p-1] is ASCII, not a space and in no charsmap key: N(A) ends
//    in b, so no trailing space is stripped from A, and at c both normalizations are in the same state (the
//    previous output not a space). Without it, nothing is stripped and that state is always "not a space".
// 7. All of the above takes the normalized text to be well-formed UTF-8: libsentencepiece's BPE splits it into
//    characters by their lead byte alone (bpe_model.cc: PrefixMatcher, OneCharLen), so a lone lead byte takes the
//    bytes after it, across p. The identity normalization gives well-formed UTF-8 (a malformed byte becomes
//    U+FFFD); a charsmap rule's output and a user-defined piece (copied from the raw text) might not: no cuts
//    when one is not (tryout 18: a rule mapping "é" to a lone 0xE2; a user-defined "x\xE2" matched in "x▁").
// treat_whitespace_as_suffix and escape_whitespaces = false change the framing above: no cuts.
void SentencePieceTokenizer::planCuts(const SentencePieceSpec& spec) {
    if (spec.modelType != 2 || spec.treatWhitespaceAsSuffix || !spec.escapeWhitespaces) return;
    if (!spec.charsMapOutputsUtf8) return;
    const std::string_view marker = "\xE2\x96\x81";
    std::array<bool, 256> beforeMarker{}, inLongPiece{};
    int markerId = -1;
    for (int id = 0; id < vocabSize(); ++id) {
        // A NaN score has no order: the merge queue's choices then depend on every part's candidates.
        if (std::isnan(m_sp->GetScore(id))) return;
        // Never matched in text (sentencepiece_model.proto; model_interface.cc keeps them out of the pieces).
        if (m_sp->IsControl(id) || m_sp->IsUnknown(id) || m_sp->IsByte(id)) continue;
        const std::string& p = m_sp->IdToPiece(id);
        if (io::firstInvalidUtf8(p)) return;
        if (p == marker && !m_sp->IsUnused(id)) markerId = id;
        for (size_t k = p.find(marker, 1); k != std::string::npos; k = p.find(marker, k + 1))
            beforeMarker[uint8_t(p[k - 1])] = true;
        if (p.size() > 1)
            for (char ch : p) inLongPiece[uint8_t(ch)] = true;
    }
    if (markerId < 0) return;
    const bool spaceCuts = (spec.addDummyPrefix || !spec.removeExtraWhitespaces) &&
                           !spec.charsMapKeyBytes[uint8_t(' ')] && !spec.userDefinedHoldsSpace;
    if (spaceCuts) {
        for (int b = 0x21; b < 0x7F; ++b) m_cutAfter[size_t(b)] = !beforeMarker[size_t(b)] && !spec.charsMapKeyBytes[size_t(b)];
        m_partDropsSpace = spec.addDummyPrefix;
    }
    std::vector<int> alone;
    for (int c = 1; c < 0x80; ++c) {
        if (c == ' ' || inLongPiece[size_t(c)] || spec.charsMapKeyBytes[size_t(c)]) continue;
        if (!m_sp->Encode(std::string(1, char(c)), &alone).ok() || alone.empty()) continue;
        const bool known = std::none_of(alone.begin(), alone.end(), [&](int id) { return m_sp->IsUnknown(id); });
        m_cutBefore[size_t(c)] = known && (!spec.addDummyPrefix || (alone.size() >= 2 && alone.front() == markerId));
    }
    for (int b = 0; b < 256; ++b)
        m_cutBeforeAfter[size_t(b)] = !spec.removeExtraWhitespaces || (b < 0x80 && b != ' ' && !spec.charsMapKeyBytes[size_t(b)]);
    m_dummyId = spec.addDummyPrefix ? markerId : -1;
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

// The first allowed cut at or after `from` (planCuts), none when there is none: a space with a byte after it, the
// byte before it one that m_cutAfter allows, or a byte that m_cutBefore allows after one m_cutBeforeAfter allows.
SentencePieceTokenizer::Cut SentencePieceTokenizer::findCut(std::string_view text, size_t from) const {
    for (size_t p = std::max<size_t>(from, 1); p < text.size(); ++p) {
        const auto c = uint8_t(text[p]), before = uint8_t(text[p - 1]);
        if (c >= 0x80) continue;
        if (c == ' ') {
            if (p + 1 < text.size() && before < 0x80 && m_cutAfter[before]) return {p, true};
        } else if (m_cutBefore[c] && m_cutBeforeAfter[before]) {
            return {p, false};
        }
    }
    return {};
}

std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool addBos, bool /*parseSpecial*/) const {
    constexpr size_t kPartBytes = size_t(64) << 10;
    std::vector<int> ids;
    if (addBos && bos() >= 0) ids.push_back(bos());
    const size_t first = ids.size();
    std::vector<int> part;
    Cut previous;  // the cut this part starts at
    for (size_t start = 0; start < text.size();) {
        const Cut cut = text.size() - start > 2 * kPartBytes ? findCut(text, start + kPartBytes) : Cut{};
        std::string_view piece = text.substr(start, cut.at == std::string_view::npos ? std::string_view::npos : cut.at - start);
        if (start > 0 && previous.beforeSpace && m_partDropsSpace) piece.remove_prefix(1);
        if (!m_sp->Encode(absl::string_view(piece.data(), piece.size()), &part).ok()) {
            ids.resize(first);  // as when the whole text fails (a control piece "\n" fails every text holding one)
            return ids;
        }
        auto from = part.begin();
        if (start > 0 && !previous.beforeSpace && m_dummyId >= 0) {
            // planCuts' item 5 proves this; were it ever not so, the text is encoded whole rather than wrongly.
            if (part.empty() || part.front() != m_dummyId) {
                ids.resize(first);
                if (m_sp->Encode(absl::string_view(text.data(), text.size()), &part).ok()) ids.insert(ids.end(), part.begin(), part.end());
                return ids;
            }
            ++from;
        }
        ids.insert(ids.end(), from, part.end());
        if (cut.at == std::string_view::npos) break;
        start = cut.at;
        previous = cut;
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
