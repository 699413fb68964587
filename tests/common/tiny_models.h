// SPDX-License-Identifier: GPL-3.0-or-later
// Tiny synthetic decoders written to a folder, for the architecture and refusal tests: a Hugging Face folder
// (config.json + model.safetensors, F32) and a GGUF v3 file (F32 tensors, any metadata), with the tensors a
// Llama-shaped model needs (dim 8, 1 layer, 2 heads, 1 KV head, head_dim 4, MLP 16, vocab 16) plus extras.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io_fixtures.h"

namespace qstest {

struct TinyTensor {
    std::string name;
    std::vector<int64_t> shape;  // outermost first
};

inline std::string tinyFloats(const std::vector<int64_t>& shape, uint32_t seed) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::string bytes;
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        putLE<float>(bytes, float(int(s >> 24) - 128) / 512.0f);
    }
    return bytes;
}

// The Hugging Face tensors of the tiny Llama (tied head: no lm_head.weight).
inline std::vector<TinyTensor> tinyHfTensors() {
    const std::string p = "model.layers.0.";
    return {{"model.embed_tokens.weight", {16, 8}}, {"model.norm.weight", {8}},
            {p + "input_layernorm.weight", {8}},    {p + "post_attention_layernorm.weight", {8}},
            {p + "self_attn.q_proj.weight", {8, 8}}, {p + "self_attn.k_proj.weight", {4, 8}},
            {p + "self_attn.v_proj.weight", {4, 8}}, {p + "self_attn.o_proj.weight", {8, 8}},
            {p + "mlp.gate_proj.weight", {16, 8}},   {p + "mlp.up_proj.weight", {16, 8}},
            {p + "mlp.down_proj.weight", {8, 16}}};
}

inline nlohmann::json tinyHfConfig() {
    return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 8},
            {"intermediate_size", 16}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
            {"num_key_value_heads", 1}, {"vocab_size", 16}, {"max_position_embeddings", 64},
            {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"hidden_act", "silu"}, {"tie_word_embeddings", true},
            {"torch_dtype", "float32"}};
}

// Writes dir/config.json and dir/model.safetensors.
inline void writeTinyHf(const std::string& dir, const nlohmann::json& config, const std::vector<TinyTensor>& tensors) {
    std::vector<StEntry> entries;
    uint32_t seed = 1;
    for (const auto& t : tensors) entries.push_back({t.name, "F32", t.shape, tinyFloats(t.shape, seed++)});
    writeBytes(dir + "/model.safetensors", makeSafetensors(entries));
    writeBytes(dir + "/config.json", config.dump(2));
}

// GGUF tensors of the tiny Llama (tied: no output.weight).
inline std::vector<TinyTensor> tinyGgufTensors() {
    return {{"token_embd.weight", {16, 8}},     {"output_norm.weight", {8}},         {"blk.0.attn_norm.weight", {8}},
            {"blk.0.ffn_norm.weight", {8}},     {"blk.0.attn_q.weight", {8, 8}},     {"blk.0.attn_k.weight", {4, 8}},
            {"blk.0.attn_v.weight", {4, 8}},    {"blk.0.attn_output.weight", {8, 8}}, {"blk.0.ffn_gate.weight", {16, 8}},
            {"blk.0.ffn_up.weight", {16, 8}},   {"blk.0.ffn_down.weight", {8, 16}}};
}

inline nlohmann::ordered_json tinyGgufMetadata(const std::string& arch = "llama") {
    nlohmann::ordered_json m;
    m["general.architecture"] = arch;
    m[arch + ".block_count"] = 1;
    m[arch + ".context_length"] = 64;
    m[arch + ".embedding_length"] = 8;
    m[arch + ".feed_forward_length"] = 16;
    m[arch + ".attention.head_count"] = 2;
    m[arch + ".attention.head_count_kv"] = 1;
    m[arch + ".rope.freq_base"] = 10000.0;
    m[arch + ".attention.layer_norm_rms_epsilon"] = 1e-5;
    return m;
}

namespace detail {
inline void ggufString(std::string& s, const std::string& v) {
    putLE<uint64_t>(s, v.size());
    s += v;
}
inline void ggufValue(std::string& s, const nlohmann::ordered_json& v) {
    if (v.is_string()) {
        putLE<uint32_t>(s, 8);
        ggufString(s, v.get<std::string>());
    } else if (v.is_boolean()) {
        putLE<uint32_t>(s, 7);
        s += char(v.get<bool>() ? 1 : 0);
    } else if (v.is_number_float()) {
        putLE<uint32_t>(s, 6);
        putLE<float>(s, v.get<float>());
    } else {
        putLE<uint32_t>(s, 4);
        putLE<uint32_t>(s, v.get<uint32_t>());
    }
}
}  // namespace detail

// A GGUF v3 file: metadata (strings, bools, floats as f32, integers as u32) and F32 tensors, alignment 32.
inline std::string makeTinyGguf(const nlohmann::ordered_json& metadata, const std::vector<TinyTensor>& tensors) {
    std::string s = "GGUF";
    putLE<uint32_t>(s, 3);
    putLE<uint64_t>(s, tensors.size());
    putLE<uint64_t>(s, metadata.size());
    for (const auto& [k, v] : metadata.items()) {
        detail::ggufString(s, k);
        detail::ggufValue(s, v);
    }
    std::string data;
    uint32_t seed = 1;
    for (const auto& t : tensors) {
        detail::ggufString(s, t.name);
        putLE<uint32_t>(s, uint32_t(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) putLE<uint64_t>(s, uint64_t(*it));
        putLE<uint32_t>(s, 0);  // F32
        while (data.size() % 32) data += '\0';
        putLE<uint64_t>(s, data.size());
        data += tinyFloats(t.shape, seed++);
    }
    while (s.size() % 32) s += '\0';
    return s + data;
}

}  // namespace qstest
