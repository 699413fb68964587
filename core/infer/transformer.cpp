// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/transformer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/infer/float_gemm.h"
#include "core/infer/kernels.h"
#include "core/util/check.h"

namespace qs {

Transformer::Transformer(std::shared_ptr<const ModelWeights> weights, tbb::task_arena* arena, EngineOptions options)
    : m_w(std::move(weights)), m_arena(arena), m_options(options) {
    QS_CHECK(m_w && m_w->embedding && m_w->output, "Transformer needs loaded weights");
    const ModelConfig& c = m_w->config;
    QS_CHECK(c.context > 0 && c.headDim % 2 == 0 && c.kvHeads > 0 && c.heads % c.kvHeads == 0, "invalid model config");
    if (m_options.batch < 1) m_options.batch = 1;
    m_keyCache.resize(size_t(c.layers));
    m_valueCache.resize(size_t(c.layers));
    // RoPE angles pos * invFreq[j] in float (llama2.c; transformers' float32 inv_freq @ position_ids), with
    // the unscaled frequencies theta^(-2j/headDim) unless the config gives others.
    const int half = c.headDim / 2;
    auto table = [&](const std::vector<float>& given, float theta, float factor, std::vector<float>& cosT,
                     std::vector<float>& sinT) {
        std::vector<float> inv = given;
        if (inv.empty()) {
            inv.resize(size_t(half));
            for (int j = 0; j < half; ++j) inv[size_t(j)] = 1.0f / std::pow(theta, float(2 * j) / float(c.headDim));
        }
        QS_CHECK(inv.size() == size_t(half), "RoPE frequencies of the wrong length");
        cosT.resize(size_t(c.context) * size_t(half));
        sinT.resize(cosT.size());
        for (int pos = 0; pos < c.context; ++pos)
            for (int j = 0; j < half; ++j) {
                const float val = float(pos) * inv[size_t(j)];
                cosT[size_t(pos) * size_t(half) + size_t(j)] = factor == 1.0f ? std::cos(val) : std::cos(val) * factor;
                sinT[size_t(pos) * size_t(half) + size_t(j)] = factor == 1.0f ? std::sin(val) : std::sin(val) * factor;
            }
    };
    table(c.ropeInvFreq, c.ropeTheta, c.ropeAttnFactor, m_cos, m_sin);
    if (!c.localRope.empty()) table(c.ropeInvFreqLocal, c.ropeTheta, 1.0f, m_cosLocal, m_sinLocal);
}

std::string_view linearInputName(LinearInput which) {
    switch (which) {
    case LinearInput::AttentionIn: return "attn_in";
    case LinearInput::AttentionOut: return "attn_out";
    case LinearInput::MlpIn: return "mlp_in";
    case LinearInput::MlpDownIn: return "mlp_down_in";
    case LinearInput::HeadIn: return "head_in";
    }
    return "?";
}

Transformer::MemoryUse Transformer::memoryUse() const {
    const auto bytes = [](const std::vector<float>& v) { return uint64_t(v.capacity()) * sizeof(float); };
    MemoryUse u;
    for (const auto* cache : {&m_keyCache, &m_valueCache})
        for (const auto& layer : *cache) u.kvCacheBytes += bytes(layer);
    for (const auto* v : {&m_cos, &m_sin, &m_cosLocal, &m_sinLocal, &m_x, &m_xb, &m_xb2, &m_q, &m_k, &m_v, &m_att,
                          &m_hb, &m_hb2, &m_scores})
        u.scratchBytes += bytes(*v);
    return u;
}

void Transformer::rewind(int pos) {
    QS_CHECK(pos >= 0 && pos <= m_pos, "rewind past the current position");
    m_pos = pos;
}

void Transformer::ensureCache(int positions) {
    if (positions <= m_cachePositions) return;
    const ModelConfig& c = m_w->config;
    const int grown = int(std::min<int64_t>(c.context, std::max({positions, 2 * m_cachePositions, 64})));
    for (int l = 0; l < c.layers; ++l) {
        m_keyCache[size_t(l)].resize(size_t(grown) * size_t(c.kvDim()));
        m_valueCache[size_t(l)].resize(size_t(grown) * size_t(c.kvDim()));
    }
    m_cachePositions = grown;
}

void Transformer::ensureScratch(int n, int positions) {
    const ModelConfig& c = m_w->config;
    if (n > m_scratchBatch || positions > m_scorePositions) {
        m_scorePositions = std::max(positions, m_scorePositions);
        m_scores.resize(size_t(std::max(n, m_scratchBatch)) * size_t(c.heads) * size_t(m_scorePositions));
    }
    if (n <= m_scratchBatch) return;
    const size_t b = size_t(n);
    m_x.resize(b * size_t(c.dim));
    m_xb.resize(b * size_t(std::max(c.dim, c.qDim())));
    m_xb2.resize(b * size_t(c.dim));
    m_q.resize(b * size_t(c.qDim()));
    m_k.resize(b * size_t(c.kvDim()));
    m_v.resize(b * size_t(c.kvDim()));
    m_att.resize(b * size_t(c.qDim()));
    m_hb.resize(b * size_t(c.hidden));
    m_hb2.resize(b * size_t(c.hidden));
    m_scratchBatch = n;
}

Status Transformer::evaluate(std::span<const int> tokens, std::span<float> logits, bool allLogits) {
    const ModelConfig& c = m_w->config;
    const size_t n = tokens.size();
    if (n == 0) return {};
    for (size_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= c.vocab)
            return Error{"token id " + std::to_string(tokens[i]) + " at position " + std::to_string(m_pos + int(i)) +
                         " is outside the model's vocabulary of " + std::to_string(c.vocab)};
    if (n > size_t(c.context - m_pos))
        return Error{"context full: " + std::to_string(m_pos) + " + " + std::to_string(n) + " tokens exceed " +
                     std::to_string(c.context)};
    const size_t want = allLogits ? n * size_t(c.vocab) : size_t(c.vocab);
    if (!logits.empty() && logits.size() != want)
        return Error{"logits buffer holds " + std::to_string(logits.size()) + " floats, expected " + std::to_string(want)};
    if (logits.empty() && allLogits) return Error{"all logits requested without a buffer"};
    m_headInAll = logits.empty();

    for (size_t done = 0; done < n;) {
        const int step = int(std::min(n - done, size_t(m_options.batch)));
        const bool last = done + size_t(step) == n;
        float* out = nullptr;
        if (allLogits) out = logits.data() + done * size_t(c.vocab);
        else if (last && !logits.empty()) out = logits.data();
        m_overflow = false;
        forwardBatch(tokens.data() + done, step, out, allLogits);
        // An RMSNorm whose sum of squares overflowed gives zeros (as the float references do): the tokens after
        // it would be computed from nothing, finite but meaningless, so it is an error like a non-finite logit.
        if (m_overflow) {
            m_pos -= int(done + size_t(step));
            return Error{"the forward pass overflowed float arithmetic: an RMSNorm input within tokens " +
                         std::to_string(m_pos + int(done)) + ".." + std::to_string(m_pos + int(done) + step - 1) +
                         " has a sum of squares beyond float range (activations or weights too large)"};
        }
        // A weight that overflows float arithmetic (finite but huge, e.g. 3e38) turns the logits into Inf/NaN;
        // a perplexity or a sampled token computed from them would be silently meaningless, so it is an error.
        if (out) {
            const size_t rows = allLogits ? size_t(step) : 1;
            for (size_t k = 0; k < rows * size_t(c.vocab); ++k)
                if (!std::isfinite(out[k])) {
                    const int at = m_pos - step + (allLogits ? int(k / size_t(c.vocab)) : step - 1);
                    m_pos -= int(done + size_t(step));
                    return Error{"the forward pass produced a non-finite logit (" + std::string(std::isnan(out[k]) ? "NaN" : "Inf") +
                                 " for token id " + std::to_string(k % size_t(c.vocab)) + " after position " +
                                 std::to_string(at) + "): the weights or activations overflow float arithmetic"};
                }
        }
        done += size_t(step);
    }
    return {};
}

namespace {

// y[t] += bias for tokens t0 .. t1 - 1 of rows of bias.size() values (nothing when there is no bias).
void addBias(float* y, const std::vector<float>& bias, int t0, int t1) {
    if (bias.empty()) return;
    const size_t rows = bias.size();
    for (int t = t0; t < t1; ++t)
        for (size_t r = 0; r < rows; ++r) y[size_t(t) * rows + r] += bias[r];
}

// The per-token steps between the matmuls (norms, biases, RoPE, residual adds, the gated activation) split
// over tokens: body(t0, t1) for ranges covering [0, n), each token's values computed by one call exactly as
// serially, so the bits do not depend on the split. perToken: values per token (serial below kMinWork, and
// for a single token: decode). body returns false when a value overflowed (an RMSNorm of non-finite input);
// so does forTokens when any range did.
template <class F>
bool forTokens(tbb::task_arena* arena, int n, int64_t perToken, F&& body) {
    constexpr int64_t kMinWork = 1 << 13;
    if (!arena || arena->max_concurrency() <= 1 || n < 2 || int64_t(n) * perToken < 2 * kMinWork) return body(0, n);
    const int grain = int(std::max<int64_t>(1, kMinWork / std::max<int64_t>(1, perToken)));
    std::atomic<bool> finite = true;
    arena->execute([&] {
        tbb::parallel_for(tbb::blocked_range<int>(0, n, grain), [&](const tbb::blocked_range<int>& r) {
            if (!body(r.begin(), r.end())) finite = false;
        });
    });
    return finite.load();
}

void softcap(float* x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

}  // namespace

// q/k/v projections (+ biases), per-head q/k norms, RoPE, KV cache write, attention, output projection into
// m_xb2; the input is m_xb (normed).
void Transformer::attention(int l, int n, int pos0) {
    const ModelConfig& c = m_w->config;
    projectQkv(l, n, pos0);
    attendHeads(l, n, pos0);
    observe(l, LinearInput::AttentionOut, m_att.data(), n, c.qDim());
    matmul(*m_w->layers[size_t(l)].wo, m_att.data(), n, m_xb2.data(), m_arena);
}

// q, k, v of tokens pos0 .. pos0 + n - 1 from m_xb into m_q, m_k, m_v (+ biases), per-head q/k norms, RoPE;
// k and v written to layer l's KV cache.
void Transformer::projectQkv(int l, int n, int pos0) {
    const ModelWeights& w = *m_w;
    const ModelConfig& c = w.config;
    const LayerWeights& L = w.layers[size_t(l)];
    const int qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim, half = hd / 2;
    const bool local = !c.localRope.empty() && c.localRope[size_t(l)];
    const std::vector<float>& cosT = local ? m_cosLocal : m_cos;
    const std::vector<float>& sinT = local ? m_sinLocal : m_sin;
    observe(l, LinearInput::AttentionIn, m_xb.data(), n, c.dim);
    matmul(*L.wq, m_xb.data(), n, m_q.data(), m_arena);
    matmul(*L.wk, m_xb.data(), n, m_k.data(), m_arena);
    matmul(*L.wv, m_xb.data(), n, m_v.data(), m_arena);
    float* keyCache = m_keyCache[size_t(l)].data();
    float* valueCache = m_valueCache[size_t(l)].data();
    m_overflow |= !forTokens(m_arena, n, qDim + 2 * kvDim, [&](int t0, int t1) {
        addBias(m_q.data(), L.bq, t0, t1);
        addBias(m_k.data(), L.bk, t0, t1);
        addBias(m_v.data(), L.bv, t0, t1);
        bool finite = true;
        for (int t = t0; t < t1; ++t) {
            const int pos = pos0 + t;
            float* q = m_q.data() + size_t(t) * qDim;
            float* k = m_k.data() + size_t(t) * kvDim;
            if (c.qkNorm) {  // Qwen3 / Gemma 3: RMSNorm over each head's vector, before RoPE
                for (int h = 0; h < c.heads; ++h)
                    finite &= kernels::rmsnorm(q + size_t(h) * hd, q + size_t(h) * hd, L.qNorm.data(), hd, c.normEps);
                for (int h = 0; h < c.kvHeads; ++h)
                    finite &= kernels::rmsnorm(k + size_t(h) * hd, k + size_t(h) * hd, L.kNorm.data(), hd, c.normEps);
            }
            const float* cs = cosT.data() + size_t(pos) * size_t(half);
            const float* sn = sinT.data() + size_t(pos) * size_t(half);
            kernels::rope(q, c.heads, hd, cs, sn, c.rope);
            kernels::rope(k, c.kvHeads, hd, cs, sn, c.rope);
            std::memcpy(keyCache + size_t(pos) * kvDim, k, size_t(kvDim) * sizeof(float));
            std::memcpy(valueCache + size_t(pos) * kvDim, m_v.data() + size_t(t) * kvDim, size_t(kvDim) * sizeof(float));
        }
        return finite;
    });
}

// Each head's attention over the KV cache of layer l for the n tokens from pos0, from m_q into m_att.
void Transformer::attendHeads(int l, int n, int pos0) {
    const ModelConfig& c = m_w->config;
    const int qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim;
    const int group = c.heads / c.kvHeads;
    const float scale = c.attnScale > 0.0f ? c.attnScale : 1.0f / std::sqrt(float(hd));
    const int window = c.window.empty() ? 0 : c.window[size_t(l)];
    const float* keyCache = m_keyCache[size_t(l)].data();
    const float* valueCache = m_valueCache[size_t(l)].data();
    // One task per (head, block of kAttentionBlock tokens). Token t sees positions first .. pos0 + t (causal,
    // within the window). The block's scores are one float matrix product, its queries x the key rows of every
    // position a token of the block sees (float_gemm.h: each score is the same dot whatever block or batch
    // computes it, so decode equals the prompt; the few positions past a token's own are computed and unused);
    // then per token the scale, the soft cap, the softmax and the weighted sum of the value rows
    // (kernels.h).
    constexpr int kAttentionBlock = 16;
    const int blocks = (n + kAttentionBlock - 1) / kAttentionBlock;
    const size_t scoreStride = size_t(c.heads) * size_t(m_scorePositions);  // from token t to t + 1
    auto attend = [&](int64_t firstTask, int64_t end) {
        thread_local std::vector<float> queries;  // grows, never shrinks
        if (queries.size() < size_t(kAttentionBlock) * size_t(hd)) queries.resize(size_t(kAttentionBlock) * size_t(hd));
        for (int64_t task = firstTask; task < end; ++task) {
            const int h = int(task % c.heads), t0 = int(task / c.heads) * kAttentionBlock;
            const int t1 = std::min(n, t0 + kAttentionBlock);
            const size_t kvOffset = size_t(h / group) * hd;
            const int firstSeen = window > 0 ? std::max(0, pos0 + t0 - window + 1) : 0, lastSeen = pos0 + t1 - 1;
            for (int t = t0; t < t1; ++t)
                std::memcpy(queries.data() + size_t(t - t0) * hd, m_q.data() + size_t(t) * qDim + size_t(h) * hd,
                            size_t(hd) * sizeof(float));
            float* scores = m_scores.data() + size_t(t0) * scoreStride + size_t(h) * size_t(m_scorePositions);
            kernels::gemmF32(keyCache + size_t(firstSeen) * kvDim + kvOffset, kvDim, lastSeen - firstSeen + 1,
                             queries.data(), t1 - t0, hd, scores + firstSeen, int64_t(scoreStride));
            for (int t = t0; t < t1; ++t) {
                const int upto = pos0 + t;
                const int first = window > 0 ? std::max(0, upto - window + 1) : 0, count = upto - first + 1;
                float* sc = scores + size_t(t - t0) * scoreStride + size_t(first);
                for (int i = 0; i < count; ++i) sc[i] *= scale;
                if (c.attnSoftcap > 0.0f) softcap(sc, count, c.attnSoftcap);
                kernels::softmax(sc, count);
                kernels::weightedRowSum(sc, count, valueCache + size_t(first) * kvDim + kvOffset, kvDim, hd,
                                        m_att.data() + size_t(t) * qDim + size_t(h) * hd);
            }
        }
    };
    const int64_t tasks = int64_t(blocks) * c.heads;
    const int64_t work = int64_t(n) * c.heads * int64_t(pos0 + n) * hd;
    if (m_arena && m_arena->max_concurrency() > 1 && work >= (1 << 15)) {
        m_arena->execute([&] {
            tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks),
                              [&](const tbb::blocked_range<int64_t>& r) { attend(r.begin(), r.end()); });
        });
    } else {
        attend(0, tasks);
    }
}

