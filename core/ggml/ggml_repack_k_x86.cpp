// SPDX-License-Identifier: GPL-3.0-or-later
// The repacked q4_K / q6_K GEMM on x86 (layout and contract in ggml_repack.h), compiled under per-function
// target pragmas (never -march):
//  - AVX-512 VNNI: the 16 rows of a group are the 16 int32 lanes of one zmm. Per sub-block the weight chunks
//    are loaded and unpacked (nibbles; q6_K: plus the two high bits) once for all columns; per column,
//    vpdpbusd with the column's 4 codes of each value group broadcast gives the exact sub-block sums S_j of
//    all 16 rows (q6_K: started from -32 bsum_j), vpmulld by the rows' scales sums them into sum_j sc_j S_j;
//    q4_K's min term sum_j m_j B_j is four vpdpwssd on the (m[2p], m[2p+1]) int16 pairs; then the float steps.
//  - AVX2: the same layout, 8 rows per ymm (the two halves of a group one after the other); the sub-block
//    sums by vpmaddubsw in int16 (q4_K: 8 products of <= 15 * 128 per lane, |sum| <= 30720; q6_K: two pairs of
//    <= 2 * 63 * 128 before widening, |sum| <= 32256: never saturating) and vpmaddwd to int32.
// Both give exactly gemmRef's integer sums and float steps, so its results bit for bit.
#include <cstring>
#include <iterator>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_repack.h"
#include "core/ggml/ggml_repack_k_layout.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

namespace qs::ggml {
namespace {

using namespace detail::kq;
constexpr size_t kPrefetchBlocks = 2;

inline int32_t load4(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
template <class T = __m128i>
inline const T* at(const std::byte* p, size_t off) {
    return reinterpret_cast<const T*>(p + off);
}

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

inline void prefetchBlock(const std::byte* next, size_t bytes) {
    const char* p = reinterpret_cast<const char*>(next);
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
}

template <int NC>
void q4kVnniN(int64_t n, const std::byte* group, const std::byte* act, float* out) {
    const int64_t nb = n / kQKK;
    const ActBlockK* a[NC];
    __m512 acc[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
        a[c] = reinterpret_cast<const ActBlockK*>(act) + c * nb;
        acc[c] = _mm512_setzero_ps();
    }
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    constexpr int kChains = NC <= 2 ? 2 : 1;
    for (int64_t b = 0; b < nb; ++b) {
        const std::byte* blk = group + size_t(b) * kQ4Bytes;
        if constexpr (NC == 1) prefetchBlock(blk + kPrefetchBlocks * kQ4Bytes, kQ4Bytes);
        __m512i sumi[NC];
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) sumi[c] = _mm512_setzero_si512();
        for (int j = 0; j < 8; ++j) {
            const std::byte* ch = blk + kQ4Codes + size_t(4 * j) * kChunk;
            __m512i w[8];  // w[q]: values 32 j + 4 q .. + 3 of the 16 rows
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const __m512i v = _mm512_loadu_si512(ch + k * kChunk);
                w[2 * k] = _mm512_and_si512(v, low4);
                w[2 * k + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            }
            const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(at(blk, kQ4Sc + 16 * size_t(j))));
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                const int8_t* qs = a[c][b].qs + 32 * j;
                __m512i s[kChains];
#pragma GCC unroll 2
                for (int h = 0; h < kChains; ++h) s[h] = _mm512_setzero_si512();
#pragma GCC unroll 8
                for (int q = 0; q < 8; ++q)
                    s[q % kChains] = _mm512_dpbusd_epi32(s[q % kChains], w[q], _mm512_set1_epi32(load4(qs + 4 * q)));
                if constexpr (kChains == 2) s[0] = _mm512_add_epi32(s[0], s[1]);
                sumi[c] = _mm512_add_epi32(sumi[c], _mm512_mullo_epi32(s[0], sc));
            }
        }
        __m512i mins[4];
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p)
            mins[p] = _mm512_cvtepu8_epi16(_mm256_loadu_si256(at<__m256i>(blk, kQ4Min + 32 * size_t(p))));
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(at<__m256i>(blk, kQ4D)));
        const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256(at<__m256i>(blk, kQ4Dmin)));
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            __m512i summ = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int p = 0; p < 4; ++p)
                summ = _mm512_dpwssd_epi32(summ, mins[p], _mm512_set1_epi32(load4(a[c][b].bsum32 + 2 * p)));
            const float da = a[c][b].d;
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[c]), _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc[c]);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(summ), _mm512_mul_ps(dm, _mm512_set1_ps(-da)), acc[c]);
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out + c * kRepackRows, acc[c]);
}

