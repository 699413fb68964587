// SPDX-License-Identifier: GPL-3.0-or-later
// Rotary position embedding (RoPE, Su et al. 2021) inverse frequencies with the rope_scaling variants of
// Hugging Face transformers (modeling_rope_utils.py: _compute_default/linear/dynamic_ntk/llama3/yarn_parameters)
// and llama.cpp's per-dimension frequency factors (GGUF rope_freqs.weight, divided into the frequencies).
// The angle of pair j at position p is p * invFreq[j]; cos and sin are multiplied by attentionFactor (YaRN).
#pragma once

#include <span>
#include <vector>

#include "core/model/arch_spec.h"
#include "core/util/result.h"

namespace qs {

struct RopeFrequencies {
    std::vector<float> invFreq;   // [headDim / 2]
    float attentionFactor = 1.0f; // multiplies cos and sin (YaRN's mscale); 1 otherwise
};

// The unscaled frequencies theta^(-2j/headDim), computed in float as llama2.c and transformers do.
std::vector<float> defaultInverseFrequencies(double theta, int headDim);

// Frequencies for `scaling` (None: the default ones). `seqLen` is the sequence length dynamic NTK scaling
// sees (transformers: max position + 1); it only matters for RopeScalingType::Dynamic, where lengths up to
// maxPositionEmbeddings give the default frequencies. `freqFactors` ([headDim/2], or empty) divide the
// frequencies as llama.cpp's rope_freqs do. Fails on parameters that make no frequencies (factor < 1, a
// non-positive theta, llama3 without original_max_position_embeddings, factors of the wrong length or <= 0).
Result<RopeFrequencies> ropeFrequencies(double theta, int headDim, const RopeScaling& scaling, int64_t seqLen = 0,
                                        std::span<const float> freqFactors = {});

}  // namespace qs
