// SPDX-License-Identifier: GPL-3.0-or-later
// Optimised q4_K quantizer (AVX2+FMA-capable CPUs, used on AVX-512 ones too).
//
// The expensive part of q4_K is make_qkx2_quants: 22 passes over each sub-block of 32 values, every one a
// chain of sequential float sums whose exact rounding decides which candidate scale wins. Vectorising along
// a sub-block would reorder those sums. Instead each of the 8 lanes of a vector processes one of the 8
// sub-blocks of a super-block, running exactly the reference's sequence of IEEE operations (same operands,
// same order, no FMA: this folder builds with -ffp-contract=off), so every lane reproduces the scalar result
// bit for bit. Branches of the reference become per-lane masks. Scale packing, requantization and code
// packing are the reference's own functions (ggml_kquants_impl.h).
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
#endif

namespace qs::ggml::detail {

#ifdef QS_X86_SIMD
namespace {
#define QS_AVX2 __attribute__((target("avx2,fma,f16c")))

// ggml's nearest_int on 8 lanes: add 1.5 * 2^23, take the low mantissa bits (ties to even).
QS_AVX2 inline __m256i nearestInt8(__m256 v) {
    const __m256 t = _mm256_add_ps(v, _mm256_set1_ps(12582912.f));
    return _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(t), _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

QS_AVX2 inline __m256i clampI(__m256i l, int nmax) {
    return _mm256_min_epi32(_mm256_max_epi32(l, _mm256_setzero_si256()), _mm256_set1_epi32(nmax));
}

// make_qkx2_quants(32, nmax, ..., use_mad = false) for the 8 sub-blocks of one super-block at once.
// xs[i] / ws[i]: value / weight i of each sub-block (lane = sub-block). Outputs per lane: scale, -min, L.
QS_AVX2 void qkx2Lanes(const __m256* xs, const __m256* ws, int nmax, float rmin, float rdelta, int nstep,
                       float* scaleOut, float* minOut, __m256i* L) {
    __m256 min = xs[0], max = xs[0];
    __m256 sumW = ws[0];
    __m256 sumX = _mm256_mul_ps(sumW, xs[0]);
    for (int i = 1; i < 32; ++i) {
        min = _mm256_min_ps(xs[i], min);  // x < min ? x : min, as "if (x < min) min = x"
        max = _mm256_max_ps(xs[i], max);
        sumW = _mm256_add_ps(sumW, ws[i]);
        sumX = _mm256_add_ps(sumX, _mm256_mul_ps(ws[i], xs[i]));
    }
    const __m256 zero = _mm256_setzero_ps();
    min = _mm256_blendv_ps(min, zero, _mm256_cmp_ps(min, zero, _CMP_GT_OQ));
    const __m256 flat = _mm256_cmp_ps(max, min, _CMP_EQ_OQ);
    const __m256 fnmax = _mm256_set1_ps(float(nmax));
    __m256 range = _mm256_sub_ps(max, min);
    // Flat lanes would divide by zero; give them a harmless range (their results are replaced below).
    range = _mm256_blendv_ps(range, _mm256_set1_ps(1.0f), flat);
    __m256 iscale = _mm256_div_ps(fnmax, range);
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
    __m256 bestError = zero;
    for (int i = 0; i < 32; ++i) {
        L[i] = clampI(nearestInt8(_mm256_mul_ps(iscale, _mm256_sub_ps(xs[i], min))), nmax);
        __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(L[i])), min), xs[i]);
        diff = _mm256_mul_ps(diff, diff);
        bestError = _mm256_add_ps(bestError, _mm256_mul_ps(ws[i], diff));
    }
    __m256i Laux[32];
    for (int is = 0; is <= nstep; ++is) {
        const float num = rmin + rdelta * float(is) + float(nmax);
        // max - min with the current (possibly updated) min, exactly as the reference recomputes it.
        const __m256 r = _mm256_blendv_ps(_mm256_sub_ps(max, min), _mm256_set1_ps(1.0f), flat);
        iscale = _mm256_div_ps(_mm256_set1_ps(num), r);
        __m256 sumL = zero, sumL2 = zero, sumXL = zero;
        for (int i = 0; i < 32; ++i) {
            Laux[i] = clampI(nearestInt8(_mm256_mul_ps(iscale, _mm256_sub_ps(xs[i], min))), nmax);
            const __m256 l = _mm256_cvtepi32_ps(Laux[i]);
            const __m256 wl = _mm256_mul_ps(ws[i], l);
            sumL = _mm256_add_ps(sumL, wl);
            sumL2 = _mm256_add_ps(sumL2, _mm256_mul_ps(wl, l));
            sumXL = _mm256_add_ps(sumXL, _mm256_mul_ps(wl, xs[i]));
        }
        const __m256 D = _mm256_sub_ps(_mm256_mul_ps(sumW, sumL2), _mm256_mul_ps(sumL, sumL));
        const __m256 dPos = _mm256_cmp_ps(D, zero, _CMP_GT_OQ);
        const __m256 safeD = _mm256_blendv_ps(_mm256_set1_ps(1.0f), D, dPos);
        __m256 thisScale = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sumW, sumXL), _mm256_mul_ps(sumX, sumL)), safeD);
        __m256 thisMin = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sumL2, sumX), _mm256_mul_ps(sumL, sumXL)), safeD);
        const __m256 minPos = _mm256_cmp_ps(thisMin, zero, _CMP_GT_OQ);
        thisMin = _mm256_blendv_ps(thisMin, zero, minPos);
        thisScale = _mm256_blendv_ps(thisScale, _mm256_div_ps(sumXL, sumL2), minPos);
        __m256 curError = zero;
        for (int i = 0; i < 32; ++i) {
            __m256 diff = _mm256_sub_ps(
                _mm256_add_ps(_mm256_mul_ps(thisScale, _mm256_cvtepi32_ps(Laux[i])), thisMin), xs[i]);
            diff = _mm256_mul_ps(diff, diff);
            curError = _mm256_add_ps(curError, _mm256_mul_ps(ws[i], diff));
        }
        const __m256 better = _mm256_and_ps(dPos, _mm256_cmp_ps(curError, bestError, _CMP_LT_OQ));
        if (_mm256_testz_ps(better, better)) continue;
        const __m256i betterI = _mm256_castps_si256(better);
        for (int i = 0; i < 32; ++i) L[i] = _mm256_blendv_epi8(L[i], Laux[i], betterI);
        bestError = _mm256_blendv_ps(bestError, curError, better);
        scale = _mm256_blendv_ps(scale, thisScale, better);
        min = _mm256_blendv_ps(min, thisMin, better);
    }
    // Flat sub-blocks: codes 0, scale 0, min as clamped.
    scale = _mm256_blendv_ps(scale, zero, flat);
    for (int i = 0; i < 32; ++i) L[i] = _mm256_blendv_epi8(L[i], _mm256_setzero_si256(), _mm256_castps_si256(flat));
    _mm256_storeu_ps(scaleOut, scale);
    _mm256_storeu_ps(minOut, _mm256_sub_ps(zero, min));
}