template <int NC>
void q6kVnniN(int64_t n, const std::byte* group, const std::byte* act, float* out) {
    const int64_t nb = n / kQKK;
    const ActBlockK* a[NC];
    __m512 acc[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
        a[c] = reinterpret_cast<const ActBlockK*>(act) + c * nb;
        acc[c] = _mm512_setzero_ps();
    }
    const __m512i low4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    constexpr int kChains = NC <= 2 ? 2 : 1;
    for (int64_t b = 0; b < nb; ++b) {
        const std::byte* blk = group + size_t(b) * kQ6Bytes;
        if constexpr (NC == 1) prefetchBlock(blk + kPrefetchBlocks * kQ6Bytes, kQ6Bytes);
        __m512i sumi[NC];
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) sumi[c] = _mm512_setzero_si512();
        for (int j = 0; j < 16; ++j) {  // sub-block j of 16 values: group g = j / 2, half h = j % 2
            const std::byte* base = blk + kQ6Codes + size_t(j / 2) * kQ6Group;
            const int h = j % 2;
            const __m512i ql0 = _mm512_loadu_si512(base + 2 * h * kChunk);
            const __m512i ql1 = _mm512_loadu_si512(base + (2 * h + 1) * kChunk);
            const __m512i qh = _mm512_loadu_si512(base + (4 + h) * kChunk);
            __m512i w[4];  // w[q]: values 16 j + 4 q .. + 3
            w[0] = _mm512_or_si512(_mm512_and_si512(ql0, low4), _mm512_and_si512(_mm512_slli_epi16(qh, 4), m30));
            w[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql0, 4), low4),
                                   _mm512_and_si512(_mm512_slli_epi16(qh, 2), m30));
            w[2] = _mm512_or_si512(_mm512_and_si512(ql1, low4), _mm512_and_si512(qh, m30));
            w[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql1, 4), low4),
                                   _mm512_and_si512(_mm512_srli_epi16(qh, 2), m30));
            const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(at(blk, kQ6Sc + 16 * size_t(j))));
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                const int8_t* qs = a[c][b].qs + 16 * j;
                __m512i s[kChains];
                s[0] = _mm512_set1_epi32(-32 * int32_t(a[c][b].bsum16[j]));
                if constexpr (kChains == 2) s[1] = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int q = 0; q < 4; ++q)
                    s[q % kChains] = _mm512_dpbusd_epi32(s[q % kChains], w[q], _mm512_set1_epi32(load4(qs + 4 * q)));
                if constexpr (kChains == 2) s[0] = _mm512_add_epi32(s[0], s[1]);
                sumi[c] = _mm512_add_epi32(sumi[c], _mm512_mullo_epi32(s[0], sc));
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(at<__m256i>(blk, kQ6D)));
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c)
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[c]), _mm512_mul_ps(dw, _mm512_set1_ps(a[c][b].d)), acc[c]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out + c * kRepackRows, acc[c]);
}

template <DType T, int NC>
void kVnniN(int64_t n, const std::byte* group, const std::byte* act, float* out) {
    if constexpr (T == DType::Q4_K)
        q4kVnniN<NC>(n, group, act, out);
    else
        q6kVnniN<NC>(n, group, act, out);
}

template <DType T>
void kVnni(int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out) {
    const size_t colBytes = actColumnBytes(T, n);
    int c = 0;
    for (; c + 4 <= nCols; c += 4) kVnniN<T, 4>(n, group, act + c * colBytes, out + c * kRepackRows);
    switch (nCols - c) {
        case 3: return kVnniN<T, 3>(n, group, act + c * colBytes, out + c * kRepackRows);
        case 2: return kVnniN<T, 2>(n, group, act + c * colBytes, out + c * kRepackRows);
        case 1: return kVnniN<T, 1>(n, group, act + c * colBytes, out + c * kRepackRows);
        default: return;
    }
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

// Rows 8 hh .. 8 hh + 7 of the group against NC columns.
template <int NC>
void q4kAvx2Half(int64_t nb, const std::byte* group, const ActBlockK* const* a, int hh, float* out) {
    __m256 acc[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        const std::byte* blk = group + size_t(b) * kQ4Bytes;
        __m256i sumi[NC];
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) sumi[c] = _mm256_setzero_si256();
        for (int j = 0; j < 8; ++j) {
            const std::byte* ch = blk + kQ4Codes + size_t(4 * j) * kChunk + 32 * size_t(hh);
            __m256i w[8];
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const __m256i v = _mm256_loadu_si256(at<__m256i>(ch, k * kChunk));
                w[2 * k] = _mm256_and_si256(v, low4);
                w[2 * k + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            }
            const __m256i sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64(at(blk, kQ4Sc + 16 * size_t(j) + 8 * size_t(hh))));
#pragma GCC unroll 4
            for (int c = 0; c < NC; ++c) {
                const int8_t* qs = a[c][b].qs + 32 * j;
                __m256i s16 = _mm256_maddubs_epi16(w[0], _mm256_set1_epi32(load4(qs)));
#pragma GCC unroll 8
                for (int q = 1; q < 8; ++q)
                    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[q], _mm256_set1_epi32(load4(qs + 4 * q))));
                sumi[c] = _mm256_add_epi32(sumi[c], _mm256_mullo_epi32(_mm256_madd_epi16(s16, ones), sc));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(at(blk, kQ4D + 16 * size_t(hh))));
        const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128(at(blk, kQ4Dmin + 16 * size_t(hh))));
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) {
            __m256i summ = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int p = 0; p < 4; ++p) {
                const __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128(at(blk, kQ4Min + 32 * size_t(p) + 16 * size_t(hh))));
                summ = _mm256_add_epi32(summ, _mm256_madd_epi16(m, _mm256_set1_epi32(load4(a[c][b].bsum32 + 2 * p))));
            }
            const float da = a[c][b].d;
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[c]), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc[c]);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_mul_ps(dm, _mm256_set1_ps(-da)), acc[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out + c * kRepackRows + 8 * hh, acc[c]);
}