// Gated MLP of m_xb (normed) into m_xb2: down(act(gate x) * up x), with biases when declared.
void Transformer::mlp(int l, int n) {
    const ModelConfig& c = m_w->config;
    const LayerWeights& L = m_w->layers[size_t(l)];
    observe(l, LinearInput::MlpIn, m_xb.data(), n, c.dim);
    matmul(*L.gate, m_xb.data(), n, m_hb.data(), m_arena);
    matmul(*L.up, m_xb.data(), n, m_hb2.data(), m_arena);
    const int64_t hidden = c.hidden;
    forTokens(m_arena, n, 2 * hidden, [&](int t0, int t1) {
        addBias(m_hb.data(), L.bGate, t0, t1);
        addBias(m_hb2.data(), L.bUp, t0, t1);
        float* gate = m_hb.data() + t0 * hidden;
        const float* up = m_hb2.data() + t0 * hidden;
        if (c.activation == Activation::Silu) kernels::swiglu(gate, up, (t1 - t0) * hidden);
        else kernels::geglu(gate, up, (t1 - t0) * hidden);
        return true;
    });
    observe(l, LinearInput::MlpDownIn, m_hb.data(), n, c.hidden);
    matmul(*L.down, m_hb.data(), n, m_xb2.data(), m_arena);
}

