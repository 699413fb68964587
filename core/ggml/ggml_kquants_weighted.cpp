// SPDX-License-Identifier: GPL-3.0-or-later
// Importance-weighted K-quants: ggml's quantize_row_q{2,3,4,5,6}_K_impl with quant_weights (ggml-quants.c,
// the path ggml_quantize_chunk takes when llama-quantize passes an imatrix), one row at a time. The importance
// of column j (mean squared activation, llama.cpp's imatrix) enters as ggml combines it with the values:
//   q2_K:           w_j = qw_j * sqrt(sigma2 + x_j^2), sigma2 = sum(x^2) / 256 over the super-block
//   q3_K/q4_K/q5_K: the same with sigma2 = 2 * sum(x^2) / 256
//   q6_K:           w_j = qw_j (ggml left the sigma2 form commented out)
// The sub-block searches (make_qkx3_quants, make_qx_quants with weights) run with w; the sub-block scales and
// mins are then quantized by make_qp_quants (q2_K, q4_K, q5_K) or make_qx_quants (q3_K) weighted by each
// sub-block's sum of w, instead of the unweighted path's max-based 4/6-bit scaling. Float expressions follow
// ggml's order: the searches compare candidates whose errors differ in the last bits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_kquants_impl.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"

namespace qs::ggml::detail {

float makeQkx3Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* theMin,
                     uint8_t* Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sumW = weights[0];
    float sumX = sumW * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sumW += w;
        sumX += w * x[i];
    }
    if (min > 0) min = 0;
    if (max <= min) {
        std::memset(L, 0, size_t(n));
        *theMin = -min;
        return 0.f;
    }
    float iscale = float(nmax) / (max - min);
    float scale = 1 / iscale;
    float bestMad = 0;
    for (int i = 0; i < n; ++i) {
        const int l = nearestInt(iscale * (x[i] - min));
        L[i] = uint8_t(std::max(0, std::min(nmax, l)));
        const float diff = scale * float(L[i]) + min - x[i];
        bestMad += weights[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
        float sumL = 0, sumL2 = 0, sumXL = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * (x[i] - min));
            l = std::max(0, std::min(nmax, l));
            Laux[i] = uint8_t(l);
            const float w = weights[i];
            sumL += w * float(l);
            sumL2 += w * float(l) * float(l);
            sumXL += w * float(l) * x[i];
        }
        const float D = sumW * sumL2 - sumL * sumL;
        if (D > 0) {
            float thisScale = (sumW * sumXL - sumX * sumL) / D;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
            if (thisMin > 0) {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            float mad = 0;
            for (int i = 0; i < n; ++i) {
                const float diff = thisScale * float(Laux[i]) + thisMin - x[i];
                mad += weights[i] * (diff * diff);
            }
            if (mad < bestMad) {
                std::memcpy(L, Laux, size_t(n));
                bestMad = mad;
                scale = thisScale;
                min = thisMin;
            }
        }
    }
    *theMin = -min;
    return scale;
}

float importanceWeights(const float* x, const float* qw, float sigma2, int n, float* w) {
    float sum = 0;
    for (int l = 0; l < n; ++l) w[l] = qw[l] * std::sqrt(sigma2 + x[l] * x[l]);
    for (int l = 0; l < n; ++l) sum += w[l];
    return sum;
}

namespace {
// make_qp_quants' refinement: coordinate descent on the codes at the least-squares scale.
float refineQp(int n, int nmax, const float* x, uint8_t* L, const float* qw, float iscale) {
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::min(nmax, nearestInt(iscale * x[i]));
        L[i] = uint8_t(l);
        const float w = qw[i];
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    for (int itry = 0; itry < 5; ++itry) {
        int nChanged = 0;
        for (int i = 0; i < n; ++i) {
            const float w = qw[i];
            float slx = sumlx - w * x[i] * float(L[i]);
            float sl2 = suml2 - w * float(L[i]) * float(L[i]);
            if (slx > 0 && sl2 > 0) {
                const int newL = std::min(nmax, nearestInt(x[i] * sl2 / slx));
                if (newL != L[i]) {
                    slx += w * x[i] * float(newL);
                    sl2 += w * float(newL) * float(newL);
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = uint8_t(newL);
                        sumlx = slx;
                        suml2 = sl2;
                        ++nChanged;
                    }
                }
            }
        }
        if (!nChanged) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}
}  // namespace

