// SPDX-License-Identifier: GPL-3.0-or-later
// AVX2 decoders for the two block types that whole-model quantization decodes most (q8_0 and q4_0: the
// statistics pass dequantizes every block it writes). Each output is the scalar decoder's own arithmetic, one
// int -> float conversion and one float multiply by the block's fp16 scale, so the results are bit-identical to
// ggml's dequantize_row_q8_0 / dequantize_row_q4_0 (ggml/src/ggml-quants.c); only the lane count differs.
#include <cstdint>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_dequant_impl.h"
#include "core/ggml/ggml_math.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QS_X86_SIMD 1
#include <immintrin.h>
#endif

namespace qs::ggml::detail {

#ifdef QS_X86_SIMD
#define QS_AVX2 __attribute__((target("avx2")))

QS_AVX2 void dequantQ8_0Avx2(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockQ8_0*>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const __m256 d = _mm256_set1_ps(fromHalf(x[i].d));
        for (int j = 0; j < kQK; j += 8) {
            const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[i].qs + j));
            _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
        }
    }
}

QS_AVX2 void dequantQ4_0Avx2(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockQ4_0*>(src);
    const __m256i eight = _mm256_set1_epi32(8), low = _mm256_set1_epi32(0x0F);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const __m256 d = _mm256_set1_ps(fromHalf(x[i].d));
        for (int j = 0; j < kQK / 2; j += 8) {  // bytes j..j+7: low nibbles are y[j..], high ones y[j + 16..]
            const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[i].qs + j)));
            const __m256i lo = _mm256_sub_epi32(_mm256_and_si256(b, low), eight);
            const __m256i hi = _mm256_sub_epi32(_mm256_srli_epi32(b, 4), eight);
            _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), d));
            _mm256_storeu_ps(y + j + kQK / 2, _mm256_mul_ps(_mm256_cvtepi32_ps(hi), d));
        }
    }
}
#else
void dequantQ8_0Avx2(const void* src, float* y, int64_t n) { dequantQ8_0Scalar(src, y, n); }
void dequantQ4_0Avx2(const void* src, float* y, int64_t n) { dequantQ4_0Scalar(src, y, n); }
#endif

}  // namespace qs::ggml::detail
