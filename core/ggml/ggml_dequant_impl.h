// SPDX-License-Identifier: GPL-3.0-or-later
// Internal to the ggml dequantizers: the per-type row decoders, the to_float column of the type table
// (ggml_type_traits.cpp) that ggml_dequant.cpp dispatches through. Each decodes n values (a whole number of blocks, n / block elements of them at src, no alignment beyond the
// block struct's) into dst, with the arithmetic of ggml's dequantize_row_<type> (ggml/src/ggml-quants.c).
#pragma once

#include <cstdint>

namespace qs::ggml::detail {

// ggml_dequant.cpp: legacy blocks, K-quants, iq4_nl, f16/bf16 (element by element, any alignment).
void dequantQ4_0(const void* src, float* y, int64_t n);  // AVX2 or scalar by cpu::simdLevel()
void dequantQ4_1(const void* src, float* y, int64_t n);
void dequantQ5_0(const void* src, float* y, int64_t n);
void dequantQ5_1(const void* src, float* y, int64_t n);
void dequantQ8_0(const void* src, float* y, int64_t n);  // AVX2 or scalar by cpu::simdLevel()
// The two paths of q4_0 and q8_0, bit-identical (ggml_dequant_simd.cpp); the AVX2 ones need a CPU that
// cpu::canRun(SimdLevel::Avx2) (tests call each path directly).
void dequantQ4_0Scalar(const void* src, float* y, int64_t n);
void dequantQ8_0Scalar(const void* src, float* y, int64_t n);
void dequantQ4_0Avx2(const void* src, float* y, int64_t n);
void dequantQ8_0Avx2(const void* src, float* y, int64_t n);
void dequantQ2_K(const void* src, float* y, int64_t n);
void dequantQ3_K(const void* src, float* y, int64_t n);
void dequantQ4_K(const void* src, float* y, int64_t n);
void dequantQ5_K(const void* src, float* y, int64_t n);
void dequantQ6_K(const void* src, float* y, int64_t n);
void dequantIq4Nl(const void* src, float* y, int64_t n);
void dequantF16(const void* src, float* y, int64_t n);
void dequantBF16(const void* src, float* y, int64_t n);

// ggml_dequant_iq.cpp: the i-quants.
void dequantIq2Xxs(const void* src, float* y, int64_t n);
void dequantIq2Xs(const void* src, float* y, int64_t n);
void dequantIq2S(const void* src, float* y, int64_t n);
void dequantIq3Xxs(const void* src, float* y, int64_t n);
void dequantIq3S(const void* src, float* y, int64_t n);
void dequantIq1S(const void* src, float* y, int64_t n);
void dequantIq1M(const void* src, float* y, int64_t n);
void dequantIq4Xs(const void* src, float* y, int64_t n);

// ggml_dequant_other.cpp: 8-bit activation types, ternary, FP4 and 1/2-bit types.
void dequantQ8_1(const void* src, float* y, int64_t n);
void dequantQ8_K(const void* src, float* y, int64_t n);
void dequantTq1_0(const void* src, float* y, int64_t n);
void dequantTq2_0(const void* src, float* y, int64_t n);
void dequantMxfp4(const void* src, float* y, int64_t n);
void dequantNvfp4(const void* src, float* y, int64_t n);
void dequantQ1_0(const void* src, float* y, int64_t n);
void dequantQ2_0(const void* src, float* y, int64_t n);

}  // namespace qs::ggml::detail
