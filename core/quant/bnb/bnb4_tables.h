// SPDX-License-Identifier: GPL-3.0-or-later
// Code tables of the bitsandbytes-style 4-bit formats.
//  * NF4 (NormalFloat4, QLoRA paper, Dettmers et al. 2023, appendix E; bitsandbytes nf4 lookup table):
//    quantiles of N(0,1) normalised to [-1, 1] with an exact 0; code 7 is 0, code 15 is 1.
//  * FP4 (bitsandbytes' e2m1 variant): code = sign bit (8) | 3 magnitude bits; magnitudes per
//    bitsandbytes' dDequantizeFP4Tree: 0, 1/192 (0.0052083), 2/3, 1, 1/3, 1/2, 1/6, 1/4 for codes 0..7.
//  * The signed 8-bit "dynamic" map used for double quantization of the absmax values
//    (bitsandbytes create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)).
#pragma once

#include <array>
#include <cstdint>

namespace qs::bnb {

inline constexpr float kNf4Values[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

inline constexpr float kFp4Values[16] = {
    0.0f,  0.005208333333f,  0.66666667f,  1.0f,  0.33333333f,  0.5f,  0.16666667f,  0.25f,
    -0.0f, -0.005208333333f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f,
};

// The 256 sorted values of the signed dynamic map: 0, 1, and +-10^(i-6) * (midpoints of linspace(0.1, 1,
// 2^i + 1)) for i = 0..6 (127 magnitudes). Computed in double, rounded to float once.
const std::array<float, 256>& dynamicMap8();

// Nearest code of a value normalised by its block absmax (ties go to the higher code).
uint8_t nearestNf4(float x);
uint8_t nearestFp4(float x);
// Index of the nearest dynamic-map value (ties to the higher index).
uint8_t nearestDynamic8(float x);

}  // namespace qs::bnb
