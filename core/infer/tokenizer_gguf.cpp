// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF embedded vocabularies (GGUF spec, "tokenizer.ggml.*" keys; llama.cpp src/llama-vocab.cpp).
#include <algorithm>
#include <cstdio>
#include <string_view>
#include <unordered_map>

#include "core/infer/bpe_tokenizer.h"
#include "core/infer/pretokenizer_regex.h"
#include "core/infer/tokenizer_loader.h"

namespace qs {

namespace {

const char* jsonKindName(const nlohmann::json& v) {
    if (v.is_string()) return "a string";
    if (v.is_boolean()) return "a bool";
    if (v.is_number_float()) return "a float";
    if (v.is_array()) return "an array";
    return "not a number";
}

// A tokenizer.ggml.<name>_token_id: -1 when absent or unset (0xFFFFFFFF, the converters' "none", or -1 as a signed
// integer), else the id, checked against the vocabulary by checkSpecialId (4e9 is not "unset"). llama.cpp reads
// these keys as uint32 and refuses the model when one has another type (llama-model-loader.cpp, GKV::get_kv: "key
// ... has wrong type"); a string, float, bool or array id is refused here too, naming the key and what it holds,
// rather than dropped (a string "1" used to leave BOS out of every prompt silently). Other integer widths are read
// as the id they hold; a negative id other than -1 is refused.
Result<int64_t> specialIdKey(const nlohmann::json& md, const char* key, const std::string& source) {
    if (!md.contains(key)) return int64_t(-1);
    const auto& v = md[key];
    if (v.is_number_unsigned()) {
        const auto x = v.get<uint64_t>();
        return x == 0xFFFFFFFFull ? int64_t(-1) : int64_t(std::min<uint64_t>(x, uint64_t(INT64_MAX)));
    }
    if (v.is_number_integer()) {
        const auto x = v.get<int64_t>();
        if (x >= -1) return x;
        return Error{source + ": " + key + " is " + std::to_string(x) + ", not a token id (llama.cpp reads it as uint32)"};
    }
    return Error{source + ": " + key + " is " + jsonKindName(v) + ", not a uint32 token id (llama.cpp refuses such a file)"};
}

bool boolKey(const nlohmann::json& md, const char* key, bool fallback) {
    return md.contains(key) && md[key].is_boolean() ? md[key].get<bool>() : fallback;
}

std::string idList(const std::vector<size_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size() && i < 10; ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
    if (ids.size() > 10) s += " and " + std::to_string(ids.size() - 10) + " more";
    return s;
}

// Empty and duplicated entries of tokenizer.ggml.tokens. Both load as llama.cpp loads them (an empty token is
// never produced from text; of duplicated pieces the last id wins, as in its token_to_id map) but the ids the
// model then sees are not the ones it was trained with wherever text needs the lost pieces: say so.
std::vector<std::string> vocabularyWarnings(const std::vector<std::string>& pieces, const std::string& source) {
    std::vector<std::string> out;
    std::vector<size_t> empty;
    std::unordered_map<std::string_view, std::vector<size_t>> seen;
    for (size_t i = 0; i < pieces.size(); ++i) {
        if (pieces[i].empty()) empty.push_back(i);
        else seen[pieces[i]].push_back(i);
    }
    if (!empty.empty())
        out.push_back(source + ": tokenizer.ggml.tokens has " + std::to_string(empty.size()) + " empty token(s) at id(s) " +
                      idList(empty) + "; text never maps to them");
    std::vector<std::pair<size_t, std::string>> dups;  // by first id, for a stable message
    for (const auto& [piece, ids] : seen)
        if (ids.size() > 1) {
            dups.emplace_back(ids.front(), "'" + std::string(piece) + "' at ids " + idList(ids) + " (text maps to " +
                                               std::to_string(ids.back()) + ", as llama.cpp does)");
        }
    std::sort(dups.begin(), dups.end());
    if (!dups.empty()) {
        std::string w = source + ": tokenizer.ggml.tokens has " + std::to_string(dups.size()) + " duplicated token(s): ";
        for (size_t i = 0; i < dups.size() && i < 5; ++i) w += (i ? "; " : "") + dups[i].second;
        if (dups.size() > 5) w += "; and " + std::to_string(dups.size() - 5) + " more";
        out.push_back(std::move(w));
    }
    return out;
}

// tokenizer.ggml.<name>_token_id past the vocabulary: an error when the tokenizer would emit it (BOS that is
// added, the unknown token of a SentencePiece vocabulary), else a warning and the id is not used.
Status checkSpecialId(int64_t& id, const char* key, bool used, size_t n, const std::string& source,
                      std::vector<std::string>& warnings) {
    if (id < int64_t(n)) return {};
    const std::string what = source + ": " + key + " " + std::to_string(id) + " is past the " + std::to_string(n) +
                             "-token vocabulary";
    if (used) return Error{what};
    warnings.push_back(what + "; ignored");
    id = -1;
    return {};
}

// The vocabulary arrays: pieces (required), scores and token types (optional, one per piece).
struct GgufVocabulary {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<TokenType> types;
};

Result<GgufVocabulary> readVocabulary(const nlohmann::json& md, const std::string& source) {
    GgufVocabulary v;
    const auto& tokens = md["tokenizer.ggml.tokens"];
    if (!tokens.is_array()) return Error{source + ": tokenizer.ggml.tokens is not an array"};
    const size_t n = tokens.size();
    v.pieces.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (!tokens[i].is_string()) return Error{source + ": tokenizer.ggml.tokens[" + std::to_string(i) + "] is not a string"};
        v.pieces.push_back(tokens[i].get<std::string>());
    }
    if (md.contains("tokenizer.ggml.scores")) {
        const auto& sc = md["tokenizer.ggml.scores"];
        if (!sc.is_array() || sc.size() != n)
            return Error{source + ": tokenizer.ggml.scores does not have one number per token (" + std::to_string(n) + ")"};
        v.scores.reserve(n);
        for (const auto& x : sc) {
            if (!x.is_number()) return Error{source + ": tokenizer.ggml.scores holds a non-number"};
            v.scores.push_back(x.get<float>());
        }
    }
    v.types.assign(n, TokenType::Normal);
    if (md.contains("tokenizer.ggml.token_type")) {
        const auto& tt = md["tokenizer.ggml.token_type"];
        if (!tt.is_array() || tt.size() != n)
            return Error{source + ": tokenizer.ggml.token_type does not have one entry per token (" + std::to_string(n) + ")"};
        for (size_t i = 0; i < n; ++i) {
            const int t = tt[i].is_number_integer() ? tt[i].get<int>() : 1;
            v.types[i] = t >= 1 && t <= 6 ? TokenType(t - 1) : TokenType::Normal;  // GGUF: 1 normal ... 6 byte
        }
    }
    return v;
}

// tokenizer.ggml.model "llama": SentencePiece scores, metaspace, byte fallback over the <0xNN> pieces.
Status configureLlama(const nlohmann::json& md, const GgufVocabulary& v, BpeSettings& s, const std::string& source,
                      std::vector<std::string>& warnings) {
    if (v.scores.empty()) return Error{source + ": tokenizer.ggml.model is llama but tokenizer.ggml.scores is missing"};
    s.mergeRule = BpeSettings::MergeRule::Scores;
    s.spaces = BpeSettings::Spaces::MetaSpace;
    s.dummyPrefix = boolKey(md, "tokenizer.ggml.add_space_prefix", true);
    s.byteFallback = true;
    s.addBos = boolKey(md, "tokenizer.ggml.add_bos_token", true);
    if (s.unk < 0) s.unk = 0;
    std::vector<size_t> missing;  // byte fallback needs all 256 <0xNN> pieces
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        if (std::find(v.pieces.begin(), v.pieces.end(), name) == v.pieces.end()) missing.push_back(size_t(b));
    }
    if (!missing.empty() && missing.size() < 256)
        warnings.push_back(source + ": tokenizer.ggml.tokens lacks the byte token(s) of byte value(s) " +
                           idList(missing) + "; characters needing them become the unknown token");
    return {};
}

