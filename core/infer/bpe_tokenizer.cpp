// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/bpe_tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "core/infer/pretokenizer_regex.h"
#include "core/io/utf8.h"

namespace qs {

namespace {

constexpr std::string_view kMetaSpace = "\xE2\x96\x81";  // U+2581 ▁

// Length of the UTF-8 character starting at text[i], grouped as llama2.c's encode does: a lead byte plus the
// continuation bytes that follow it, at most 4. A stray continuation byte is a character of its own.
size_t charLength(std::string_view text, size_t i) {
    size_t n = 1;
    while (i + n < text.size() && n < 4 && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
    return n;
}

std::string replaceAll(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        if (s.compare(i, from.size(), from) == 0) {
            out += to;
            i += from.size();
        } else {
            out += s[i++];
        }
    }
    return out;
}

uint64_t pairKey(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

}  // namespace

std::array<std::string, 256> byteLevelAlphabet() {
    // GPT-2 encoder.py bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
    // U+0100 onwards in byte order, so every byte has a visible, non-space character.
    std::array<std::string, 256> table;
    auto utf8 = [](unsigned cp) {
        std::string s;
        io::appendCodePoint(s, cp);
        return s;
    };
    unsigned next = 256;
    for (unsigned b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        table[b] = utf8(printable ? b : next++);
    }
    return table;
}

BpeTokenizer::~BpeTokenizer() = default;

void BpeTokenizer::buildByteTables() {
    const int n = int(m_pieces.size());
    for (int b = 0; b < 256; ++b) {
        if (m_settings.llama2cByteIds) {
            m_byteTokens[b] = b + 3 < n ? b + 3 : -1;
        } else {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            m_byteTokens[b] = pieceId(name);
        }
    }
    if (m_settings.spaces == BpeSettings::Spaces::ByteLevel) {
        m_byteChars = byteLevelAlphabet();
        for (int b = 0; b < 256; ++b) m_charBytes.emplace(m_byteChars[b], uint8_t(b));
    }
}

Status BpeTokenizer::indexMerges(const std::string& source,
                                 const std::vector<std::pair<std::string, std::string>>& merges) {
    m_merges.reserve(merges.size() * 2);
    int rank = 0;
    size_t skipped = 0;
    std::string firstSkipped;
    for (const auto& [a, b] : merges) {
        const int ia = pieceId(a), ib = pieceId(b), im = pieceId(a + b);
        if (ia >= 0 && ib >= 0 && im >= 0) {
            m_merges.emplace(pairKey(ia, ib), std::make_pair(rank, im));
        } else {
            const std::string missing = ia < 0 ? a : ib < 0 ? b : a + b;
            if (m_settings.strictMerges)
                return Error{source + ": merge '" + a + " " + b + "' (rank " + std::to_string(rank) + ") names '" +
                             missing + "', which is not in the vocabulary"};
            if (skipped++ == 0) firstSkipped = "'" + a + " " + b + "' (no '" + missing + "')";
        }
        ++rank;
    }
    if (skipped > 0)
        addWarning(source + ": " + std::to_string(skipped) + " merge(s) name pieces that are not in the vocabulary "
                   "and are skipped, the first " + firstSkipped);
    return {};
}

void BpeTokenizer::indexMarkerCuts() {
    // ignore_merges looks a whole word up before merging, which a cut would change; byte-level text is split by
    // its pre-tokenizer instead. Raw text is llama2.c's (plain spaces) or a tokenizer.json's normalized text (▁).
    if (m_settings.spaces == BpeSettings::Spaces::ByteLevel || m_settings.ignoreMerges) return;
    for (const std::string_view marker : {std::string_view(" "), kMetaSpace}) {
        const int id = pieceId(marker);
        if (id < 0 || m_pieces[size_t(id)] != marker) continue;
        MarkerCut cut{id, {}};
        for (const std::string& p : m_pieces)
            for (size_t k = p.find(marker, 1); k != std::string::npos; k = p.find(marker, k + 1))
                cut.bytesBefore[static_cast<unsigned char>(p[k - 1])] = true;
        m_markerCuts.push_back(cut);
    }
}

// An ASCII character c whose symbols (its piece, or its byte tokens) no merge can join to anything: a merge's
// result is the concatenation of its two pieces (the Scores rule looks it up; the Ranks rule's merges produce
// exactly pieceId(a + b)), so it is a longer piece holding the symbol's piece, and none exists. A symbol whose
// piece is empty (a hostile vocabulary's byte token or <unk>) "merges" with its neighbour into the neighbour's own
// string, so with any such symbol there are no cuts before characters; unknown tokens may fuse across c: no cut
// before a c that is unknown. Needs m_byteTokens (buildByteTables).
void BpeTokenizer::indexCharCuts() {
    if (m_settings.spaces == BpeSettings::Spaces::ByteLevel || m_settings.ignoreMerges) return;
    std::array<bool, 256> inLongerPiece{};  // bytes some piece of two or more bytes holds
    for (const std::string& p : m_pieces) {
        if (p.size() > 1)
            for (char ch : p) inLongerPiece[static_cast<unsigned char>(ch)] = true;
        for (size_t k = 1; k < p.size(); ++k)
            m_bytePairs.set(size_t(static_cast<unsigned char>(p[k - 1])) << 8 | static_cast<unsigned char>(p[k]));
    }
    // A symbol with an empty piece joins any neighbour N into pieceId(N's piece): c's own symbols too. Such symbols
    // come only from byte fallback and <unk> (pieceId never finds an empty piece).
    for (int b = 0; b < 256; ++b)
        if (m_byteTokens[size_t(b)] >= 0 && m_pieces[size_t(m_byteTokens[size_t(b)])].empty()) return;
    if (m_settings.unk >= 0 && m_pieces[size_t(m_settings.unk)].empty()) return;
    std::vector<int> symbols;
    for (int c = 1; c < 0x80; ++c) {
        const std::string ch(1, char(c));
        symbols.clear();
        if (const int id = pieceId(ch); id >= 0) symbols.push_back(id);
        else appendUnknown(ch, symbols);
        bool free = !symbols.empty();
        for (int id : symbols) {
            const std::string& piece = m_pieces[size_t(id)];
            free = free && id != m_settings.unk && !piece.empty();
            if (!free) break;
            if (piece.size() == 1) {
                free = !inLongerPiece[static_cast<unsigned char>(piece[0])];
            } else {
                for (const std::string& p : m_pieces)
                    if (p.size() > piece.size() && p.find(piece) != std::string::npos) free = false;
            }
        }
        m_charCuts[size_t(c)] = free;
    }
}

void BpeTokenizer::indexSpecialTokens() {
    for (size_t i = 0; i < m_pieces.size(); ++i)
        if ((m_types[i] == TokenType::Control || m_types[i] == TokenType::UserDefined) && !m_pieces[i].empty())
            m_special.push_back(int(i));
    for (int id : m_special) {
        m_specialFirstByte[static_cast<unsigned char>(m_pieces[id][0])] = true;
        m_hasUserDefined = m_hasUserDefined || m_types[id] == TokenType::UserDefined;
    }
    // Longest first, so "<|end|>" does not shadow "<|end_of_text|>".
    std::stable_sort(m_special.begin(), m_special.end(),
                     [&](int a, int b) { return m_pieces[a].size() > m_pieces[b].size(); });
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(const std::string& source, BpeSettings settings,
                                                           std::vector<std::string> pieces,
                                                           std::vector<float> scores, std::vector<TokenType> types,
                                                           const std::vector<std::pair<std::string, std::string>>& merges) {
    const size_t n = pieces.size();
    if (n == 0) return Error{source + ": empty vocabulary"};
    if (n > (1u << 24)) return Error{source + ": vocabulary of " + std::to_string(n) + " pieces is implausibly large"};
    if (!scores.empty() && scores.size() != n)
        return Error{source + ": " + std::to_string(scores.size()) + " scores for " + std::to_string(n) + " pieces"};
    if (!types.empty() && types.size() != n)
        return Error{source + ": " + std::to_string(types.size()) + " token types for " + std::to_string(n) + " pieces"};
    if (settings.mergeRule == BpeSettings::MergeRule::Scores && scores.empty())
        return Error{source + ": score-driven BPE needs a score per piece"};
    for (int id : {settings.bos, settings.eos, settings.unk})
        if (id >= int(n)) return Error{source + ": special token id " + std::to_string(id) + " is past the vocabulary"};

    std::unique_ptr<BpeTokenizer> t(new BpeTokenizer);
    t->m_settings = std::move(settings);
    t->m_pieces = std::move(pieces);
    t->m_scores = std::move(scores);
    t->m_types = std::move(types);
    if (t->m_types.empty()) t->m_types.assign(n, TokenType::Normal);
    t->m_ids.reserve(n * 2);
    // The last occurrence of a duplicated piece wins, as in llama.cpp's token_to_id; an empty piece can never
    // come from text and is not indexed (the GGUF loader warns about both).
    for (size_t i = 0; i < n; ++i)
        if (!t->m_pieces[i].empty()) t->m_ids[t->m_pieces[i]] = int(i);

    t->buildByteTables();
    t->indexMarkerCuts();
    t->indexCharCuts();
    if (t->m_settings.mergeRule == BpeSettings::MergeRule::Ranks)
        if (auto st = t->indexMerges(source, merges); !st) return st.error();
    t->indexSpecialTokens();

    if (!t->m_settings.preTokenizerPattern.empty()) {
        auto re = PreTokenizerRegex::create(t->m_settings.preTokenizerPattern);
        if (!re) return Error{source + ": " + re.message()};
        t->m_regex = std::move(re.value());
    }
    return t;
}

int BpeTokenizer::pieceId(std::string_view piece) const {
    auto it = m_ids.find(std::string(piece));
    return it == m_ids.end() ? -1 : it->second;
}

float BpeTokenizer::score(int id) const {
    return id >= 0 && size_t(id) < m_scores.size() ? m_scores[size_t(id)] : 0.0f;
}

std::string BpeTokenizer::rawPiece(int id) const {
    return id >= 0 && id < int(m_pieces.size()) ? m_pieces[id] : std::string();
}

TokenType BpeTokenizer::type(int id) const {
    return id >= 0 && id < int(m_types.size()) ? m_types[id] : TokenType::Unknown;
}

std::string BpeTokenizer::piece(int id) const {
    if (id < 0 || id >= int(m_pieces.size())) return {};
    const TokenType ty = m_types[id];
    if (ty == TokenType::Control) return {};
    const std::string& p = m_pieces[id];
    // <0xNN> byte tokens: by type, or by their exact spelling when the vocabulary has no types (llama2.c).
    if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' &&
        (ty == TokenType::Byte || m_settings.byteFallback)) {
        unsigned v = 0;
        if (std::sscanf(p.c_str() + 3, "%2x", &v) == 1) return std::string(1, char(v));
    }
    switch (m_settings.spaces) {
        case BpeSettings::Spaces::Raw: return p;
        case BpeSettings::Spaces::MetaSpace: return replaceAll(p, kMetaSpace, " ");
        case BpeSettings::Spaces::ByteLevel: {
            if (ty == TokenType::UserDefined) return p;  // added tokens are stored as plain text
            std::string out;
            for (size_t i = 0; i < p.size();) {
                const size_t len = charLength(p, i);
                auto it = m_charBytes.find(p.substr(i, len));
                if (it != m_charBytes.end()) out += char(it->second);
                else out.append(p, i, len);
                i += len;
            }
            return out;
        }
    }
    return p;
}

std::vector<int> BpeTokenizer::encode(std::string_view text, bool addBos, bool parseSpecial) const {
    std::vector<int> out;
    if (addBos && m_settings.bos >= 0) out.push_back(m_settings.bos);
    if (text.empty()) return out;
    // User-defined pieces are always matched whole (llama.cpp tokenizer_st_partition; SentencePiece's
    // user_defined_symbols); control pieces only when parseSpecial.
    if (m_special.empty() || (!parseSpecial && !m_hasUserDefined)) {
        encodeSegment(text, true, out);
        return out;
    }
    size_t plainStart = 0, i = 0;
    bool atStart = true;
    while (i < text.size()) {
        int match = -1;
        if (m_specialFirstByte[static_cast<unsigned char>(text[i])])
            for (int id : m_special)
                if ((parseSpecial || m_types[id] != TokenType::Control) &&
                    text.compare(i, m_pieces[id].size(), m_pieces[id]) == 0) {
                    match = id;
                    break;
                }
        if (match < 0) {
            ++i;
            continue;
        }
        if (i > plainStart) {
            encodeSegment(text.substr(plainStart, i - plainStart), atStart, out);
            atStart = false;
        }
        out.push_back(match);
        i += m_pieces[match].size();
        plainStart = i;
    }
    if (plainStart < text.size()) encodeSegment(text.substr(plainStart), atStart, out);
    return out;
}

void BpeTokenizer::encodeSegment(std::string_view text, bool atStart, std::vector<int>& out) const {
    switch (m_settings.spaces) {
        case BpeSettings::Spaces::Raw: {
            // llama2.c pushes the token of " " before the text; as " " is one character this is the same as
            // prepending it.
            std::string s = (m_settings.dummyPrefix && atStart) ? " " : "";
            s += text;
            encodeSpaced(s, out);
            return;
        }
        case BpeSettings::Spaces::MetaSpace: {
            std::string s = (m_settings.dummyPrefix && atStart) ? std::string(kMetaSpace) : std::string();
            s += replaceAll(text, " ", kMetaSpace);
            if (!m_settings.metaSpaceSplit) {
                encodeSpaced(s, out);
                return;
            }
            size_t start = 0;  // HF Metaspace split=true: a word begins at every ▁ (MergedWithNext)
            for (size_t i = 1; i < s.size(); ++i)
                if (s.compare(i, kMetaSpace.size(), kMetaSpace) == 0) {
                    encodeWord(std::string_view(s).substr(start, i - start), out);
                    start = i;
                }
            encodeWord(std::string_view(s).substr(start), out);
            return;
        }
        case BpeSettings::Spaces::ByteLevel: {
            std::string s;
            if (m_settings.dummyPrefix && atStart && text.front() != ' ') s = " ";  // add_prefix_space
            s += text;
            std::string mapped;
            auto encodeMapped = [&](std::string_view w) {
                mapped.clear();
                for (char c : w) mapped += m_byteChars[static_cast<unsigned char>(c)];
                encodeWord(mapped, out);
            };
            if (m_regex) m_regex->forEachPiece(s, encodeMapped);  // word by word: no vector of a corpus's words
            else encodeMapped(s);
            return;
        }
    }
}

// Cutting `text` before a marker M (the space piece) at byte i is exact when no merge can make a symbol across
// the cut. The first such merge would join a symbol ending with the character c before the cut (whose own piece
// ends that symbol's piece: c must be a piece, not byte-fallback tokens) to one beginning with M, and its result,
// a vocabulary piece (the Scores rule looks the concatenation up; the Ranks rule's merges produce exactly
// pieceId(a + b)), would hold c's last byte right before an M. MarkerCut::bytesBefore has every byte that a piece
// holds right before an M, so a cut after any other byte changes nothing: each part merges alone, in the same
// order of priority as within the whole, and the ids concatenate to the whole text's. Equal-priority ties are
// broken leftmost within a part exactly as within the whole, since candidates of different parts never interact.
// A cut before a character of m_charCuts is exact for the same reason: no merge ever joins its symbols to
// anything, on either side (indexCharCuts). So is a cut between characters x and y that are pieces themselves
// when no piece holds x's last byte right before y's first (m_bytePairs): a symbol ending with x has a piece
// ending with x's bytes, one starting with y a piece starting with y's, and their concatenation is no piece.
// Those cuts are taken only in a part over kLongPart bytes (two lookups a character are slower than merging a
// short part whole); the others wherever allowed.
bool BpeTokenizer::mayCut(std::string_view text, size_t prevStart, size_t i, size_t len, bool longPart) const {
    const auto first = static_cast<unsigned char>(text[i]), last = static_cast<unsigned char>(text[i - 1]);
    if (len == 1 && first < 0x80 && m_charCuts[first]) return true;
    const std::string_view prev = text.substr(prevStart, i - prevStart);
    for (const MarkerCut& cut : m_markerCuts) {
        const std::string& marker = m_pieces[size_t(cut.id)];
        if (len == marker.size() && text.compare(i, len, marker) == 0 && !cut.bytesBefore[last] && pieceId(prev) >= 0)
            return true;
    }
    return longPart && !m_bytePairs[size_t(last) << 8 | first] && pieceId(prev) >= 0 && pieceId(text.substr(i, len)) >= 0;
}

void BpeTokenizer::encodeSpaced(std::string_view text, std::vector<int>& out) const {
    constexpr size_t kLongPart = 1024;
    if (m_settings.ignoreMerges) {  // a whole word is looked up before merging: no cuts (indexMarkerCuts)
        encodeWord(text, out);
        return;
    }
    size_t partStart = 0, prevStart = 0;
    for (size_t i = 0; i < text.size();) {
        const size_t len = charLength(text, i);
        if (i > partStart && mayCut(text, prevStart, i, len, i - partStart >= kLongPart)) {
            encodeWord(text.substr(partStart, i - partStart), out);
            partStart = i;
        }
        prevStart = i;
        i += len;
    }
    encodeWord(text.substr(partStart), out);
}

void BpeTokenizer::appendUnknown(std::string_view ch, std::vector<int>& out) const {
    if (m_settings.byteFallback) {
        bool all = true;
        for (char c : ch) all = all && m_byteTokens[static_cast<unsigned char>(c)] >= 0;
        if (all) {
            for (char c : ch) out.push_back(m_byteTokens[static_cast<unsigned char>(c)]);
            return;
        }
    }
    if (m_settings.unk < 0) return;  // nothing can stand for it; dropped (the vocabulary has no <unk>)
    if (m_settings.fuseUnknown && !out.empty() && out.back() == m_settings.unk) return;
    out.push_back(m_settings.unk);
}

void BpeTokenizer::encodeWord(std::string_view word, std::vector<int>& out) const {
    if (word.empty()) return;
    if (m_settings.ignoreMerges) {
        const int id = pieceId(word);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    // Initial symbols: one per character, or its byte tokens.
    std::vector<int> ids;
    ids.reserve(word.size());
    for (size_t i = 0; i < word.size();) {
        const size_t len = charLength(word, i);
        const std::string_view ch = word.substr(i, len);
        const int id = pieceId(ch);
        if (id >= 0) ids.push_back(id);
        else appendUnknown(ch, ids);
        i += len;
    }
    const int n = int(ids.size());
    if (n < 2) {
        out.insert(out.end(), ids.begin(), ids.end());
        return;
    }

    struct Symbol {
        int id, prev, next;
        bool alive;
    };
    std::vector<Symbol> sym(n);
    for (int i = 0; i < n; ++i) sym[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1, true};

    struct Candidate {
        double priority;  // larger merges first
        int left, right, leftId, rightId, merged;
    };
    auto worse = [](const Candidate& a, const Candidate& b) {
        if (a.priority != b.priority) return a.priority < b.priority;
        return a.left > b.left;  // the leftmost pair wins a tie
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(worse);
    std::string joined;
    auto consider = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const int a = sym[left].id, b = sym[right].id;
        if (m_settings.mergeRule == BpeSettings::MergeRule::Ranks) {
            auto it = m_merges.find(pairKey(a, b));
            if (it == m_merges.end()) return;
            heap.push({-double(it->second.first), left, right, a, b, it->second.second});
        } else {
            joined.assign(m_pieces[a]);
            joined += m_pieces[b];
            auto it = m_ids.find(joined);
            if (it == m_ids.end()) return;
            const int m = it->second;
            if (m_settings.mergeOnlyNormal && m_types[m] != TokenType::Normal && m_types[m] != TokenType::UserDefined)
                return;
            heap.push({double(m_scores[m]), left, right, a, b, m});
        }
    };
    for (int i = 0; i + 1 < n; ++i) consider(i, i + 1);
    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        Symbol& l = sym[c.left];
        Symbol& r = sym[c.right];
        if (!l.alive || !r.alive || l.next != c.right || l.id != c.leftId || r.id != c.rightId) continue;  // stale
        l.id = c.merged;
        l.next = r.next;
        if (r.next >= 0) sym[r.next].prev = c.left;
        r.alive = false;
        consider(l.prev, c.left);
        consider(c.left, l.next);
    }
    for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace qs
