// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar helpers shared by the ggml quantizers, reproducing ggml's exact arithmetic.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "core/tensor/half.h"

namespace qs::ggml::detail {

// ggml's GROUP_MAX_EPS (ggml-quants.c): a group whose |value| max is below it counts as all zero.
inline constexpr float kGroupMaxEps = 1e-15f;

// ggml's nearest_int: adds 1.5 * 2^23 so the FPU's round-to-nearest-even lands the integer in the mantissa.
// Rounds ties to even (unlike roundf). Valid for |f| <= 2^22 - 1, which every caller guarantees.
inline int nearestInt(float f) {
    const float v = f + 12582912.f;
    return int(std::bit_cast<uint32_t>(v) & 0x007fffffu) - 0x00400000;
}

inline uint16_t toHalf(float f) { return floatToHalf(f); }
// ggml's GGML_FP16_TO_FP32 as the quantizers and dequantizers read stored scales.
inline float fromHalf(uint16_t h) { return halfToFloat(h); }

// K-quant 6-bit scale/min pair j of a q4_K/q5_K block (ggml get_scale_min_k4).
inline void scaleMinK4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
    if (j < 4) {
        d = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

}  // namespace qs::ggml::detail
