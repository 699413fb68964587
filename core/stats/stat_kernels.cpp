// SPDX-License-Identifier: GPL-3.0-or-later
// The statistics kernels: stat_kernels.inc compiled three times, with 8 emulated lanes (scalar), with two
// 4-double AVX2 vectors, and with one 8-double AVX-512 vector. Built with -ffp-contract=off (core/CMakeLists)
// so no level fuses a multiply into an add. Minimum/maximum follow the x86 rule max(a, b) = a > b ? a : b on
// every level, so even the sign of a zero extreme agrees.
#include "core/stats/stat_kernels.h"

#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "core/util/check.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define QS_STATS_X86 1
#endif

namespace qs::stats {

namespace {

namespace scalar {

struct Ops {
    struct F {
        float v[kLanes];
    };
    struct D {
        double v[kLanes];
    };
    static F floadu(const float* p) {
        F r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = p[k];
        return r;
    }
    static void fstore(float* p, const F& a) {
        for (int k = 0; k < kLanes; ++k) p[k] = a.v[k];
    }
    static F fset1(float x) {
        F r;
        for (float& v : r.v) v = x;
        return r;
    }
    static F fmax(const F& a, const F& b) {
        F r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = a.v[k] > b.v[k] ? a.v[k] : b.v[k];
        return r;
    }
    static F fmin(const F& a, const F& b) {
        F r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = a.v[k] < b.v[k] ? a.v[k] : b.v[k];
        return r;
    }
    static F fabs(const F& a) {
        F r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = std::fabs(a.v[k]);
        return r;
    }
    static float fhmax(const F& a) {
        float m = a.v[0];
        for (int k = 1; k < kLanes; ++k) m = a.v[k] > m ? a.v[k] : m;
        return m;
    }
    static float fhmin(const F& a) {
        float m = a.v[0];
        for (int k = 1; k < kLanes; ++k) m = a.v[k] < m ? a.v[k] : m;
        return m;
    }
    static unsigned fmaskOutside(const F& a, const F& bottom, const F& top) {
        unsigned m = 0;
        for (int k = 0; k < kLanes; ++k) m |= unsigned(a.v[k] > top.v[k] || a.v[k] < bottom.v[k]) << k;
        return m;
    }
    static unsigned fmaskNonZero(const F& a) {
        unsigned m = 0;
        for (int k = 0; k < kLanes; ++k) m |= unsigned(a.v[k] != 0.0f) << k;
        return m;
    }
    static unsigned fmaskFinite(const F& a) {
        unsigned m = 0;
        for (int k = 0; k < kLanes; ++k) m |= unsigned(std::isfinite(a.v[k])) << k;
        return m;
    }
    static F freplaceNonFinite(const F& a, float with) {
        F r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = std::isfinite(a.v[k]) ? a.v[k] : with;
        return r;
    }
    static F fmaxWhereBelow(const F& acc, const F& x, const F& limit) {
        F r;
        for (int k = 0; k < kLanes; ++k) {
            const float c = x.v[k] < limit.v[k] ? x.v[k] : acc.v[k];
            r.v[k] = acc.v[k] > c ? acc.v[k] : c;
        }
        return r;
    }
    static F fminWhereAbove(const F& acc, const F& x, const F& limit) {
        F r;
        for (int k = 0; k < kLanes; ++k) {
            const float c = x.v[k] > limit.v[k] ? x.v[k] : acc.v[k];
            r.v[k] = acc.v[k] < c ? acc.v[k] : c;
        }
        return r;
    }
    static D dload(const double* p) {
        D r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = p[k];
        return r;
    }
    static void dstore(double* p, const D& a) {
        for (int k = 0; k < kLanes; ++k) p[k] = a.v[k];
    }
    static D dset1(double x) {
        D r;
        for (double& v : r.v) v = x;
        return r;
    }
    static D cvt(const F& a) {
        D r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = double(a.v[k]);
        return r;
    }
    template <class Op>
    static D zip(const D& a, const D& b, Op op) {
        D r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = op(a.v[k], b.v[k]);
        return r;
    }
    static D dadd(const D& a, const D& b) { return zip(a, b, [](double x, double y) { return x + y; }); }
    static D dsub(const D& a, const D& b) { return zip(a, b, [](double x, double y) { return x - y; }); }
    static D dmul(const D& a, const D& b) { return zip(a, b, [](double x, double y) { return x * y; }); }
    static D ddiv(const D& a, const D& b) { return zip(a, b, [](double x, double y) { return x / y; }); }
    static D dmax(const D& a, const D& b) { return zip(a, b, [](double x, double y) { return x > y ? x : y; }); }
    static D dabs(const D& a) { return zip(a, a, [](double x, double) { return std::fabs(x); }); }
    static unsigned dmaskAbove(const D& a, const D& limit) {
        unsigned m = 0;
        for (int k = 0; k < kLanes; ++k) m |= unsigned(a.v[k] > limit.v[k]) << k;
        return m;
    }
    static D dzeroNonFinite(const D& d, const F& v) {
        D r;
        for (int k = 0; k < kLanes; ++k) r.v[k] = std::isfinite(v.v[k]) ? d.v[k] : 0.0;
        return r;
    }
};

#include "core/stats/stat_kernels.inc"

}  // namespace scalar

#ifdef QS_STATS_X86

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

// 8 floats in one __m256, shared by the AVX2 and AVX-512 levels.
struct F8Ops {
    using F = __m256;
    static F floadu(const float* p) { return _mm256_loadu_ps(p); }
    static void fstore(float* p, F a) { _mm256_store_ps(p, a); }
    static F fset1(float x) { return _mm256_set1_ps(x); }
    static F fmax(F a, F b) { return _mm256_max_ps(a, b); }  // a > b ? a : b
    static F fmin(F a, F b) { return _mm256_min_ps(a, b); }  // a < b ? a : b
    static F fabs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
    static float fhmax(F a) {
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    }
    static float fhmin(F a) {
        __m128 m = _mm_min_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        m = _mm_min_ps(m, _mm_movehl_ps(m, m));
        return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
    }
    static unsigned fmaskOutside(F a, F bottom, F top) {
        return unsigned(_mm256_movemask_ps(
            _mm256_or_ps(_mm256_cmp_ps(a, top, _CMP_GT_OQ), _mm256_cmp_ps(a, bottom, _CMP_LT_OQ))));
    }
    static unsigned fmaskNonZero(F a) {
        return unsigned(_mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_NEQ_UQ)));
    }
    static __m256 finiteMask(F a) {
        // |a| < inf is false for NaN and +-inf.
        return _mm256_cmp_ps(fabs(a), _mm256_set1_ps(std::numeric_limits<float>::infinity()), _CMP_LT_OQ);
    }
    static unsigned fmaskFinite(F a) { return unsigned(_mm256_movemask_ps(finiteMask(a))); }
    static F freplaceNonFinite(F a, float with) { return _mm256_blendv_ps(_mm256_set1_ps(with), a, finiteMask(a)); }
    static F fmaxWhereBelow(F acc, F x, F limit) {
        return _mm256_max_ps(acc, _mm256_blendv_ps(acc, x, _mm256_cmp_ps(x, limit, _CMP_LT_OQ)));
    }
    static F fminWhereAbove(F acc, F x, F limit) {
        return _mm256_min_ps(acc, _mm256_blendv_ps(acc, x, _mm256_cmp_ps(x, limit, _CMP_GT_OQ)));
    }
};

