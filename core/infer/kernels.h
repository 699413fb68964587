// SPDX-License-Identifier: GPL-3.0-or-later
// The single-threaded float kernels of the forward pass. Parallelism sits one level up (rows, heads, tokens;
// see linear_weights.h and transformer.cpp). Every kernel's result depends only on its inputs, never on the
// thread count or on which thread runs it.
#pragma once

#include <cstdint>

#include "core/model/model_info.h"

namespace qs::kernels {

// Sum of a[i]*b[i] with eight interleaved float accumulators (vectorised; a fixed summation order).
float dot(const float* a, const float* b, int64_t n);
// y[i] += a * x[i], i < n: one multiply and one add per element in that order (no fused multiply-add), so the
// result is the plain loop's, four lanes at a time.
void axpy(float a, const float* x, float* y, int64_t n);

// out = weight * x / sqrt(mean(x^2) + eps) (Zhang & Sennrich 2019; llama2.c rmsnorm). out may alias x.
// Returns false when the sum of squares is not finite (|x| beyond ~1.8e19 overflows float): out is then all
// zeros, as transformers' and ggml's float RMSNorm give, which callers must not pass off as a result.
bool rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);

// In-place softmax (max-subtracted).
void softmax(float* x, int64_t n);

// Rotary embedding (Su et al. 2021) of `heads` consecutive vectors of headDim values at one position.
// cosTable/sinTable hold headDim/2 values for that position: entry j is the angle pos * theta^(-2j/headDim).
// AdjacentPairs rotates (x[2j], x[2j+1]) as llama2.c and GGUF "llama" do; RotateHalf rotates (x[j],
// x[j + headDim/2]) as Hugging Face's rotate_half does.
void rope(float* x, int heads, int headDim, const float* cosTable, const float* sinTable, RopeLayout layout);

// gate[i] = silu(gate[i]) * up[i] (SwiGLU, Shazeer 2020).
void swiglu(float* gate, const float* up, int64_t n);

// gate[i] = gelu_tanh(gate[i]) * up[i] (GeGLU with the tanh approximation of GELU, Hendrycks & Gimpel 2016;
// transformers gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))).
void geglu(float* gate, const float* up, int64_t n);

// Log of the softmax probability of `target` under `logits` (double accumulation).
double logSoftmaxAt(const float* logits, int64_t n, int64_t target);

}  // namespace qs::kernels
