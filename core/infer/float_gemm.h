// SPDX-License-Identifier: GPL-3.0-or-later
// The float32 matrix product of the forward pass (FloatLinearWeights and the dequantize-per-row-block paths
// of linear_weights.h): y[b, r] = dot(W[r, :], x[b, :]) for a block of weight rows and a batch of activation
// rows. The prompt (many tokens) is a register-tiled GEMM: each micro-kernel keeps 4 weight rows x 3 tokens
// (AVX2) or 8 weight rows x 6 tokens (AVX-512, two tokens per 512-bit register: 24 accumulators, 8 weight
// broadcasts and 3 activation loads per 24 FMAs) of accumulators, so a weight row loaded from cache serves
// several tokens and each activation load (streamed from L2) serves 8 rows; token blocks of up to 128 keep the
// activations in L2 while each tile's weight rows stay in L1 (a weight matrix is read from memory once per
// 128 tokens).
//
// Numerics (every path, tile shape, batch size and thread count gives the same bits): each output is the dot
// product over n values with eight float lanes: lane k accumulates fma(w[i + k], x[i + k], lane) for i in
// steps of 8; the lanes are summed as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); the last n % 8 products are
// added in order with fma. A batch of one (decode) therefore equals the same token inside a prompt.
//
// The scalar path uses std::fma: one instruction where the build target has FMA (aarch64; x86-64 CPUs run the
// AVX2 path), a slow library call on x86-64 CPUs without FMA (before Haswell), which keep exact results.
//
// Thread-safety: pure function; single-threaded (parallelism sits over row ranges, linear_weights.cpp).
#pragma once

#include <cstdint>

#include "core/util/cpu_features.h"

namespace qs::kernels {

// The contract's sum of eight float lanes: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) (also the softmax's, kernels.h).
inline float laneSum(const float* l) {
    const float t0 = l[0] + l[4], t1 = l[1] + l[5], t2 = l[2] + l[6], t3 = l[3] + l[7];
    return (t0 + t2) + (t1 + t3);
}

// Tokens per block of the F32 and F16/BF16 GEMMs: their activation rows stay in L2 while a tile of weight rows is
// reused across them (128 x 2048 floats = 1 MiB: within a 2 MiB L2; a 48-token block read the weights three times
// per prompt).
inline constexpr int64_t kGemmTokenBlock = 128;

// For r < nRows, b < batch: y[b * ldy + r] = dot(w + r * ldw, x + b * n) over n values, at the highest
// implemented SIMD level <= `level` (default: cpu::simdLevel()). w rows and x rows need only float alignment.
void gemmF32(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t batch, int64_t n, float* y,
             int64_t ldy, cpu::SimdLevel level);
void gemmF32(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t batch, int64_t n, float* y,
             int64_t ldy);

// Prepared activations: the AVX-512 path rearranges the activations of a prompt into token pairs before it
// multiplies. A caller that runs many row ranges against the same activations (the parallel matmul of
// linear_weights.cpp) prepares them once and passes them to every range, instead of gemmF32 repacking them
// per call: gemmF32PreparedFloats(batch, n, level) floats of scratch (0: this level and batch use x as it
// is; call gemmF32), filled by gemmF32Prepare; gemmF32Prepared then gives exactly gemmF32's results (x is
// still read for the last n % 8 values). The scratch is read-only afterwards (any number of threads).
int64_t gemmF32PreparedFloats(int64_t batch, int64_t n, cpu::SimdLevel level);
void gemmF32Prepare(const float* x, int64_t batch, int64_t n, float* prepared, cpu::SimdLevel level);
// The part of gemmF32Prepare's output that tokens [b0, b1) of the batch own (x: the whole batch; b0 even, b1
// even unless it is batch): ranges covering [0, batch) may run concurrently and give gemmF32Prepare's bytes.
void gemmF32PrepareTokens(const float* x, int64_t batch, int64_t n, float* prepared, int64_t b0, int64_t b1,
                          cpu::SimdLevel level);
void gemmF32Prepared(const float* w, int64_t ldw, int64_t nRows, const float* prepared, const float* x,
                     int64_t batch, int64_t n, float* y, int64_t ldy, cpu::SimdLevel level);

// The path gemmF32 takes at `level`: "scalar", "avx2" or "avx512".
const char* gemmF32PathName(cpu::SimdLevel level);

}  // namespace qs::kernels
