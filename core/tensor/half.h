// SPDX-License-Identifier: GPL-3.0-or-later
// IEEE binary16 and bfloat16 conversions, bit-exact with ggml's scalar reference paths
// (ggml_compute_fp32_to_fp16 / fp16_to_fp32, ggml_compute_fp32_to_bf16 / bf16_to_fp32).
#pragma once

#include <bit>
#include <cstdint>

namespace qs {

inline float bf16ToFloat(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

// Round to nearest even; NaN stays a quiet NaN (ggml: flush sign+exponent, set bit 6).
inline uint16_t floatToBf16(float f) {
    uint32_t u = std::bit_cast<uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 64);
    return uint16_t((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Exact: every half value is representable as float. Same algorithm as ggml's FP16 reference.
inline float halfToFloat(uint16_t h) {
    const uint32_t w = uint32_t(h) << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const uint32_t exp_offset = 0xE0u << 23;
    const float exp_scale = std::bit_cast<float>(0x7800000u);
    const float normalized = std::bit_cast<float>((two_w >> 4) + exp_offset) * exp_scale;
    const uint32_t magic_mask = 126u << 23;
    const float magic_bias = 0.5f;
    const float denormalized = std::bit_cast<float>((two_w >> 17) | magic_mask) - magic_bias;
    const uint32_t denormalized_cutoff = 1u << 27;
    const uint32_t result = sign | (two_w < denormalized_cutoff ? std::bit_cast<uint32_t>(denormalized)
                                                                 : std::bit_cast<uint32_t>(normalized));
    return std::bit_cast<float>(result);
}

// Round to nearest even, NaN preserved, overflow to Inf: the same bits as ggml's scalar FP32->FP16.
inline uint16_t floatToHalf(float f) {
    const float scale_to_inf = std::bit_cast<float>(0x77800000u);
    const float scale_to_zero = std::bit_cast<float>(0x08800000u);
    float base = ((f < 0 ? -f : f) * scale_to_inf) * scale_to_zero;
    const uint32_t w = std::bit_cast<uint32_t>(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
    const uint32_t bits = std::bit_cast<uint32_t>(base);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantissa_bits = bits & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return uint16_t((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

}  // namespace qs
