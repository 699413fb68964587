// SPDX-License-Identifier: GPL-3.0-or-later
// Tensor plan and values of synthesized checkpoints, and the driver writing each format. See synth.h.
#include "core/model/synth.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <numbers>

namespace qs {

namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// Uniform in [-scale, scale): 24 random bits, symmetric around 0.
inline float uniformAt(uint64_t tensorSeed, uint64_t index, float scale) {
    const int64_t k = int64_t(splitmix64(tensorSeed + index) >> 40) - (int64_t(1) << 23);
    return float(k) * (scale / float(1 << 23));
}

using RowMap = std::function<int64_t(int64_t)>;  // stored row -> Hugging Face row

// Random values of the HF tensor `hfName` ([rows, cols], or [n] with cols = 1 for biases), rows permuted by
// `rowMap` when given.
std::function<void(uint64_t, uint64_t, float*)> randomFill(uint64_t seed, const std::string& hfName,
                                                           int64_t cols, float scale, RowMap rowMap = {}) {
    const uint64_t ts = splitmix64(seed ^ fnv1a(hfName));
    return [=](uint64_t first, uint64_t count, float* dst) {
        const uint64_t c = uint64_t(cols);
        for (uint64_t i = 0; i < count;) {
            const uint64_t e = first + i, row = e / c, col = e % c;
            const uint64_t n = std::min(count - i, c - col);
            const uint64_t hfRow = rowMap ? uint64_t(rowMap(int64_t(row))) : row;
            for (uint64_t k = 0; k < n; ++k) dst[i + k] = uniformAt(ts, hfRow * c + col + k, scale);
            i += n;
        }
    };
}

std::function<void(uint64_t, uint64_t, float*)> constantFill(float v) {
    return [v](uint64_t, uint64_t count, float* dst) { std::fill(dst, dst + count, v); };
}

// convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half rows (head, j, i) -> GGUF adjacent pairs (head, i,
// j).
RowMap adjacentPairsToHf(int headDim) {
    return [headDim](int64_t r) {
        const int64_t h = r / headDim, rem = r % headDim, i = rem / 2, j = rem % 2;
        return h * headDim + j * (headDim / 2) + i;
    };
}

// convert_hf_to_gguf.py LlamaModel.generate_extra_tensors for rope_type llama3: per frequency the divisor
// llama.cpp applies (1 for high frequencies, `factor` for low ones, smoothly interpolated between).
std::vector<float> llama3RopeFactors(const SynthShape& s) {
    const Llama3RopeScaling& r = *s.ropeScaling;
    const double lowWavelen = r.originalContext / r.lowFreqFactor,
                 highWavelen = r.originalContext / r.highFreqFactor;
    std::vector<float> f;
    for (int i = 0; i < s.headDim; i += 2) {
        const float freq = float(1.0 / std::pow(s.ropeTheta, double(i) / double(s.headDim)));
        const double wavelen = 2.0 * std::numbers::pi / double(freq);
        if (wavelen < highWavelen)
            f.push_back(1.0f);
        else if (wavelen > lowWavelen)
            f.push_back(float(r.factor));
        else {
            const double smooth =
                (r.originalContext / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
            f.push_back(float(1.0 / ((1.0 - smooth) / r.factor + smooth)));
        }
    }
    return f;
}

struct Names {
    SynthFormat format;
    SynthFamily family;
    // GGUF name of an HF layer-tensor suffix.
    std::string gguf(const std::string& hf) const {
        static const std::pair<const char*, const char*> common[] = {
            {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"},
            {"self_attn.v_proj", "attn_v"}, {"self_attn.o_proj", "attn_output"},
            {"mlp.gate_proj", "ffn_gate"},  {"mlp.up_proj", "ffn_up"},
            {"mlp.down_proj", "ffn_down"},  {"input_layernorm", "attn_norm"}};
        for (auto [h, g] : common)
            if (hf == h) return g;
        if (family == SynthFamily::Gemma2) {
            if (hf == "post_attention_layernorm") return "post_attention_norm";
            if (hf == "pre_feedforward_layernorm") return "ffn_norm";
            if (hf == "post_feedforward_layernorm") return "post_ffw_norm";
        }
        if (hf == "post_attention_layernorm") return "ffn_norm";
        return hf;
    }
};

// The tensor list of one synthetic checkpoint, in the order its format's writer expects; each tensor's values
// come from the seed and its Hugging Face name, so the same model is written in every format.
class SynthPlan {
public:
    SynthPlan(const SynthShape& s, SynthFormat format, DType dtype, uint64_t seed)
        : m_s(s), m_format(format), m_dtype(dtype), m_seed(seed), m_names{format, s.family},
          m_hfLayout(format == SynthFormat::Safetensors),
          m_permuteQk(!m_hfLayout && s.family == SynthFamily::Llama),
          m_normValue(s.family == SynthFamily::Gemma2 && m_hfLayout ? 0.0f : 1.0f) {}

    std::vector<TensorToWrite> build() && {
        if (m_format == SynthFormat::Llama2c) llama2c();
        else layered();
        return std::move(m_out);
    }

private:
    void matrix(std::string name, const std::string& hfName, int64_t rows, int64_t cols, RowMap map = {}) {
        m_out.push_back({std::move(name), m_dtype, {rows, cols},
                         randomFill(m_seed, hfName, cols, 1.0f / std::sqrt(float(cols)), map)});
    }
    void vector(std::string name, const std::string& hfName, int64_t n, RowMap map = {}) {
        m_out.push_back({std::move(name), m_dtype, {n},
                         randomFill(m_seed, hfName, 1, 1.0f / std::sqrt(float(m_s.dim)), map)});
    }
    void norm(std::string name) { m_out.push_back({std::move(name), m_dtype, {m_s.dim}, constantFill(m_normValue)}); }
    std::string layerName(int l, const std::string& hf, const char* suffix) const {
        return m_hfLayout ? "model.layers." + std::to_string(l) + "." + hf + suffix
                          : "blk." + std::to_string(l) + "." + m_names.gguf(hf) + suffix;
    }

    // version1_export order: norms of all layers, final norm, embedding, then each matrix over all layers.
    void llama2c() {
        const SynthShape& s = m_s;
        const int64_t D = s.dim;
        for (const char* n : {"input_layernorm", "post_attention_layernorm"})
            for (int l = 0; l < s.layers; ++l) norm(layerName(l, n, ".weight"));
        norm("output_norm.weight");
        matrix("token_embd.weight", "model.embed_tokens.weight", s.vocab, D);
        struct M {
            const char* hf;
            int64_t rows, cols;
            bool permute;
        };
        const M ms[] = {{"self_attn.q_proj", s.qDim(), D, true},   {"self_attn.k_proj", s.kvDim(), D, true},
                        {"self_attn.v_proj", s.kvDim(), D, false}, {"self_attn.o_proj", D, s.qDim(), false},
                        {"mlp.gate_proj", s.hidden, D, false},     {"mlp.down_proj", D, s.hidden, false},
                        {"mlp.up_proj", s.hidden, D, false}};
        for (const M& m : ms)
            for (int l = 0; l < s.layers; ++l)
                matrix(layerName(l, m.hf, ".weight"), "model.layers." + std::to_string(l) + "." + m.hf + ".weight",
                       m.rows, m.cols, m.permute ? adjacentPairsToHf(s.headDim) : RowMap{});
        if (!s.tied) matrix("output.weight", "lm_head.weight", s.vocab, D);
    }

    void layer(int l) {
        const SynthShape& s = m_s;
        const int64_t D = s.dim;
        const std::string hfp = "model.layers." + std::to_string(l) + ".";
        norm(layerName(l, "input_layernorm", ".weight"));
        struct P {
            const char* hf;
            int64_t rows;
            int heads;
        };
        const P attn[] = {{"self_attn.q_proj", s.qDim(), s.heads},
                          {"self_attn.k_proj", s.kvDim(), s.kvHeads},
                          {"self_attn.v_proj", s.kvDim(), 0}};
        for (const P& p : attn) {
            const bool perm = m_permuteQk && p.heads > 0;
            matrix(layerName(l, p.hf, ".weight"), hfp + p.hf + ".weight", p.rows, D,
                   perm ? adjacentPairsToHf(s.headDim) : RowMap{});
            if (s.qkvBias)
                vector(layerName(l, p.hf, ".bias"), hfp + p.hf + ".bias", p.rows,
                       perm ? adjacentPairsToHf(s.headDim) : RowMap{});
        }
        matrix(layerName(l, "self_attn.o_proj", ".weight"), hfp + "self_attn.o_proj.weight", D, s.qDim());
        norm(layerName(l, "post_attention_layernorm", ".weight"));
        if (s.family == SynthFamily::Gemma2) norm(layerName(l, "pre_feedforward_layernorm", ".weight"));
        matrix(layerName(l, "mlp.gate_proj", ".weight"), hfp + "mlp.gate_proj.weight", s.hidden, D);
        matrix(layerName(l, "mlp.up_proj", ".weight"), hfp + "mlp.up_proj.weight", s.hidden, D);
        matrix(layerName(l, "mlp.down_proj", ".weight"), hfp + "mlp.down_proj.weight", D, s.hidden);
        if (s.family == SynthFamily::Gemma2) norm(layerName(l, "post_feedforward_layernorm", ".weight"));
    }

    // GGUF and safetensors: embedding, (GGUF) the Llama 3 RoPE factors, the layers, final norm, head.
    void layered() {
        const SynthShape& s = m_s;
        matrix(m_hfLayout ? "model.embed_tokens.weight" : "token_embd.weight", "model.embed_tokens.weight", s.vocab,
               s.dim);
        if (!m_hfLayout && s.ropeScaling) {
            const std::vector<float> f = llama3RopeFactors(s);
            m_out.push_back({"rope_freqs.weight", DType::F32, {int64_t(f.size())},
                             [f](uint64_t first, uint64_t count, float* dst) {
                                 std::copy(f.begin() + ptrdiff_t(first), f.begin() + ptrdiff_t(first + count), dst);
                             }});
        }
        for (int l = 0; l < s.layers; ++l) layer(l);
        norm(m_hfLayout ? "model.norm.weight" : "output_norm.weight");
        if (!s.tied) matrix(m_hfLayout ? "lm_head.weight" : "output.weight", "lm_head.weight", s.vocab, s.dim);
    }

    const SynthShape& m_s;
    SynthFormat m_format;
    DType m_dtype;
    uint64_t m_seed;
    Names m_names;
    bool m_hfLayout, m_permuteQk;
    float m_normValue;
    std::vector<TensorToWrite> m_out;
};

}  // namespace

std::vector<TensorToWrite> synthTensors(const SynthShape& s, SynthFormat format, DType dtype, uint64_t seed) {
    return SynthPlan(s, format, dtype, seed).build();
}

Result<SynthResult> synthesizeCheckpoint(const SynthShape& shape, const SynthOptions& o,
                                         const std::string& out, tbb::task_arena* arena,
                                         const ProgressFn& progressFn) {
    if (o.dtype != DType::F32 && o.dtype != DType::BF16)
        return Error{out + ": synth writes f32 or bf16 only"};
    if (o.format == SynthFormat::Llama2c) {
        std::string why;
        if (!shape.llama2cExpressible(&why))
            return Error{out + ": the llama2.c format cannot express shape " + shape.name + " (" + why + ")"};
        if (o.dtype != DType::F32)
            return Error{out + ": the llama2.c v1 format stores f32 only (asked for bf16)"};
    }
    SynthResult r;
    const std::vector<TensorToWrite> tensors = synthTensors(shape, o.format, o.dtype, o.seed);
    for (const auto& t : tensors) r.tensorBytes += t.bytes(), r.parameters += t.elements();
    const SynthVocabulary vocab = synthVocabulary(shape);
    ProgressSink progress(progressFn);
    namespace fs = std::filesystem;
    auto commitAll = [&](const std::vector<std::pair<std::string, std::string>>& texts) -> Status {
        for (const auto& [path, text] : texts) {
            if (auto s = writeTextFile(path, text); !s) return s;
            r.files.push_back(path);
        }
        return {};
    };

    if (o.format == SynthFormat::Gguf) {
        if (auto s = writeGguf(out, synthGgufKvs(shape, o.dtype, vocab), tensors, arena, progress); !s)
            return s.error();
        r.modelPath = out;
        r.files.push_back(out);
        return r;
    }
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out))
        return Error{out + ": cannot create the output folder" + (ec ? ": " + ec.message() : "")};
    r.modelPath = out;
    const fs::path dir(out);
    if (o.format == SynthFormat::Llama2c) {
        const std::string model = (dir / "model.bin").string();
        if (auto s = writeRawTensors(model, synthLlama2cHeader(shape), tensors, arena, progress); !s)
            return s.error();
        r.files.push_back(model);
        if (auto s = commitAll({{(dir / "tokenizer.bin").string(), synthLlama2cTokenizer(vocab)}}); !s)
            return s.error();
        return r;
    }
    const std::string model = (dir / "model.safetensors").string();
    if (auto s = writeSafetensors(model, tensors, {{"format", "pt"}, {"quantscope_synth", shape.name}}, arena,
                                  progress);
        !s)
        return s.error();
    r.files.push_back(model);
    if (auto s =
            commitAll({{(dir / "config.json").string(), synthHfConfigJson(shape, o.dtype)},
                       {(dir / "tokenizer.json").string(), synthTokenizerJson(shape, vocab)},
                       {(dir / "tokenizer_config.json").string(), synthTokenizerConfigJson(shape, vocab)}});
        !s)
        return s.error();
    return r;
}

}  // namespace qs
