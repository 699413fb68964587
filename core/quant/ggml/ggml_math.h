// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar helpers shared by the ggml quantizers, reproducing ggml's exact arithmetic.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "core/tensor/half.h"

namespace qs::ggml::detail {

// ggml's nearest_int: adds 1.5 * 2^23 so the FPU's round-to-nearest-even lands the integer in the mantissa.
// Rounds ties to even (unlike roundf). Valid for |f| <= 2^22 - 1, which every caller guarantees.
inline int nearestInt(float f) {
    const float v = f + 12582912.f;
    return int(std::bit_cast<uint32_t>(v) & 0x007fffffu) - 0x00400000;
}

inline uint16_t toHalf(float f) { return floatToHalf(f); }
// ggml's GGML_FP16_TO_FP32 as the quantizers and dequantizers read stored scales.
inline float fromHalf(uint16_t h) { return halfToFloat(h); }

}  // namespace qs::ggml::detail
