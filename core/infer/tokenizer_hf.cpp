// SPDX-License-Identifier: GPL-3.0-or-later
// Hugging Face tokenizer.json (the `tokenizers` library's serialisation) for BPE models: reads the model
// vocabulary, merges and added tokens, parses the pipeline stages (hf_components.h) and builds an
// HfTokenizer. Every field that changes the ids and is not implemented is refused by name.
#include <algorithm>
#include <filesystem>
#include <set>

#include "core/infer/hf_tokenizer.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/bounded_text.h"

namespace qs {

namespace {

using nlohmann::json;

// A tokenizer.json (Gemma 3's is 33 MB) or config.json read whole, bounded (io::kMaxJsonFileBytes) and refused
// when it is a FIFO or a device.
Result<json> readJson(const std::string& path) {
    auto text = io::readBoundedFile(path, io::kMaxJsonFileBytes, "a tokenizer file");
    if (!text) return Error{text.message()};
    return io::parseBoundedJson(*text, path);
}

std::string tokenName(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
    return {};
}

bool nonEmptyString(const json& j, const char* key) {
    return j.contains(key) && !j[key].is_null() && !(j[key].is_string() && j[key].get<std::string>().empty());
}

// A field that must be a boolean (or absent / null, meaning the default): a value of another type is an error
// naming the field, never a crash or a guess.
Status checkBool(const json& obj, const char* key, const std::string& where) {
    if (!obj.is_object() || !obj.contains(key) || obj[key].is_null() || obj[key].is_boolean()) return {};
    return Error{where + " " + key + " must be true or false, found " + obj[key].dump().substr(0, 40)};
}

bool boolOr(const json& obj, const char* key, bool fallback) {
    return obj.is_object() && obj.contains(key) && obj[key].is_boolean() ? obj[key].get<bool>() : fallback;
}

// Refuses the model options and top-level settings that would change the ids and are not implemented.
Status checkSupported(const json& j, const json& model, const std::string& path) {
    if (model.contains("type") && !model["type"].is_null() && !model["type"].is_string())
        return Error{path + ": model type must be a string, found " + model["type"].dump().substr(0, 40)};
    const std::string modelType = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>()
                                                                                       : std::string("BPE");
    for (const char* key : {"byte_fallback", "fuse_unk", "ignore_merges"})
        if (auto st = checkBool(model, key, path + ": model"); !st) return st;
    if (modelType != "BPE") return Error{path + ": model type '" + modelType + "' is not supported (only BPE)"};
    if (!model.contains("vocab") || !model["vocab"].is_object()) return Error{path + ": model.vocab is not an object"};
    if (nonEmptyString(model, "continuing_subword_prefix"))
        return Error{path + ": model continuing_subword_prefix is not supported"};
    if (nonEmptyString(model, "end_of_word_suffix")) return Error{path + ": model end_of_word_suffix is not supported"};
    if (model.contains("dropout") && !model["dropout"].is_null() &&
        !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0))
        return Error{path + ": model dropout is not supported (it makes tokenization random)"};
    if (j.contains("truncation") && !j["truncation"].is_null()) return Error{path + ": truncation is not supported"};
    if (j.contains("padding") && !j["padding"].is_null() &&
        !(j["padding"].is_object() && j["padding"].contains("strategy") && j["padding"]["strategy"] == "BatchLongest"))
        return Error{path + ": padding other than BatchLongest is not supported"};
    return {};
}

// The model vocabulary as dense pieces by id (gaps stay empty and Unused).
Status readVocab(const json& vocab, size_t addedCount, const std::string& path, bool byteFallback,
                 std::vector<std::string>& pieces, std::vector<TokenType>& types) {
    constexpr int64_t kMaxVocab = 1 << 24;
    // Ids are dense in a real tokenizer (0 .. entries-1, added tokens after them); a sparse id would make the dense
    // tables grow with the number written, not with the file: bounded by twice the entries of the file.
    const int64_t limit = std::min<int64_t>(kMaxVocab, 2 * int64_t(vocab.size() + addedCount) + 1024);
    std::vector<bool> present;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it.value().is_number_integer()) return Error{path + ": vocab entry '" + it.key() + "' has no integer id"};
        const int64_t id = it.value().get<int64_t>();
        if (id < 0 || id >= limit)
            return Error{path + ": vocab id " + std::to_string(id) + " of '" + it.key() + "' is out of range (0 to " +
                         std::to_string(limit - 1) + " for " + std::to_string(vocab.size()) + " vocab entries and " +
                         std::to_string(addedCount) + " added tokens)"};
        if (size_t(id) >= pieces.size()) {
            pieces.resize(size_t(id) + 1);
            types.resize(size_t(id) + 1, TokenType::Unused);
            present.resize(size_t(id) + 1, false);
        }
        if (present[size_t(id)])
            return Error{path + ": vocab gives id " + std::to_string(id) + " to both '" + pieces[size_t(id)] +
                         "' and '" + it.key() + "'"};
        present[size_t(id)] = true;
        pieces[size_t(id)] = it.key();
        const std::string& p = pieces[size_t(id)];
        types[size_t(id)] = byteFallback && p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>'
                                ? TokenType::Byte
                                : TokenType::Normal;
    }
    if (pieces.empty()) return Error{path + ": model.vocab is empty"};
    return {};
}

