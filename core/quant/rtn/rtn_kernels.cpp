// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/rtn/rtn_kernels.h"
#include "core/util/cpu_features.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QS_X86_SIMD 1
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source and then warn about it
// (GCC bug 105593); the values are never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif

namespace qs::rtn {

namespace {
void minMaxRef(const float* x, int64_t n, float& lo, float& hi) {
    lo = x[0];
    hi = x[0];
    for (int64_t i = 1; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
}

void codesRef(const float* x, int64_t n, float inv, int z, int qlo, int qhi, uint8_t* out) {
    for (int64_t i = 0; i < n; ++i) {
        const int q = int(std::nearbyint(x[i] * inv)) + z;
        out[i] = uint8_t(std::clamp(q, qlo, qhi));
    }
}

void codesPerColumnRef(const float* x, int64_t n, const float* inv, const int32_t* z, int qlo, int qhi,
                       uint8_t* out) {
    for (int64_t i = 0; i < n; ++i) {
        const int q = int(std::nearbyint(x[i] * inv[i])) + z[i];
        out[i] = uint8_t(std::clamp(q, qlo, qhi));
    }
}

#ifdef QS_X86_SIMD
enum class Level { Scalar, Avx2, Avx512 };
// The project's CPU probe (QS_SIMD caps it).
Level level() {
    const cpu::SimdLevel l = cpu::simdLevel();
    if (l >= cpu::SimdLevel::Avx512) return Level::Avx512;
    return l >= cpu::SimdLevel::Avx2 ? Level::Avx2 : Level::Scalar;
}

#define QS_AVX512 __attribute__((target("avx512f,avx512bw")))
#define QS_AVX2 __attribute__((target("avx2")))

// min/max are exact and order-independent, so lane-wise partial results combine to the reference's value
// (up to the sign of zero, which no caller distinguishes: the range is widened to include 0 anyway).
QS_AVX512 void minMax512(const float* x, int64_t n, float& lo, float& hi) {
    __m512 vlo = _mm512_set1_ps(x[0]), vhi = vlo;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        vlo = _mm512_min_ps(vlo, v);
        vhi = _mm512_max_ps(vhi, v);
    }
    if (i < n) {
        const __mmask16 m = __mmask16((1u << (n - i)) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        vlo = _mm512_mask_min_ps(vlo, m, vlo, v);
        vhi = _mm512_mask_max_ps(vhi, m, vhi, v);
    }
    lo = _mm512_reduce_min_ps(vlo);
    hi = _mm512_reduce_max_ps(vhi);
}

QS_AVX512 void codes512(const float* x, int64_t n, float inv, int z, int qlo, int qhi, uint8_t* out) {
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i vz = _mm512_set1_epi32(z), vlo = _mm512_set1_epi32(qlo), vhi = _mm512_set1_epi32(qhi);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        // cvtps_epi32 rounds with MXCSR's mode: nearest, ties to even, as std::nearbyint.
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv)), vz);
        q = _mm512_min_epi32(_mm512_max_epi32(q, vlo), vhi);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(q));
    }
    codesRef(x + i, n - i, inv, z, qlo, qhi, out + i);
}

QS_AVX512 void codesPerColumn512(const float* x, int64_t n, const float* inv, const int32_t* z, int qlo, int qhi,
                                 uint8_t* out) {
    const __m512i vlo = _mm512_set1_epi32(qlo), vhi = _mm512_set1_epi32(qhi);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(inv + i));
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_loadu_si512(z + i));
        q = _mm512_min_epi32(_mm512_max_epi32(q, vlo), vhi);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(q));
    }
    codesPerColumnRef(x + i, n - i, inv + i, z + i, qlo, qhi, out + i);
}

QS_AVX2 void minMax256(const float* x, int64_t n, float& lo, float& hi) {
    __m256 vlo = _mm256_set1_ps(x[0]), vhi = vlo;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        vlo = _mm256_min_ps(vlo, v);
        vhi = _mm256_max_ps(vhi, v);
    }
    alignas(32) float a[8], b[8];
    _mm256_store_ps(a, vlo);
    _mm256_store_ps(b, vhi);
    lo = a[0];
    hi = b[0];
    for (int k = 1; k < 8; ++k) {
        lo = std::min(lo, a[k]);
        hi = std::max(hi, b[k]);
    }
    for (; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
}

// Narrows 8 int32 in 0..255 to 8 bytes.
QS_AVX2 inline void store8(__m256i q, uint8_t* out) {
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i b = _mm_packus_epi16(w, w);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), b);
}

QS_AVX2 void codes256(const float* x, int64_t n, float inv, int z, int qlo, int qhi, uint8_t* out) {
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i vz = _mm256_set1_epi32(z), vlo = _mm256_set1_epi32(qlo), vhi = _mm256_set1_epi32(qhi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv)), vz);
        store8(_mm256_min_epi32(_mm256_max_epi32(q, vlo), vhi), out + i);
    }
    codesRef(x + i, n - i, inv, z, qlo, qhi, out + i);
}

QS_AVX2 void codesPerColumn256(const float* x, int64_t n, const float* inv, const int32_t* z, int qlo, int qhi,
                               uint8_t* out) {
    const __m256i vlo = _mm256_set1_epi32(qlo), vhi = _mm256_set1_epi32(qhi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(inv + i));
        __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + i)));
        store8(_mm256_min_epi32(_mm256_max_epi32(q, vlo), vhi), out + i);
    }
    codesPerColumnRef(x + i, n - i, inv + i, z + i, qlo, qhi, out + i);
}
#endif
}  // namespace

void minMax(const float* x, int64_t n, float& lo, float& hi, QuantPath path) {
#ifdef QS_X86_SIMD
    if (path == QuantPath::Optimised) {
        if (level() == Level::Avx512) return minMax512(x, n, lo, hi);
        if (level() == Level::Avx2) return minMax256(x, n, lo, hi);
    }
#endif
    (void)path;
    minMaxRef(x, n, lo, hi);
}

void codes(const float* x, int64_t n, float inv, int z, int qlo, int qhi, uint8_t* out, QuantPath path) {
#ifdef QS_X86_SIMD
    if (path == QuantPath::Optimised) {
        if (level() == Level::Avx512) return codes512(x, n, inv, z, qlo, qhi, out);
        if (level() == Level::Avx2) return codes256(x, n, inv, z, qlo, qhi, out);
    }
#endif
    (void)path;
    codesRef(x, n, inv, z, qlo, qhi, out);
}

void codesPerColumn(const float* x, int64_t n, const float* inv, const int32_t* z, int qlo, int qhi, uint8_t* out,
                    QuantPath path) {
#ifdef QS_X86_SIMD
    if (path == QuantPath::Optimised) {
        if (level() == Level::Avx512) return codesPerColumn512(x, n, inv, z, qlo, qhi, out);
        if (level() == Level::Avx2) return codesPerColumn256(x, n, inv, z, qlo, qhi, out);
    }
#endif
    (void)path;
    codesPerColumnRef(x, n, inv, z, qlo, qhi, out);
}

const char* kernelName() {
#ifdef QS_X86_SIMD
    switch (level()) {
        case Level::Avx512: return "avx512";
        case Level::Avx2: return "avx2";
        default: break;
    }
#endif
    return "scalar";
}

}  // namespace qs::rtn
