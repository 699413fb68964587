// SPDX-License-Identifier: GPL-3.0-or-later
// The side files and metadata of synthesized checkpoints: config.json with the keys the real model's has,
// GGUF KVs as convert_hf_to_gguf.py writes them for the architecture, the llama2.c header, and the synthetic
// vocabulary in each format's tokenizer encoding. See synth.h.
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/model/synth.h"

namespace qs {

namespace {

using ojson = nlohmann::ordered_json;

struct SpecialNames {
    std::string bos, eos, pad, unk;
};

SpecialNames specialNames(const SynthShape& s) {
    if (s.family == SynthFamily::Gemma2) return {"<bos>", "<eos>", "<pad>", "<unk>"};
    if (s.family == SynthFamily::Qwen2) return {"<|endoftext|>", "<|endoftext|>", "", ""};
    if (s.vocab >= 128000) return {"<|begin_of_text|>", "<|end_of_text|>", "", ""};
    return {"<s>", "</s>", "", "<unk>"};
}

std::string pieceOr(const SynthVocabulary& v, int id) {
    return id >= 0 && size_t(id) < v.pieces.size() ? v.pieces[size_t(id)] : std::string();
}

}  // namespace

SynthVocabulary synthVocabulary(const SynthShape& s) {
    SynthVocabulary v;
    const size_t n = size_t(s.vocab);
    v.pieces.assign(n, std::string());
    v.scores.assign(n, 0.0f);
    v.types.assign(n, 1);
    std::vector<bool> taken(n, false);
    const SpecialNames names = specialNames(s);
    auto special = [&](int id, const std::string& text, int type) {
        if (id < 0 || size_t(id) >= n || taken[size_t(id)]) return;
        v.pieces[size_t(id)] = text, v.types[size_t(id)] = type, taken[size_t(id)] = true;
    };
    special(s.unk, names.unk, 2);
    special(s.bos, names.bos, 3);
    special(s.eos, names.eos, 3);
    special(s.pad, names.pad, 3);
    size_t next = 0;
    for (int b = 0; b < 256; ++b) {
        while (next < n && taken[next]) ++next;
        if (next >= n) break;
        char text[8];
        std::snprintf(text, sizeof text, "<0x%02X>", b);
        v.pieces[next] = text, v.types[next] = 6, taken[next] = true;
    }
    for (size_t i = 0; i < n; ++i) {
        if (!taken[i]) v.pieces[i] = "\xE2\x96\x81t" + std::to_string(i);  // "▁t<id>"
        v.scores[i] = v.types[i] == 1 ? -float(i) : 0.0f;
    }
    return v;
}

std::string synthHfConfigJson(const SynthShape& s, DType dtype) {
    ojson c;
    const char* torchDtype = dtype == DType::BF16 ? "bfloat16" : "float32";
    auto common = [&] {
        c["hidden_size"] = s.dim;
        c["intermediate_size"] = s.hidden;
        c["num_hidden_layers"] = s.layers;
        c["num_attention_heads"] = s.heads;
        c["num_key_value_heads"] = s.kvHeads;
        c["max_position_embeddings"] = s.context;
        c["rms_norm_eps"] = s.normEps;
        c["rope_theta"] = s.ropeTheta;
        c["vocab_size"] = s.vocab;
        c["tie_word_embeddings"] = s.tied;
        c["bos_token_id"] = s.bos;
        c["eos_token_id"] = s.eos;
        c["torch_dtype"] = torchDtype;
        c["initializer_range"] = 0.02;
        c["attention_dropout"] = 0.0;
        c["use_cache"] = true;
    };
    switch (s.family) {
        case SynthFamily::Llama:
            c["architectures"] = {"LlamaForCausalLM"};
            c["model_type"] = "llama";
            common();
            c["head_dim"] = s.headDim;
            c["hidden_act"] = "silu";
            c["attention_bias"] = false;
            c["mlp_bias"] = false;
            c["pretraining_tp"] = 1;
            if (s.ropeScaling)
                c["rope_scaling"] = {{"factor", s.ropeScaling->factor},
                                     {"high_freq_factor", s.ropeScaling->highFreqFactor},
                                     {"low_freq_factor", s.ropeScaling->lowFreqFactor},
                                     {"original_max_position_embeddings", s.ropeScaling->originalContext},
                                     {"rope_type", "llama3"}};
            else
                c["rope_scaling"] = nullptr;
            break;
        case SynthFamily::Qwen2:
            // Qwen2 has q/k/v biases by construction (transformers Qwen2Attention), no config key for them.
            c["architectures"] = {"Qwen2ForCausalLM"};
            c["model_type"] = "qwen2";
            common();
            c["hidden_act"] = "silu";
            c["max_window_layers"] = s.layers;
            c["sliding_window"] = s.context;
            c["use_sliding_window"] = false;
            c["use_mrope"] = false;
            break;
        case SynthFamily::Gemma2:
            c["architectures"] = {"Gemma2ForCausalLM"};
            c["model_type"] = "gemma2";
            common();
            c["pad_token_id"] = s.pad;
            c["head_dim"] = s.headDim;
            c["hidden_act"] = "gelu_pytorch_tanh";
            c["hidden_activation"] = "gelu_pytorch_tanh";
            c["attention_bias"] = false;
            c["attn_logit_softcapping"] = s.attnSoftcap;
            c["final_logit_softcapping"] = s.finalSoftcap;
            c["query_pre_attn_scalar"] = s.queryPreAttnScalar;
            c["sliding_window"] = s.slidingWindow;
            c["cache_implementation"] = "hybrid";
            break;
    }
    return c.dump(2) + "\n";
}

std::string synthTokenizerJson(const SynthShape& s, const SynthVocabulary& v) {
    nlohmann::json vocab = nlohmann::json::object();
    nlohmann::json added = nlohmann::json::array();
    for (size_t i = 0; i < v.pieces.size(); ++i) {
        vocab[v.pieces[i]] = i;
        if (v.types[i] == 2 || v.types[i] == 3)
            added.push_back({{"id", i},
                             {"content", v.pieces[i]},
                             {"single_word", false},
                             {"lstrip", false},
                             {"rstrip", false},
                             {"normalized", false},
                             {"special", true}});
    }
    const std::string space = "\xE2\x96\x81";
    nlohmann::json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = added;
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers",
                        {{{"type", "Prepend"}, {"prepend", space}},
                         {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}};
    j["pre_tokenizer"] = nullptr;
    const std::string bos = pieceOr(v, s.bos);
    if (s.addBos && !bos.empty())
        j["post_processor"] = {
            {"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair", nlohmann::json::array()},
            {"special_tokens", {{bos, {{"id", bos}, {"ids", {s.bos}}, {"tokens", {bos}}}}}}};
    else
        j["post_processor"] = nullptr;
    j["decoder"] = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    j["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", s.unk >= 0 ? nlohmann::json(pieceOr(v, s.unk)) : nlohmann::json()},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", true},
                  {"byte_fallback", true},
                  {"ignore_merges", false},
                  {"vocab", vocab},
                  {"merges", nlohmann::json::array()}};
    return j.dump() + "\n";
}

