// SPDX-License-Identifier: GPL-3.0-or-later
// Quantizers of ggml's iq4_nl (32 values, one fp16 scale) and iq4_xs (256 values: an fp16 super-block scale
// and a 6-bit scale per 32), both 4-bit indices into the fixed non-linear codebook kIq4nlValues. Both are
// ggml's quantize_row_iq4_nl_impl (ggml-quants.c) with ntry = 7, as quantize_iq4_nl / quantize_iq4_xs run it:
// per 32 values a least-squares scale for the nearest-code assignment, then 15 trial scales (itry - 127)/max,
// keeping the best weighted fit; the codes are re-chosen for the winning scale (iq4_nl: the unrounded scale;
// iq4_xs: the 6-bit sub-block scale times the float super-block scale -max_scale/32). The weights are x^2
// without an importance matrix and qw_j * sqrt(sigma2 + x_j^2), sigma2 = 2 sum(x^2) / super-block size, with
// one. Without an importance matrix ggml_quantize_chunk runs exactly this (quantize_row_iq4_xs_ref too).
#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_kquants_impl.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"

namespace qs::ggml::detail {

namespace {
constexpr int kNtry = 7;

// Index of the codebook value nearest to x (val sorted); ties go to the upper value, as ggml's
// best_index_int8 resolves them.
inline int bestIndex(const int8_t* val, float x) {
    if (x <= val[0]) return 0;
    if (x >= val[15]) return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        const int mav = (ml + mu) / 2;
        if (x < val[mav]) mu = mav;
        else ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// Weighted fit of the codebook to xb[32] at inverse scale id: sum(w q x), sum(w q^2).
inline void fitAt(const float* xb, const float* w, float id, float& sumqx, float& sumq2, uint8_t* Lb) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
        const int l = bestIndex(kIq4nlValues, id * xb[j]);
        if (Lb) Lb[j] = uint8_t(l);
        const float q = kIq4nlValues[l];
        sumqx += w[j] * q * xb[j];
        sumq2 += w[j] * q * q;
    }
}

// The scale of one block of 32 (0 for an all-zero block).
float blockScale(const float* xb, const float* w, uint8_t* Lb) {
    const int8_t* values = kIq4nlValues;
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
        const float ax = std::fabs(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < kGroupMaxEps) return 0;
    float sumqx, sumq2;
    fitAt(xb, w, 1 / (-max / float(values[0])), sumqx, sumq2, Lb);
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -kNtry; itry <= kNtry; ++itry) {
        fitAt(xb, w, float(itry + values[0]) / max, sumqx, sumq2, nullptr);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

// Weights of block ib of a super-block x[n]: qw * sqrt(sigma2 + x^2) (importanceWeights) or x^2.
void iq4BlockWeights(const float* xb, const float* qw, float sigma2, float* w) {
    if (qw) {
        importanceWeights(xb, qw, sigma2, 32, w);
        return;
    }
    for (int j = 0; j < 32; ++j) w[j] = xb[j] * xb[j];
}

float superSigma2(const float* x, int n) {
    float sigma2 = 0;
    for (int j = 0; j < n; ++j) sigma2 += x[j] * x[j];
    return sigma2 * (2.f / float(n));
}

void packNibbles(const uint8_t* L, int n, uint8_t* q4) {
    for (int i = 0; i < n / 32; ++i)
        for (int j = 0; j < 16; ++j) q4[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

void iq4NlBlock(const float* x, const float* qw, BlockIq4Nl& b) {
    float w[32];
    uint8_t L[32];
    iq4BlockWeights(x, qw, qw ? superSigma2(x, 32) : 0.f, w);
    const float scale = blockScale(x, w, L);
    b.d = toHalf(scale);
    const float id = scale != 0.0f ? 1 / scale : 0;
    for (int j = 0; j < 32; ++j) L[j] = uint8_t(bestIndex(kIq4nlValues, id * x[j]));
    packNibbles(L, 32, b.qs);
}

void iq4XsBlock(const float* x, const float* qw, BlockIq4Xs& b) {
    float w[32], scales[kQKK / 32];
    uint8_t L[kQKK];
    const float sigma2 = qw ? superSigma2(x, kQKK) : 0.f;
    float maxScale = 0, amaxScale = 0;
    for (int ib = 0; ib < kQKK / 32; ++ib) {
        iq4BlockWeights(x + 32 * ib, qw ? qw + 32 * ib : nullptr, sigma2, w);
        scales[ib] = blockScale(x + 32 * ib, w, L + 32 * ib);
        if (std::fabs(scales[ib]) > amaxScale) {
            amaxScale = std::fabs(scales[ib]);
            maxScale = scales[ib];
        }
    }
    b.scalesH = 0;
    const float d = -maxScale / 32;
    b.d = toHalf(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < kQKK / 32; ++ib) {
        int l = nearestInt(id * scales[ib]);
        l = l < -32 ? -32 : (l > 31 ? 31 : l);
        const float dl = d * float(l);
        const float idl = dl != 0.0f ? 1 / dl : 0.f;
        for (int j = 0; j < 32; ++j) L[32 * ib + j] = uint8_t(bestIndex(kIq4nlValues, idl * x[32 * ib + j]));
        l += 32;
        const uint8_t lLow = uint8_t(l & 0xf), lHigh = uint8_t(l >> 4);
        if (ib % 2 == 0) b.scalesL[ib / 2] = lLow;
        else b.scalesL[ib / 2] |= uint8_t(lLow << 4);
        b.scalesH = uint16_t(b.scalesH | (lHigh << 2 * (ib % 8)));
    }
    packNibbles(L, kQKK, b.qs);
}
}  // namespace

void quantizeIq4NlRef(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockIq4Nl*>(vy);
    for (int64_t i = 0; i < n / kQK; ++i) iq4NlBlock(x + kQK * i, nullptr, y[i]);
}

void quantizeIq4NlWeighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockIq4Nl*>(vy);
    for (int64_t i = 0; i < nPerRow / kQK; ++i) iq4NlBlock(x + kQK * i, qw + kQK * i, y[i]);
}

void quantizeIq4XsRef(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockIq4Xs*>(vy);
    for (int64_t i = 0; i < n / kQKK; ++i) iq4XsBlock(x + kQKK * i, nullptr, y[i]);
}

void quantizeIq4XsWeighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockIq4Xs*>(vy);
    for (int64_t i = 0; i < nPerRow / kQKK; ++i) iq4XsBlock(x + kQKK * i, qw + kQKK * i, y[i]);
}

}  // namespace qs::ggml::detail
