// SPDX-License-Identifier: GPL-3.0-or-later
// The repacked q8_0/q4_0 GEMM on x86 (ggml_repack.h), compiled under per-function target pragmas (never -march):
//  - AVX-512 VNNI: the 16 rows of a group are the 16 int32 lanes of one zmm. Per block the weight chunks are
//    loaded (q4_0: unpacked into the 8 value groups) once for all columns; per column, vpdpbusd with the
//    column's 4 codes of each value group broadcast ({1to16}) adds the exact block sum of every row to the
//    column's offset term (q8_0: codes w + 128 unsigned, so the start is -128 sum(a); q4_0: codes q unsigned,
//    start -8 sum(a)); then one float step per 16 outputs.
//  - AVX2: the same layout, 8 rows per ymm (the two halves of a group one after the other); q4_0 with
//    vpmaddubsw summed in int16 over the block (|sum| <= 8 * 2 * 15 * 128 = 30720: no saturation), q8_0 with
//    the sign trick (|w| unsigned against sign(a, w): pair sums <= 2 * 128 * 127 = 32512).
// Both produce exactly the integer sums and float steps of gemmRef, so its results bit for bit.
#include "core/ggml/ggml_repack.h"

#include <cstring>
#include <iterator>

#include "core/ggml/ggml_blocks.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

namespace qs::ggml {
namespace {

constexpr size_t kScaleBytes = 2 * kRepackRows;
constexpr size_t kChunkBytes = 4 * kRepackRows;
template <DType T> constexpr size_t kBlockBytes = kScaleBytes + (T == DType::Q8_0 ? 8 : 4) * kChunkBytes;
constexpr size_t kPrefetchBlocks = 4;

inline int32_t load4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12 warns about the _mm512_undefined_ps() pass-through operand inside _mm512_cvtepi32_ps/_mm512_cvtph_ps
// (a false positive of its own headers: the unmasked conversions never read it).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

template <DType T, int NC>
void gemmVnniN(int64_t n, const std::byte* group, const std::byte* act, float* out) {
    const int64_t nb = n / kQK;
    const ActBlock* a[NC];
    __m512 acc[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
        a[c] = reinterpret_cast<const ActBlock*>(act) + c * nb;
        acc[c] = _mm512_setzero_ps();
    }
    const __m512i low4 = _mm512_set1_epi8(0x0F), flip = _mm512_set1_epi8(char(0x80));
    for (int64_t b = 0; b < nb; ++b) {
        const std::byte* blk = group + size_t(b) * kBlockBytes<T>;
        const std::byte* chunks = blk + kScaleBytes;
        __m512i w[8];
        if constexpr (T == DType::Q8_0) {
#pragma GCC unroll 8
            for (int k = 0; k < 8; ++k) w[k] = _mm512_xor_si512(_mm512_loadu_si512(chunks + k * kChunkBytes), flip);
        } else {
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const __m512i v = _mm512_loadu_si512(chunks + k * kChunkBytes);
                w[k] = _mm512_and_si512(v, low4);
                w[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
        if constexpr (NC == 1) {
            // Decode streams the weights once: fetch the lines kPrefetchBlocks blocks ahead (no effect on results).
            const char* p = reinterpret_cast<const char*>(blk) + kPrefetchBlocks * kBlockBytes<T>;
#pragma GCC unroll 9
            for (size_t off = 0; off < kBlockBytes<T>; off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
        }
        // Value group k of the block: chunk k (q4_0: k < 4 the low, k >= 4 the high nibbles of chunk k - 4).
        // With few columns, two integer chains per column (even and odd k) hide vpdpbusd's latency; the sums
        // are exact, so the split does not change them.
        constexpr int kChains = NC <= 2 ? 2 : 1;
        __m512i s[kChains][NC];
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            s[0][c] = _mm512_set1_epi32(a[c][b].off);
            if constexpr (kChains == 2) s[1][c] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k)
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c)
                s[k % kChains][c] =
                    _mm512_dpbusd_epi32(s[k % kChains][c], w[k], _mm512_set1_epi32(load4(a[c][b].qs + 4 * k)));
        if constexpr (kChains == 2)
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) s[0][c] = _mm512_add_epi32(s[0][c], s[1][c]);
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c)
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[0][c]), _mm512_mul_ps(dw, _mm512_set1_ps(a[c][b].d)), acc[c]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out + c * kRepackRows, acc[c]);
}