std::string synthTokenizerConfigJson(const SynthShape& s, const SynthVocabulary& v) {
    ojson c;
    c["add_bos_token"] = s.addBos;
    c["add_eos_token"] = false;
    c["bos_token"] = s.addBos ? ojson(pieceOr(v, s.bos)) : ojson();
    c["eos_token"] = pieceOr(v, s.eos);
    if (s.pad >= 0) c["pad_token"] = pieceOr(v, s.pad);
    if (s.unk >= 0) c["unk_token"] = pieceOr(v, s.unk);
    c["model_max_length"] = s.context;
    c["tokenizer_class"] = "PreTrainedTokenizerFast";
    return c.dump(2) + "\n";
}

std::vector<GgufKv> synthGgufKvs(const SynthShape& s, DType dtype, const SynthVocabulary& v) {
    const std::string a(synthFamilyName(s.family));
    std::vector<GgufKv> kv;
    auto u32 = [&](const std::string& k, int64_t x) { kv.push_back({k, 4, x, 0}); };
    auto f32 = [&](const std::string& k, double x) { kv.push_back({k, 6, x, 0}); };
    auto str = [&](const std::string& k, const std::string& x) { kv.push_back({k, 8, x, 0}); };
    str("general.architecture", a);
    str("general.type", "model");
    str("general.name", "quantscope synth " + s.name);
    u32(a + ".block_count", s.layers);
    u32(a + ".context_length", s.context);
    u32(a + ".embedding_length", s.dim);
    u32(a + ".feed_forward_length", s.hidden);
    u32(a + ".attention.head_count", s.heads);
    u32(a + ".attention.head_count_kv", s.kvHeads);
    if (s.family != SynthFamily::Gemma2) f32(a + ".rope.freq_base", s.ropeTheta);
    f32(a + ".attention.layer_norm_rms_epsilon", s.normEps);
    if (s.family != SynthFamily::Qwen2) {  // written when config.json has head_dim
        u32(a + ".attention.key_length", s.headDim);
        u32(a + ".attention.value_length", s.headDim);
    }
    if (s.family == SynthFamily::Gemma2) {
        f32(a + ".attn_logit_softcapping", s.attnSoftcap);
        f32(a + ".final_logit_softcapping", s.finalSoftcap);
        u32(a + ".attention.sliding_window", s.slidingWindow);
    }
    u32("general.file_type", dtype == DType::BF16 ? 32 : 0);  // LLAMA_FTYPE_MOSTLY_BF16 / ALL_F32
    if (s.family == SynthFamily::Llama) {
        u32(a + ".vocab_size", s.vocab);
        u32(a + ".rope.dimension_count", s.headDim);
    }
    str("tokenizer.ggml.model", "llama");
    kv.push_back({"tokenizer.ggml.tokens", 9, v.pieces, 8});
    kv.push_back({"tokenizer.ggml.scores", 9, v.scores, 6});
    kv.push_back({"tokenizer.ggml.token_type", 9, v.types, 5});
    if (s.bos >= 0) u32("tokenizer.ggml.bos_token_id", s.bos);
    if (s.eos >= 0) u32("tokenizer.ggml.eos_token_id", s.eos);
    if (s.unk >= 0) u32("tokenizer.ggml.unknown_token_id", s.unk);
    if (s.pad >= 0) u32("tokenizer.ggml.padding_token_id", s.pad);
    kv.push_back({"tokenizer.ggml.add_bos_token", 7, s.addBos, 0});
    kv.push_back({"tokenizer.ggml.add_eos_token", 7, false, 0});
    return kv;
}