float makeQpQuants(int n, int nmax, const float* x, uint8_t* L, const float* qw) {
    float max = 0;
    for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
    if (max < kGroupMaxEps) {
        std::memset(L, 0, size_t(n));
        return 0.f;
    }
    float iscale = float(nmax) / max;
    for (int i = 0; i < n; ++i) L[i] = uint8_t(nearestInt(iscale * x[i]));
    const float scale = 1 / iscale;
    float bestMse = 0;
    for (int i = 0; i < n; ++i) {
        const float diff = x[i] - scale * float(L[i]);
        bestMse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0) continue;
        const float iscaleIs = (0.1f * float(is) + float(nmax)) / max;
        const float scaleIs = 1 / iscaleIs;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::min(nmax, nearestInt(iscaleIs * x[i]));
            const float diff = x[i] - scaleIs * float(l);
            mse += qw[i] * diff * diff;
        }
        if (mse < bestMse) {
            bestMse = mse;
            iscale = iscaleIs;
        }
    }
    return refineQp(n, nmax, x, L, qw, iscale);
}

namespace {
float sumSquares(const float* x, int n) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += x[i] * x[i];
    return s;
}

// The 2-bit code planes of q2_K/q3_K: per 128 values, byte l holds values l, l+32, l+64, l+96.
void pack2BitPlanes(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < kQKK; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}
}  // namespace

void quantizeQ2_KWeighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ2_K*>(vy);
    uint8_t L[kQKK], Laux[16], Ls[kQKK / 16], Lm[kQKK / 16];
    float mins[kQKK / 16], scales[kQKK / 16], sw[kQKK / 16], weight[16];
    for (int64_t i = 0; i < nPerRow / kQKK; ++i, x += kQKK) {
        const float sigma2 = sumSquares(x, kQKK) / kQKK;
        for (int j = 0; j < kQKK / 16; ++j) {
            sw[j] = importanceWeights(x + 16 * j, qw + kQKK * i + 16 * j, sigma2, 16, weight);
            scales[j] = makeQkx3Quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36);
        }
        const float dm0 = makeQpQuants(kQKK / 16, 15, scales, Ls, sw);
        const float mm0 = makeQpQuants(kQKK / 16, 15, mins, Lm, sw);
        y[i].d = toHalf(dm0);
        y[i].dmin = toHalf(mm0);
        const float dm = fromHalf(y[i].d), mm = fromHalf(y[i].dmin);
        for (int j = 0; j < kQKK / 16; ++j) y[i].scales[j] = uint8_t(Ls[j] | (Lm[j] << 4));
        for (int j = 0; j < kQKK / 16; ++j) {  // requantize against the stored scales
            const float d = dm * float(y[i].scales[j] & 0xF);
            if (d == 0.0f) continue;
            const float m = mm * float(y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] = uint8_t(std::max(0, std::min(3, nearestInt((x[16 * j + ii] + m) / d))));
        }
        pack2BitPlanes(L, y[i].qs);
    }
}

