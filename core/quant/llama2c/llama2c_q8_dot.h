// SPDX-License-Identifier: GPL-3.0-or-later
// llama2.c's Q8 (the "version 2" export, DType::Llama2cQ8) multiplied as its reference runtime runq.c does, so a
// llama2.c Q8 file runs in its stored bytes and gives runq's numbers (karpathy/llama2.c runq.c, quantize() and
// matmul()):
//  - the activations are quantized once per product to int8 per group of `group` values with a float32 scale:
//    scale = max|x| / 127, code = round(x / scale) (round half away from zero). A group whose max|x| is 0 gets
//    scale 0 and codes 0 (runq divides 0 by 0 there, which is undefined);
//  - each output row accumulates, over its groups in order, the exact int32 sum of code products S:
//      val = val + ((float(S) * w_scale) * x_scale)        (no fused multiply-add; starting at 0.0f)
// The integer sums are exact, so the scalar reference and the AVX2 path (groups of a multiple of 32 values)
// give the same bits; other groups (stories260K's 8) run the scalar reference at every level.
//
// Layouts. Weights: the stored tensor, int8 codes of all rows ([rows, cols], row-major) followed by the float32
// scales, one per `group` consecutive values; row r's codes are at codes + r * cols and its scales at
// scales + r * (cols / group). Activations of one token (actRowBytes(cols, group) bytes): cols int8 codes,
// padded to 4 bytes, then cols / group float32 scales.
// Preconditions: group > 0 and cols % group == 0 (llama2.c's export guarantees both).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/util/cpu_features.h"

namespace qs::llama2c {

// Bytes of one token's quantized activations.
size_t actRowBytes(int64_t cols, int group);

// Quantizes x[cols] into act (actRowBytes(cols, group) bytes), as runq.c's quantize().
void quantizeActivations(const float* x, int64_t cols, int group, std::byte* act);

// out[c] = row dot activation row c (act + c * stride) for c < nCols: `codes` the row's cols int8 codes,
// `scales` its cols / group float32 scales (unaligned reads are fine). Path: the highest implemented level <=
// `level` for this group (dotPathName).
void dot(int64_t cols, int group, const int8_t* codes, const std::byte* scales, const std::byte* act,
         size_t stride, int nCols, float* out, cpu::SimdLevel level);
const char* dotPathName(int group, cpu::SimdLevel level);

}  // namespace qs::llama2c
