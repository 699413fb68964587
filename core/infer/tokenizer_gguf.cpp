// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF embedded vocabularies (GGUF spec, "tokenizer.ggml.*" keys; llama.cpp src/llama-vocab.cpp).
#include "core/infer/bpe_tokenizer.h"
#include "core/infer/pretokenizer_regex.h"
#include "core/infer/tokenizer_loader.h"

namespace qs {

namespace {

int intKey(const nlohmann::json& md, const char* key, int fallback) {
    if (!md.contains(key)) return fallback;
    const auto& v = md[key];
    if (v.is_number_integer()) {
        const auto x = v.get<int64_t>();
        // Unset ids are written as 0xFFFFFFFF (-1 as int32) by the converters.
        return x < 0 || x >= (int64_t(1) << 31) - 1 || x == 0xFFFFFFFFll ? -1 : int(x);
    }
    return fallback;
}

bool boolKey(const nlohmann::json& md, const char* key, bool fallback) {
    return md.contains(key) && md[key].is_boolean() ? md[key].get<bool>() : fallback;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> tokenizerFromGgufMetadata(const nlohmann::json& md, const std::string& source) {
    if (!md.is_object() || !md.contains("tokenizer.ggml.tokens"))
        return Error{source + ": no embedded vocabulary (tokenizer.ggml.tokens)"};
    const std::string model = md.value("tokenizer.ggml.model", std::string("llama"));
    const auto& tokens = md["tokenizer.ggml.tokens"];
    if (!tokens.is_array()) return Error{source + ": tokenizer.ggml.tokens is not an array"};
    const size_t n = tokens.size();
    std::vector<std::string> pieces;
    pieces.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (!tokens[i].is_string()) return Error{source + ": tokenizer.ggml.tokens[" + std::to_string(i) + "] is not a string"};
        pieces.push_back(tokens[i].get<std::string>());
    }
    std::vector<float> scores;
    if (md.contains("tokenizer.ggml.scores")) {
        const auto& sc = md["tokenizer.ggml.scores"];
        if (!sc.is_array() || sc.size() != n)
            return Error{source + ": tokenizer.ggml.scores does not have one number per token (" + std::to_string(n) + ")"};
        scores.reserve(n);
        for (const auto& v : sc) {
            if (!v.is_number()) return Error{source + ": tokenizer.ggml.scores holds a non-number"};
            scores.push_back(v.get<float>());
        }
    }
    std::vector<TokenType> types(n, TokenType::Normal);
    if (md.contains("tokenizer.ggml.token_type")) {
        const auto& tt = md["tokenizer.ggml.token_type"];
        if (!tt.is_array() || tt.size() != n)
            return Error{source + ": tokenizer.ggml.token_type does not have one entry per token (" + std::to_string(n) + ")"};
        for (size_t i = 0; i < n; ++i) {
            const int v = tt[i].is_number_integer() ? tt[i].get<int>() : 1;
            types[i] = v >= 1 && v <= 6 ? TokenType(v - 1) : TokenType::Normal;  // GGUF: 1 normal ... 6 byte
        }
    }

    BpeSettings s;
    s.bos = intKey(md, "tokenizer.ggml.bos_token_id", -1);
    s.eos = intKey(md, "tokenizer.ggml.eos_token_id", -1);
    s.unk = intKey(md, "tokenizer.ggml.unknown_token_id", -1);
    for (int* id : {&s.bos, &s.eos, &s.unk})
        if (*id >= int(n)) return Error{source + ": special token id " + std::to_string(*id) + " is past the " +
                                        std::to_string(n) + "-token vocabulary"};
    std::vector<std::pair<std::string, std::string>> merges;
    if (model == "llama") {
        if (scores.empty()) return Error{source + ": tokenizer.ggml.model is llama but tokenizer.ggml.scores is missing"};
        s.mergeRule = BpeSettings::MergeRule::Scores;
        s.spaces = BpeSettings::Spaces::MetaSpace;
        s.dummyPrefix = boolKey(md, "tokenizer.ggml.add_space_prefix", true);
        s.byteFallback = true;
        s.addBos = boolKey(md, "tokenizer.ggml.add_bos_token", true);
        if (s.unk < 0) s.unk = 0;
    } else if (model == "gpt2") {
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
    } else {
        return Error{source + ": GGUF tokenizer model '" + model + "' is not supported (llama and gpt2 are)"};
    }
    s.description = "GGUF " + model + " vocabulary (" + std::to_string(n) + " tokens)";
    auto t = BpeTokenizer::create(source, std::move(s), std::move(pieces), std::move(scores), std::move(types), merges);
    if (!t) return t.error();
    return std::unique_ptr<Tokenizer>(std::move(t.value()));
}

}  // namespace qs
