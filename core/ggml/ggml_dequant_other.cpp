// SPDX-License-Identifier: GPL-3.0-or-later
// Dequantizers of ggml's 8-bit activation types (q8_1, q8_K), ternary types (tq1_0, tq2_0), FP4 types (mxfp4,
// nvfp4) and 1/2-bit types (q1_0, q2_0), written from the layouts in ggml_blocks.h with the float expression
// order of ggml's dequantize_row_* (ggml/src/ggml-quants.c) and its scale decoders (ggml-impl.h
// ggml_e8m0_to_fp32_half, ggml_ue4m3_to_fp32), so every output float is bit-identical to ggml's.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_dequant_impl.h"
#include "core/ggml/ggml_iq_grids.h"
#include "core/ggml/ggml_math.h"

namespace qs::ggml::detail {

namespace {

// Half of the E8M0 scale 2^(e-127), i.e. 2^(e-128): ggml stores FP4 E2M1 values doubled (kFp4Values). Built
// from bits, e < 2 as the subnormals 2^-128 and 2^-127; e = 255 (an MX NaN) gives 2^127 as ggml's does.
inline float e8m0Half(uint8_t e) {
    const uint32_t bits = e < 2 ? (0x00200000u << e) : uint32_t(e - 1) << 23;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Half of an unsigned E4M3 scale (bias 7, subnormals at exponent 0). As ggml: 0 and 0x7F (the E4M3 NaN) give
// 0, and the top bit of the byte is ignored.
inline float ue4m3Half(uint8_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const int exp = (x >> 3) & 0xF, man = x & 0x7;
    const float raw = exp == 0 ? std::ldexp(float(man), -9) : std::ldexp(1.0f + float(man) / 8.0f, exp - 7);
    return raw * 0.5f;
}

// Four (qh) or five (qs) trits of a tq1_0 byte, trit n = (uint8(byte * 3^n) * 3) >> 8, as value t - 1.
inline float tq1Trit(uint8_t byte, int n, float d) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const uint8_t q = uint8_t(byte * kPow3[n]);
    const int xi = (int(q) * 3) >> 8;
    return float(xi - 1) * d;
}

}  // namespace

void dequantQ8_1(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockQ8_1*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = fromHalf(x[i].d);
        for (int j = 0; j < kQK; ++j) y[j] = float(x[i].qs[j]) * d;
    }
}

void dequantQ8_K(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockQ8_K*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        float d;
        std::memcpy(&d, &x[i].d, 4);
        for (int j = 0; j < kQKK; ++j) *y++ = d * float(x[i].qs[j]);
    }
}

void dequantTq1_0(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockTq1_0*>(src);
    constexpr int kQs = int(sizeof(x->qs));  // 48: one run of 32 bytes, then one of 16
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        for (int j = 0; j < kQs; j += 32)
            for (int t = 0; t < 5; ++t)
                for (int m = 0; m < std::min(32, kQs - j); ++m) *y++ = tq1Trit(x[i].qs[j + m], t, d);
        for (int t = 0; t < 4; ++t)
            for (int j = 0; j < int(sizeof(x->qh)); ++j) *y++ = tq1Trit(x[i].qh[j], t, d);
    }
}

void dequantTq2_0(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockTq2_0*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        for (int j = 0; j < int(sizeof(x->qs)); j += 32)
            for (int l = 0; l < 4; ++l)
                for (int m = 0; m < 32; ++m) *y++ = float(((x[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
    }
}

void dequantMxfp4(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockMxfp4*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = e8m0Half(x[i].e);
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = float(kFp4Values[x[i].qs[j] & 0x0F]) * d;
            y[j + kQK / 2] = float(kFp4Values[x[i].qs[j] >> 4]) * d;
        }
    }
}

void dequantNvfp4(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockNvfp4*>(src);
    constexpr int kSub = 16;
    for (int64_t i = 0; i < n / kQKNvfp4; ++i) {
        for (int s = 0; s < kQKNvfp4 / kSub; ++s, y += kSub) {
            const float d = ue4m3Half(x[i].d[s]);
            const uint8_t* qs = x[i].qs + s * (kSub / 2);
            for (int j = 0; j < kSub / 2; ++j) {
                y[j] = float(kFp4Values[qs[j] & 0x0F]) * d;
                y[j + kSub / 2] = float(kFp4Values[qs[j] >> 4]) * d;
            }
        }
    }
}

void dequantQ1_0(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockQ1_0*>(src);
    for (int64_t i = 0; i < n / kQK1_0; ++i, y += kQK1_0) {
        const float d = fromHalf(x[i].d);
        for (int j = 0; j < kQK1_0; ++j) y[j] = (x[i].qs[j / 8] >> (j % 8)) & 1 ? d : -d;
    }
}

void dequantQ2_0(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockQ2_0*>(src);
    for (int64_t i = 0; i < n / kQK2_0; ++i, y += kQK2_0) {
        const float d = fromHalf(x[i].d);
        for (int j = 0; j < kQK2_0; ++j) y[j] = float(((x[i].qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
    }
}

}  // namespace qs::ggml::detail
