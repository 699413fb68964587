// SPDX-License-Identifier: GPL-3.0-or-later
// Reference quantizers of ggml's K-quants (q2_K, q3_K, q4_K, q5_K, q6_K) without importance matrix, i.e.
// quantize_row_q*_K_ref in ggml/src/ggml-quants.c. The scale searches (make_qx_quants, make_q3_quants,
// make_qkx2_quants) are re-implemented here with ggml's exact float expression order, because their
// outcome (which candidate scale wins a comparison) is sensitive to the last bit of every sum.
// Block layouts and bit packing: ggml_blocks.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_kquants_impl.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"

namespace qs::ggml::detail {

// ggml make_qx_quants with rmse_type 1: symmetric scale search around nmax/max, weights qw or (null) x^2.
float makeQxQuants(int n, int nmax, const float* x, int8_t* L, const float* qw) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = float(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearestInt(iscale * x[i]);
        l = std::max(-nmax, std::min(nmax - 1, l));
        L[i] = int8_t(l + nmax);
        const float w = qw ? qw[i] : x[i] * x[i];
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(float(nmax) + 0.1f * float(is)) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * x[i]);
            l = std::max(-nmax, std::min(nmax - 1, l));
            const float w = qw ? qw[i] : x[i] * x[i];
            sumlx += w * x[i] * float(l);
            suml2 += w * float(l) * float(l);
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                const int l = nearestInt(iscale * x[i]);
                L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

namespace {
// ggml make_q3_quants with do_rmse: coordinate descent on the codes, weights x^2. L gets codes + nmax.
float makeQ3Quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    const float iscale = float(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearestInt(iscale * x[i]);
        l = std::max(-nmax, std::min(nmax - 1, l));
        L[i] = int8_t(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    for (int itry = 0; itry < 5; ++itry) {
        int nChanged = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * float(L[i]);
            if (slx > 0) {
                float sl2 = suml2 - w * float(L[i]) * float(L[i]);
                int newL = nearestInt(x[i] * sl2 / slx);
                newL = std::max(-nmax, std::min(nmax - 1, newL));
                if (newL != L[i]) {
                    slx += w * x[i] * float(newL);
                    sl2 += w * float(newL) * float(newL);
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = int8_t(newL);
                        sumlx = slx;
                        suml2 = sl2;
                        ++nChanged;
                    }
                }
            }
        }
        if (!nChanged) break;
    }
    for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace

float makeQkx2Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* theMin,
                     uint8_t* Laux, float rmin, float rdelta, int nstep, bool useMad) {
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
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *theMin = -min;
        return 0.f;
    }
    float iscale = float(nmax) / (max - min);
    float scale = 1 / iscale;
    float bestError = 0;
    for (int i = 0; i < n; ++i) {
        const int l = nearestInt(iscale * (x[i] - min));
        L[i] = uint8_t(std::max(0, std::min(nmax, l)));
        float diff = scale * float(L[i]) + min - x[i];
        diff = useMad ? std::fabs(diff) : diff * diff;
        bestError += weights[i] * diff;
    }
    if (nstep < 1) {
        *theMin = -min;
        return scale;
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
            float curError = 0;
            for (int i = 0; i < n; ++i) {
                float diff = thisScale * float(Laux[i]) + thisMin - x[i];
                diff = useMad ? std::fabs(diff) : diff * diff;
                curError += weights[i] * diff;
            }
            if (curError < bestError) {
                for (int i = 0; i < n; ++i) L[i] = Laux[i];
                bestError = curError;
                scale = thisScale;
                min = thisMin;
            }
        }
    }
    *theMin = -min;
    return scale;
}

