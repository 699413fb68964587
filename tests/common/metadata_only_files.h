// SPDX-License-Identifier: GPL-3.0-or-later
// Metadata-only checkpoints for the memory tests of issue 13: `count` tensors of shape [0, 4096] and no data,
// as safetensors and as GGUF v3, written byte by byte from the formats' documents (huggingface/safetensors
// "Format"; ggml docs/gguf.md). Names are Llama-style (so analyzeModel classifies them: 9 tensors a layer).
// tinyTensorsGguf: the same names, each tensor one F32 value with data (the most tensors per file byte a file
// with data can have), for the memory of quantize and export.
#pragma once

#include <cstdint>
#include <string>

namespace qstest {

inline std::string metadataOnlyTensorName(int i) {
    static const char* kParts[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                   "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm",
                                   "post_attention_layernorm"};
    return "model.layers." + std::to_string(i / 9) + "." + kParts[i % 9] + ".weight";
}

template <typename T>
void putLittleEndian(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// u64 little-endian header length, the JSON header, no data section.
inline std::string metadataOnlySafetensors(int count) {
    std::string json = "{";
    for (int i = 0; i < count; ++i)
        json += (i ? ",\"" : "\"") + metadataOnlyTensorName(i) +
                "\":{\"dtype\":\"F32\",\"shape\":[0,4096],\"data_offsets\":[0,0]}";
    json += ",\"__metadata__\":{\"format\":\"pt\"}}";
    std::string out;
    putLittleEndian(out, uint64_t(json.size()));
    return out + json;
}

// GGUF v3: magic, version, tensor count, KV count (0); per tensor: name (u64 length + bytes), n_dims (u32),
// dims innermost first (u64), ggml type (u32, 0 = F32), offset in the data section (u64); padded to 32.
inline std::string metadataOnlyGguf(int count) {
    std::string out = "GGUF";
    putLittleEndian(out, uint32_t(3));
    putLittleEndian(out, uint64_t(count));
    putLittleEndian(out, uint64_t(0));
    for (int i = 0; i < count; ++i) {
        const std::string name = metadataOnlyTensorName(i);
        putLittleEndian(out, uint64_t(name.size()));
        out += name;
        putLittleEndian(out, uint32_t(2));
        putLittleEndian(out, uint64_t(4096));
        putLittleEndian(out, uint64_t(0));
        putLittleEndian(out, uint32_t(0));
        putLittleEndian(out, uint64_t(0));
    }
    out.resize((out.size() + 31) / 32 * 32, '\0');
    return out;
}

// GGUF v3 as metadataOnlyGguf, each tensor of shape [1] (F32) with its value i at offset 32 i of the data
// section (ggml's default alignment of 32 between tensors).
inline std::string tinyTensorsGguf(int count) {
    std::string out = "GGUF";
    putLittleEndian(out, uint32_t(3));
    putLittleEndian(out, uint64_t(count));
    putLittleEndian(out, uint64_t(0));
    for (int i = 0; i < count; ++i) {
        const std::string name = metadataOnlyTensorName(i);
        putLittleEndian(out, uint64_t(name.size()));
        out += name;
        putLittleEndian(out, uint32_t(1));
        putLittleEndian(out, uint64_t(1));
        putLittleEndian(out, uint32_t(0));
        putLittleEndian(out, uint64_t(32) * uint64_t(i));
    }
    out.resize((out.size() + 31) / 32 * 32, '\0');
    for (int i = 0; i < count; ++i) {
        putLittleEndian(out, float(i));
        out.append(28, '\0');
    }
    return out;
}

}  // namespace qstest