namespace {
// q3_K's 6-bit scale codes Ls (0..63, i.e. scale + 32) into the 12 scale bytes.
void packQ3_KScales(const int8_t* Ls, uint8_t* scales) {
    std::memset(scales, 0, 12);
    for (int j = 0; j < kQKK / 16; ++j) {
        int l = Ls[j];
        if (j < 8) scales[j] = uint8_t(l & 0xF);
        else scales[j - 8] |= uint8_t((l & 0xF) << 4);
        l >>= 4;
        scales[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
    }
}

// Codes of a q3_K super-block against its stored scales (a sub-block whose scale is 0 keeps the search's codes
// L, as ggml does), then the hmask bit and the 2-bit planes.
void requantizeAndPackQ3_K(const float* x, BlockQ3_K& b, uint8_t* L) {
    for (int j = 0; j < kQKK / 16; ++j) {
        int sc = j < 8 ? (b.scales[j] & 0xF) : (b.scales[j - 8] >> 4);
        sc = (sc | (((b.scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
        const float d = fromHalf(b.d) * float(int8_t(sc));
        if (d == 0.0f) continue;
        for (int ii = 0; ii < 16; ++ii)
            L[16 * j + ii] = uint8_t(std::max(-4, std::min(3, nearestInt(x[16 * j + ii] / d))) + 4);
    }
    std::memset(b.hmask, 0, kQKK / 8);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < kQKK; ++j) {
        if (L[j] > 3) {
            b.hmask[m] |= hm;
            L[j] = uint8_t(L[j] - 4);
        }
        if (++m == kQKK / 8) {
            m = 0;
            hm = uint8_t(hm << 1);
        }
    }
    pack2BitPlanes(L, b.qs);
}
}  // namespace

void quantizeQ3_KWeighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ3_K*>(vy);
    int8_t L[kQKK], Ls[kQKK / 16];
    uint8_t Lu[kQKK];
    float scales[kQKK / 16], weight[16], sw[kQKK / 16];
    for (int64_t i = 0; i < nPerRow / kQKK; ++i, x += kQKK) {
        const float sigma2 = 2 * sumSquares(x, kQKK) / kQKK;
        for (int j = 0; j < kQKK / 16; ++j) {
            sw[j] = importanceWeights(x + 16 * j, qw + kQKK * i + 16 * j, sigma2, 16, weight);
            scales[j] = makeQxQuants(16, 4, x + 16 * j, L + 16 * j, weight);
        }
        const float dBlock = makeQxQuants(kQKK / 16, 32, scales, Ls, sw);
        packQ3_KScales(Ls, y[i].scales);
        y[i].d = toHalf(dBlock);
        std::memcpy(Lu, L, kQKK);  // codes 0..7 (offset by nmax = 4)
        requantizeAndPackQ3_K(x, y[i], Lu);
    }
}

namespace {
// The q4_K/q5_K part shared by both: sub-block search with importance weights, then the 6-bit scale and min
// codes by make_qp_quants, packed into h; L gets the codes requantized against the stored scales.
// q5_K clamps the codes to 63 (MIN in quantize_row_q5_K_impl), q4_K does not: they differ only if
// make_qp_quants met a negative sub-block scale.
void searchK4Weighted(const float* x, const float* qw, int nmax, bool clamp63, uint8_t* L, BlockQ4_KHeader& h) {
    uint8_t Laux[32], Ls[kQKK / 32], Lm[kQKK / 32];
    float weights[32], sw[kQKK / 32], mins[kQKK / 32], scales[kQKK / 32];
    const float sigma2 = 2 * sumSquares(x, kQKK) / kQKK;
    for (int j = 0; j < kQKK / 32; ++j) {
        sw[j] = importanceWeights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
        scales[j] = makeQkx3Quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36);
    }
    const float dBlock = makeQpQuants(kQKK / 32, 63, scales, Ls, sw);
    const float mBlock = makeQpQuants(kQKK / 32, 63, mins, Lm, sw);
    for (int j = 0; j < kQKK / 32; ++j) {
        const uint8_t ls = clamp63 ? std::min<uint8_t>(63, Ls[j]) : Ls[j];
        const uint8_t lm = clamp63 ? std::min<uint8_t>(63, Lm[j]) : Lm[j];
        if (j < 4) {
            h.scales[j] = ls;
            h.scales[j + 4] = lm;
        } else {
            h.scales[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
            h.scales[j - 4] |= uint8_t((ls >> 4) << 6);
            h.scales[j - 0] |= uint8_t((lm >> 4) << 6);
        }
    }
    h.d = toHalf(dBlock);
    h.dmin = toHalf(mBlock);
    requantizeK4(x, h, nmax, L);
}
}  // namespace

void quantizeQ4_KWeighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ4_K*>(vy);
    uint8_t L[kQKK];
    for (int64_t i = 0; i < nPerRow / kQKK; ++i, x += kQKK) {
        BlockQ4_KHeader h{};
        searchK4Weighted(x, qw + kQKK * i, 15, false, L, h);
        y[i].d = h.d;
        y[i].dmin = h.dmin;
        std::memcpy(y[i].scales, h.scales, 12);
        packQ4_KCodes(L, y[i].qs);
    }
}

void quantizeQ5_KWeighted(const float* x, void* vy, int64_t nPerRow, const float* qw) {
    auto* y = static_cast<BlockQ5_K*>(vy);
    uint8_t L[kQKK];
    for (int64_t i = 0; i < nPerRow / kQKK; ++i, x += kQKK) {
        BlockQ4_KHeader h{};
        searchK4Weighted(x, qw + kQKK * i, 31, true, L, h);
        y[i].d = h.d;
        y[i].dmin = h.dmin;
        std::memcpy(y[i].scales, h.scales, 12);
        packQ5_KCodes(L, y[i].qs, y[i].qh);
    }
}

void quantizeQ6_KWeighted(const float* x, void* y, int64_t nPerRow, const float* qw) {
    quantizeQ6_KImpl(x, y, nPerRow, qw);
}

}  // namespace qs::ggml::detail