template <DType T>
void gemmVnni(int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out) {
    const size_t colBytes = actColumnBytes(n);
    switch (nCols) {
        case 8: return gemmVnniN<T, 8>(n, group, act, out);
        case 7: return gemmVnniN<T, 7>(n, group, act, out);
        case 6: return gemmVnniN<T, 6>(n, group, act, out);
        case 5: return gemmVnniN<T, 5>(n, group, act, out);
        case 4: return gemmVnniN<T, 4>(n, group, act, out);
        case 3: return gemmVnniN<T, 3>(n, group, act, out);
        case 2: return gemmVnniN<T, 2>(n, group, act, out);
        default:
            for (int c = 0; c < nCols; ++c)
                gemmVnniN<T, 1>(n, group, act + c * colBytes, out + c * kRepackRows);
    }
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

// Rows 8h .. 8h + 7 of the group against NC columns.
template <DType T, int NC>
void gemmAvx2Half(int64_t n, const std::byte* group, const ActBlock* const* a, int h, float* out) {
    const int64_t nb = n / kQK;
    __m256 acc[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        const std::byte* blk = group + size_t(b) * kBlockBytes<T>;
        const std::byte* chunks = blk + kScaleBytes + 32 * h;
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 16 * h)));
        const auto chunk = [&](int k) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(chunks + k * kChunkBytes)); };
        if constexpr (T == DType::Q4_0) {
            __m256i w[8];
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const __m256i v = chunk(k);
                w[k] = _mm256_and_si256(v, low4);
                w[k + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            }
#pragma GCC unroll 4
            for (int c = 0; c < NC; ++c) {
                const ActBlock& ab = a[c][b];
                __m256i s16 = _mm256_maddubs_epi16(w[0], _mm256_set1_epi32(load4(ab.qs)));
#pragma GCC unroll 8
                for (int k = 1; k < 8; ++k)
                    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[k], _mm256_set1_epi32(load4(ab.qs + 4 * k))));
                const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(ab.off));
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(ab.d)), acc[c]);
            }
        } else {
#pragma GCC unroll 4
            for (int c = 0; c < NC; ++c) {
                const ActBlock& ab = a[c][b];
                __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int k = 0; k < 8; ++k) {
                    const __m256i v = chunk(k);
                    const __m256i y = _mm256_sign_epi8(_mm256_set1_epi32(load4(ab.qs + 4 * k)), v);
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(v), y), ones));
                }
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(ab.d)), acc[c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out + c * kRepackRows + 8 * h, acc[c]);
}

template <DType T, int NC>
void gemmAvx2N(int64_t n, const std::byte* group, const std::byte* act, float* out) {
    const int64_t nb = n / kQK;
    const ActBlock* a[NC];
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const ActBlock*>(act) + c * nb;
    gemmAvx2Half<T, NC>(n, group, a, 0, out);
    gemmAvx2Half<T, NC>(n, group, a, 1, out);
}

template <DType T>
void gemmAvx2(int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out) {
    const size_t colBytes = actColumnBytes(n);
    int c = 0;
    for (; c + 4 <= nCols; c += 4) gemmAvx2N<T, 4>(n, group, act + c * colBytes, out + c * kRepackRows);
    switch (nCols - c) {
        case 3: return gemmAvx2N<T, 3>(n, group, act + c * colBytes, out + c * kRepackRows);
        case 2: return gemmAvx2N<T, 2>(n, group, act + c * colBytes, out + c * kRepackRows);
        case 1: return gemmAvx2N<T, 1>(n, group, act + c * colBytes, out + c * kRepackRows);
        default: return;
    }
}

#pragma GCC pop_options

constexpr auto A2 = cpu::SimdLevel::Avx2;
constexpr auto VN = cpu::SimdLevel::Avx512Vnni;
const RepackGemm kX86[] = {
    {DType::Q8_0, A2, gemmAvx2<DType::Q8_0>},
    {DType::Q4_0, A2, gemmAvx2<DType::Q4_0>},
    {DType::Q8_0, VN, gemmVnni<DType::Q8_0>},
    {DType::Q4_0, VN, gemmVnni<DType::Q4_0>},
};

}  // namespace

namespace detail {
const RepackGemm* x86RepackGemms(size_t& count) {
    count = std::size(kX86);
    return kX86;
}
}  // namespace detail
}  // namespace qs::ggml

#else  // no x86 SIMD paths: callers keep the per-pair dots.

namespace qs::ggml::detail {
const RepackGemm* x86RepackGemms(size_t& count) {
    count = 0;
    return nullptr;
}
}  // namespace qs::ggml::detail

#endif