void packQ4_KScales(const float* scales, const float* mins, float maxScale, float maxMin, BlockQ4_KHeader& h) {
    const float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
    const float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
    for (int j = 0; j < kQKK / 32; ++j) {
        uint8_t ls = uint8_t(nearestInt(invScale * scales[j]));
        uint8_t lm = uint8_t(nearestInt(invMin * mins[j]));
        ls = std::min<uint8_t>(63, ls);
        lm = std::min<uint8_t>(63, lm);
        if (j < 4) {
            h.scales[j] = ls;
            h.scales[j + 4] = lm;
        } else {
            h.scales[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
            h.scales[j - 4] |= uint8_t((ls >> 4) << 6);
            h.scales[j - 0] |= uint8_t((lm >> 4) << 6);
        }
    }
    h.d = toHalf(maxScale / 63.f);
    h.dmin = toHalf(maxMin / 63.f);
}

void requantizeK4(const float* x, const BlockQ4_KHeader& h, int nmax, uint8_t* L) {
    for (int j = 0; j < kQKK / 32; ++j) {
        uint8_t sc, m;
        scaleMinK4(j, h.scales, sc, m);
        const float d = fromHalf(h.d) * float(sc);
        if (d == 0.0f) continue;
        const float dm = fromHalf(h.dmin) * float(m);
        for (int ii = 0; ii < 32; ++ii) {
            const int l = nearestInt((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
        }
    }
}

namespace {
// Scale search of one q4_K/q5_K super-block: per sub-block of 32, weights |x| + rms(x), then make_qkx2.
void searchK4(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* L, float* scales,
              float* mins, float& maxScale, float& maxMin) {
    uint8_t Laux[32];
    float weights[32];
    maxScale = 0;
    maxMin = 0;
    for (int j = 0; j < kQKK / 32; ++j) {
        float sumX2 = 0;
        for (int l = 0; l < 32; ++l) sumX2 += x[32 * j + l] * x[32 * j + l];
        const float avX = std::sqrt(sumX2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = avX + std::fabs(x[32 * j + l]);
        scales[j] = makeQkx2Quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep,
                                   false);
        if (scales[j] > maxScale) maxScale = scales[j];
        if (mins[j] > maxMin) maxMin = mins[j];
    }
}
}  // namespace

void packQ4_KCodes(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < kQKK; j += 64) {
        for (int l = 0; l < 32; ++l) qs[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
        qs += 32;
    }
}

void packQ5_KCodes(const uint8_t* L, uint8_t* ql, uint8_t* qh) {
    std::memset(qh, 0, kQKK / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int nn = 0; nn < kQKK; nn += 64) {
        for (int j = 0; j < 32; ++j) {
            int l1 = L[nn + j];
            if (l1 > 15) {
                l1 -= 16;
                qh[j] |= m1;
            }
            int l2 = L[nn + j + 32];
            if (l2 > 15) {
                l2 -= 16;
                qh[j] |= m2;
            }
            ql[j] = uint8_t(l1 | (l2 << 4));
        }
        m1 = uint8_t(m1 << 2);
        m2 = uint8_t(m2 << 2);
        ql += 32;
    }
}

void quantizeQ2_KRef(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ2_K*>(vy);
    uint8_t L[kQKK], Laux[16];
    float weights[16], mins[kQKK / 16], scales[kQKK / 16];
    const float q4scale = 15.f;
    for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < kQKK / 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
            scales[j] = makeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        if (maxScale > 0) {
            const float iscale = q4scale / maxScale;
            for (int j = 0; j < kQKK / 16; ++j) y[i].scales[j] = uint8_t(nearestInt(iscale * scales[j]));
            y[i].d = toHalf(maxScale / q4scale);
        } else {
            for (int j = 0; j < kQKK / 16; ++j) y[i].scales[j] = 0;
            y[i].d = toHalf(0.f);
        }
        if (maxMin > 0) {
            const float iscale = q4scale / maxMin;
            for (int j = 0; j < kQKK / 16; ++j) y[i].scales[j] |= uint8_t(nearestInt(iscale * mins[j]) << 4);
            y[i].dmin = toHalf(maxMin / q4scale);
        } else {
            y[i].dmin = toHalf(0.f);
        }
        for (int j = 0; j < kQKK / 16; ++j) {
            const float d = fromHalf(y[i].d) * float(y[i].scales[j] & 0xF);
            if (d == 0.0f) continue;
            const float dm = fromHalf(y[i].dmin) * float(y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii) {
                const int l = nearestInt((x[16 * j + ii] + dm) / d);
                L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
            }
        }
        for (int j = 0; j < kQKK; j += 128)
            for (int l = 0; l < 32; ++l)
                y[i].qs[j / 4 + l] =
                    uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
}

void quantizeQ3_KRef(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ3_K*>(vy);
    int8_t L[kQKK];
    float scales[kQKK / 16];
    for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
        float maxScale = 0, amax = 0;
        for (int j = 0; j < kQKK / 16; ++j) {
            scales[j] = makeQ3Quants(16, 4, x + 16 * j, L + 16 * j);
            const float scale = std::fabs(scales[j]);
            if (scale > amax) {
                amax = scale;
                maxScale = scales[j];
            }
        }
        std::memset(y[i].scales, 0, 12);
        if (maxScale != 0.0f) {
            const float iscale = -32.f / maxScale;
            for (int j = 0; j < kQKK / 16; ++j) {
                int8_t l = int8_t(nearestInt(iscale * scales[j]));
                l = int8_t(std::max(-32, std::min(31, int(l))) + 32);
                if (j < 8) y[i].scales[j] = uint8_t(l & 0xF);
                else y[i].scales[j - 8] |= uint8_t((l & 0xF) << 4);
                l = int8_t(l >> 4);
                y[i].scales[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
            }
            y[i].d = toHalf(1 / iscale);
        } else {
            y[i].d = toHalf(0.f);
        }
        for (int j = 0; j < kQKK / 16; ++j) {
            int sc = j < 8 ? (y[i].scales[j] & 0xF) : (y[i].scales[j - 8] >> 4);
            sc = (sc | (((y[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            const float d = fromHalf(y[i].d) * float(sc);
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii) {
                const int l = nearestInt(x[16 * j + ii] / d);
                L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
            }
        }
        std::memset(y[i].hmask, 0, kQKK / 8);
        // The third bit of value j goes to hmask[j % 32], bit j / 32.
        int m = 0;
        uint8_t hm = 1;
        for (int j = 0; j < kQKK; ++j) {
            if (L[j] > 3) {
                y[i].hmask[m] |= hm;
                L[j] = int8_t(L[j] - 4);
            }
            if (++m == kQKK / 8) {
                m = 0;
                hm = uint8_t(hm << 1);
            }
        }
        for (int j = 0; j < kQKK; j += 128)
            for (int l = 0; l < 32; ++l)
                y[i].qs[j / 4 + l] =
                    uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
}

void quantizeQ4_KRef(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ4_K*>(vy);
    uint8_t L[kQKK];
    float mins[kQKK / 32], scales[kQKK / 32];
    for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
        float maxScale, maxMin;
        searchK4(x, 15, -1.f, 0.1f, 20, L, scales, mins, maxScale, maxMin);
        BlockQ4_KHeader h{};
        packQ4_KScales(scales, mins, maxScale, maxMin, h);
        requantizeK4(x, h, 15, L);
        y[i].d = h.d;
        y[i].dmin = h.dmin;
        std::memcpy(y[i].scales, h.scales, 12);
        packQ4_KCodes(L, y[i].qs);
    }
}

void quantizeQ5_KRef(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ5_K*>(vy);
    uint8_t L[kQKK];
    float mins[kQKK / 32], scales[kQKK / 32];
    for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
        float maxScale, maxMin;
        searchK4(x, 31, -0.5f, 0.1f, 15, L, scales, mins, maxScale, maxMin);
        BlockQ4_KHeader h{};
        packQ4_KScales(scales, mins, maxScale, maxMin, h);
        requantizeK4(x, h, 31, L);
        y[i].d = h.d;
        y[i].dmin = h.dmin;
        std::memcpy(y[i].scales, h.scales, 12);
        packQ5_KCodes(L, y[i].qs, y[i].qh);
    }
}

void quantizeQ6_KRef(const float* x, void* vy, int64_t n) { quantizeQ6_KImpl(x, vy, n, nullptr); }

void quantizeQ6_KImpl(const float* x, void* vy, int64_t n, const float* qw) {
    auto* y = static_cast<BlockQ6_K*>(vy);
    int8_t L[kQKK];
    float scales[kQKK / 16];
    for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < kQKK / 16; ++ib) {
            // quantize_row_q6_K_impl passes the importance as the weights unchanged (no sigma2 term).
            const float* w = qw ? qw + kQKK * i + 16 * ib : nullptr;
            const float scale = makeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, w);
            scales[ib] = scale;
            const float absScale = std::fabs(scale);
            if (absScale > maxAbsScale) {
                maxAbsScale = absScale;
                maxScale = scale;
            }
        }
        if (maxAbsScale < kGroupMaxEps) {
            std::memset(&y[i], 0, sizeof(BlockQ6_K));
            continue;
        }
        const float iscale = -128.f / maxScale;
        y[i].d = toHalf(1 / iscale);
        for (int ib = 0; ib < kQKK / 16; ++ib) y[i].scales[ib] = int8_t(std::min(127, nearestInt(iscale * scales[ib])));
        for (int j = 0; j < kQKK / 16; ++j) {
            const float d = fromHalf(y[i].d) * float(y[i].scales[j]);
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii) {
                const int l = nearestInt(x[16 * j + ii] / d);
                L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
            }
        }
        uint8_t* ql = y[i].ql;
        uint8_t* qh = y[i].qh;
        for (int j = 0; j < kQKK; j += 128) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = L[j + l + 0] & 0xF;
                const uint8_t q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF;
                const uint8_t q4 = L[j + l + 96] & 0xF;
                ql[l + 0] = uint8_t(q1 | (q3 << 4));
                ql[l + 32] = uint8_t(q2 | (q4 << 4));
                qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                ((L[j + l + 96] >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
    }
}

}  // namespace qs::ggml::detail
