// SPDX-License-Identifier: GPL-3.0-or-later
// Hugging Face tokenizer.json (the `tokenizers` library's serialisation) for BPE models. The pipeline is
// normalizer -> pre_tokenizer -> model -> post_processor; only the shapes Llama-family and GPT-2-family
// checkpoints use are accepted, and anything else is refused by name rather than tokenized differently.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/infer/bpe_tokenizer.h"
#include "core/infer/pretokenizer_regex.h"
#include "core/infer/tokenizer_loader.h"

namespace qs {

namespace {

constexpr uint64_t kMaxJsonBytes = 256ull << 20;
constexpr std::string_view kMetaSpace = "\xE2\x96\x81";

Result<nlohmann::json> readJson(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot open"};
    in.seekg(0, std::ios::end);
    const auto size = uint64_t(in.tellg());
    in.seekg(0);
    if (size > kMaxJsonBytes) return Error{path + ": " + std::to_string(size) + " bytes is too large for a tokenizer.json"};
    std::string text(size, '\0');
    in.read(text.data(), std::streamsize(size));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return Error{path + ": not valid JSON"};
    return j;
}

std::string typeOf(const nlohmann::json& j) {
    return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : std::string();
}

// The string of a `{"String": "x"}` pattern, or nullopt for a Regex pattern.
std::optional<std::string> stringPattern(const nlohmann::json& pattern) {
    if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
        return pattern["String"].get<std::string>();
    return std::nullopt;
}

// What the normalizer and pre-tokenizer amount to, in BpeSettings terms.
struct Pipeline {
    bool metaSpace = false, byteLevel = false, dummyPrefix = false, metaSpaceSplit = false;
    std::string regex;
};

Status applyNormalizer(const nlohmann::json& n, Pipeline& p, const std::string& path) {
    if (n.is_null()) return {};
    const std::string t = typeOf(n);
    if (t == "Sequence") {
        for (const auto& sub : n.value("normalizers", nlohmann::json::array()))
            if (auto s = applyNormalizer(sub, p, path); !s) return s;
        return {};
    }
    if (t == "Prepend") {
        if (n.value("prepend", std::string()) != kMetaSpace)
            return Error{path + ": normalizer Prepend of '" + n.value("prepend", std::string()) + "' is not supported (only ▁)"};
        p.dummyPrefix = true;
        return {};
    }
    if (t == "Replace") {
        auto from = stringPattern(n.value("pattern", nlohmann::json()));
        if (from && *from == " " && n.value("content", std::string()) == kMetaSpace) {
            p.metaSpace = true;
            return {};
        }
        return Error{path + ": normalizer Replace other than ' ' -> ▁ is not supported"};
    }
    return Error{path + ": normalizer '" + t + "' is not supported"};
}

Status applyPreTokenizer(const nlohmann::json& pt, Pipeline& p, const std::string& path) {
    if (pt.is_null()) return {};
    const std::string t = typeOf(pt);
    if (t == "Sequence") {
        for (const auto& sub : pt.value("pretokenizers", nlohmann::json::array()))
            if (auto s = applyPreTokenizer(sub, p, path); !s) return s;
        return {};
    }
    if (t == "Metaspace") {
        if (pt.value("replacement", std::string(kMetaSpace)) != kMetaSpace)
            return Error{path + ": Metaspace replacement other than ▁ is not supported"};
        p.metaSpace = true;
        // Older files say add_prefix_space; newer ones prepend_scheme "always" | "first" | "never".
        std::string scheme = pt.value("prepend_scheme", std::string());
        if (scheme.empty()) scheme = pt.value("add_prefix_space", true) ? "always" : "never";
        p.dummyPrefix = scheme != "never";
        p.metaSpaceSplit = pt.value("split", true);
        return {};
    }
    if (t == "Split") {
        const auto& pat = pt.value("pattern", nlohmann::json());
        if (!pat.is_object() || !pat.contains("Regex") || !pat["Regex"].is_string())
            return Error{path + ": Split pre-tokenizer without a Regex pattern is not supported"};
        if (pt.value("behavior", std::string("Isolated")) != "Isolated" || pt.value("invert", false))
            return Error{path + ": Split pre-tokenizer behaviour other than Isolated is not supported"};
        p.regex = pat["Regex"].get<std::string>();
        return {};
    }
    if (t == "ByteLevel") {
        p.byteLevel = true;
        if (pt.value("add_prefix_space", false)) p.dummyPrefix = true;
        if (pt.value("use_regex", true)) {
            if (!p.regex.empty()) return Error{path + ": two pre-tokenizer regexes are not supported"};
            p.regex = PreTokenizerRegex::gpt2Pattern();
        }
        return {};
    }
    return Error{path + ": pre-tokenizer '" + t + "' is not supported"};
}

// The first SpecialToken of the single-sequence template: the BOS the post-processor adds.
std::string templateBos(const nlohmann::json& pp) {
    if (!pp.is_object()) return {};
    const std::string t = typeOf(pp);
    if (t == "Sequence") {
        for (const auto& sub : pp.value("processors", nlohmann::json::array()))
            if (auto b = templateBos(sub); !b.empty()) return b;
        return {};
    }
    if (t != "TemplateProcessing") return {};
    const auto& single = pp.value("single", nlohmann::json::array());
    if (!single.is_array() || single.empty()) return {};
    const auto& first = single.front();
    if (first.is_object() && first.contains("SpecialToken") && first["SpecialToken"].is_object())
        return first["SpecialToken"].value("id", std::string());
    return {};
}

std::string tokenName(const nlohmann::json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_object()) return j.value("content", std::string());
    return {};
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> loadHfTokenizer(const std::string& path) {
    auto parsed = readJson(path);
    if (!parsed) return parsed.error();
    const nlohmann::json& j = *parsed;
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
        return Error{path + ": no \"model\" object; not a tokenizer.json"};
    const auto& model = j["model"];
    const std::string modelType = model.value("type", std::string("BPE"));
    if (modelType != "BPE") return Error{path + ": tokenizer model '" + modelType + "' is not supported (only BPE)"};
    if (!model.contains("vocab") || !model["vocab"].is_object()) return Error{path + ": model.vocab is not an object"};
    if (model.contains("continuing_subword_prefix") && !model["continuing_subword_prefix"].is_null() &&
        model["continuing_subword_prefix"] != "")
        return Error{path + ": continuing_subword_prefix is not supported"};
    if (model.contains("end_of_word_suffix") && !model["end_of_word_suffix"].is_null() && model["end_of_word_suffix"] != "")
        return Error{path + ": end_of_word_suffix is not supported"};

    // Pieces by id: the model vocabulary, then the added tokens (which may extend it).
    constexpr int64_t kMaxVocab = 1 << 24;
    std::vector<std::string> pieces;
    std::vector<TokenType> types;
    std::vector<bool> present;
    auto place = [&](int64_t id, const std::string& piece, TokenType type) -> Status {
        if (id < 0 || id >= kMaxVocab) return Error{path + ": token id " + std::to_string(id) + " out of range"};
        if (size_t(id) >= pieces.size()) {
            pieces.resize(size_t(id) + 1);
            types.resize(size_t(id) + 1, TokenType::Unused);
            present.resize(size_t(id) + 1, false);
        }
        pieces[size_t(id)] = piece;
        types[size_t(id)] = type;
        present[size_t(id)] = true;
        return {};
    };
    for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
        if (!it.value().is_number_integer()) return Error{path + ": vocab entry '" + it.key() + "' has no integer id"};
        if (auto s = place(it.value().get<int64_t>(), it.key(), TokenType::Normal); !s) return s.error();
    }
    for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer()) continue;
        const auto type = a.value("special", false) ? TokenType::Control : TokenType::UserDefined;
        if (auto s = place(a["id"].get<int64_t>(), a.value("content", std::string()), type); !s) return s.error();
    }
    if (model.value("byte_fallback", false))
        for (size_t i = 0; i < pieces.size(); ++i)
            if (present[i] && pieces[i].size() == 6 && pieces[i].compare(0, 3, "<0x") == 0 && pieces[i][5] == '>' &&
                types[i] == TokenType::Normal)
                types[i] = TokenType::Byte;

    std::vector<std::pair<std::string, std::string>> merges;
    for (const auto& m : model.value("merges", nlohmann::json::array())) {
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            const size_t sp = s.find(' ', 1);
            if (sp == std::string::npos) return Error{path + ": merge '" + s + "' is not two pieces separated by a space"};
            merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            return Error{path + ": a merge is neither \"a b\" nor [\"a\", \"b\"]"};
        }
    }

    Pipeline p;
    if (auto s = applyNormalizer(j.value("normalizer", nlohmann::json()), p, path); !s) return s.error();
    if (auto s = applyPreTokenizer(j.value("pre_tokenizer", nlohmann::json()), p, path); !s) return s.error();
    if (p.byteLevel && p.metaSpace) return Error{path + ": both byte-level and ▁ space handling; not supported"};

    BpeSettings s;
    s.mergeRule = BpeSettings::MergeRule::Ranks;
    s.spaces = p.byteLevel ? BpeSettings::Spaces::ByteLevel
                           : (p.metaSpace ? BpeSettings::Spaces::MetaSpace : BpeSettings::Spaces::Raw);
    s.dummyPrefix = p.dummyPrefix;
    s.metaSpaceSplit = p.metaSpaceSplit;
    s.preTokenizerPattern = p.byteLevel ? p.regex : std::string();
    s.byteFallback = model.value("byte_fallback", false);
    s.fuseUnknown = model.value("fuse_unk", false);
    s.ignoreMerges = model.value("ignore_merges", false);
    auto idOf = [&](const std::string& name) {
        for (size_t i = 0; i < pieces.size(); ++i)
            if (present[i] && pieces[i] == name) return int(i);
        return -1;
    };
    const nlohmann::json unkJson = model.value("unk_token", nlohmann::json());
    if (unkJson.is_string()) s.unk = idOf(unkJson.get<std::string>());

    // BOS/EOS: tokenizer_config.json beside the file is what transformers uses; the post-processor template
    // says whether BOS is added.
    nlohmann::json config;
    const auto configPath = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    std::error_code ec;
    if (std::filesystem::exists(configPath, ec)) {
        auto c = readJson(configPath.string());
        if (c && c->is_object()) config = *c;
    }
    const std::string bosName = templateBos(j.value("post_processor", nlohmann::json()));
    s.bos = idOf(bosName.empty() && config.is_object() ? tokenName(config.value("bos_token", nlohmann::json())) : bosName);
    s.addBos = !bosName.empty();
    if (config.is_object() && config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
        s.addBos = config["add_bos_token"].get<bool>();
    if (config.is_object()) s.eos = idOf(tokenName(config.value("eos_token", nlohmann::json())));
    for (const char* name : {"</s>", "<|end_of_text|>", "<|endoftext|>"})
        if (s.eos < 0) s.eos = idOf(name);
    if (s.bos < 0)
        for (const char* name : {"<s>", "<|begin_of_text|>"})
            if (s.bos < 0) s.bos = idOf(name);

    const size_t n = pieces.size();
    s.description = std::string("tokenizer.json ") + (p.byteLevel ? "byte-level BPE" : "BPE") + " (" +
                    std::to_string(n) + " tokens, " + std::to_string(merges.size()) + " merges)";
    auto t = BpeTokenizer::create(path, std::move(s), std::move(pieces), {}, std::move(types), merges);
    if (!t) return t.error();
    return std::unique_ptr<Tokenizer>(std::move(t.value()));
}

}  // namespace qs
