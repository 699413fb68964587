// SPDX-License-Identifier: GPL-3.0-or-later
// Transformer: the Llama-family forward pass over ModelWeights with a KV cache (llama2.c run.c forward(),
// generalised to batches of tokens): RMSNorm, rotary embeddings in the checkpoint's layout, grouped-query
// attention, SwiGLU MLP, tied or separate head; and what ModelConfig declares beyond it, as transformers'
// modeling_{llama,qwen2,qwen3,mistral,gemma,gemma2,gemma3}.py compute it: q/k/v/o and MLP biases, per-head
// q/k RMSNorm before RoPE, scaled embeddings, GeGLU, attention and final logit soft-capping
// (cap * tanh(x / cap)), post-attention/post-MLP norms, sliding-window layers with their own RoPE base.
//
// A batch of tokens is processed together (prompt processing, perplexity windows): each weight row is read
// once per batch instead of once per token. The numbers do not depend on the batch size or thread count: every
// output value is one fixed-order dot product.
//
// Threads: parallel over matrix rows, over (token, head) attention pairs and over tokens for the steps between
// the matmuls (norms, biases, RoPE, residual adds, the gated activation) inside the task_arena given at
// construction (serial when null). One Transformer is one sequence: not thread-safe; use one per thread.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <tbb/task_arena.h>

#include "core/infer/model_weights.h"
#include "core/util/result.h"

namespace qs {

// The inputs of the linear layers, as an activation observer sees them (one call per matmul group, the group's
// weights all read the same rows).
enum class LinearInput {
    AttentionIn,   // the attention RMSNorm output, read by q, k and v: [n, dim]
    AttentionOut,  // the attention heads' output, read by o: [n, heads x headDim]
    MlpIn,         // the MLP RMSNorm output, read by gate and up: [n, dim]
    MlpDownIn,     // act(gate x) * up x, read by down: [n, hidden]
    HeadIn,        // the final RMSNorm output, read by the output head: [n or 1, dim] (see setActivationObserver)
};
std::string_view linearInputName(LinearInput which);  // "attn_in", "attn_out", "mlp_in", "mlp_down_in", "head_in"

// Receives the activations x [n, cols] (row-major, token order, positions position()..) exactly as they are fed
// to the matmul, before it runs; `layer` is -1 for HeadIn. Called on the thread running evaluate(), once per
// input per batch; x is valid only during the call. Must not call back into the Transformer.
using ActivationObserver = std::function<void(int layer, LinearInput which, const float* x, int n, int cols)>;

struct EngineOptions {
    int batch = 64;  // tokens per forward call inside evaluate(); bounds the scratch memory
};

class Transformer {
public:
    Transformer(std::shared_ptr<const ModelWeights> weights, tbb::task_arena* arena, EngineOptions options = {});

    const ModelConfig& config() const { return m_w->config; }
    const ModelWeights& weights() const { return *m_w; }
    int context() const { return m_w->config.context; }
    int position() const { return m_pos; }  // tokens held in the KV cache
    void reset() { m_pos = 0; }              // forgets the sequence (the cache is overwritten lazily)
    // Forgets everything after `pos` tokens (pos <= position()).
    void rewind(int pos);

    // Feeds `tokens` at positions position() .. position()+n-1 and advances position().
    // allLogits: `logits` receives n * vocab floats (row t = prediction after token t); otherwise `logits`
    // receives vocab floats for the last token (or may be empty when no prediction is needed).
    // Fails (and leaves position() unchanged) on a token id outside the vocabulary, a full context, or a
    // logits span of the wrong size.
    Status evaluate(std::span<const int> tokens, std::span<float> logits, bool allLogits = false);

    // Calibration hook (core/collect/collect.h): `observer` sees every linear layer's input (LinearInput); empty
    // removes it. Without one, evaluate() costs nothing more (one branch per matmul group). HeadIn: when
    // evaluate() computes logits, the rows fed to the head (all tokens with allLogits, else the last); when it
    // computes none (empty logits, !allLogits) and an observer is set, the final-normed rows of every token,
    // which the head would read, without running the head.
    void setActivationObserver(ActivationObserver observer) { m_observer = std::move(observer); }

    // Memory this object holds (bytes): the KV cache as grown so far (doubling up to the context), and the
    // per-batch activation buffers plus RoPE tables. The matmul kernels' thread-local scratch is separate
    // (kernelScratchBytes(), linear_weights.h). Same thread as evaluate().
    struct MemoryUse {
        uint64_t kvCacheBytes = 0, scratchBytes = 0;
    };
    MemoryUse memoryUse() const;

private:
    void forwardBatch(const int* tokens, int n, float* logits, bool allLogits);
    void attention(int layer, int n, int pos0);
    void projectQkv(int layer, int n, int pos0);   // attention's q/k/v, norms, RoPE and KV cache write
    void attendHeads(int layer, int n, int pos0);  // attention's heads over the KV cache, into m_att
    void mlp(int layer, int n);
    void addResidual(int n, const std::vector<float>& bias, const std::vector<float>* postNorm,
                     const std::vector<float>* nextNorm);
    void normTokens(int n, const std::vector<float>& norm);
    void ensureScratch(int n, int positions);
    void ensureCache(int positions);

    void observe(int layer, LinearInput which, const float* x, int n, int cols) const {
        if (m_observer) m_observer(layer, which, x, n, cols);
    }

    std::shared_ptr<const ModelWeights> m_w;
    tbb::task_arena* m_arena;
    ActivationObserver m_observer;
    EngineOptions m_options;
    int m_pos = 0;
    // Per layer [position][kvDim], grown on demand (doubling, capped at the context), so a model with a long
    // context costs cache memory only for the tokens actually held.
    std::vector<std::vector<float>> m_keyCache, m_valueCache;
    int m_cachePositions = 0;
    std::vector<float> m_cos, m_sin;              // [context][headDim/2] (global layers)
    std::vector<float> m_cosLocal, m_sinLocal;    // [context][headDim/2] (local layers, when they differ)
    std::vector<float> m_x, m_xb, m_xb2, m_q, m_k, m_v, m_att, m_hb, m_hb2, m_scores;
    int m_scratchBatch = 0, m_scorePositions = 0;
    bool m_overflow = false;   // an RMSNorm of the current forwardBatch overflowed (see kernels::rmsnorm)
    bool m_headInAll = false;  // this evaluate() computes no logits: the observer gets every token's HeadIn
};

}  // namespace qs
