// SPDX-License-Identifier: GPL-3.0-or-later
// The named model shapes `quantscope-cli synth` writes as random-weight checkpoints: the hyperparameters of
// real, published models (figures from their config.json; each SynthShape names its source), so that open
// time, footprint by role and engine speed can be measured at real scale without downloading weights.
// Tiny variants of every family exist for tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

// Which Hugging Face model class / llama.cpp architecture the shape belongs to.
enum class SynthFamily { Llama, Qwen2, Gemma2 };
std::string_view synthFamilyName(SynthFamily f);  // "llama", "qwen2", "gemma2" (HF model_type, GGUF arch)

// Hugging Face `rope_scaling` of type "llama3" (transformers modeling_rope_utils._compute_llama3_parameters).
struct Llama3RopeScaling {
    double factor = 0, lowFreqFactor = 0, highFreqFactor = 0;
    int originalContext = 0;  // original_max_position_embeddings
};

struct SynthShape {
    std::string name;    // "15M", "llama3-1B", "tiny", ...
    std::string source;  // where the figures come from (a config.json URL)
    SynthFamily family = SynthFamily::Llama;
    int dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0, vocab = 0, context = 0;
    double ropeTheta = 10000.0, normEps = 1e-5;
    bool tied = false;     // tie_word_embeddings: no head tensor is written
    bool qkvBias = false;  // Qwen 2: q_proj/k_proj/v_proj carry a bias
    std::optional<Llama3RopeScaling> ropeScaling;
    // Gemma 2 (transformers Gemma2Config): soft-capping, sliding window on alternate layers, query scaling.
    double attnSoftcap = 0, finalSoftcap = 0;
    int slidingWindow = 0, queryPreAttnScalar = 0;
    // Special token ids as the real tokenizer numbers them (-1: none). The synthetic vocabulary puts its
    // special tokens there.
    int bos = -1, eos = -1, pad = -1, unk = -1;
    bool addBos = true;  // the real tokenizer prepends BOS (Qwen's does not)

    int qDim() const { return heads * headDim; }
    int kvDim() const { return kvHeads * headDim; }
    bool llama2cExpressible(std::string* why) const;  // llama2.c v1 has no theta, scaling, bias or head_dim
};

// The shapes, in the order `synth --help` lists them.
const std::vector<SynthShape>& synthShapes();
// The shape named `name` (exact match), or nullptr.
const SynthShape* findSynthShape(std::string_view name);

}  // namespace qs
