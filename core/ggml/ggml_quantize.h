// SPDX-License-Identifier: GPL-3.0-or-later
// Quantization into ggml block types, byte for byte identical to ggml's reference quantizers as
// ggml_quantize_chunk runs them without an importance matrix (quantize_row_<type>_ref; for iq4_nl the
// quantize_iq4_nl search with ntry = 7). Verified against ../shared/refvectors/ggml.
//
// Two paths per type, the from_float_ref and from_float columns of the type table (ggml_type_traits.h):
// quantizeRef() is the plain scalar transcription of the algorithm (the specification); quantize() dispatches
// at run time to an optimised kernel (AVX2 / AVX-512 where the CPU has them) for the types where speed matters
// (q8_0, q4_0, q4_K) and falls back to the reference for the others. Both write
// identical bytes; tests/core/test_schemes.cpp checks it. Single-threaded, re-entrant, no allocation.
#pragma once

#include <cstdint>

#include "core/tensor/dtype.h"

namespace qs::ggml {

// True for the rows of the type table with from_float_ref: the ggml schemes (q4_0 ... q6_K, iq4_nl, iq4_xs, f16, bf16)
// and the activation formats q8_1, q8_K.
bool hasQuantizer(DType t);

// Quantizes n values (a whole number of t's blocks; caller checks) from x into packed blocks at dst.
// Returns false (writing nothing) for a type without a quantizer. Input must be finite (caller checks).
bool quantizeRef(DType t, const float* x, void* dst, int64_t n);
bool quantize(DType t, const float* x, void* dst, int64_t n);

// Importance-weighted quantization (ggml's quantize_row_<type>_impl with quant_weights, the path
// llama-quantize --imatrix takes): one row of nPerRow values (whole blocks) with per-column importance
// qw[nPerRow] (llama.cpp's imatrix: mean squared input activation of each column; finite, >= 0), byte for
// byte ggml_quantize_chunk(t, x, dst, 0, 1, nPerRow, qw). Rows of several are independent (the legacy types'
// sigma2 is per row), so a matrix is quantized row by row with the same qw. Returns false (writing nothing)
// for a type whose ggml quantizer ignores quant_weights (q8_0, f16, bf16) or that we do not quantize to.
// Verified against tests/data/ggml-imatrix. Scalar only; single-threaded, re-entrant, no allocation.
bool hasWeightedQuantizer(DType t);
bool quantizeRowWeighted(DType t, const float* x, void* dst, int64_t nPerRow, const float* qw);

// Name of the optimised kernel quantize() uses for t on this CPU ("avx512", "avx2", "scalar").
const char* quantizeKernelName(DType t);

namespace detail {
// The per-type reference quantizers (ggml_legacy.cpp, ggml_kquants.cpp, ggml_iq4_nl.cpp, ggml_quantize.cpp for
// f16/bf16, ggml_vec_dot.cpp for the activation formats q8_1/q8_K).
void quantizeF16(const float* x, void* y, int64_t n);
void quantizeBF16(const float* x, void* y, int64_t n);
void quantizeQ8_1Ref(const float* x, void* y, int64_t n);
void quantizeQ8_KRef(const float* x, void* y, int64_t n);
void quantizeQ4_0Ref(const float* x, void* y, int64_t n);
void quantizeQ4_1Ref(const float* x, void* y, int64_t n);
void quantizeQ5_0Ref(const float* x, void* y, int64_t n);
void quantizeQ5_1Ref(const float* x, void* y, int64_t n);
void quantizeQ8_0Ref(const float* x, void* y, int64_t n);
void quantizeQ2_KRef(const float* x, void* y, int64_t n);
void quantizeQ3_KRef(const float* x, void* y, int64_t n);
void quantizeQ4_KRef(const float* x, void* y, int64_t n);
void quantizeQ5_KRef(const float* x, void* y, int64_t n);
void quantizeQ6_KRef(const float* x, void* y, int64_t n);
void quantizeIq4NlRef(const float* x, void* y, int64_t n);
void quantizeIq4XsRef(const float* x, void* y, int64_t n);
// The importance-weighted quantizers, one row each (ggml_legacy_weighted.cpp, ggml_kquants_weighted.cpp,
// ggml_iq4_nl.cpp).
void quantizeQ4_0Weighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ4_1Weighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ5_0Weighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ5_1Weighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ2_KWeighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ3_KWeighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ4_KWeighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ5_KWeighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeQ6_KWeighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeIq4NlWeighted(const float* x, void* y, int64_t nPerRow, const float* qw);
void quantizeIq4XsWeighted(const float* x, void* y, int64_t nPerRow, const float* qw);
// Optimised kernels (ggml_simd.cpp); each returns false when the CPU lacks the instructions it needs.
bool quantizeQ8_0Fast(const float* x, void* y, int64_t n);
bool quantizeQ4_0Fast(const float* x, void* y, int64_t n);
bool quantizeQ4_KFast(const float* x, void* y, int64_t n);
const char* simdLevelName();
}  // namespace detail

}  // namespace qs::ggml
