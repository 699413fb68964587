// SPDX-License-Identifier: GPL-3.0-or-later
// Inner loops of round-to-nearest (RTN) integer quantization, in a scalar reference and an optimised
// (AVX2 / AVX-512, dispatched at run time) version that produce identical results: the only rounding is
// x * inv rounded to nearest, ties to even (std::nearbyint in the default rounding mode, which is also what
// the vector float->int conversions do), and both paths multiply by the same float reciprocal.
#pragma once

#include <cstdint>

#include "core/quant/chunked_scheme.h"

namespace qs::rtn {

// The grid of one group with value range [lo, hi], as the RTN family stores it (rtn_scheme.cpp's header):
// asymmetric: s = fp16((max(hi,0) - min(lo,0)) / (2^b - 1)), z = clamp(nearbyint(-min(lo,0) / s), 0, 2^b - 1);
// symmetric: s = fp16(max(|lo|,|hi|) / (2^(b-1) - 1)), z = 2^(b-1). inv = 1 / s (0 when s == 0); ok is false
// when s overflows fp16. Shared with the schemes stored in RTN layouts (GPTQ).
struct GroupParams {
    uint16_t scaleHalf = 0;
    float inv = 0.0f;
    int zero = 0;
    bool ok = true;
};
GroupParams groupParams(int bits, bool symmetric, float lo, float hi);

// min and max of x[0..n) (n >= 1).
void minMax(const float* x, int64_t n, float& lo, float& hi, QuantPath path);

// codes[i] = clamp(nearbyint(x[i] * inv) + z, qlo, qhi), for 0 <= qlo <= qhi <= 255.
void codes(const float* x, int64_t n, float inv, int z, int qlo, int qhi, uint8_t* out, QuantPath path);

// As codes() with a per-element reciprocal and zero point (per-column quantization of one row).
void codesPerColumn(const float* x, int64_t n, const float* inv, const int32_t* z, int qlo, int qhi, uint8_t* out,
                    QuantPath path);

// Name of the kernel level the optimised path uses ("avx512", "avx2", "scalar").
const char* kernelName();

}  // namespace qs::rtn
