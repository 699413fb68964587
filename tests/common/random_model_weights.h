// SPDX-License-Identifier: GPL-3.0-or-later
// Engine weights with real shapes and random values, built in memory (no checkpoint): uniform in
// +-1/sqrt(cols) from splitmix64 seeded by `seed`, norms 1; the head is the embedding object when `tied`.
// For engine tests and benchmarks only (moved out of core/infer: the library holds no test fixtures).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/infer/linear_weights.h"
#include "core/infer/model_weights.h"

namespace qs {

inline std::shared_ptr<const ModelWeights> randomModelWeights(const ModelConfig& c, uint64_t seed, bool tied = true) {
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    auto next = [&state] {  // splitmix64: fast enough for a 110M-parameter model
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    };
    auto matrix = [&](int64_t rows, int64_t cols, const char* what) {
        std::vector<float> v(size_t(rows * cols));
        const float scale = 1.0f / std::sqrt(float(cols));
        for (float& x : v) x = (float(next() >> 40) * 0x1.0p-24f * 2.0f - 1.0f) * scale;
        return std::make_shared<FloatLinearWeights>(rows, cols, std::move(v), std::string("f32 random ") + what);
    };
    auto w = std::make_shared<ModelWeights>();
    w->config = c;
    w->embedding = matrix(c.vocab, c.dim, "embedding");
    w->output = tied ? w->embedding : matrix(c.vocab, c.dim, "output");
    w->finalNorm.assign(size_t(c.dim), 1.0f);
    w->layers.resize(size_t(c.layers));
    for (auto& L : w->layers) {
        L.attnNorm.assign(size_t(c.dim), 1.0f);
        L.ffnNorm.assign(size_t(c.dim), 1.0f);
        L.wq = matrix(c.qDim(), c.dim, "wq");
        L.wk = matrix(c.kvDim(), c.dim, "wk");
        L.wv = matrix(c.kvDim(), c.dim, "wv");
        L.wo = matrix(c.dim, c.qDim(), "wo");
        L.gate = matrix(c.hidden, c.dim, "gate");
        L.up = matrix(c.hidden, c.dim, "up");
        L.down = matrix(c.dim, c.hidden, "down");
    }
    return w;
}

}  // namespace qs