// The sublayer output m_xb2 (+ bias, post-norm when given) added to the residual stream m_x, and m_xb =
// nextNorm(m_x) when given (the next sublayer's input), per token.
void Transformer::addResidual(int n, const std::vector<float>& bias, const std::vector<float>* postNorm,
                              const std::vector<float>* nextNorm) {
    const ModelConfig& c = m_w->config;
    const int dim = c.dim;
    m_overflow |= !forTokens(m_arena, n, 3 * int64_t(dim), [&](int t0, int t1) {
        addBias(m_xb2.data(), bias, t0, t1);
        bool finite = true;
        for (int t = t0; t < t1; ++t) {
            float* x = m_x.data() + size_t(t) * dim;
            float* sub = m_xb2.data() + size_t(t) * dim;
            if (postNorm) finite &= kernels::rmsnorm(sub, sub, postNorm->data(), dim, c.normEps);
            for (int i = 0; i < dim; ++i) x[i] += sub[i];
            if (nextNorm) finite &= kernels::rmsnorm(m_xb.data() + size_t(t) * dim, x, nextNorm->data(), dim, c.normEps);
        }
        return finite;
    });
}

// m_xb = norm(m_x) per token.
void Transformer::normTokens(int n, const std::vector<float>& norm) {
    const ModelConfig& c = m_w->config;
    const int dim = c.dim;
    m_overflow |= !forTokens(m_arena, n, 2 * int64_t(dim), [&](int t0, int t1) {
        bool finite = true;
        for (int t = t0; t < t1; ++t)
            finite &= kernels::rmsnorm(m_xb.data() + size_t(t) * dim, m_x.data() + size_t(t) * dim, norm.data(), dim, c.normEps);
        return finite;
    });
}

