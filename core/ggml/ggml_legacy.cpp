// SPDX-License-Identifier: GPL-3.0-or-later
// Reference quantizers of ggml's legacy 32-value block types (q4_0, q4_1, q5_0, q5_1, q8_0).
// Transcribes the arithmetic of ggml's quantize_row_*_ref (ggml/src/ggml-quants.c) operation by operation:
// the expressions, their order and the float->int conversions (truncation for q4/q5, roundf for q8_0)
// all matter for byte-exact output. Block layouts: ggml_blocks.h.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"

namespace qs::ggml::detail {

namespace {
// The value of largest magnitude (first one on ties), as ggml's "amax / max" scan picks it.
inline float signedAbsMax(const float* x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

inline void minMax(const float* x, int n, float& min, float& max) {
    min = FLT_MAX;
    max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
}
}  // namespace

void quantizeQ4_0Ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ4_0*>(vy);
    for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
        const float max = signedAbsMax(x, kQK);
        // Scale so the extreme value maps to code 0 (-8): uses the full [-8, 7] range on one side.
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        for (int j = 0; j < kQK / 2; ++j) {
            const float x0 = x[j] * id;
            const float x1 = x[kQK / 2 + j] * id;
            // Truncation of (v + 8.5) == round-half-up for the non-negative shifted value, as ggml does.
            const uint8_t q0 = uint8_t(std::min(15, int(int8_t(x0 + 8.5f))));
            const uint8_t q1 = uint8_t(std::min(15, int(int8_t(x1 + 8.5f))));
            y[i].qs[j] = uint8_t(q0 | (q1 << 4));
        }
    }
}

void quantizeQ4_1Ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ4_1*>(vy);
    for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
        float min, max;
        minMax(x, kQK, min, max);
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        y[i].m = toHalf(min);
        for (int j = 0; j < kQK / 2; ++j) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[kQK / 2 + j] - min) * id;
            const uint8_t q0 = uint8_t(std::min(15, int(int8_t(x0 + 0.5f))));
            const uint8_t q1 = uint8_t(std::min(15, int(int8_t(x1 + 0.5f))));
            y[i].qs[j] = uint8_t(q0 | (q1 << 4));
        }
    }
}

void quantizeQ5_0Ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ5_0*>(vy);
    for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
        const float max = signedAbsMax(x, kQK);
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const float x0 = x[j] * id;
            const float x1 = x[kQK / 2 + j] * id;
            const uint8_t q0 = uint8_t(std::min(31, int(int8_t(x0 + 16.5f))));
            const uint8_t q1 = uint8_t(std::min(31, int(int8_t(x1 + 16.5f))));
            y[i].qs[j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= uint32_t((q0 & 0x10u) >> 4) << j;
            qh |= uint32_t((q1 & 0x10u) >> 4) << (j + kQK / 2);
        }
        std::memcpy(y[i].qh, &qh, 4);
    }
}

void quantizeQ5_1Ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ5_1*>(vy);
    for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
        float min, max;
        minMax(x, kQK, min, max);
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        y[i].m = toHalf(min);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[kQK / 2 + j] - min) * id;
            const uint8_t q0 = uint8_t(x0 + 0.5f);
            const uint8_t q1 = uint8_t(x1 + 0.5f);
            y[i].qs[j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= uint32_t((q0 & 0x10u) >> 4) << j;
            qh |= uint32_t((q1 & 0x10u) >> 4) << (j + kQK / 2);
        }
        std::memcpy(y[i].qh, &qh, 4);
    }
}

void quantizeQ8_0Ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(vy);
    for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        // roundf: ties away from zero (not the FPU's ties-to-even).
        for (int j = 0; j < kQK; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));
    }
}

}  // namespace qs::ggml::detail
