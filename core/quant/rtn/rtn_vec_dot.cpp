// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar reference and AVX2 path of the RTN native dot products (contract in rtn_vec_dot.h). Compiled with
// -ffp-contract=off (core/CMakeLists.txt): the fused multiply-adds are explicit.
#include "core/quant/rtn/rtn_vec_dot.h"

#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/tensor/half.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define QS_RTN_X86 1
#endif

namespace qs::rtn {

namespace {

using ggml::BlockQ8_0;

// Scale and zero point of group g of a row record.
inline float groupScale(const NativeLayout& l, const std::byte* w, int64_t g) {
    uint16_t h;
    std::memcpy(&h, w + l.codeBytes + 2 * uint64_t(g), 2);
    return halfToFloat(h);
}
inline int groupZero(const NativeLayout& l, const std::byte* w, int64_t groups, int64_t g) {
    if (l.symmetric) return 1 << (l.bits - 1);
    const auto* z = reinterpret_cast<const uint8_t*>(w + l.codeBytes + 2 * uint64_t(groups));
    return l.bits == 8 ? z[g] : (z[g / 2] >> (4 * (g % 2))) & 15;
}

inline float groupZeroF(const NativeLayout& l, const std::byte* w, int64_t groups, int64_t g) {
    uint16_t h;
    std::memcpy(&h, w + l.codeBytes + 2 * uint64_t(groups) + 2 * uint64_t(g), 2);
    return halfToFloat(h);
}

// q - z of the 32 values of block ib in activation order (LSB-first codes: value 2j in the low nibble of byte
// j).
inline void blockValues(const NativeLayout& l, const std::byte* w, int64_t ib, int z, int8_t* v) {
    const auto* c = reinterpret_cast<const uint8_t*>(w);
    if (l.bits == 8) {
        for (int j = 0; j < 32; ++j) v[j] = int8_t(c[32 * ib + j] - z);
    } else {
        for (int j = 0; j < 16; ++j) {
            v[2 * j] = int8_t((c[16 * ib + j] & 15) - z);
            v[2 * j + 1] = int8_t((c[16 * ib + j] >> 4) - z);
        }
    }
}

float dotRef(const NativeLayout& l, int64_t n, const std::byte* w, const BlockQ8_0* a) {
    const int64_t groups = n / l.group, perGroup = l.group / 32;
    float lanes[8] = {};
    int8_t v[32];
    for (int64_t g = 0; g < groups; ++g) {
        const float s = groupScale(l, w, g);
        const int z = groupZero(l, w, groups, g);
        for (int64_t ib = g * perGroup; ib < (g + 1) * perGroup; ++ib) {
            blockValues(l, w, ib, z, v);
            const float d = s * halfToFloat(a[ib].d);
            for (int k = 0; k < 8; ++k) {
                int sum = 0;
                for (int j = 4 * k; j < 4 * k + 4; ++j) sum += int(v[j]) * int(a[ib].qs[j]);
                lanes[k] = std::fma(d, float(sum), lanes[k]);
            }
        }
    }
    const float t0 = lanes[0] + lanes[4], t1 = lanes[1] + lanes[5], t2 = lanes[2] + lanes[6],
                t3 = lanes[3] + lanes[7];
    return (t0 + t2) + (t1 + t3);
}

// HQQ: float zero points factored out of the block sums (rtn_vec_dot.h).
float dotRefFloatZero(const NativeLayout& l, int64_t n, const std::byte* w, const BlockQ8_0* a) {
    const int64_t groups = n / l.group, perGroup = l.group / 32;
    float lanes[8] = {};
    int8_t v[32];
    for (int64_t g = 0; g < groups; ++g) {
        const float s = groupScale(l, w, g);
        const float sz = s * groupZeroF(l, w, groups, g);
        for (int64_t ib = g * perGroup; ib < (g + 1) * perGroup; ++ib) {
            blockValues(l, w, ib, 0, v);
            const float da = halfToFloat(a[ib].d);
            const float d = s * da, dz = -(sz * da);
            for (int k = 0; k < 8; ++k) {
                int sq = 0, sa = 0;
                for (int j = 4 * k; j < 4 * k + 4; ++j) {
                    sq += int(v[j]) * int(a[ib].qs[j]);
                    sa += int(a[ib].qs[j]);
                }
                lanes[k] = std::fma(d, float(sq), lanes[k]);
                lanes[k] = std::fma(dz, float(sa), lanes[k]);
            }
        }
    }
    const float t0 = lanes[0] + lanes[4], t1 = lanes[1] + lanes[5], t2 = lanes[2] + lanes[6],
                t3 = lanes[3] + lanes[7];
    return (t0 + t2) + (t1 + t3);
}

#ifdef QS_RTN_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

inline float hsumLanes(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// The 32 codes of block ib in activation order, minus z, as signed bytes.
inline __m256i blockValuesAvx2(const NativeLayout& l, const uint8_t* c, int64_t ib, int z) {
    if (l.bits == 8)
        return _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 32 * ib)),
                               _mm256_set1_epi8(char(z)));
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 16 * ib));
    const __m128i lo = _mm_and_si128(t, _mm_set1_epi8(0x0F)),
                  hi = _mm_and_si128(_mm_srli_epi16(t, 4), _mm_set1_epi8(0x0F));
    const __m256i v = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(char(z)));
}

