// SPDX-License-Identifier: GPL-3.0-or-later
// Inner loops of round-to-nearest (RTN) integer quantization, in a scalar reference and an optimised
// (AVX2 / AVX-512, dispatched at run time) version that produce identical results: the only rounding is
// x * inv rounded to nearest, ties to even (std::nearbyint in the default rounding mode, which is also what
// the vector float->int conversions do), and both paths multiply by the same float reciprocal.
#pragma once

#include <cstdint>

#include "core/quant/chunked_scheme.h"

namespace qs::rtn {

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