// tokenizer.ggml.model "gpt2": ranked merges, byte-level spaces, one of the two supported pre-tokenizers.
Status configureGpt2(const nlohmann::json& md, BpeSettings& s, std::vector<std::pair<std::string, std::string>>& merges,
                     const std::string& source) {
    if (!md.contains("tokenizer.ggml.merges") || !md["tokenizer.ggml.merges"].is_array())
        return Error{source + ": tokenizer.ggml.model is gpt2 but tokenizer.ggml.merges is missing"};
    for (const auto& m : md["tokenizer.ggml.merges"]) {
        if (!m.is_string()) return Error{source + ": tokenizer.ggml.merges holds a non-string"};
        const std::string str = m.get<std::string>();
        const size_t sp = str.find(' ', 1);
        if (sp == std::string::npos) return Error{source + ": merge '" + str + "' is not two pieces"};
        merges.emplace_back(str.substr(0, sp), str.substr(sp + 1));
    }
    s.mergeRule = BpeSettings::MergeRule::Ranks;
    s.spaces = BpeSettings::Spaces::ByteLevel;
    s.dummyPrefix = boolKey(md, "tokenizer.ggml.add_space_prefix", false);
    s.byteFallback = false;
    s.addBos = boolKey(md, "tokenizer.ggml.add_bos_token", false);
    const std::string pre = md.value("tokenizer.ggml.pre", std::string("default"));
    // llama.cpp names its pre-tokenizers; the Llama 3 one and GPT-2's are the two shapes supported here.
    if (pre == "llama3" || pre == "llama-bpe" || pre == "llama-v3") s.preTokenizerPattern = PreTokenizerRegex::llama3Pattern();
    else if (pre == "default" || pre == "gpt-2" || pre == "gpt2") s.preTokenizerPattern = PreTokenizerRegex::gpt2Pattern();
    else return Error{source + ": GGUF pre-tokenizer '" + pre + "' is not supported (llama-bpe and gpt-2 are)"};
    s.ignoreMerges = s.preTokenizerPattern == PreTokenizerRegex::llama3Pattern();
    return {};
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> tokenizerFromGgufMetadata(const nlohmann::json& md, const std::string& source) {
    if (!md.is_object() || !md.contains("tokenizer.ggml.tokens"))
        return Error{source + ": no embedded vocabulary (tokenizer.ggml.tokens)"};
    const std::string model = md.value("tokenizer.ggml.model", std::string("llama"));
    auto vocab = readVocabulary(md, source);
    if (!vocab) return vocab.error();
    const size_t n = vocab->pieces.size();

    std::vector<std::string> warnings = vocabularyWarnings(vocab->pieces, source);
    BpeSettings s;
    int64_t ids[4] = {};
    const char* idKeys[4] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                             "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
    for (int k = 0; k < 4; ++k) {
        auto id = specialIdKey(md, idKeys[k], source);
        if (!id) return id.error();
        ids[k] = *id;
    }
    int64_t bos = ids[0], eos = ids[1], unk = ids[2], pad = ids[3];
    const bool addsBos = boolKey(md, "tokenizer.ggml.add_bos_token", model == "llama");
    if (auto st = checkSpecialId(bos, "tokenizer.ggml.bos_token_id", addsBos, n, source, warnings); !st) return st.error();
    if (auto st = checkSpecialId(eos, "tokenizer.ggml.eos_token_id", false, n, source, warnings); !st) return st.error();
    if (auto st = checkSpecialId(unk, "tokenizer.ggml.unknown_token_id", model == "llama", n, source, warnings); !st)
        return st.error();
    if (auto st = checkSpecialId(pad, "tokenizer.ggml.padding_token_id", false, n, source, warnings); !st) return st.error();
    s.bos = int(bos);  // each -1 or inside the vocabulary now
    s.eos = int(eos);
    s.unk = int(unk);
    std::vector<std::pair<std::string, std::string>> merges;
    Status configured = model == "llama"  ? configureLlama(md, *vocab, s, source, warnings)
                        : model == "gpt2" ? configureGpt2(md, s, merges, source)
                                          : Status(Error{source + ": GGUF tokenizer model '" + model +
                                                         "' is not supported (llama and gpt2 are)"});
    if (!configured) return configured.error();
    s.description = "GGUF " + model + " vocabulary (" + std::to_string(n) + " tokens)";
    auto t = BpeTokenizer::create(source, std::move(s), std::move(vocab->pieces), std::move(vocab->scores),
                                  std::move(vocab->types), merges);
    if (!t) return t.error();
    for (auto& w : warnings) (*t)->addWarning(std::move(w));
    return std::unique_ptr<Tokenizer>(std::move(t.value()));
}

}  // namespace qs
