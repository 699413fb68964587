// SPDX-License-Identifier: GPL-3.0-or-later
// ModelWeights: a Llama-family model as the engine runs it: hyperparameters plus one LinearWeights per matrix
// and float norm vectors. Built from a checkpoint (any reader: llama2.c v0/v1/v2, GGUF, safetensors), its
// ModelInfo (tensors found by TensorKind and layer, never by name), and optionally quantized tensors that
// replace the stored ones; or built in memory with random values for benchmarks and tests.
#pragma once

#include <algorithm>
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

// The forward pass as the engine runs it (see ArchSpec for where each field comes from). The defaults are the
// Llama 2 model: no biases, SiLU, 1/sqrt(head_dim), full attention, unscaled RoPE.
// The dims, heads, vocab, context, RoPE theta and norm eps are the checkpoint's Hyperparameters (model_info.h),
// declared once there; the loader starts from ModelInfo::hp and settles what the engine needs: headDim derived
// when the file states none, context defaulted (2048) and bounded (WeightLoadOptions::maxContext, 2^20), a
// non-positive theta/eps replaced by 10000 / 1e-5. The kernels take theta and eps as float.
struct ModelConfig : Hyperparameters {
    RopeLayout rope = RopeLayout::AdjacentPairs;
    bool qkvBias = false, outBias = false, mlpBias = false;  // LayerWeights bq/bk/bv, bo, bGate/bUp/bDown
    bool qkNorm = false;     // LayerWeights qNorm/kNorm: per-head RMSNorm of q and k before RoPE
    bool postNorms = false;  // LayerWeights postAttnNorm/postFfnNorm on the sublayer outputs (Gemma 2/3)
    Activation activation = Activation::Silu;  // of the gate: silu(g)*u, or gelu_tanh(g)*u (GeGLU)
    float embedScale = 0.0f;    // embeddings multiplied by it; 0 = not scaled
    float attnScale = 0.0f;     // attention logits scale; 0 = 1/sqrt(headDim)
    float attnSoftcap = 0.0f;   // attention logits -> cap * tanh(logits / cap); 0 = none
    float finalSoftcap = 0.0f;  // output logits likewise
    std::vector<int> window;    // [layers] sliding window (a query at p sees keys p-window+1 .. p); 0 = full;
                                // empty = every layer full
    std::vector<uint8_t> localRope;       // [layers] 1 = the layer uses ropeInvFreqLocal; empty = none does
    std::vector<float> ropeInvFreq;       // [headDim/2] inverse frequencies; empty = theta^(-2j/headDim) in float
    std::vector<float> ropeInvFreqLocal;  // [headDim/2] for local layers (Gemma 3 rope_local_base_freq)
    float ropeAttnFactor = 1.0f;          // multiplies RoPE cos/sin of the global layers (YaRN)
    int64_t qDim() const { return heads * headDim; }
    int64_t kvDim() const { return kvHeads * headDim; }
};

struct LayerWeights {
    std::vector<float> attnNorm, ffnNorm;  // [dim] (norm offsets such as Gemma's 1 + w already added)
    std::shared_ptr<const LinearWeights> wq, wk, wv, wo;  // [qDim,dim] [kvDim,dim] [kvDim,dim] [dim,qDim]
    std::shared_ptr<const LinearWeights> gate, up, down;  // [hidden,dim] [hidden,dim] [dim,hidden]
    std::vector<float> bq, bk, bv, bo;                    // [qDim] [kvDim] [kvDim] [dim], or empty
    std::vector<float> bGate, bUp, bDown;                 // [hidden] [hidden] [dim], or empty
    std::vector<float> qNorm, kNorm;                      // [headDim], or empty
    std::vector<float> postAttnNorm, postFfnNorm;         // [dim], or empty
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

// A quantized replacement for one checkpoint tensor (index into Checkpoint::tensors). Or, for a 1-D tensor the
// map's application replaced (an RMSNorm weight with AWQ scales folded in, core/quant/awq/awq_fold.h): its new
// stored float values in `values` ([elements], before any norm offset such as Gemma's 1 + w), tensor and scheme
// null.
struct QuantizedWeight {
    QuantizedWeight() = default;
    QuantizedWeight(std::shared_ptr<const QuantizedTensor> t, std::shared_ptr<const Scheme> s, std::vector<float> v = {})
        : tensor(std::move(t)), scheme(std::move(s)), values(std::move(v)) {}
    std::shared_ptr<const QuantizedTensor> tensor;
    std::shared_ptr<const Scheme> scheme;
    std::vector<float> values;
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

// The context (KV cache positions) the engine runs `hp` with: the checkpoint's, 2048 when it states none, capped at
// maxContext (> 0) and at 2^20. The loader, the memory plan and `bench` use it.
inline int64_t engineContext(const Hyperparameters& hp, int maxContext = 0) {
    int64_t context = hp.context > 0 ? hp.context : 2048;
    if (maxContext > 0 && maxContext < context) context = maxContext;
    return std::min<int64_t>(context, int64_t(1) << 20);
}

// Fails when the model is not runnable (ModelInfo::runnable false: the message is its runnableReason), or a
// kind is missing for a layer, a shape does not
// match the hyperparameters, a tensor type that cannot be converted to float, a quantized tensor of the
// wrong shape), naming the tensor. A tied head (ModelInfo::tie) uses the embedding's weights, quantized or not.
Result<std::shared_ptr<const ModelWeights>> loadModelWeights(const Checkpoint& ckpt, const ModelInfo& info,
                                                             const QuantizedWeightMap* quantized,
                                                             const WeightLoadOptions& options, tbb::task_arena* arena,
                                                             const ProgressFn& progress = {});

// The names and shapes loadModelWeights would check, without reading any tensor data (cheap: for inspect and
// the GUI's summary, so that "runnable" there means the engine will load the model). When info says runnable
// but a check fails, sets info.runnable = false and info.runnableReason to the loader's message, and returns it.
Status checkInferenceShapes(const Checkpoint& ckpt, ModelInfo& info);

}  // namespace qs
