// SPDX-License-Identifier: GPL-3.0-or-later
// Optimised ggml quantizers (q8_0, q4_0, q4_K) for x86-64 with AVX2+FMA+F16C or AVX-512 (F/BW/VL/DQ),
// selected at run time so the library itself stays portable (built without -march=native).
//
// Every kernel performs the reference's IEEE operations in the same order with the same operands, only
// several at once, so the bytes are identical (tests/core/test_schemes.cpp compares them). Two traps:
//  * vector "round to nearest" is ties-to-even while q8_0's reference uses roundf (ties away from zero):
//    we truncate and add the sign where the remainder is >= 0.5, which is exactly roundf;
//  * no FMA contraction: this folder is compiled with -ffp-contract=off, as ggml's reference is built
//    without fused multiply-add on baseline x86-64.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_kquants_impl.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"
#include "core/util/cpu_features.h"

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

namespace qs::ggml::detail {

#ifdef QS_X86_SIMD
namespace {
enum class Level { Scalar, Avx2, Avx512 };

// The project's CPU probe (QS_SIMD caps it); VNNI is not needed by these quantizers.
Level level() {
    const cpu::SimdLevel l = cpu::simdLevel();
    if (l >= cpu::SimdLevel::Avx512) return Level::Avx512;
    return l >= cpu::SimdLevel::Avx2 ? Level::Avx2 : Level::Scalar;
}

#define QS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))
#define QS_AVX2 __attribute__((target("avx2,fma,f16c")))

// ---------------------------------------------------------------- AVX-512

QS_AVX512 inline __m512 roundHalfAway512(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_sub_ps(v, t);  // exact: |v| < 2^23
    const __m512 absR = _mm512_abs_ps(r);
    const __mmask16 up = _mm512_cmp_ps_mask(absR, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 signedOne = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_mask_add_ps(t, up, t, signedOne);
}

QS_AVX512 void q8_0Avx512(const float* x, BlockQ8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        const __m512 vid = _mm512_set1_ps(id);
        const __m512i q0 = _mm512_cvttps_epi32(roundHalfAway512(_mm512_mul_ps(v0, vid)));
        const __m512i q1 = _mm512_cvttps_epi32(roundHalfAway512(_mm512_mul_ps(v1, vid)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16), _mm512_cvtepi32_epi8(q1));
    }
}

// The element of largest magnitude, the first one on ties (ggml's strict "amax < |v|" scan); +0 if all zero.
QS_AVX512 inline float signedAbsMax512(const float* x, __m512 v0, __m512 v1) {
    const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
    if (amax == 0.0f) return 0.0f;
    const __m512 vm = _mm512_set1_ps(amax);
    const uint32_t m = uint32_t(_mm512_cmp_ps_mask(a0, vm, _CMP_EQ_OQ)) |
                       (uint32_t(_mm512_cmp_ps_mask(a1, vm, _CMP_EQ_OQ)) << 16);
    return x[__builtin_ctz(m)];
}

QS_AVX512 void q4_0Avx512(const float* x, BlockQ4_0* y, int64_t nb) {
    const __m512 half8 = _mm512_set1_ps(8.5f);
    const __m512i fifteen = _mm512_set1_epi32(15);
    for (int64_t i = 0; i < nb; ++i, x += kQK) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const float max = signedAbsMax512(x, v0, v1);
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        const __m512 vid = _mm512_set1_ps(id);
        const __m512i q0 = _mm512_min_epi32(
            _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v0, vid), half8)), fifteen);
        const __m512i q1 = _mm512_min_epi32(
            _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v1, vid), half8)), fifteen);
        const __m512i packed = _mm512_or_si512(q0, _mm512_slli_epi32(q1, 4));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm512_cvtepi32_epi8(packed));
    }
}

// ---------------------------------------------------------------- AVX2

QS_AVX2 inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

QS_AVX2 inline __m256 abs256(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

QS_AVX2 inline __m256 roundHalfAway256(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 r = abs256(_mm256_sub_ps(v, t));
    const __m256 up = _mm256_cmp_ps(r, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 signedOne = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_add_ps(t, _mm256_and_ps(up, signedOne));
}

// Packs 4 x 8 int32 (each in int8 range) into 32 int8 in element order.
QS_AVX2 inline __m256i packI32ToI8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b);
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i abcd = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

QS_AVX2 void q8_0Avx2(const float* x, BlockQ8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQK) {
        __m256 v[4];
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            m = _mm256_max_ps(m, abs256(v[k]));
        }
        const float amax = hmax256(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) q[k] = _mm256_cvttps_epi32(roundHalfAway256(_mm256_mul_ps(v[k], vid)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), packI32ToI8(q[0], q[1], q[2], q[3]));
    }
}

QS_AVX2 void q4_0Avx2(const float* x, BlockQ4_0* y, int64_t nb) {
    const __m256 half8 = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
    for (int64_t i = 0; i < nb; ++i, x += kQK) {
        __m256 v[4], a[4];
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            a[k] = abs256(v[k]);
            m = _mm256_max_ps(m, a[k]);
        }
        const float amax = hmax256(m);
        float max = 0.0f;
        if (amax != 0.0f) {
            const __m256 vm = _mm256_set1_ps(amax);
            uint32_t mask = 0;
            for (int k = 0; k < 4; ++k)
                mask |= uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(a[k], vm, _CMP_EQ_OQ))) << (8 * k);
            max = x[__builtin_ctz(mask)];
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; ++k)
            q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[k], vid), half8)), fifteen);
        // Values 0..15 low nibble, 16..31 high nibble.
        const __m256i lo = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));
        const __m256i hi = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));
        const __m256i w = _mm256_packs_epi32(lo, hi);          // int16: lo0-3 hi0-3 | lo4-7 hi4-7
        const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        // b = lo0-3 hi0-3 lo4-7 hi4-7 as bytes; reorder dwords to lo0-3 lo4-7 hi0-3 hi4-7.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm_shuffle_epi32(b, _MM_SHUFFLE(3, 1, 2, 0)));
    }
}
}  // namespace

bool quantizeQ8_0Fast(const float* x, void* y, int64_t n) {
    switch (level()) {
        case Level::Avx512: q8_0Avx512(x, static_cast<BlockQ8_0*>(y), n / kQK); return true;
        case Level::Avx2: q8_0Avx2(x, static_cast<BlockQ8_0*>(y), n / kQK); return true;
        default: return false;
    }
}

bool quantizeQ4_0Fast(const float* x, void* y, int64_t n) {
    switch (level()) {
        case Level::Avx512: q4_0Avx512(x, static_cast<BlockQ4_0*>(y), n / kQK); return true;
        case Level::Avx2: q4_0Avx2(x, static_cast<BlockQ4_0*>(y), n / kQK); return true;
        default: return false;
    }
}

const char* simdLevelName() {
    switch (level()) {
        case Level::Avx512: return "avx512";
        case Level::Avx2: return "avx2";
        default: return "scalar";
    }
}

#else  // not x86-64: the reference is the only path.

bool quantizeQ8_0Fast(const float*, void*, int64_t) { return false; }
bool quantizeQ4_0Fast(const float*, void*, int64_t) { return false; }
const char* simdLevelName() { return "scalar"; }

#endif

}  // namespace qs::ggml::detail