Result<std::vector<HfAddedToken>> readAddedTokens(const json& j, const std::string& path) {
    std::vector<HfAddedToken> added;
    const json list = j.contains("added_tokens") && !j["added_tokens"].is_null() ? j["added_tokens"] : json::array();
    if (!list.is_array()) return Error{path + ": added_tokens is not an array"};
    for (const auto& a : list) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
            !a["content"].is_string())
            return Error{path + ": an added token lacks an integer id or a content string"};
        HfAddedToken t;
        t.content = a["content"].get<std::string>();
        const int64_t id = a["id"].get<int64_t>();
        if (id < 0 || id >= (int64_t(1) << 24))
            return Error{path + ": added token '" + t.content + "' has id " + std::to_string(id) + ", out of range"};
        t.id = int(id);
        for (const char* key : {"special", "lstrip", "rstrip", "single_word", "normalized"})
            if (auto st = checkBool(a, key, path + ": added token '" + t.content + "'"); !st) return st.error();
        t.special = boolOr(a, "special", false);
        t.lstrip = boolOr(a, "lstrip", false);
        t.rstrip = boolOr(a, "rstrip", false);
        t.singleWord = boolOr(a, "single_word", false);
        t.normalized = boolOr(a, "normalized", !t.special);  // AddedToken's default
        added.push_back(std::move(t));
    }
    return added;
}

Result<std::vector<std::pair<std::string, std::string>>> readMerges(const json& model, const std::string& path) {
    std::vector<std::pair<std::string, std::string>> merges;
    if (!model.contains("merges")) return merges;
    const auto& list = model["merges"];
    if (!list.is_array()) return Error{path + ": model.merges is not an array"};
    merges.reserve(list.size());
    for (const auto& m : list) {
        if (m.is_string()) {
            const std::string& s = m.get_ref<const std::string&>();
            const size_t sp = s.find(' ', 1);
            if (sp == std::string::npos) return Error{path + ": merge '" + s + "' is not two pieces separated by a space"};
            merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            return Error{path + ": a merge is neither \"a b\" nor [\"a\", \"b\"]"};
        }
    }
    return merges;
}

// tokenizer_config.json beside the file (what transformers reads with it), or null when there is none. One that
// cannot be read is an error, as in transformers: without it BOS/EOS could silently differ.
Result<json> readConfig(const std::string& path) {
    const auto configPath = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    std::error_code ec;
    if (!std::filesystem::exists(configPath, ec)) return json();
    auto c = readJson(configPath.string());
    if (!c) return c.error();
    if (!c->is_object()) return Error{configPath.string() + ": not a JSON object"};
    return c;
}

