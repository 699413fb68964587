// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF export metadata: a GGUF source's KVs carried over with their types, or the llama architecture KVs and
// a SentencePiece-style vocabulary written for a llama2.c / Hugging Face Llama source (see gguf_export.h).
#include <filesystem>

#include "core/export/gguf_export.h"
#include "core/infer/bpe_tokenizer.h"
#include "core/infer/sentencepiece_tokenizer.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/side_files.h"
#include "core/io/utf8.h"

namespace qs {

namespace {

constexpr const char* kMetaSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

Result<std::vector<GgufKv>> carriedKvs(const Checkpoint& ckpt) {
    std::vector<GgufKv> kvs;
    for (const Checkpoint::GgufKeyType& k : ckpt.ggufKeys) {
        if (k.key == "general.file_type" || k.key == "general.alignment" || k.key == "general.quantization_version")
            continue;  // written by exportGguf
        if (k.valueNotUtf8)
            return Error{"GGUF export: " + ckpt.path + ": the value of key " + io::printableText(k.key) +
                         " holds a string that is not UTF-8 (" +
                         (k.notUtf8Element >= 0 ? "element " + std::to_string(k.notUtf8Element) + ", " : std::string()) +
                         "bytes at offset " + std::to_string(k.notUtf8At) +
                         "); QuantScope reads such strings with U+FFFD in place of the bad bytes, so it cannot write "
                         "the value back as the file has it"};
        if (k.type == 9 && k.arrayType == 9)
            return Error{"GGUF export: " + ckpt.path + ": key " + k.key +
                         " is an array of arrays, which the export does not write"};
        auto it = ckpt.metadata.find(k.key);
        if (it == ckpt.metadata.end())
            return Error{"GGUF export: " + ckpt.path + ": key " + k.key + " has no value"};
        kvs.push_back({k.storedKey.empty() ? k.key : k.storedKey, k.type, *it, k.arrayType});  // the key's bytes as read
    }
    return kvs;
}

// GGUF token types (llama.cpp llama_token_type / gguf-py TokenType): 1 normal, 2 unknown, 3 control,
// 4 user-defined, 5 unused, 6 byte.
int32_t ggufTokenType(TokenType t) {
    switch (t) {
        case TokenType::Normal:
            return 1;
        case TokenType::Unknown:
            return 2;
        case TokenType::Control:
            return 3;
        case TokenType::UserDefined:
            return 4;
        case TokenType::Unused:
            return 5;
        case TokenType::Byte:
            return 6;
    }
    return 1;
}

std::string trimmed(const std::string& s) {
    const size_t b = s.find_first_not_of(" \n\t"), e = s.find_last_not_of(" \n\t");
    return b == std::string::npos ? s : s.substr(b, e - b + 1);
}

// The vocabulary of a SentencePiece tokenizer.model (convert_hf_to_gguf.py _create_vocab_sentencepiece:
// pieces, scores, types from the model proto) or a llama2.c tokenizer.bin (the same vocabulary as llama2.c's
// tokenizer.py exported it: ▁ written as a space, BOS/EOS as "\n<s>\n"/"\n</s>\n", which are undone here).
// `tokenizerPath`, when given (--tokenizer), is the one of these to take instead of what is beside the model.
Result<std::unique_ptr<Tokenizer>> givenVocabulary(const std::string& tokenizerPath) {
    std::string path = tokenizerPath;
    if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
        path = io::firstExisting(path, {"tokenizer.model", "tokenizer.bin"});
        if (path.empty())
            return Error{"GGUF export: the tokenizer folder " + tokenizerPath +
                         " holds no SentencePiece tokenizer.model or llama2.c tokenizer.bin"};
    }
    switch (tokenizerFileKind(path)) {
        case TokenizerFileKind::SentencePiece: return loadSentencePieceTokenizer(path);
        case TokenizerFileKind::Llama2c: return loadLlama2cTokenizer(path);
        case TokenizerFileKind::HfJson:
            return Error{"GGUF export: the tokenizer " + path +
                         " is a tokenizer.json: a GGUF vocabulary from tokenizer.json BPE is not implemented"};
        case TokenizerFileKind::Gguf:
            return Error{"GGUF export: the tokenizer " + path +
                         " is a GGUF file: taking another GGUF's vocabulary is not implemented"};
        case TokenizerFileKind::Unknown: break;
    }
    return Error{"GGUF export: the tokenizer " + path + " is not a SentencePiece tokenizer.model or llama2.c "
                 "tokenizer.bin"};
}

Status vocabularyKvs(const Checkpoint& ckpt, const ModelInfo& info, const std::string& tokenizerPath,
                     std::vector<GgufKv>& kvs) {
    const std::string folder = io::folderOf(ckpt.path);
    std::string spm = io::firstExisting(folder, {"tokenizer.model"});
    std::unique_ptr<Tokenizer> tok;
    if (!tokenizerPath.empty()) {
        auto t = givenVocabulary(tokenizerPath);
        if (!t) return t.error();
        tok = std::move(*t);
    } else if (!spm.empty()) {
        auto t = SentencePieceTokenizer::load(spm);
        if (!t) return t.error();
        tok = std::move(*t);
    } else if (ckpt.format == FileFormat::Llama2c && !ckpt.tokenizerPath.empty()) {
        auto t = loadLlama2cTokenizer(ckpt.tokenizerPath);
        if (!t) return t.error();
        tok = std::move(*t);
    } else {
        return Error{"GGUF export: no SentencePiece tokenizer.model" +
                     std::string(ckpt.format == FileFormat::Llama2c ? " or llama2.c tokenizer.bin" : "") +
                     " beside " + ckpt.path +
                     " (a GGUF vocabulary from tokenizer.json BPE is not implemented; --tokenizer names one)"};
    }
    const int n = tok->vocabSize();
    if (n != info.hp.vocab)
        return Error{"GGUF export: the tokenizer has " + std::to_string(n) +
                     " tokens, the model's vocabulary " + std::to_string(info.hp.vocab)};
    const auto* sp = dynamic_cast<const SentencePieceTokenizer*>(tok.get());
    const auto* bpe = dynamic_cast<const BpeTokenizer*>(tok.get());
    nlohmann::json pieces = nlohmann::json::array(), scores = nlohmann::json::array(),
                   types = nlohmann::json::array();
    for (int id = 0; id < n; ++id) {
        std::string p = tok->rawPiece(id);
        const TokenType t = tok->type(id);
        if (bpe && bpe->settings().spaces == BpeSettings::Spaces::Raw) {
            if (t == TokenType::Control || t == TokenType::Unknown) p = trimmed(p);
            std::string out;
            for (char c : p) out += c == ' ' ? std::string(kMetaSpace) : std::string(1, c);
            p = std::move(out);
        }
        pieces.push_back(std::move(p));
        scores.push_back(sp ? sp->score(id) : bpe->score(id));
        types.push_back(ggufTokenType(t));
    }
    kvs.push_back({"tokenizer.ggml.model", 8, "llama", 0});
    kvs.push_back({"tokenizer.ggml.tokens", 9, std::move(pieces), 8});
    kvs.push_back({"tokenizer.ggml.scores", 9, std::move(scores), 6});
    kvs.push_back({"tokenizer.ggml.token_type", 9, std::move(types), 5});
    if (tok->bos() >= 0) kvs.push_back({"tokenizer.ggml.bos_token_id", 4, tok->bos(), 0});
    if (tok->eos() >= 0) kvs.push_back({"tokenizer.ggml.eos_token_id", 4, tok->eos(), 0});
    for (int id = 0; id < n; ++id)
        if (tok->type(id) == TokenType::Unknown) {
            kvs.push_back({"tokenizer.ggml.unknown_token_id", 4, id, 0});
            break;
        }
    kvs.push_back({"tokenizer.ggml.add_bos_token", 7, tok->addsBos(), 0});
    kvs.push_back({"tokenizer.ggml.add_eos_token", 7, false, 0});
    return {};
}

// convert_hf_to_gguf.py LlamaModel.set_gguf_parameters (TextModel's block/context/embedding/feed-forward/head
// counts, rope base, RMSNorm epsilon, key/value length when head_dim is not dim/heads; LlamaModel's vocab
// size and rope dimension count).
Result<std::vector<GgufKv>> llamaKvs(const Checkpoint& ckpt, const ModelInfo& info, const std::string& tokenizerPath) {
    const std::string from =
        "GGUF export from " + std::string(fileFormatName(ckpt.format)) + " (" + ckpt.path + ")";
    if (info.architecture != "llama" && info.architecture != "mistral")
        return Error{
            from + ": architecture " + info.architecture + " (" + info.source +
            ") is not implemented; the export writes llama (llama, mistral) or carries a GGUF source over"};
    if (!info.runnable) return Error{from + ": " + info.runnableReason};
    const ArchSpec& a = info.arch;
    if (a.qkvBias || a.outBias || a.mlpBias)
        return Error{from +
                     ": attention/MLP biases (config.json attention_bias / mlp_bias) are not implemented in "
                     "the export"};
    if (a.ropeScaling.type != RopeScalingType::None)
        return Error{from + ": rope_scaling (" + a.ropeScaling.source + ") is not implemented in the export"};
    const Hyperparameters& hp = info.hp;
    std::vector<GgufKv> kv;
    auto u32 = [&](const std::string& k, int64_t x) { kv.push_back({k, 4, x, 0}); };
    kv.push_back({"general.architecture", 8, "llama", 0});
    kv.push_back({"general.type", 8, "model", 0});
    kv.push_back({"general.name", 8, std::filesystem::path(ckpt.path).filename().string(), 0});
    u32("llama.block_count", hp.layers);
    u32("llama.context_length", hp.context);
    u32("llama.embedding_length", hp.dim);
    u32("llama.feed_forward_length", hp.hidden);
    u32("llama.attention.head_count", hp.heads);
    u32("llama.attention.head_count_kv", hp.kvHeads);
    kv.push_back({"llama.rope.freq_base", 6, hp.ropeTheta, 0});
    kv.push_back({"llama.attention.layer_norm_rms_epsilon", 6, hp.normEps, 0});
    if (hp.heads > 0 && hp.headDim != hp.dim / hp.heads) {
        u32("llama.attention.key_length", hp.headDim);
        u32("llama.attention.value_length", hp.headDim);
    }
    u32("llama.vocab_size", hp.vocab);
    u32("llama.rope.dimension_count", hp.headDim);
    if (auto s = vocabularyKvs(ckpt, info, tokenizerPath, kv); !s) return Error{from + ": " + s.message()};
    return kv;
}

}  // namespace

Result<std::vector<GgufKv>> ggufExportKvs(const Checkpoint& ckpt, const ModelInfo& info,
                                          const std::string& tokenizerPath) {
    if (ckpt.format == FileFormat::Gguf) {
        if (!tokenizerPath.empty())
            return Error{"GGUF export: " + ckpt.path + ": a GGUF source keeps its own vocabulary; replacing it "
                         "with --tokenizer is not implemented"};
        return carriedKvs(ckpt);
    }
    if (ckpt.format == FileFormat::Safetensors || ckpt.format == FileFormat::Llama2c)
        return llamaKvs(ckpt, info, tokenizerPath);
    return Error{"GGUF export: " + ckpt.path + ": exporting a " + std::string(fileFormatName(ckpt.format)) +
                 " checkpoint to GGUF is not implemented"};
}

}  // namespace qs
