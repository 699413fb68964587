// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/kernels.h"

#include <algorithm>
#include <cmath>

namespace qs::kernels {

float dot(const float* a, const float* b, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
    ss /= float(n);
    ss += eps;
    ss = 1.0f / std::sqrt(ss);
    for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (ss * x[i]);
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

double logSoftmaxAt(const float* logits, int64_t n, int64_t target) {
    double maxVal = logits[0];
    for (int64_t i = 1; i < n; ++i) maxVal = std::max(maxVal, double(logits[i]));
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - maxVal);
    return double(logits[target]) - maxVal - std::log(sum);
}

}  // namespace qs::kernels
