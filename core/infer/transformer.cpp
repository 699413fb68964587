// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

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
    // RoPE angles as llama2.c computes them (float): pos * theta^(-2j/headDim).
    const int half = c.headDim / 2;
    m_cos.resize(size_t(c.context) * size_t(half));
    m_sin.resize(m_cos.size());
    for (int pos = 0; pos < c.context; ++pos)
        for (int j = 0; j < half; ++j) {
            const float freq = 1.0f / std::pow(c.ropeTheta, float(2 * j) / float(c.headDim));
            const float val = float(pos) * freq;
            m_cos[size_t(pos) * size_t(half) + size_t(j)] = std::cos(val);
            m_sin[size_t(pos) * size_t(half) + size_t(j)] = std::sin(val);
        }
}

void Transformer::rewind(int pos) {
    QS_CHECK(pos >= 0 && pos <= m_pos, "rewind past the current position");
    m_pos = pos;
}

void Transformer::ensureCache(int positions) {
    if (positions <= m_cachePositions) return;
    const ModelConfig& c = m_w->config;
    const int grown = std::min(c.context, std::max({positions, 2 * m_cachePositions, 64}));
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

    for (size_t done = 0; done < n;) {
        const int step = int(std::min(n - done, size_t(m_options.batch)));
        const bool last = done + size_t(step) == n;
        float* out = nullptr;
        if (allLogits) out = logits.data() + done * size_t(c.vocab);
        else if (last && !logits.empty()) out = logits.data();
        forwardBatch(tokens.data() + done, step, out, allLogits);
        done += size_t(step);
    }
    return {};
}

void Transformer::forwardBatch(const int* tokens, int n, float* logits, bool allLogits) {
    const ModelWeights& w = *m_w;
    const ModelConfig& c = w.config;
    ensureCache(m_pos + n);
    ensureScratch(n, m_cachePositions);
    const int dim = c.dim, qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim, half = hd / 2;
    const int group = c.heads / c.kvHeads;
    const int pos0 = m_pos;
    const float scale = 1.0f / std::sqrt(float(hd));

    for (int t = 0; t < n; ++t) w.embedding->copyRow(tokens[t], m_x.data() + size_t(t) * dim);

    for (int l = 0; l < c.layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        for (int t = 0; t < n; ++t)
            kernels::rmsnorm(m_xb.data() + size_t(t) * dim, m_x.data() + size_t(t) * dim, L.attnNorm.data(), dim, c.normEps);
        matmul(*L.wq, m_xb.data(), n, m_q.data(), m_arena);
        matmul(*L.wk, m_xb.data(), n, m_k.data(), m_arena);
        matmul(*L.wv, m_xb.data(), n, m_v.data(), m_arena);

        float* keyCache = m_keyCache[size_t(l)].data();
        float* valueCache = m_valueCache[size_t(l)].data();
        for (int t = 0; t < n; ++t) {
            const int pos = pos0 + t;
            const float* cs = m_cos.data() + size_t(pos) * size_t(half);
            const float* sn = m_sin.data() + size_t(pos) * size_t(half);
            kernels::rope(m_q.data() + size_t(t) * qDim, c.heads, hd, cs, sn, c.rope);
            kernels::rope(m_k.data() + size_t(t) * kvDim, c.kvHeads, hd, cs, sn, c.rope);
            std::memcpy(keyCache + size_t(pos) * kvDim, m_k.data() + size_t(t) * kvDim, size_t(kvDim) * sizeof(float));
            std::memcpy(valueCache + size_t(pos) * kvDim, m_v.data() + size_t(t) * kvDim, size_t(kvDim) * sizeof(float));
        }

        // Attention, one task per (token, head); token t sees positions 0 .. pos0 + t (causal).
        auto attend = [&](int64_t first, int64_t end) {
            for (int64_t task = first; task < end; ++task) {
                const int t = int(task / c.heads), h = int(task % c.heads);
                const int upto = pos0 + t;
                const float* q = m_q.data() + size_t(t) * qDim + size_t(h) * hd;
                float* sc = m_scores.data() + size_t(task) * size_t(m_scorePositions);
                const size_t kvOffset = size_t(h / group) * hd;
                for (int p = 0; p <= upto; ++p) sc[p] = kernels::dot(q, keyCache + size_t(p) * kvDim + kvOffset, hd) * scale;
                kernels::softmax(sc, upto + 1);
                float* out = m_att.data() + size_t(t) * qDim + size_t(h) * hd;
                std::fill(out, out + hd, 0.0f);
                for (int p = 0; p <= upto; ++p) {
                    const float a = sc[p];
                    const float* v = valueCache + size_t(p) * kvDim + kvOffset;
                    for (int i = 0; i < hd; ++i) out[i] += a * v[i];
                }
            }
        };
        const int64_t tasks = int64_t(n) * c.heads;
        const int64_t work = tasks * int64_t(pos0 + n) * hd;
        if (m_arena && m_arena->max_concurrency() > 1 && work >= (1 << 15)) {
            m_arena->execute([&] {
                tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks),
                                  [&](const tbb::blocked_range<int64_t>& r) { attend(r.begin(), r.end()); });
            });
        } else {
            attend(0, tasks);
        }

        matmul(*L.wo, m_att.data(), n, m_xb2.data(), m_arena);
        for (size_t i = 0; i < size_t(n) * dim; ++i) m_x[i] += m_xb2[i];

        for (int t = 0; t < n; ++t)
            kernels::rmsnorm(m_xb.data() + size_t(t) * dim, m_x.data() + size_t(t) * dim, L.ffnNorm.data(), dim, c.normEps);
        matmul(*L.gate, m_xb.data(), n, m_hb.data(), m_arena);
        matmul(*L.up, m_xb.data(), n, m_hb2.data(), m_arena);
        kernels::swiglu(m_hb.data(), m_hb2.data(), int64_t(n) * c.hidden);
        matmul(*L.down, m_hb.data(), n, m_xb2.data(), m_arena);
        for (size_t i = 0; i < size_t(n) * dim; ++i) m_x[i] += m_xb2[i];
    }
    m_pos = pos0 + n;

    if (!logits) return;
    if (allLogits) {
        for (int t = 0; t < n; ++t)
            kernels::rmsnorm(m_xb.data() + size_t(t) * dim, m_x.data() + size_t(t) * dim, w.finalNorm.data(), dim, c.normEps);
        matmul(*w.output, m_xb.data(), n, logits, m_arena);
    } else {
        kernels::rmsnorm(m_xb.data(), m_x.data() + size_t(n - 1) * dim, w.finalNorm.data(), dim, c.normEps);
        matmul(*w.output, m_xb.data(), 1, logits, m_arena);
    }
}

}  // namespace qs