// BOS/EOS and the template. transformers' Llama and Gemma fast tokenizers rebuild the post-processor from
// add_bos_token / add_eos_token (defaults true / false) in update_post_processor(); the others run the
// file's post-processor as it is.
void applyConfig(const json& config, HfTokenizerParts& parts) {
    auto idOf = [&](const std::string& name) {
        if (name.empty()) return -1;
        for (const auto& a : parts.added)
            if (a.content == name) return a.id;
        return parts.model->pieceId(name);
    };
    auto configId = [&](const char* key) {
        return config.is_object() && config.contains(key) ? idOf(tokenName(config[key])) : -1;
    };
    static const std::set<std::string> kRebuilding = {"LlamaTokenizer",     "LlamaTokenizerFast",
                                                      "GemmaTokenizer",     "GemmaTokenizerFast",
                                                      "CodeLlamaTokenizer", "CodeLlamaTokenizerFast"};
    const int bos = configId("bos_token"), eos = configId("eos_token");
    const std::string tokenizerClass = config.is_object() && config.contains("tokenizer_class") &&
                                               config["tokenizer_class"].is_string()
                                           ? config["tokenizer_class"].get<std::string>()
                                           : std::string();
    if (kRebuilding.count(tokenizerClass)) {
        auto flag = [&](const char* key, bool fallback) {
            return config.contains(key) && config[key].is_boolean() ? config[key].get<bool>() : fallback;
        };
        parts.postProcessor.prefix.clear();
        parts.postProcessor.suffix.clear();
        if (flag("add_bos_token", true) && bos >= 0) parts.postProcessor.prefix.push_back(bos);
        if (flag("add_eos_token", false) && eos >= 0) parts.postProcessor.suffix.push_back(eos);
    }
    parts.bos = !parts.postProcessor.prefix.empty() ? parts.postProcessor.prefix.front() : bos;
    parts.eos = eos;
    for (const char* name : {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"})
        if (parts.eos < 0) parts.eos = idOf(name);
}

Status parseStages(const json& j, const std::string& path, HfTokenizerParts& parts) {
    auto normalizer = HfNormalizer::parse(j.value("normalizer", json()), path);
    if (!normalizer) return normalizer.error();
    parts.normalizer = std::move(normalizer.value());
    auto pre = HfPreTokenizer::parse(j.value("pre_tokenizer", json()), path);
    if (!pre) return pre.error();
    parts.preTokenizer = std::move(pre.value());
    auto post = HfPostProcessor::parse(j.value("post_processor", json()), path);
    if (!post) return post.error();
    parts.postProcessor = std::move(post.value());
    auto decoder = HfDecoder::parse(j.value("decoder", json()), path);
    if (!decoder) return decoder.error();
    parts.decoder = std::move(decoder.value());
    return {};
}

}  // namespace

static Result<std::unique_ptr<Tokenizer>> loadHfTokenizerUnchecked(const std::string& path) {
    auto parsed = readJson(path);
    if (!parsed) return parsed.error();
    const json& j = *parsed;
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
        return Error{path + ": no \"model\" object; not a tokenizer.json"};
    const auto& model = j["model"];
    if (auto s = checkSupported(j, model, path); !s) return s.error();
    HfTokenizerParts parts;
    if (auto s = parseStages(j, path, parts); !s) return s.error();

    BpeSettings s;
    s.mergeRule = BpeSettings::MergeRule::Ranks;
    s.spaces = BpeSettings::Spaces::Raw;  // the pre-tokenizer has done the space handling
    s.dummyPrefix = false;
    s.byteFallback = boolOr(model, "byte_fallback", false);
    s.fuseUnknown = boolOr(model, "fuse_unk", false);
    s.ignoreMerges = boolOr(model, "ignore_merges", false);
    s.addBos = false;
    s.strictMerges = true;  // tokenizers refuses a merge outside the vocabulary
    std::vector<std::string> pieces;
    std::vector<TokenType> types;
    const size_t addedCount = j.contains("added_tokens") && j["added_tokens"].is_array() ? j["added_tokens"].size() : 0;
    if (auto st = readVocab(model["vocab"], addedCount, path, s.byteFallback, pieces, types); !st) return st.error();
    const json unkJson = model.contains("unk_token") ? model["unk_token"] : json();
    if (unkJson.is_string()) {
        const std::string& unk = unkJson.get_ref<const std::string&>();
        auto it = std::find(pieces.begin(), pieces.end(), unk);
        if (it == pieces.end()) return Error{path + ": model unk_token '" + unk + "' is not in the vocabulary"};
        s.unk = int(it - pieces.begin());
    }
    auto merges = readMerges(model, path);
    if (!merges) return merges.error();
    auto added = readAddedTokens(j, path);
    if (!added) return added.error();

    const size_t baseVocab = pieces.size();
    const std::string kind = parts.preTokenizer.byteLevel() ? "byte-level BPE" : "BPE";
    auto bpe = BpeTokenizer::create(path, std::move(s), std::move(pieces), {}, std::move(types), *merges);
    if (!bpe) return bpe.error();
    parts.model = std::move(bpe.value());
    parts.added = std::move(added.value());
    auto config = readConfig(path);
    if (!config) return config.error();
    applyConfig(*config, parts);
    int total = int(baseVocab);
    for (const auto& a : parts.added) total = std::max(total, a.id + 1);
    parts.description = "tokenizer.json " + kind + " (" + std::to_string(total) + " tokens: " +
                        std::to_string(baseVocab) + " in the model, " + std::to_string(parts.added.size()) +
                        " added; " + std::to_string(merges->size()) + " merges)";
    auto t = HfTokenizer::create(path, std::move(parts));
    if (!t) return t.error();
    return std::unique_ptr<Tokenizer>(std::move(t.value()));
}

// A field of an unexpected JSON type that the readers above do not check one by one is still bad input: the
// file is named and the value type reported, never an uncaught exception.
Result<std::unique_ptr<Tokenizer>> loadHfTokenizer(const std::string& path) {
    try {
        return loadHfTokenizerUnchecked(path);
    } catch (const nlohmann::json::exception& e) {
        return Error{path + ": a field has an unexpected type (" + std::string(e.what()) + ")"};
    }
}

}  // namespace qs