std::string synthLlama2cHeader(const SynthShape& s) {
    std::string h(256, '\0');
    const int32_t fields[9] = {0x616b3432, 1,         s.dim,   s.hidden, s.layers,
                               s.heads,    s.kvHeads, s.vocab, s.context};
    std::memcpy(h.data(), fields, sizeof fields);
    h[sizeof fields] = s.tied ? 1 : 0;  // shared_classifier
    return h;
}

std::string synthLlama2cTokenizer(const SynthVocabulary& v) {
    // llama2.c tokenizer.py export(): BOS/EOS pieces are written as "\n<s>\n" and "\n</s>\n".
    std::string out(4, '\0');
    int32_t maxLen = 0;
    std::string body;
    for (size_t i = 0; i < v.pieces.size(); ++i) {
        std::string p = v.pieces[i];
        if (p == "<s>") p = "\n<s>\n";
        if (p == "</s>") p = "\n</s>\n";
        if (p.rfind("\xE2\x96\x81", 0) == 0) p = " " + p.substr(3);  // export() replaces ▁ by a space
        maxLen = std::max<int32_t>(maxLen, int32_t(p.size()));
        const float score = v.scores[i];
        const int32_t len = int32_t(p.size());
        body.append(reinterpret_cast<const char*>(&score), 4);
        body.append(reinterpret_cast<const char*>(&len), 4);
        body += p;
    }
    std::memcpy(out.data(), &maxLen, 4);
    return out + body;
}

}  // namespace qs
