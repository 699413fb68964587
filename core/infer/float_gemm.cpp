// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar reference and x86 register-tiled paths of gemmF32 (numeric contract in float_gemm.h). The x86 paths
// are compiled under target pragmas (never -march) and chosen at run time. Every fused multiply-add is
// explicit (std::fma or an FMA intrinsic); the sums that follow are plain additions in the contract's order.
#include "core/infer/float_gemm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define QS_GEMM_X86 1
#endif

namespace qs::kernels {

namespace {

// The last n % 8 products, in order.
inline float addTail(float s, const float* w, const float* x, int64_t n8, int64_t n) {
    for (int64_t i = n8; i < n; ++i) s = std::fma(w[i], x[i], s);
    return s;
}

float dotRefF32(const float* w, const float* x, int64_t n) {
    float lanes[8] = {};
    const int64_t n8 = n / 8 * 8;
    for (int64_t i = 0; i < n8; i += 8)
        for (int k = 0; k < 8; ++k) lanes[k] = std::fma(w[i + k], x[i + k], lanes[k]);
    return addTail(laneSum(lanes), w, x, n8, n);
}

void gemmScalar(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t batch, int64_t n,
                float* y, int64_t ldy) {
    for (int64_t b0 = 0; b0 < batch; b0 += kGemmTokenBlock)
        for (int64_t r = 0; r < nRows; ++r)
            for (int64_t b = b0; b < std::min(batch, b0 + kGemmTokenBlock); ++b)
                y[b * ldy + r] = dotRefF32(w + r * ldw, x + b * n, n);
}

#ifdef QS_GEMM_X86

#pragma GCC push_options
#pragma GCC target("avx2,fma")

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // t_k = l_k + l_{k+4}
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                         // t0+t2, t1+t3
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// R weight rows x T tokens of accumulators over the first n8 values.
template <int R, int T>
void tileAvx2(const float* w, int64_t ldw, const float* x, int64_t n, int64_t n8, float* y, int64_t ldy) {
    __m256 acc[R][T];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8) {
        __m256 wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = _mm256_loadu_ps(w + r * ldw + i);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            const __m256 xv = _mm256_loadu_ps(x + t * n + i);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) y[t * ldy + r] = addTail(hsum8(acc[r][t]), w + r * ldw, x + t * n, n8, n);
}

template <int R>
void rowTileAvx2(const float* w, int64_t ldw, const float* x, int64_t nTok, int64_t n, float* y,
                 int64_t ldy) {
    const int64_t n8 = n / 8 * 8;
    int64_t b = 0;
    for (; b + 3 <= nTok; b += 3) tileAvx2<R, 3>(w, ldw, x + b * n, n, n8, y + b * ldy, ldy);
    if (nTok - b == 2) tileAvx2<R, 2>(w, ldw, x + b * n, n, n8, y + b * ldy, ldy);
    if (nTok - b == 1) tileAvx2<R, 1>(w, ldw, x + b * n, n, n8, y + b * ldy, ldy);
}

void gemmAvx2(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t batch, int64_t n, float* y,
              int64_t ldy) {
    for (int64_t b0 = 0; b0 < batch; b0 += kGemmTokenBlock) {
        const int64_t nTok = std::min(kGemmTokenBlock, batch - b0);
        const float* xb = x + b0 * n;
        float* yb = y + b0 * ldy;
        int64_t r = 0;
        for (; r + 4 <= nRows; r += 4) rowTileAvx2<4>(w + r * ldw, ldw, xb, nTok, n, yb + r, ldy);
        switch (nRows - r) {
            case 3:
                rowTileAvx2<3>(w + r * ldw, ldw, xb, nTok, n, yb + r, ldy);
                break;
            case 2:
                rowTileAvx2<2>(w + r * ldw, ldw, xb, nTok, n, yb + r, ldy);
                break;
            case 1:
                rowTileAvx2<1>(w + r * ldw, ldw, xb, nTok, n, yb + r, ldy);
                break;
            default:
                break;
        }
    }
}

#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512dq,avx512vl")
// GCC's _mm512_broadcast_f32x8 starts from _mm512_undefined_ps(), which -Wuninitialized reports.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Two tokens per 512-bit register: the activations of a token pair are packed as [x0[i..i+8) | x1[i..i+8)]
// per step of 8, and each weight row's eight values are broadcast to both halves, so each half accumulates
// one output's eight lanes exactly as the 256-bit path does.
inline float hsum8Avx512(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// packed: P token pairs of n8 * 2 floats; tokens 2p, 2p+1 of the tile (the second absent when nTok is odd).
template <int R, int P>
void tileAvx512(const float* w, int64_t ldw, const float* packed, const float* x, int nTok, int64_t n,
                int64_t n8, float* y, int64_t ldy) {
    __m512 acc[R][P];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8) {
        // P activation registers, then one weight broadcast at a time (8 x 3 tile: 24 accumulators + 3 + 1
        // of the 32 registers).
        __m512 xv[P];
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) xv[p] = _mm512_loadu_ps(packed + p * 2 * n8 + 2 * i);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const __m512 wv = _mm512_broadcast_f32x8(_mm256_loadu_ps(w + r * ldw + i));
#pragma GCC unroll 8
            for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(wv, xv[p], acc[r][p]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) {
            const int t0 = 2 * p;
            y[t0 * ldy + r] =
                addTail(hsum8Avx512(_mm512_castps512_ps256(acc[r][p])), w + r * ldw, x + t0 * n, n8, n);
            if (t0 + 1 < nTok)
                y[(t0 + 1) * ldy + r] = addTail(hsum8Avx512(_mm512_extractf32x8_ps(acc[r][p], 1)),
                                                w + r * ldw, x + (t0 + 1) * n, n8, n);
        }
}

template <int R>
void rowTileAvx512(const float* w, int64_t ldw, const float* packed, const float* x, int64_t nTok, int64_t n,
                   int64_t n8, float* y, int64_t ldy) {
    constexpr int kPairs = 3;
    int64_t b = 0;
    for (; b + 2 * kPairs <= nTok; b += 2 * kPairs)
        tileAvx512<R, kPairs>(w, ldw, packed + b * n8, x + b * n, 2 * kPairs, n, n8, y + b * ldy, ldy);
    const int rest = int(nTok - b);
    const float* pk = packed + b * n8;
    if constexpr (kPairs == 3)
        if (rest > 4) return tileAvx512<R, 3>(w, ldw, pk, x + b * n, rest, n, n8, y + b * ldy, ldy);
    if (rest > 2)
        tileAvx512<R, 2>(w, ldw, pk, x + b * n, rest, n, n8, y + b * ldy, ldy);
    else if (rest > 0)
        tileAvx512<R, 1>(w, ldw, pk, x + b * n, rest, n, n8, y + b * ldy, ldy);
}

// Token pairs of all `batch` tokens (an odd last token pairs with zeros): pair p at packed + p * 2 * n8.
void packPairs(const float* x, int64_t batch, int64_t n, float* packed) {
    const int64_t n8 = n / 8 * 8;
    for (int64_t t = 0; t < (batch + 1) / 2 * 2; ++t) {
        float* dst = packed + (t / 2) * 2 * n8 + (t % 2) * 8;
        for (int64_t i = 0; i < n8; i += 8) {
            const __m256 v = t < batch ? _mm256_loadu_ps(x + t * n + i) : _mm256_setzero_ps();
            _mm256_storeu_ps(dst + 2 * i, v);
        }
    }
}

void gemmAvx512Packed(const float* w, int64_t ldw, int64_t nRows, const float* packed, const float* x,
                      int64_t batch, int64_t n, float* y, int64_t ldy) {
    const int64_t n8 = n / 8 * 8;
    for (int64_t b0 = 0; b0 < batch; b0 += kGemmTokenBlock) {  // kGemmTokenBlock is even: b0 starts a pair
        const int64_t nTok = std::min(kGemmTokenBlock, batch - b0);
        const float* xb = x + b0 * n;
        const float* pb = packed + b0 * n8;
        float* yb = y + b0 * ldy;
        int64_t r = 0;
        for (; r + 8 <= nRows; r += 8) rowTileAvx512<8>(w + r * ldw, ldw, pb, xb, nTok, n, n8, yb + r, ldy);
        for (; r + 4 <= nRows; r += 4) rowTileAvx512<4>(w + r * ldw, ldw, pb, xb, nTok, n, n8, yb + r, ldy);
        switch (nRows - r) {
            case 3:
                rowTileAvx512<3>(w + r * ldw, ldw, pb, xb, nTok, n, n8, yb + r, ldy);
                break;
            case 2:
                rowTileAvx512<2>(w + r * ldw, ldw, pb, xb, nTok, n, n8, yb + r, ldy);
                break;
            case 1:
                rowTileAvx512<1>(w + r * ldw, ldw, pb, xb, nTok, n, n8, yb + r, ldy);
                break;
            default:
                break;
        }
    }
}

void gemmAvx512(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t batch, int64_t n,
                float* y, int64_t ldy) {
    thread_local std::vector<float> packedBuffer;  // grows, never shrinks
    const size_t need = size_t((batch + 1) / 2 * 2 * (n / 8 * 8));
    if (packedBuffer.size() < need) packedBuffer.resize(need);
    packPairs(x, batch, n, packedBuffer.data());
    gemmAvx512Packed(w, ldw, nRows, packedBuffer.data(), x, batch, n, y, ldy);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

#endif  // QS_GEMM_X86

}  // namespace

void gemmF32(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t batch, int64_t n, float* y,
             int64_t ldy, cpu::SimdLevel level) {
    if (nRows <= 0 || batch <= 0) return;
#ifdef QS_GEMM_X86
    // Decode (one token) cannot use the pair packing; the 256-bit path gives the same bits.
    if (level >= cpu::SimdLevel::Avx512 && batch > 1) return gemmAvx512(w, ldw, nRows, x, batch, n, y, ldy);
    if (level >= cpu::SimdLevel::Avx2) return gemmAvx2(w, ldw, nRows, x, batch, n, y, ldy);
#endif
    (void)level;  // no SIMD path in this build (QS_GEMM_X86 off: clang, other CPUs)
    gemmScalar(w, ldw, nRows, x, batch, n, y, ldy);
}

void gemmF32(const float* w, int64_t ldw, int64_t nRows, const float* x, int64_t batch, int64_t n, float* y,
             int64_t ldy) {
    static const cpu::SimdLevel level = cpu::simdLevel();
    gemmF32(w, ldw, nRows, x, batch, n, y, ldy, level);
}

int64_t gemmF32PreparedFloats(int64_t batch, int64_t n, cpu::SimdLevel level) {
#ifdef QS_GEMM_X86
    if (level >= cpu::SimdLevel::Avx512 && batch > 1) return (batch + 1) / 2 * 2 * (n / 8 * 8);
#endif
    (void)batch, (void)n, (void)level;
    return 0;
}

void gemmF32Prepare(const float* x, int64_t batch, int64_t n, float* prepared, cpu::SimdLevel level) {
#ifdef QS_GEMM_X86
    if (gemmF32PreparedFloats(batch, n, level) > 0) packPairs(x, batch, n, prepared);
#endif
    (void)x, (void)batch, (void)n, (void)prepared, (void)level;
}

void gemmF32PrepareTokens(const float* x, int64_t batch, int64_t n, float* prepared, int64_t b0, int64_t b1,
                          cpu::SimdLevel level) {
#ifdef QS_GEMM_X86
    // Pair p at prepared + p * 2 * n8; an odd last token pairs with zeros (only the range ending at batch).
    if (gemmF32PreparedFloats(batch, n, level) > 0 && b1 > b0) packPairs(x + b0 * n, b1 - b0, n, prepared + b0 * (n / 8 * 8));
#endif
    (void)x, (void)batch, (void)n, (void)prepared, (void)b0, (void)b1, (void)level;
}

void gemmF32Prepared(const float* w, int64_t ldw, int64_t nRows, const float* prepared, const float* x,
                     int64_t batch, int64_t n, float* y, int64_t ldy, cpu::SimdLevel level) {
    if (nRows <= 0 || batch <= 0) return;
#ifdef QS_GEMM_X86
    if (gemmF32PreparedFloats(batch, n, level) > 0)
        return gemmAvx512Packed(w, ldw, nRows, prepared, x, batch, n, y, ldy);
#endif
    (void)prepared;
    gemmF32(w, ldw, nRows, x, batch, n, y, ldy, level);
}

const char* gemmF32PathName(cpu::SimdLevel level) {
#ifdef QS_GEMM_X86
    if (level >= cpu::SimdLevel::Avx512) return "avx512";
    if (level >= cpu::SimdLevel::Avx2) return "avx2";
#endif
    (void)level;
    return "scalar";
}

}  // namespace qs::kernels