namespace avx2 {

struct Ops : F8Ops {
    struct D {
        __m256d lo, hi;  // lanes 0-3, 4-7
    };
    static D dload(const double* p) { return {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)}; }
    static void dstore(double* p, const D& a) {
        _mm256_storeu_pd(p, a.lo);
        _mm256_storeu_pd(p + 4, a.hi);
    }
    static D dset1(double x) { return {_mm256_set1_pd(x), _mm256_set1_pd(x)}; }
    static D cvt(F a) { return {_mm256_cvtps_pd(_mm256_castps256_ps128(a)), _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1))}; }
    static D dadd(const D& a, const D& b) { return {_mm256_add_pd(a.lo, b.lo), _mm256_add_pd(a.hi, b.hi)}; }
    static D dsub(const D& a, const D& b) { return {_mm256_sub_pd(a.lo, b.lo), _mm256_sub_pd(a.hi, b.hi)}; }
    static D dmul(const D& a, const D& b) { return {_mm256_mul_pd(a.lo, b.lo), _mm256_mul_pd(a.hi, b.hi)}; }
    static D ddiv(const D& a, const D& b) { return {_mm256_div_pd(a.lo, b.lo), _mm256_div_pd(a.hi, b.hi)}; }
    static D dmax(const D& a, const D& b) { return {_mm256_max_pd(a.lo, b.lo), _mm256_max_pd(a.hi, b.hi)}; }
    static D dabs(const D& a) {
        const __m256d s = _mm256_set1_pd(-0.0);
        return {_mm256_andnot_pd(s, a.lo), _mm256_andnot_pd(s, a.hi)};
    }
    static unsigned bits(__m256d lo, __m256d hi) {
        return unsigned(_mm256_movemask_pd(lo)) | (unsigned(_mm256_movemask_pd(hi)) << 4);
    }
    static unsigned dmaskAbove(const D& a, const D& limit) {
        return bits(_mm256_cmp_pd(a.lo, limit.lo, _CMP_GT_OQ), _mm256_cmp_pd(a.hi, limit.hi, _CMP_GT_OQ));
    }
    static D dzeroNonFinite(const D& d, F v) {
        const __m256i m = _mm256_castps_si256(finiteMask(v));
        const __m256d mlo = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)));
        const __m256d mhi = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)));
        return {_mm256_and_pd(d.lo, mlo), _mm256_and_pd(d.hi, mhi)};
    }
};

#include "core/stats/stat_kernels.inc"

}  // namespace avx2

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")
// GCC 12's AVX-512 conversion intrinsics start from _mm512_undefined_pd(), a false -Wmaybe-uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace avx512 {

