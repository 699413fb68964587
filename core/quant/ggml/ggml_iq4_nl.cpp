// SPDX-License-Identifier: GPL-3.0-or-later
// Reference quantizer of ggml's iq4_nl: 32 values per block, one fp16 scale, 4-bit indices into the fixed
// non-linear codebook kIq4nlValues. Without an importance matrix ggml_quantize_chunk runs quantize_iq4_nl,
// i.e. quantize_row_iq4_nl_impl with weights x^2 and ntry = 7: a least-squares scale for the nearest-code
// assignment, then 15 trial scales (itry - 127) / max, keeping the best weighted fit; finally the codes are
// re-chosen for the winning (unrounded) scale.
#include <cmath>
#include <cstring>

#include "core/quant/ggml/ggml_blocks.h"
#include "core/quant/ggml/ggml_math.h"
#include "core/quant/ggml/ggml_quantize.h"

namespace qs::ggml::detail {

namespace {
constexpr float kGroupMaxEps = 1e-15f;

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
}  // namespace

void quantizeIq4NlRef(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockIq4Nl*>(vy);
    const int8_t* values = kIq4nlValues;
    constexpr int ntry = 7;
    uint8_t L[kQK];
    float weight[kQK];
    for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
        for (int j = 0; j < kQK; ++j) weight[j] = x[j] * x[j];
        float amax = 0, max = 0;
        for (int j = 0; j < kQK; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        float scale = 0;
        if (amax >= kGroupMaxEps) {
            float d = -max / float(values[0]);
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int j = 0; j < kQK; ++j) {
                const int l = bestIndex(values, id * x[j]);
                const float q = values[l];
                sumqx += weight[j] * q * x[j];
                sumq2 += weight[j] * q * q;
            }
            // Values below ~1e-19 square to zero weights; ggml would divide 0/0 into a NaN scale here.
            d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
            float best = d * sumqx;
            for (int itry = -ntry; itry <= ntry; ++itry) {
                id = float(itry + values[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < kQK; ++j) {
                    const int l = bestIndex(values, id * x[j]);
                    const float q = values[l];
                    sumqx += weight[j] * q * x[j];
                    sumq2 += weight[j] * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scale = d;
        }
        y[i].d = toHalf(scale);
        const float id = scale != 0.0f ? 1 / scale : 0;
        for (int j = 0; j < kQK; ++j) L[j] = uint8_t(bestIndex(values, id * x[j]));
        for (int j = 0; j < 16; ++j) y[i].qs[j] = uint8_t(L[j] | (L[16 + j] << 4));
    }
}

}  // namespace qs::ggml::detail