void Transformer::forwardBatch(const int* tokens, int n, float* logits, bool allLogits) {
    const ModelWeights& w = *m_w;
    const ModelConfig& c = w.config;
    ensureCache(m_pos + n);
    ensureScratch(n, m_cachePositions);
    const int dim = c.dim;
    const int pos0 = m_pos;

    forTokens(m_arena, n, dim, [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
            float* x = m_x.data() + size_t(t) * dim;
            w.embedding->copyRow(tokens[t], x);
            if (c.embedScale != 0.0f)
                for (int i = 0; i < dim; ++i) x[i] *= c.embedScale;
        }
        return true;
    });

    // Each norm is computed where the residual add before it is (addResidual), one pass over the tokens.
    if (c.layers > 0) normTokens(n, w.layers[0].attnNorm);
    for (int l = 0; l < c.layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        attention(l, n, pos0);
        addResidual(n, L.bo, c.postNorms ? &L.postAttnNorm : nullptr, &L.ffnNorm);
        mlp(l, n);
        const bool more = l + 1 < c.layers;
        addResidual(n, L.bDown, c.postNorms ? &L.postFfnNorm : nullptr, more ? &w.layers[size_t(l) + 1].attnNorm : nullptr);
    }
    m_pos = pos0 + n;

    if (!logits) {
        if (m_observer && m_headInAll) {  // calibration without logits: the head's input for every token, the head not run
            normTokens(n, w.finalNorm);
            observe(-1, LinearInput::HeadIn, m_xb.data(), n, dim);
        }
        return;
    }
    int rows = 1;
    if (allLogits) {
        rows = n;
        normTokens(n, w.finalNorm);
    } else {
        m_overflow |= !kernels::rmsnorm(m_xb.data(), m_x.data() + size_t(n - 1) * dim, w.finalNorm.data(), dim, c.normEps);
    }
    observe(-1, LinearInput::HeadIn, m_xb.data(), rows, dim);
    matmul(*w.output, m_xb.data(), rows, logits, m_arena);
    if (c.finalSoftcap > 0.0f) softcap(logits, int64_t(rows) * c.vocab, c.finalSoftcap);
}

}  // namespace qs
