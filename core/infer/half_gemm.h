// SPDX-License-Identifier: GPL-3.0-or-later
// The prompt (many-token) product of f16/bf16 weights (PackedLinearWeights, linear_weights.h) as a
// register-tiled matrix-matrix kernel, with the numeric contract of the per-pair f16/bf16 dots of
// core/ggml/ggml_vec_dot.h, so that every output equals, bit for bit, what the decode path (one token, one
// DotFn call per row) computes for that row and token:
//   32 float lanes; lane 8g + k (g < 4, k < 8) accumulates fma(w[i], x[i], lane) for i = 32j + 8g + k,
//   j = 0, 1, ... in order, from 0; the lanes are combined per k as (l_k + l_{8+k}) + (l_{16+k} + l_{24+k}),
//   those eight summed ((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7)); the last n % 32 products accumulate in order
//   in one float from 0 with fma (the tail), added last: sum + tail.
// The kernel computes in float on the exact float values of the 16-bit weights and of the activations (the
// activations rounded to the weights' 16-bit type first under ggml's pairing, left f32 under the float
// pairing): the fused multiply-adds see the same operands as the dots', so the contract holds for either.
//
// Layout ("lane-grouped" rows): the four lane groups of a row are made contiguous so that the kernel streams
// each with plain 8-float loads. For a row of n values, n32 = n - n % 32 and m = n32 / 4: value i = 32j + 8g + k
// (i < n32) sits at g * m + 8j + k, the tail values n32 .. n - 1 follow in order at the same positions. A row
// keeps its n floats. groupLanes* write it (weights: a block of rows at a time into the caller's thread-local
// scratch; activations: once per product).
//
// Tiling (AVX2; AVX-512 runs the same 256-bit body, as the f16/bf16 dots do): 4 weight rows x 3 tokens of
// accumulators, one lane group at a time (12 accumulators, 4 weight and 3 activation loads per 12 FMAs, the
// float GEMM's shape, float_gemm.h); the four groups' lane vectors are combined per output at the end. Token
// blocks of 128 keep the activations in L2 while a tile's weight rows stay in L1. The scalar path is the
// reference with the same layout; both compute the contract exactly, so they give the same bits.
//
// Thread-safety: pure functions, single-threaded (parallelism over row ranges sits in linear_weights.cpp).
#pragma once

#include <cstdint>

#include "core/tensor/dtype.h"
#include "core/util/cpu_features.h"

namespace qs::kernels {

// dst[0 .. n) = the lane-grouped layout of src[0 .. n) (n >= 1; src and dst do not overlap).
void groupLanes(const float* src, int64_t n, float* dst);
// The same for `count` rows of 16-bit values (t: DType::F16 or DType::BF16, anything else is a bug), rows
// ldSrc values apart in src and n floats apart in dst, widened exactly to float; `level` picks the converter
// (F16C / AVX2 shifts, or the scalar conversions of core/tensor/half.h: the same values).
void groupLanesHalf(DType t, const uint16_t* src, int64_t ldSrc, int64_t count, int64_t n, float* dst,
                    cpu::SimdLevel level);

// For r < nRows, b < batch: y[b * ldy + r] = the contract's dot of lane-grouped weight row w + r * ldw and
// lane-grouped activation row x + b * ldx, n values each (n >= 1), at the highest implemented level <= `level`.
void gemmLanes32(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t ldx, int64_t batch, int64_t n,
                 float* y, int64_t ldy, cpu::SimdLevel level);

// The path gemmLanes32 takes at `level`: "scalar" or "avx2".
const char* gemmLanes32PathName(cpu::SimdLevel level);

}  // namespace qs::kernels
