// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/hf_tokenizer.h"

#include <algorithm>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "core/util/input_limit_error.h"

namespace qs {

namespace {

UChar32 firstCodePoint(std::string_view s, size_t& len) {
    UChar32 c = 0;
    int32_t i = 0;
    U8_NEXT(reinterpret_cast<const uint8_t*>(s.data()), i, int32_t(s.size()), c);
    len = size_t(i);
    return c;
}

UChar32 lastCodePoint(std::string_view s, size_t& len) {
    UChar32 c = 0;
    int32_t i = int32_t(s.size());
    U8_PREV(reinterpret_cast<const uint8_t*>(s.data()), 0, i, c);
    len = s.size() - size_t(i);
    return c;
}

// Rust's char::is_alphanumeric (Alphabetic or a Number category) or '_': tokenizers' "word" characters.
bool wordChar(UChar32 c) {
    return c == '_' || (c >= 0 && (u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || (U_GET_GC_MASK(c) & U_GC_N_MASK)));
}

bool whitespace(UChar32 c) { return c >= 0 && u_isUWhiteSpace(c); }

}  // namespace

HfTokenizer::~HfTokenizer() = default;

Result<std::unique_ptr<HfTokenizer>> HfTokenizer::create(const std::string& path, HfTokenizerParts parts) {
    std::unique_ptr<HfTokenizer> t(new HfTokenizer);
    t->m_vocabSize = parts.model->vocabSize();
    for (size_t i = 0; i < parts.added.size(); ++i) {
        const HfAddedToken& a = parts.added[i];
        if (a.id < 0 || a.id >= (1 << 24)) return Error{path + ": added token id " + std::to_string(a.id) + " is out of range"};
        if (a.content.empty()) return Error{path + ": added token " + std::to_string(a.id) + " has empty content"};
        t->m_vocabSize = std::max(t->m_vocabSize, a.id + 1);
        t->m_addedById[a.id] = int(i);
        // A normalized added token is matched in its normalized form (AddedVocabulary::refresh_added_tokens).
        Matcher& m = a.normalized ? t->m_normalized : t->m_raw;
        std::string key = a.content;
        if (a.normalized) {
            try {
                key = parts.normalizer.apply(a.content);
            } catch (const InputLimitError& e) {
                return Error{std::string(e.what()) + " (added token " + std::to_string(a.id) + ")"};
            }
        }
        if (key.empty()) continue;
        m.byContent[key] = int(i);  // a later entry with the same content wins, as in the library's map
        auto& lens = m.lengths[static_cast<unsigned char>(key[0])];
        if (std::find(lens.begin(), lens.end(), key.size()) == lens.end()) lens.push_back(key.size());
    }
    for (Matcher* m : {&t->m_raw, &t->m_normalized})
        for (auto& lens : m->lengths) std::sort(lens.begin(), lens.end(), std::greater<>());
    for (int id : parts.postProcessor.prefix)
        if (id >= t->m_vocabSize) return Error{path + ": post_processor id " + std::to_string(id) + " is past the vocabulary"};
    for (int id : parts.postProcessor.suffix)
        if (id >= t->m_vocabSize) return Error{path + ": post_processor id " + std::to_string(id) + " is past the vocabulary"};
    for (int id : {parts.bos, parts.eos})
        if (id >= t->m_vocabSize) return Error{path + ": special token id " + std::to_string(id) + " is past the vocabulary"};
    t->m_parts = std::move(parts);
    return t;
}

// AddedVocabulary::find_matches: leftmost-longest, non-overlapping matches; single_word matches that touch a
// word character are skipped; lstrip/rstrip take the whitespace beside the token into it.
void HfTokenizer::split(const Matcher& m, std::string_view s, bool atStart, bool parseSpecial,
                        const std::function<void(std::string_view text, int id, bool atStart)>& emit) const {
    size_t pos = 0, startOffset = 0;
    while (pos < s.size()) {
        int found = -1;
        size_t len = 0;
        for (size_t l : m.lengths[static_cast<unsigned char>(s[pos])]) {
            if (l > s.size() - pos) continue;
            auto it = m.byContent.find(std::string(s.substr(pos, l)));
            if (it != m.byContent.end()) {
                found = it->second;
                len = l;
                break;
            }
        }
        if (found < 0) {
            ++pos;
            continue;
        }
        size_t start = pos, stop = pos + len;
        pos = stop;
        const HfAddedToken& a = m_parts.added[size_t(found)];
        if (a.special && !parseSpecial) continue;
        size_t cl = 0;
        if (a.singleWord) {
            const bool startSpace = start == 0 || !wordChar(lastCodePoint(s.substr(0, start), cl));
            const bool stopSpace = stop == s.size() || !wordChar(firstCodePoint(s.substr(stop), cl));
            if (!startSpace || !stopSpace) continue;
        }
        if (a.lstrip) {
            size_t b = start;
            while (b > 0 && whitespace(lastCodePoint(s.substr(0, b), cl))) b -= cl;
            start = std::max(b, startOffset);
        }
        if (a.rstrip) {
            while (stop < s.size() && whitespace(firstCodePoint(s.substr(stop), cl))) stop += cl;
            pos = stop;
        }
        if (start > startOffset) emit(s.substr(startOffset, start - startOffset), -1, atStart && startOffset == 0);
        emit({}, a.id, false);
        startOffset = stop;
    }
    if (startOffset < s.size()) emit(s.substr(startOffset), -1, atStart && startOffset == 0);
}

// Segment by segment as the added tokens split the text, then as they split its normalized form: a corpus is held
// once as text, with one segment normalized at a time (a text whose every word ends in an added "\n", as
// Gemma's, is ~a million segments).
void HfTokenizer::encodeText(std::string_view text, bool parseSpecial, std::vector<int>& out) const {
    split(m_raw, text, true, parseSpecial, [&](std::string_view raw, int rawId, bool rawAtStart) {
        if (rawId >= 0) {
            out.push_back(rawId);
            return;
        }
        std::string normalized = m_parts.normalizer.apply(raw);
        split(m_normalized, normalized, rawAtStart, parseSpecial, [&](std::string_view seg, int id, bool atStart) {
            if (id >= 0) {
                out.push_back(id);
                return;
            }
            // A segment that is all of `normalized` is split's only and last emit: the string is moved, not copied
            // (nothing reads the view after it).
            std::string text = seg.size() == normalized.size() ? std::move(normalized) : std::string(seg);
            m_parts.preTokenizer.apply({std::move(text), atStart}, [&](HfSplit&& w) {
                const auto ids = m_parts.model->encode(w.text, false, false);
                out.insert(out.end(), ids.begin(), ids.end());
            });
        });
    });
}

std::vector<int> HfTokenizer::encode(std::string_view text, bool addBos, bool parseSpecial) const {
    std::vector<int> out;
    if (addBos) out = m_parts.postProcessor.prefix;
    encodeText(text, parseSpecial, out);
    return out;
}

std::vector<int> HfTokenizer::encodeWithSpecialTokens(std::string_view text, bool addSpecialTokens) const {
    std::vector<int> out;
    if (addSpecialTokens) out = m_parts.postProcessor.prefix;
    encodeText(text, true, out);
    if (addSpecialTokens) out.insert(out.end(), m_parts.postProcessor.suffix.begin(), m_parts.postProcessor.suffix.end());
    return out;
}

std::string HfTokenizer::rawPiece(int id) const {
    auto it = m_addedById.find(id);
    if (it != m_addedById.end()) return m_parts.added[size_t(it->second)].content;
    return m_parts.model->rawPiece(id);
}

TokenType HfTokenizer::type(int id) const {
    auto it = m_addedById.find(id);
    if (it != m_addedById.end()) return m_parts.added[size_t(it->second)].special ? TokenType::Control : TokenType::UserDefined;
    if (id < 0 || id >= m_parts.model->vocabSize()) return TokenType::Unused;
    return m_parts.model->type(id);
}

std::string HfTokenizer::piece(int id) const {
    auto it = m_addedById.find(id);
    if (it != m_addedById.end()) {
        const HfAddedToken& a = m_parts.added[size_t(it->second)];
        if (a.special) return {};
        return m_parts.decoder.present() ? m_parts.decoder.piece(a.content) : a.content;
    }
    if (id < 0 || id >= m_parts.model->vocabSize()) return {};
    const std::string p = m_parts.model->rawPiece(id);
    return m_parts.decoder.present() ? m_parts.decoder.piece(p) : p;
}

std::string HfTokenizer::decode(std::span<const int> ids) const {
    std::string out;
    for (int id : ids) out += piece(id);
    size_t n = 0;
    while (n < size_t(m_parts.decoder.stripStart()) && n < out.size() && out[n] == ' ') ++n;
    out.erase(0, n);
    return out;
}

int HfTokenizer::pieceId(std::string_view piece) const {
    for (const auto& a : m_parts.added)
        if (a.content == piece) return a.id;
    return m_parts.model->pieceId(piece);
}

}  // namespace qs
