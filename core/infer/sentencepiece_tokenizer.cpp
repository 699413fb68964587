// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/sentencepiece_tokenizer.h"

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
    return t;
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

std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool addBos, bool /*parseSpecial*/) const {
    std::vector<int> ids;
    if (addBos && bos() >= 0) ids.push_back(bos());
    if (text.empty()) return ids;
    std::vector<int> body;
    if (!m_sp->Encode(absl::string_view(text.data(), text.size()), &body).ok()) return ids;
    ids.insert(ids.end(), body.begin(), body.end());
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
