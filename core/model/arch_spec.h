// SPDX-License-Identifier: GPL-3.0-or-later
// ArchSpec: everything in a checkpoint's declaration (config.json or GGUF keys) that changes the forward pass
// of a Llama-shaped decoder: biases, q/k norms, Gemma's norms/embedding scale/GeGLU/soft-capping, sliding
// windows, RoPE bases and rope_scaling. Read from the declaration only, never guessed from tensor names, by
// readHfArchSpec / readGgufArchSpec, which also list every declared feature the engine does not implement
// (each named with the key it came from) so the model is refused instead of run wrongly.
//
// References: Hugging Face transformers (modeling_llama/qwen2/qwen3/mistral/gemma/gemma2/gemma3.py,
// modeling_rope_utils.py) and llama.cpp (src/llama-model.cpp hparams and graph builders).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs {

enum class RopeScalingType { None, Linear, Dynamic, Llama3, Yarn };
std::string_view ropeScalingTypeName(RopeScalingType t);  // "none", "linear", "dynamic", "llama3", "yarn"

// rope_scaling as transformers' modeling_rope_utils.py reads it (GGUF: <arch>.rope.scaling.* keys).
struct RopeScaling {
    RopeScalingType type = RopeScalingType::None;
    double factor = 1.0;
    double lowFreqFactor = 1.0, highFreqFactor = 4.0;  // llama3
    int64_t originalContext = 0;           // original_max_position_embeddings (llama3, yarn, dynamic); 0 = none
    int64_t maxPositionEmbeddings = 0;     // the config's max_position_embeddings (yarn, dynamic)
    std::optional<double> attentionFactor; // yarn attention_factor (GGUF attn_factor)
    std::optional<double> mscale, mscaleAllDim;  // yarn (DeepSeek style)
    double betaFast = 32.0, betaSlow = 1.0;      // yarn
    bool truncate = true;                         // yarn: floor/ceil the correction range
    std::string source;                           // "config.json rope_scaling", "gguf qwen2.rope.scaling.type"
};

enum class Activation { Silu, GeluTanh };

struct ArchSpec {
    bool qkvBias = false;        // q/k/v projections have biases (Qwen2; Llama attention_bias)
    bool outBias = false;        // o projection has a bias (Llama/Qwen3/Gemma attention_bias)
    bool mlpBias = false;        // gate/up/down have biases (Llama mlp_bias)
    bool qkNorm = false;         // per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3)
    bool postNorms = false;      // RMSNorm of the attention and MLP outputs before the residual add (Gemma 2/3)
    double normOffset = 0.0;     // added to every RMSNorm weight: 1 for Hugging Face Gemma ((1 + w)); GGUF
                                 // Gemma files store 1 + w already (llama.cpp's converter adds it)
    double embedScale = 0.0;     // embeddings multiplied by this (Gemma: sqrt(hidden) in the model dtype); 0 = none
    Activation activation = Activation::Silu;
    double attnScale = 0.0;      // query scale; 0 = 1/sqrt(head_dim) (Gemma: query_pre_attn_scalar^-0.5)
    double attnSoftcap = 0.0;    // attention logits -> cap * tanh(logits / cap); 0 = none
    double finalSoftcap = 0.0;   // output logits likewise; 0 = none
    int64_t slidingWindow = 0;   // keys at positions > pos - window are seen by sliding layers; 0 = none
    std::vector<bool> slidingLayers;  // [layers]; true = sliding-window (local) layer
    double ropeThetaLocal = 0.0; // RoPE base of sliding layers (Gemma 3 rope_local_base_freq); 0 = the global one
    RopeScaling ropeScaling;     // applies to global layers (all layers without a local base)
    bool ropeFreqFactors = false;  // GGUF rope_freqs.weight divides the frequencies (llama.cpp freq_factors)
    std::string dtype;           // the model's declared dtype ("bfloat16", "float32"...), "" when unknown
};

// Which feature of a declaration is not implemented: "mixture-of-experts (config.json num_local_experts = 8)".
struct Unsupported {
    std::string feature;
    std::string key;
    std::string describe() const { return feature + " (" + key + ")"; }
};

struct HyperparametersView {  // the hyperparameters the readers need (filled before the spec is read)
    int64_t dim = 0, layers = 0, heads = 0, headDim = 0, context = 0;
};

// Reads an HF config.json (`cfg`, with text_config resolved by the caller into `tc`) for the normalised
// architecture `arch` ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3"). Appends what it
// cannot run to `unsupported`.
ArchSpec readHfArchSpec(const nlohmann::json& cfg, const nlohmann::json& tc, const std::string& arch,
                        const HyperparametersView& hp, std::vector<Unsupported>& unsupported);

// Reads GGUF metadata for general.architecture `arch` ("llama", "qwen2", "qwen3", "gemma", "gemma2", "gemma3").
ArchSpec readGgufArchSpec(const nlohmann::json& md, const std::string& arch, const HyperparametersView& hp,
                          std::vector<Unsupported>& unsupported);

// Architectures the engine implements, by config.json model_type (normalised: "gemma3_text" -> "gemma3") and
// by GGUF general.architecture.
bool hfArchitectureImplemented(const std::string& arch);
bool ggufArchitectureImplemented(const std::string& arch);

// The value of x rounded to the floating-point type named by a config's torch_dtype ("bfloat16", "float16";
// anything else: float32), as torch.tensor(x, dtype=...) does (round to nearest even).
double roundToDtype(double x, const std::string& dtype);

}  // namespace qs
