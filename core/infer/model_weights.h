// SPDX-License-Identifier: GPL-3.0-or-later
// ModelWeights: a Llama-family model as the engine runs it: hyperparameters plus one LinearWeights per matrix
// and float norm vectors. Built from a checkpoint (any reader: llama2.c v0/v1/v2, GGUF, safetensors), its
// ModelInfo (tensors found by TensorKind and layer, never by name), and optionally quantized tensors that
// replace the stored ones; or built in memory with random values for benchmarks and tests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/infer/linear_weights.h"
#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/quant/scheme.h"
#include "core/util/result.h"

namespace qs {

struct ModelConfig {
    int dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0, vocab = 0, context = 0;
    float ropeTheta = 10000.0f;
    float normEps = 1e-5f;
    RopeLayout rope = RopeLayout::AdjacentPairs;
    int qDim() const { return heads * headDim; }
    int kvDim() const { return kvHeads * headDim; }
};

struct LayerWeights {
    std::vector<float> attnNorm, ffnNorm;  // [dim]
    std::shared_ptr<const LinearWeights> wq, wk, wv, wo;  // [qDim,dim] [kvDim,dim] [kvDim,dim] [dim,qDim]
    std::shared_ptr<const LinearWeights> gate, up, down;  // [hidden,dim] [hidden,dim] [dim,hidden]
};

struct ModelWeights {
    ModelConfig config;
    std::shared_ptr<const LinearWeights> embedding;  // [vocab, dim]
    std::shared_ptr<const LinearWeights> output;     // [vocab, dim]; the same object as embedding when tied
    std::vector<float> finalNorm;                    // [dim]
    std::vector<LayerWeights> layers;
    std::vector<std::string> warnings;
    uint64_t ownedBytes() const;  // bytes held beyond the checkpoint's mapping
};

// A quantized replacement for one checkpoint tensor (index into Checkpoint::tensors).
struct QuantizedWeight {
    std::shared_ptr<const QuantizedTensor> tensor;
    std::shared_ptr<const Scheme> scheme;
};
using QuantizedWeightMap = std::map<int, QuantizedWeight>;

struct WeightLoadOptions {
    // How quantized tensors (and stored tensors that are not F32: F16, ggml blocks...) run:
    //  - Native: kept in their stored/quantized bytes and multiplied by native kernels (PackedLinearWeights,
    //    activations quantized to the paired 8-bit type as ggml does) where the type has one; other types
    //    as DequantizeOnce. Memory: the packed size. The default.
    //  - DequantizeOnce: converted to float once (float memory; the scheme's exact numerics);
    //  - PerRowBlock: decoded per block of rows at every use (packed memory, slow; same numbers as once).
    enum class Quantized { DequantizeOnce, PerRowBlock, Native };
    Quantized quantized = Quantized::Native;
    // Native mode: tensors without a native kernel run per block of rows instead of being converted to float
    // (set by planWeightMemory when the float copies would not fit; same numbers).
    bool nonNativePerRowBlock = false;
    int maxContext = 0;  // cap on the context (KV cache length); 0 = the model's
};

// Fails when the model is not a runnable Llama-family model (a kind missing for a layer, a shape that does not
// match the hyperparameters, a tensor type that cannot be converted to float, a quantized tensor of the
// wrong shape), naming the tensor. A tied head (ModelInfo::tie) uses the embedding's weights, quantized or not.
Result<std::shared_ptr<const ModelWeights>> loadModelWeights(const Checkpoint& ckpt, const ModelInfo& info,
                                                             const QuantizedWeightMap* quantized,
                                                             const WeightLoadOptions& options, tbb::task_arena* arena,
                                                             const ProgressFn& progress = {});

// Random weights with real shapes (uniform in +-1/sqrt(cols), norms 1), for benchmarks and engine tests.
std::shared_ptr<const ModelWeights> randomModelWeights(const ModelConfig& config, uint64_t seed, bool tied = true);

}  // namespace qs
