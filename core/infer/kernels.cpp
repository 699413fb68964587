// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace qs::kernels {

// Two 4-lane vectors (GCC/Clang vector extensions: SSE on plain x86-64, wider units fold them) hold the eight
// interleaved partial sums: lane k of lo/hi accumulates elements i+k / i+4+k. The order of additions is fixed,
// so the result is the same on every machine and thread.
typedef float Float4 __attribute__((vector_size(16)));

float dot(const float* a, const float* b, int64_t n) {
    Float4 lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        Float4 a0, a1, b0, b1;
        std::memcpy(&a0, a + i, sizeof a0);  // unaligned loads
        std::memcpy(&a1, a + i + 4, sizeof a1);
        std::memcpy(&b0, b + i, sizeof b0);
        std::memcpy(&b1, b + i + 4, sizeof b1);
        lo += a0 * b0;
        hi += a1 * b1;
    }
    const Float4 t = lo + hi;
    float s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

void axpy(float a, const float* x, float* y, int64_t n) {
    const Float4 av = {a, a, a, a};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        Float4 xv, yv;
        std::memcpy(&xv, x + i, sizeof xv);
        std::memcpy(&yv, y + i, sizeof yv);
        yv += av * xv;
        std::memcpy(y + i, &yv, sizeof yv);
    }
    for (; i < n; ++i) y[i] += a * x[i];
}

bool rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const bool finite = std::isfinite(ss);
    ss /= float(n);
    ss += eps;
    ss = 1.0f / std::sqrt(ss);
    for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (ss * x[i]);
    return finite;
}

void softmax(float* x, int64_t n) {
    if (n <= 0) return;
    const float maxVal = *std::max_element(x, x + n);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - maxVal);
        sum += x[i];
    }
    for (int64_t i = 0; i < n; ++i) x[i] /= sum;
}

void rope(float* x, int heads, int headDim, const float* c, const float* s, RopeLayout layout) {
    const int half = headDim / 2;
    for (int h = 0; h < heads; ++h) {
        float* v = x + int64_t(h) * headDim;
        if (layout == RopeLayout::AdjacentPairs) {
            for (int j = 0; j < half; ++j) {
                const float a = v[2 * j], b = v[2 * j + 1];
                v[2 * j] = a * c[j] - b * s[j];
                v[2 * j + 1] = a * s[j] + b * c[j];
            }
        } else {
            for (int j = 0; j < half; ++j) {
                const float a = v[j], b = v[j + half];
                v[j] = a * c[j] - b * s[j];
                v[j + half] = a * s[j] + b * c[j];
            }
        }
    }
}

void swiglu(float* gate, const float* up, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        gate[i] = g * (1.0f / (1.0f + std::exp(-g))) * up[i];
    }
}

void geglu(float* gate, const float* up, int64_t n) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    for (int64_t i = 0; i < n; ++i) {
        const float x = gate[i];
        gate[i] = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x))) * up[i];
    }
}

double logSoftmaxAt(const float* logits, int64_t n, int64_t target) {
    double maxVal = logits[0];
    for (int64_t i = 1; i < n; ++i) maxVal = std::max(maxVal, double(logits[i]));
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - maxVal);
    return double(logits[target]) - maxVal - std::log(sum);
}

}  // namespace qs::kernels
