// SPDX-License-Identifier: GPL-3.0-or-later
// Importance-weighted legacy 32-value blocks: ggml's quantize_row_{q4_0,q4_1,q5_0,q5_1}_impl with
// quant_weights (ggml-quants.c), one row at a time. Unlike the K-quants, sigma2 is the mean square of the
// whole row: w_j = qw_j * sqrt(sigma2 + x_j^2), sigma2 = sum(x^2) / n_per_row. The symmetric types search the
// scale with make_qx_quants (nmax 8 / 16), the types with a minimum with make_qkx3_quants (nmax 15 / 31) —
// instead of the unweighted path's absmax / min-max scaling. (q8_0 ignores quant_weights in ggml.)
#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_kquants_impl.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"

namespace qs::ggml::detail {

namespace {
float rowSigma2(const float* x, int64_t nPerRow) {
    float sumX2 = 0;
    for (int64_t j = 0; j < nPerRow; ++j) sumX2 += x[j] * x[j];
    return sumX2 / float(nPerRow);
}

// The fifth bits of codes L[0..31] (value j -> bit j of qh) and the low nibbles (j, j + 16 share byte j).
void pack5Bit(const uint8_t* L, uint8_t* qs, uint8_t* qhOut) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = L[j], xi1 = L[j + 16];
        qs[j] = uint8_t((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
        qh |= uint32_t((xi0 & 0x10u) >> 4) << j;
        qh |= uint32_t((xi1 & 0x10u) >> 4) << (j + kQK / 2);
    }
    std::memcpy(qhOut, &qh, 4);
}
}  // namespace

void quantizeQ4_0Weighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ4_0*>(vy);
    float weight[kQK];
    int8_t L[kQK];
    const float sigma2 = rowSigma2(x, nPerRow);
    for (int64_t ib = 0; ib < nPerRow / kQK; ++ib) {
        const float* xb = x + kQK * ib;
        importanceWeights(xb, qw + kQK * ib, sigma2, kQK, weight);
        y[ib].d = toHalf(makeQxQuants(kQK, 8, xb, L, weight));
        for (int j = 0; j < 16; ++j) y[ib].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
    }
}

void quantizeQ4_1Weighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ4_1*>(vy);
    float weight[kQK];
    uint8_t L[kQK], Laux[kQK];
    const float sigma2 = rowSigma2(x, nPerRow);
    for (int64_t ib = 0; ib < nPerRow / kQK; ++ib) {
        const float* xb = x + kQK * ib;
        importanceWeights(xb, qw + kQK * ib, sigma2, kQK, weight);
        float min;
        const float d = makeQkx3Quants(kQK, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36);
        y[ib].d = toHalf(d);
        y[ib].m = toHalf(-min);
        for (int j = 0; j < 16; ++j) y[ib].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
    }
}

void quantizeQ5_0Weighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ5_0*>(vy);
    float weight[kQK];
    int8_t L[kQK];
    const float sigma2 = rowSigma2(x, nPerRow);
    for (int64_t ib = 0; ib < nPerRow / kQK; ++ib) {
        const float* xb = x + kQK * ib;
        importanceWeights(xb, qw + kQK * ib, sigma2, kQK, weight);
        y[ib].d = toHalf(makeQxQuants(kQK, 16, xb, L, weight));
        uint8_t Lu[kQK];
        for (int j = 0; j < kQK; ++j) Lu[j] = uint8_t(L[j]);
        pack5Bit(Lu, y[ib].qs, y[ib].qh);
    }
}

void quantizeQ5_1Weighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ5_1*>(vy);
    float weight[kQK];
    uint8_t L[kQK], Laux[kQK];
    const float sigma2 = rowSigma2(x, nPerRow);
    for (int64_t ib = 0; ib < nPerRow / kQK; ++ib) {
        const float* xb = x + kQK * ib;
        importanceWeights(xb, qw + kQK * ib, sigma2, kQK, weight);
        float min;
        const float d = makeQkx3Quants(kQK, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36);
        y[ib].d = toHalf(d);
        y[ib].m = toHalf(-min);
        pack5Bit(L, y[ib].qs, y[ib].qh);
    }
}

}  // namespace qs::ggml::detail