template <int NC>
void q6kAvx2Half(int64_t nb, const std::byte* group, const ActBlockK* const* a, int hh, float* out) {
    __m256 acc[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        const std::byte* blk = group + size_t(b) * kQ6Bytes;
        __m256i sumi[NC];
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) sumi[c] = _mm256_setzero_si256();
        for (int j = 0; j < 16; ++j) {
            const std::byte* base = blk + kQ6Codes + size_t(j / 2) * kQ6Group + 32 * size_t(hh);
            const int h = j % 2;
            const __m256i ql0 = _mm256_loadu_si256(at<__m256i>(base, 2 * h * kChunk));
            const __m256i ql1 = _mm256_loadu_si256(at<__m256i>(base, (2 * h + 1) * kChunk));
            const __m256i qh = _mm256_loadu_si256(at<__m256i>(base, (4 + h) * kChunk));
            __m256i w[4];
            w[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            w[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            w[2] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(qh, m30));
            w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            const __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64(at(blk, kQ6Sc + 16 * size_t(j) + 8 * size_t(hh))));
#pragma GCC unroll 4
            for (int c = 0; c < NC; ++c) {
                const int8_t* qs = a[c][b].qs + 16 * j;
                const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(w[0], _mm256_set1_epi32(load4(qs))),
                                                     _mm256_maddubs_epi16(w[1], _mm256_set1_epi32(load4(qs + 4))));
                const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(w[2], _mm256_set1_epi32(load4(qs + 8))),
                                                     _mm256_maddubs_epi16(w[3], _mm256_set1_epi32(load4(qs + 12))));
                __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p01, ones), _mm256_madd_epi16(p23, ones));
                s = _mm256_add_epi32(s, _mm256_set1_epi32(-32 * int32_t(a[c][b].bsum16[j])));
                sumi[c] = _mm256_add_epi32(sumi[c], _mm256_mullo_epi32(s, sc));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(at(blk, kQ6D + 16 * size_t(hh))));
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c)
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[c]), _mm256_mul_ps(dw, _mm256_set1_ps(a[c][b].d)), acc[c]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out + c * kRepackRows + 8 * hh, acc[c]);
}

template <DType T, int NC>
void kAvx2N(int64_t n, const std::byte* group, const std::byte* act, float* out) {
    const int64_t nb = n / kQKK;
    const ActBlockK* a[NC];
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const ActBlockK*>(act) + c * nb;
    for (int hh = 0; hh < 2; ++hh) {
        if constexpr (T == DType::Q4_K)
            q4kAvx2Half<NC>(nb, group, a, hh, out);
        else
            q6kAvx2Half<NC>(nb, group, a, hh, out);
    }
}

template <DType T>
void kAvx2(int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out) {
    const size_t colBytes = actColumnBytes(T, n);
    int c = 0;
    for (; c + 2 <= nCols; c += 2) kAvx2N<T, 2>(n, group, act + c * colBytes, out + c * kRepackRows);
    if (c < nCols) kAvx2N<T, 1>(n, group, act + c * colBytes, out + c * kRepackRows);
}

#pragma GCC pop_options

constexpr auto A2 = cpu::SimdLevel::Avx2;
constexpr auto VN = cpu::SimdLevel::Avx512Vnni;
const RepackGemm kX86K[] = {
    {DType::Q4_K, A2, kAvx2<DType::Q4_K>},
    {DType::Q6_K, A2, kAvx2<DType::Q6_K>},
    {DType::Q4_K, VN, kVnni<DType::Q4_K>},
    {DType::Q6_K, VN, kVnni<DType::Q6_K>},
};

}  // namespace

namespace detail {
const RepackGemm* x86RepackGemmsK(size_t& count) {
    count = std::size(kX86K);
    return kX86K;
}
}  // namespace detail
}  // namespace qs::ggml

#else  // no x86 SIMD paths: callers keep the per-pair dots.

namespace qs::ggml::detail {
const RepackGemm* x86RepackGemmsK(size_t& count) {
    count = 0;
    return nullptr;
}
}  // namespace qs::ggml::detail

#endif