QS_AVX2 void q4_KAvx2(const float* x, BlockQ4_K* y, int64_t nb) {
    const __m256i lane = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
    alignas(32) __m256 xs[32], ws[32];
    alignas(32) __m256i Lt[32];
    alignas(32) float scales[8], mins[8];
    uint8_t L[kQKK];
    for (int64_t ib = 0; ib < nb; ++ib, x += kQKK) {
        // Transpose: xs[i] lane j = x[32 j + i].
        for (int i = 0; i < 32; ++i) xs[i] = _mm256_i32gather_ps(x + i, lane, 4);
        __m256 sumX2 = _mm256_setzero_ps();
        for (int i = 0; i < 32; ++i) sumX2 = _mm256_add_ps(sumX2, _mm256_mul_ps(xs[i], xs[i]));
        const __m256 avX = _mm256_sqrt_ps(_mm256_div_ps(sumX2, _mm256_set1_ps(32.0f)));
        const __m256 signMask = _mm256_set1_ps(-0.0f);
        for (int i = 0; i < 32; ++i) ws[i] = _mm256_add_ps(avX, _mm256_andnot_ps(signMask, xs[i]));
        qkx2Lanes(xs, ws, 15, -1.f, 0.1f, 20, scales, mins, Lt);
        alignas(32) int32_t tmp[8];
        for (int i = 0; i < 32; ++i) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), Lt[i]);
            for (int j = 0; j < 8; ++j) L[32 * j + i] = uint8_t(tmp[j]);
        }
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; ++j) {
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        BlockQ4_KHeader h{};
        packQ4_KScales(scales, mins, maxScale, maxMin, h);
        requantizeK4(x, h, 15, L);
        y[ib].d = h.d;
        y[ib].dmin = h.dmin;
        std::memcpy(y[ib].scales, h.scales, 12);
        packQ4_KCodes(L, y[ib].qs);
    }
}

bool haveAvx2() { return cpu::simdLevel() >= cpu::SimdLevel::Avx2; }
}  // namespace

bool quantizeQ4_KFast(const float* x, void* y, int64_t n) {
    if (!haveAvx2()) return false;
    q4_KAvx2(x, static_cast<BlockQ4_K*>(y), n / kQKK);
    return true;
}

#else

bool quantizeQ4_KFast(const float*, void*, int64_t) { return false; }

#endif

}  // namespace qs::ggml::detail
