// SPDX-License-Identifier: GPL-3.0-or-later
// The single-threaded float kernels of the forward pass. Parallelism sits one level up (rows, heads, tokens;
// see linear_weights.h and transformer.cpp). Every kernel's result depends only on its inputs, never on the
// thread count or on which thread runs it.
//
// The kernels that take a SIMD level (the exponential's users: softmax, SwiGLU; the attention's weighted sum of
// value rows) have a scalar reference and an AVX2 path chosen at run time (cpu::simdLevel() when no level is
// given), compiled under target pragmas, never -march. Numerics of those (every SIMD level gives the same bits,
// so a token decoded alone equals the same token in a prompt):
// - expApprox: Cephes' expf (S. L. Moshier, Cephes Math Library, `expf.c`): n = round-to-nearest(x log2 e),
//   r = x - n ln 2 in two fused steps (ln 2 = 0.693359375 - 2.12194440e-4), e^r by the degree-5 minimax
//   polynomial of Cephes on [-ln2/2, ln2/2] evaluated with fused multiply-adds, times 2^n built in the exponent
//   bits. Within 2 ulp of the exact e^x for x in [-87.33, 88.37]; below -87.33 (e^x < FLT_MIN) it returns 0
//   where std::exp would return a subnormal; above 88.37 it returns +inf (also where e^x < FLT_MAX, up to
//   88.72; softmax never asks: its arguments are <= 0, SwiGLU's only overflow to 1/inf = 0 either way).
//   NaN in, NaN out. ggml's softmax and SiLU likewise use their own vectorised exp (ggml_v_expf).
// - softmax: m = max x; e_i = expApprox(x_i - m); the sum of the e_i in eight lanes (lane k adds i = k mod 8
//   of the first n - n % 8 values, in order), the lanes summed ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then the
//   last n % 8 values in order; x_i = e_i / sum (a correctly rounded division).
// - weightedRowSum: out[d] = fma(p[count-1], rows[count-1][d], ... fma(p[0], rows[0][d], 0)): for every d
//   one fused multiply-add per row, rows in order.
#pragma once

#include <cstdint>

#include "core/model/model_info.h"
#include "core/util/cpu_features.h"

namespace qs::kernels {

// out = weight * x / sqrt(mean(x^2) + eps) (Zhang & Sennrich 2019; llama2.c rmsnorm). out may alias x.
// Returns false when the sum of squares is not finite (|x| beyond ~1.8e19 overflows float): out is then all
// zeros, as transformers' and ggml's float RMSNorm give, which callers must not pass off as a result.
bool rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);

// Rotary embedding (Su et al. 2021) of `heads` consecutive vectors of headDim values at one position.
// cosTable/sinTable hold headDim/2 values for that position: entry j is the angle pos * theta^(-2j/headDim).
// AdjacentPairs rotates (x[2j], x[2j+1]) as llama2.c and GGUF "llama" do; RotateHalf rotates (x[j],
// x[j + headDim/2]) as Hugging Face's rotate_half does.
void rope(float* x, int heads, int headDim, const float* cosTable, const float* sinTable, RopeLayout layout);

// gate[i] = (g * (1 / (1 + expApprox(-g)))) * up[i] with g = gate[i]: silu(g) * up (SwiGLU, Shazeer 2020;
// Elfwing et al. 2018's sigmoid-weighted linear unit), the same bits on every level.
void swiglu(float* gate, const float* up, int64_t n, cpu::SimdLevel level);
void swiglu(float* gate, const float* up, int64_t n);

// gate[i] = gelu_tanh(gate[i]) * up[i] (GeGLU with the tanh approximation of GELU, Hendrycks & Gimpel 2016;
// transformers gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))).
void geglu(float* gate, const float* up, int64_t n);

// e^x as described above (scalar; the SIMD paths compute the same bits eight at a time).
float expApprox(float x);

// In-place softmax of x[0..n) (n >= 0), numerics above, at the highest implemented level <= `level`
// (default cpu::simdLevel()).
void softmax(float* x, int64_t n, cpu::SimdLevel level);
void softmax(float* x, int64_t n);

// out[d] = sum over i < count of p[i] * rows[i * ldRows + d], d < width, as fused multiply-adds in row order
// (numerics above). rows: count rows of at least `width` floats, ldRows floats apart (a KV cache's value rows
// of one head); out: width floats, overwritten. count == 0 gives zeros.
void weightedRowSum(const float* p, int64_t count, const float* rows, int64_t ldRows, int64_t width, float* out,
                    cpu::SimdLevel level);
void weightedRowSum(const float* p, int64_t count, const float* rows, int64_t ldRows, int64_t width, float* out);

// The path the level-taking kernels take at `level`: "scalar" or "avx2".
const char* floatKernelPathName(cpu::SimdLevel level);

// Log of the softmax probability of `target` under `logits` (double accumulation).
double logSoftmaxAt(const float* logits, int64_t n, int64_t target);

}  // namespace qs::kernels
