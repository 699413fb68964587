// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar reference and AVX2 path of gemmLanes32 and the lane-grouping converters (contract and layout in
// half_gemm.h). The AVX2 path is compiled under a target pragma (never -march) and chosen at run time. Every
// fused multiply-add is explicit (std::fma or an FMA intrinsic); the sums that follow are plain additions in the
// contract's order.
#include "core/infer/half_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/infer/float_gemm.h"
#include "core/tensor/half.h"
#include "core/util/check.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define QS_HALF_GEMM_X86 1
#endif

namespace qs::kernels {

namespace {

// Lane-grouped position of value i < n32 of a row (half_gemm.h).
inline int64_t groupedIndex(int64_t i, int64_t m) { return (i & 31) / 8 * m + i / 32 * 8 + (i & 7); }

// The tail: the last n % 32 products in order, from 0.
inline float tailDot(const float* w, const float* x, int64_t n32, int64_t n) {
    float t = 0.0f;
    for (int64_t i = n32; i < n; ++i) t = std::fma(w[i], x[i], t);
    return t;
}

// The contract's combination of the 32 lanes (lane 8g + k at l[8g + k]) and the tail.
float combineLanes(const float* l, float tail) {
    float s[8];
    for (int k = 0; k < 8; ++k) s[k] = (l[k] + l[8 + k]) + (l[16 + k] + l[24 + k]);
    return laneSum(s) + tail;
}

float dotRefGrouped(const float* w, const float* x, int64_t n) {
    const int64_t n32 = n - n % 32, m = n32 / 4;
    float l[32] = {};
    for (int g = 0; g < 4; ++g)
        for (int64_t i = 0; i < m; i += 8)
            for (int k = 0; k < 8; ++k) l[8 * g + k] = std::fma(w[g * m + i + k], x[g * m + i + k], l[8 * g + k]);
    return combineLanes(l, tailDot(w, x, n32, n));
}

void gemmScalar(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t ldx, int64_t batch, int64_t n,
                float* y, int64_t ldy) {
    for (int64_t b0 = 0; b0 < batch; b0 += kGemmTokenBlock)
        for (int64_t r = 0; r < nRows; ++r)
            for (int64_t b = b0; b < std::min(batch, b0 + kGemmTokenBlock); ++b)
                y[b * ldy + r] = dotRefGrouped(w + r * ldw, x + b * ldx, n);
}

void groupHalfScalar(DType t, const uint16_t* src, int64_t n, float* dst) {
    const int64_t n32 = n - n % 32, m = n32 / 4;
    const auto conv = [t](uint16_t h) { return t == DType::BF16 ? bf16ToFloat(h) : halfToFloat(h); };
    for (int64_t i = 0; i < n32; ++i) dst[groupedIndex(i, m)] = conv(src[i]);
    for (int64_t i = n32; i < n; ++i) dst[i] = conv(src[i]);
}

#ifdef QS_HALF_GEMM_X86

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // t_k = l_k + l_{k+4}
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                         // t0+t2, t1+t3
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// R weight rows x T tokens: the four lane groups one after the other (R x T accumulators each), then the
// groups' vectors combined per output as the contract says.
template <int R, int T>
void tileAvx2(const float* w, int64_t ldw, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy) {
    const int64_t n32 = n - n % 32, m = n32 / 4;
    __m256 part[4][R][T];
    for (int g = 0; g < 4; ++g) {
        const float* wg = w + g * m;
        const float* xg = x + g * m;
        __m256 acc[R][T];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
        for (int64_t i = 0; i < m; i += 8) {
            __m256 wv[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) wv[r] = _mm256_loadu_ps(wg + r * ldw + i);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                const __m256 xv = _mm256_loadu_ps(xg + t * ldx + i);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
        std::memcpy(part[g], acc, sizeof acc);
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) {
            const __m256 v = _mm256_add_ps(_mm256_add_ps(part[0][r][t], part[1][r][t]),
                                           _mm256_add_ps(part[2][r][t], part[3][r][t]));
            y[t * ldy + r] = hsum8(v) + tailDot(w + r * ldw, x + t * ldx, n32, n);
        }
}

template <int R>
void rowTileAvx2(const float* w, int64_t ldw, const float* x, int64_t ldx, int64_t nTok, int64_t n, float* y,
                 int64_t ldy) {
    int64_t b = 0;
    for (; b + 3 <= nTok; b += 3) tileAvx2<R, 3>(w, ldw, x + b * ldx, ldx, n, y + b * ldy, ldy);
    if (nTok - b == 2) tileAvx2<R, 2>(w, ldw, x + b * ldx, ldx, n, y + b * ldy, ldy);
    if (nTok - b == 1) tileAvx2<R, 1>(w, ldw, x + b * ldx, ldx, n, y + b * ldy, ldy);
}

void gemmAvx2(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t ldx, int64_t batch, int64_t n,
              float* y, int64_t ldy) {
    for (int64_t b0 = 0; b0 < batch; b0 += kGemmTokenBlock) {
        const int64_t nTok = std::min(kGemmTokenBlock, batch - b0);
        const float* xb = x + b0 * ldx;
        float* yb = y + b0 * ldy;
        int64_t r = 0;
        for (; r + 4 <= nRows; r += 4) rowTileAvx2<4>(w + r * ldw, ldw, xb, ldx, nTok, n, yb + r, ldy);
        const float* wr = w + r * ldw;
        switch (nRows - r) {
            case 3:
                rowTileAvx2<3>(wr, ldw, xb, ldx, nTok, n, yb + r, ldy);
                break;
            case 2:
                rowTileAvx2<2>(wr, ldw, xb, ldx, nTok, n, yb + r, ldy);
                break;
            case 1:
                rowTileAvx2<1>(wr, ldw, xb, ldx, nTok, n, yb + r, ldy);
                break;
            default:
                break;
        }
    }
}

// Eight 16-bit values widened to float: the same conversions as the AVX2 f16/bf16 dots (F16C; bf16 shifted).
template <bool Bf16>
inline __m256 load8(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (Bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    else return _mm256_cvtph_ps(h);
}

template <bool Bf16>
void groupHalfAvx2(const uint16_t* src, int64_t n, float* dst) {
    const int64_t n32 = n - n % 32, m = n32 / 4;
    for (int64_t j = 0; j < n32 / 32; ++j)
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) _mm256_storeu_ps(dst + g * m + 8 * j, load8<Bf16>(src + 32 * j + 8 * g));
    for (int64_t i = n32; i < n; ++i) dst[i] = Bf16 ? bf16ToFloat(src[i]) : halfToFloat(src[i]);
}

#pragma GCC pop_options

#endif  // QS_HALF_GEMM_X86

}  // namespace

void groupLanes(const float* src, int64_t n, float* dst) {
    const int64_t n32 = n - n % 32, m = n32 / 4;
    for (int64_t j = 0; j < n32 / 32; ++j)
        for (int g = 0; g < 4; ++g) std::memcpy(dst + g * m + 8 * j, src + 32 * j + 8 * g, 8 * sizeof(float));
    std::memcpy(dst + n32, src + n32, size_t(n - n32) * sizeof(float));
}

void groupLanesHalf(DType t, const uint16_t* src, int64_t ldSrc, int64_t count, int64_t n, float* dst,
                    cpu::SimdLevel level) {
    QS_CHECK(t == DType::F16 || t == DType::BF16,
             "groupLanesHalf: " + std::string(dtypeName(t)) + " is not a 16-bit float type");
    for (int64_t r = 0; r < count; ++r) {
        const uint16_t* s = src + r * ldSrc;
        float* d = dst + r * n;
#ifdef QS_HALF_GEMM_X86
        if (level >= cpu::SimdLevel::Avx2) {
            if (t == DType::BF16) groupHalfAvx2<true>(s, n, d);
            else groupHalfAvx2<false>(s, n, d);
            continue;
        }
#endif
        (void)level;
        groupHalfScalar(t, s, n, d);
    }
}

void gemmLanes32(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t ldx, int64_t batch, int64_t n,
                 float* y, int64_t ldy, cpu::SimdLevel level) {
    if (nRows <= 0 || batch <= 0) return;
#ifdef QS_HALF_GEMM_X86
    if (level >= cpu::SimdLevel::Avx2) return gemmAvx2(w, ldw, nRows, x, ldx, batch, n, y, ldy);
#endif
    (void)level;
    gemmScalar(w, ldw, nRows, x, ldx, batch, n, y, ldy);
}

const char* gemmLanes32PathName(cpu::SimdLevel level) {
#ifdef QS_HALF_GEMM_X86
    if (level >= cpu::SimdLevel::Avx2) return "avx2";
#endif
    (void)level;
    return "scalar";
}

}  // namespace qs::kernels