struct Ops : F8Ops {
    using D = __m512d;
    static D dload(const double* p) { return _mm512_loadu_pd(p); }
    static void dstore(double* p, D a) { _mm512_storeu_pd(p, a); }
    static D dset1(double x) { return _mm512_set1_pd(x); }
    static D cvt(F a) { return _mm512_cvtps_pd(a); }
    static D dadd(D a, D b) { return _mm512_add_pd(a, b); }
    static D dsub(D a, D b) { return _mm512_sub_pd(a, b); }
    static D dmul(D a, D b) { return _mm512_mul_pd(a, b); }
    static D ddiv(D a, D b) { return _mm512_div_pd(a, b); }
    static D dmax(D a, D b) { return _mm512_max_pd(a, b); }
    static D dabs(D a) { return _mm512_abs_pd(a); }
    static unsigned dmaskAbove(D a, D limit) { return unsigned(_mm512_cmp_pd_mask(a, limit, _CMP_GT_OQ)); }
    static D dzeroNonFinite(D d, F v) { return _mm512_maskz_mov_pd(__mmask8(fmaskFinite(v)), d); }
};

#include "core/stats/stat_kernels.inc"

// The block lengths 16/32/64 in 16-float vectors with mask registers: the same definition (hence the same
// integer count) in half the instructions of the 8-float body.
template <int V>
uint64_t countClippedZmm(const float* w, const float* q) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    __m512 x[V];
    for (int v = 0; v < V; ++v) x[v] = _mm512_loadu_ps(q + 16 * v);
    __m512 vhi = x[0], vlo = x[0];
    for (int v = 1; v < V; ++v) {
        vhi = _mm512_max_ps(vhi, x[v]);
        vlo = _mm512_min_ps(vlo, x[v]);
    }
    const float hi = _mm512_reduce_max_ps(vhi), lo = _mm512_reduce_min_ps(vlo);
    if (!(hi > lo)) return 0;
    const __m512 fhi = _mm512_set1_ps(hi), flo = _mm512_set1_ps(lo);
    __m512 vhi2 = _mm512_set1_ps(-kInf), vlo2 = _mm512_set1_ps(kInf);
    for (int v = 0; v < V; ++v) {
        vhi2 = _mm512_mask_max_ps(vhi2, _mm512_cmp_ps_mask(x[v], fhi, _CMP_LT_OQ), vhi2, x[v]);
        vlo2 = _mm512_mask_min_ps(vlo2, _mm512_cmp_ps_mask(x[v], flo, _CMP_GT_OQ), vlo2, x[v]);
    }
    const float hi2 = _mm512_reduce_max_ps(vhi2), lo2 = _mm512_reduce_min_ps(vlo2);
    const double top = double(hi) + 0.5 * (double(hi) - double(hi2));
    const double bottom = double(lo) - 0.5 * (double(lo2) - double(lo));
    const __m512 vtop = _mm512_set1_ps(floatBelow(top)), vbottom = _mm512_set1_ps(floatAbove(bottom));
    unsigned n = 0;
    for (int v = 0; v < V; ++v) {
        const __m512 a = _mm512_loadu_ps(w + 16 * v);
        n += unsigned(std::popcount(unsigned(_mm512_cmp_ps_mask(a, vtop, _CMP_GT_OQ) |
                                             _mm512_cmp_ps_mask(a, vbottom, _CMP_LT_OQ))));
    }
    return n;
}

uint64_t countClippedWide(const float* w, const float* q, int64_t len) {
    if (len == 32) return countClippedZmm<2>(w, q);
    if (len == 16) return countClippedZmm<1>(w, q);
    if (len == 64) return countClippedZmm<4>(w, q);
    return countClipped(w, q, len);
}

}  // namespace avx512

#pragma GCC diagnostic pop
#pragma GCC pop_options

#endif  // QS_STATS_X86

const Kernels kScalar{cpu::SimdLevel::Scalar, scalar::errorSums,  scalar::countClipped, scalar::range,
                      scalar::moments,        scalar::countAbove, scalar::histogram};
#ifdef QS_STATS_X86
const Kernels kAvx2{cpu::SimdLevel::Avx2, avx2::errorSums,  avx2::countClipped, avx2::range,
                    avx2::moments,        avx2::countAbove, avx2::histogram};
const Kernels kAvx512{cpu::SimdLevel::Avx512, avx512::errorSums,  avx512::countClippedWide, avx512::range,
                      avx512::moments,        avx512::countAbove, avx512::histogram};
#endif

}  // namespace

const Kernels& kernels(cpu::SimdLevel level) {
    QS_CHECK(cpu::canRun(level),
             "statistics kernels: SIMD level " + std::string(cpu::simdLevelName(level)) + " does not run on this CPU");
#ifdef QS_STATS_X86
    if (level >= cpu::SimdLevel::Avx512) return kAvx512;
    if (level >= cpu::SimdLevel::Avx2) return kAvx2;
#endif
    return kScalar;
}

const Kernels& kernels() {
    static const Kernels& k = kernels(cpu::simdLevel());
    return k;
}

}  // namespace qs::stats