template <int NC>
void dotAvx2(const NativeLayout& l, int64_t n, const std::byte* w, const std::byte* act, size_t stride,
             float* out) {
    const int64_t groups = n / l.group, perGroup = l.group / 32;
    const auto* codes = reinterpret_cast<const uint8_t*>(w);
    const BlockQ8_0* a[NC];
    __m256 acc[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
        a[c] = reinterpret_cast<const BlockQ8_0*>(act + size_t(c) * stride);
        acc[c] = _mm256_setzero_ps();
    }
    for (int64_t g = 0; g < groups; ++g) {
        const float s = groupScale(l, w, g);
        const int z = groupZero(l, w, groups, g);
        for (int64_t ib = g * perGroup; ib < (g + 1) * perGroup; ++ib) {
            const __m256i q = blockValuesAvx2(l, codes, ib, z);
            const __m256i mag = _mm256_sign_epi8(q, q);
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                const __m256i y =
                    _mm256_sign_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[c][ib].qs)), q);
                const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(mag, y), _mm256_set1_epi16(1));
                acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(s * _cvtsh_ss(a[c][ib].d)), _mm256_cvtepi32_ps(sum),
                                         acc[c]);
            }
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) out[c] = hsumLanes(acc[c]);
}

template <int NC>
void dotAvx2FloatZero(const NativeLayout& l, int64_t n, const std::byte* w, const std::byte* act, size_t stride,
                      float* out) {
    const int64_t groups = n / l.group, perGroup = l.group / 32;
    const auto* codes = reinterpret_cast<const uint8_t*>(w);
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    const BlockQ8_0* a[NC];
    __m256 acc[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
        a[c] = reinterpret_cast<const BlockQ8_0*>(act + size_t(c) * stride);
        acc[c] = _mm256_setzero_ps();
    }
    for (int64_t g = 0; g < groups; ++g) {
        const float s = groupScale(l, w, g);
        const float sz = s * groupZeroF(l, w, groups, g);
        for (int64_t ib = g * perGroup; ib < (g + 1) * perGroup; ++ib) {
            const __m256i q = blockValuesAvx2(l, codes, ib, 0);  // unsigned codes 0..15
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[c][ib].qs));
                // q * a: unsigned x signed bytes; |15 * 127 * 2| fits the int16 pair sums exactly.
                const __m256i sq = _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones16);
                const __m256i sa = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, y), ones16);
                const float da = _cvtsh_ss(a[c][ib].d);
                acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(s * da), _mm256_cvtepi32_ps(sq), acc[c]);
                acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(-(sz * da)), _mm256_cvtepi32_ps(sa), acc[c]);
            }
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) out[c] = hsumLanes(acc[c]);
}

#pragma GCC pop_options
#endif  // QS_RTN_X86

}  // namespace

void dot(const NativeLayout& layout, int64_t n, const std::byte* w, const std::byte* act, size_t stride,
         int nCols, float* out, cpu::SimdLevel level) {
#ifdef QS_RTN_X86
    if (level >= cpu::SimdLevel::Avx2 && layout.floatZero) {
        switch (nCols) {
            case 4:
                return dotAvx2FloatZero<4>(layout, n, w, act, stride, out);
            case 3:
                return dotAvx2FloatZero<3>(layout, n, w, act, stride, out);
            case 2:
                return dotAvx2FloatZero<2>(layout, n, w, act, stride, out);
            default:
                for (int c = 0; c < nCols; ++c)
                    dotAvx2FloatZero<1>(layout, n, w, act + size_t(c) * stride, stride, out + c);
                return;
        }
    }
    if (level >= cpu::SimdLevel::Avx2) {
        switch (nCols) {
            case 4:
                return dotAvx2<4>(layout, n, w, act, stride, out);
            case 3:
                return dotAvx2<3>(layout, n, w, act, stride, out);
            case 2:
                return dotAvx2<2>(layout, n, w, act, stride, out);
            default:
                for (int c = 0; c < nCols; ++c)
                    dotAvx2<1>(layout, n, w, act + size_t(c) * stride, stride, out + c);
                return;
        }
    }
#endif
    (void)level;
    for (int c = 0; c < nCols; ++c) {
        const auto* a = reinterpret_cast<const BlockQ8_0*>(act + size_t(c) * stride);
        out[c] = layout.floatZero ? dotRefFloatZero(layout, n, w, a) : dotRef(layout, n, w, a);
    }
}

const char* dotPathName(cpu::SimdLevel level) {
#ifdef QS_RTN_X86
    if (level >= cpu::SimdLevel::Avx2) return "avx2";
#endif
    (void)level;
    return "scalar";
}

}  // namespace qs::rtn
