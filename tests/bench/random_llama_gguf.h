// SPDX-License-Identifier: GPL-3.0-or-later
// A random-weight Llama checkpoint written as GGUF v3 (benchmark input, not a product feature): real shapes,
// weights uniform in +-1/sqrt(cols) from a fixed seed, norms 1, every matrix (embedding and untied head
// included) stored in one type (F32, F16, a ggml block type quantized by our bit-exact quantizers, or IQ4_XS
// with random codes). No
// vocabulary is stored: run it with --tokenizer (a 32000-token Llama 2 tokenizer.model for vocab 32000).
#pragma once

#include <cstdint>
#include <cstring>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_quantize.h"
#include "core/tensor/dtype.h"
#include "core/tensor/half.h"

namespace qsbench {

struct LlamaShape {
    int dim, hidden, layers, heads, kvHeads, vocab, context;
};
inline constexpr LlamaShape kShape110M{768, 2048, 12, 12, 12, 32000, 1024};

class GgufBytes {
public:
    template <class T> void put(T v) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        s.append(b, sizeof(T));
    }
    void str(const std::string& v) {
        put<uint64_t>(v.size());
        s += v;
    }
    void kvU32(const std::string& k, uint32_t v) {
        str(k);
        put<uint32_t>(4);
        put(v);
    }
    void kvF32(const std::string& k, float v) {
        str(k);
        put<uint32_t>(6);
        put(v);
    }
    void kvStr(const std::string& k, const std::string& v) {
        str(k);
        put<uint32_t>(8);
        str(v);
    }
    std::string s;
};

// Writes the checkpoint to `path`; returns false on an I/O error. Matrices must take whole blocks of `type`.
inline bool writeRandomLlamaGguf(const std::string& path, const LlamaShape& c, qs::DType type, uint32_t seed) {
    struct T {
        std::string name;
        int64_t rows, cols;  // cols = 1 for vectors (stored 1-D)
    };
    std::vector<T> ts = {{"token_embd.weight", c.vocab, c.dim}, {"output_norm.weight", c.dim, 1}, {"output.weight", c.vocab, c.dim}};
    const int64_t kv = int64_t(c.dim) / c.heads * c.kvHeads;
    for (int l = 0; l < c.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        ts.insert(ts.end(), {{p + "attn_norm.weight", c.dim, 1}, {p + "attn_q.weight", c.dim, c.dim},
                             {p + "attn_k.weight", kv, c.dim}, {p + "attn_v.weight", kv, c.dim},
                             {p + "attn_output.weight", c.dim, c.dim}, {p + "ffn_norm.weight", c.dim, 1},
                             {p + "ffn_gate.weight", c.hidden, c.dim}, {p + "ffn_up.weight", c.hidden, c.dim},
                             {p + "ffn_down.weight", c.dim, c.hidden}});
    }
    GgufBytes h;
    h.s = "GGUF";
    h.put<uint32_t>(3);
    h.put<uint64_t>(ts.size());
    h.put<uint64_t>(10);
    h.kvStr("general.architecture", "llama");
    h.kvStr("general.name", "random 110M-shaped Llama (QuantScope benchmark)");
    h.kvU32("llama.context_length", uint32_t(c.context));
    h.kvU32("llama.embedding_length", uint32_t(c.dim));
    h.kvU32("llama.feed_forward_length", uint32_t(c.hidden));
    h.kvU32("llama.block_count", uint32_t(c.layers));
    h.kvU32("llama.attention.head_count", uint32_t(c.heads));
    h.kvU32("llama.attention.head_count_kv", uint32_t(c.kvHeads));
    h.kvF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    h.kvU32("llama.vocab_size", uint32_t(c.vocab));
    auto typeOf = [&](const T& t) { return t.cols == 1 ? qs::DType::F32 : type; };
    auto bytesOf = [&](const T& t) { return *qs::dtypeBytes(typeOf(t), uint64_t(t.rows * t.cols)); };
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const T& t : ts) {
        h.str(t.name);
        if (t.cols == 1) {
            h.put<uint32_t>(1);
            h.put<uint64_t>(uint64_t(t.rows));
        } else {
            h.put<uint32_t>(2);
            h.put<uint64_t>(uint64_t(t.cols));  // ne0: innermost
            h.put<uint64_t>(uint64_t(t.rows));
        }
        h.put<uint32_t>(uint32_t(qs::dtypeInfo(typeOf(t)).ggmlId));
        h.put<uint64_t>(offset);
        offsets.push_back(offset);
        offset = (offset + bytesOf(t) + 31) / 32 * 32;
    }
    h.s.resize((h.s.size() + 31) / 32 * 32, '\0');
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out.write(h.s.data(), std::streamsize(h.s.size()))) return false;
    std::mt19937 rng(seed);
    uint64_t written = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
        const T& t = ts[i];
        const std::string pad(size_t(offsets[i] - written), '\0');
        out.write(pad.data(), std::streamsize(pad.size()));
        std::vector<float> v(size_t(t.rows * t.cols), 1.0f);
        if (t.cols > 1) {
            const float a = 1.0f / std::sqrt(float(t.cols));
            std::uniform_real_distribution<float> u(-a, a);
            for (float& x : v) x = u(rng);
        }
        std::string bytes(size_t(bytesOf(t)), '\0');
        const qs::DType ty = typeOf(t);
        if (ty == qs::DType::F32) std::memcpy(bytes.data(), v.data(), bytes.size());
        else if (ty == qs::DType::F16)
            for (size_t k = 0; k < v.size(); ++k) {
                const uint16_t hv = qs::floatToHalf(v[k]);
                std::memcpy(bytes.data() + 2 * k, &hv, 2);
            }
        else if (ty == qs::DType::IQ4_XS) {
            // No iq4_xs quantizer: random codes and 6-bit scales, a super-block scale giving |w| <~ 1/sqrt(cols).
            const uint16_t d = qs::floatToHalf(1.0f / (std::sqrt(float(t.cols)) * 32.0f * 127.0f));
            for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = char(rng() & 0xFF);
            for (size_t k = 0; k < bytes.size(); k += sizeof(qs::ggml::BlockIq4Xs)) std::memcpy(bytes.data() + k, &d, 2);
        } else if (!qs::ggml::quantize(ty, v.data(), bytes.data(), int64_t(v.size())))
            return false;
        out.write(bytes.data(), std::streamsize(bytes.size()));
        written = offsets[i] + bytes.size();
    }
    return bool(out);
}

}  // namespace qsbench
