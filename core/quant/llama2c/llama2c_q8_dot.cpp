// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar reference and AVX2 path of llama2.c Q8 products (contract in llama2c_q8_dot.h). Compiled with
// -ffp-contract=off (core/CMakeLists.txt): the float part is runq.c's sequence of multiplies and adds.
#include "core/quant/llama2c/llama2c_q8_dot.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define QS_L2C_X86 1
#endif

namespace qs::llama2c {

namespace {

size_t codeBytes(int64_t cols) { return (size_t(cols) + 3) & ~size_t(3); }

inline float loadFloat(const std::byte* p) {
    float f;
    std::memcpy(&f, p, sizeof f);
    return f;
}

// One output of runq.c's matmul(): groups in order, exact int32 sums, float accumulation.
float dotRef(int64_t cols, int group, const int8_t* codes, const std::byte* scales, const std::byte* act) {
    const auto* a = reinterpret_cast<const int8_t*>(act);
    const std::byte* as = act + codeBytes(cols);
    float val = 0.0f;
    for (int64_t g = 0; g < cols / group; ++g) {
        int32_t s = 0;
        for (int64_t k = g * group; k < (g + 1) * group; ++k) s += int32_t(a[k]) * int32_t(codes[k]);
        val = val + (float(s) * loadFloat(scales + 4 * g)) * loadFloat(as + 4 * g);
    }
    return val;
}

#ifdef QS_L2C_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")

inline int32_t hsumEpi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// Groups of a multiple of 32 values. Per 32 values: |w| (as unsigned bytes, up to 128) times the activation
// codes carrying w's sign (|a| <= 127), pair sums at most 2 * 128 * 127 < 2^15, so maddubs never saturates.
template <int NC>
void dotAvx2(int64_t cols, int group, const int8_t* codes, const std::byte* scales, const std::byte* act,
             size_t stride, float* out) {
    const size_t cb = codeBytes(cols);
    const __m256i ones = _mm256_set1_epi16(1);
    float val[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) val[c] = 0.0f;
    for (int64_t g = 0; g < cols / group; ++g) {
        __m256i acc[NC];
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_si256();
        for (int64_t k = g * group; k < (g + 1) * group; k += 32) {
            const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + k));
            const __m256i mag = _mm256_sign_epi8(w, w);
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act + size_t(c) * stride + size_t(k)));
                const __m256i y = _mm256_sign_epi8(a, w);
                acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(mag, y), ones));
            }
        }
        const float ws = loadFloat(scales + 4 * g);
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c)
            val[c] = val[c] + (float(hsumEpi32(acc[c])) * ws) * loadFloat(act + size_t(c) * stride + cb + 4 * size_t(g));
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) out[c] = val[c];
}

#pragma GCC pop_options
#endif  // QS_L2C_X86

bool avx2Applies(int group, cpu::SimdLevel level) {
#ifdef QS_L2C_X86
    return level >= cpu::SimdLevel::Avx2 && group % 32 == 0;
#else
    (void)group, (void)level;
    return false;
#endif
}

}  // namespace

size_t actRowBytes(int64_t cols, int group) { return codeBytes(cols) + 4 * size_t(cols / group); }

void quantizeActivations(const float* x, int64_t cols, int group, std::byte* act) {
    auto* q = reinterpret_cast<int8_t*>(act);
    std::byte* scales = act + codeBytes(cols);
    for (int64_t g = 0; g < cols / group; ++g) {
        const float* xg = x + g * group;
        float amax = 0.0f;
        bool finite = true;
        for (int i = 0; i < group; ++i) {
            finite = finite && std::isfinite(xg[i]);
            amax = std::max(amax, std::fabs(xg[i]));
        }
        float scale = amax / 127.0f;
        // A non-finite activation makes the group's products NaN (as a float product would), never a code.
        if (!finite) scale = std::nanf("");
        for (int i = 0; i < group; ++i)
            q[g * group + i] = finite && scale > 0.0f ? int8_t(std::round(xg[i] / scale)) : int8_t(0);
        std::memcpy(scales + 4 * g, &scale, sizeof scale);
    }
    for (size_t i = size_t(cols); i < codeBytes(cols); ++i) act[i] = std::byte{0};
}

void dot(int64_t cols, int group, const int8_t* codes, const std::byte* scales, const std::byte* act,
         size_t stride, int nCols, float* out, cpu::SimdLevel level) {
#ifdef QS_L2C_X86
    if (avx2Applies(group, level)) {
        switch (nCols) {
            case 4: return dotAvx2<4>(cols, group, codes, scales, act, stride, out);
            case 3: return dotAvx2<3>(cols, group, codes, scales, act, stride, out);
            case 2: return dotAvx2<2>(cols, group, codes, scales, act, stride, out);
            default:
                for (int c = 0; c < nCols; ++c) dotAvx2<1>(cols, group, codes, scales, act + size_t(c) * stride, stride, out + c);
                return;
        }
    }
#endif
    (void)level;
    for (int c = 0; c < nCols; ++c) out[c] = dotRef(cols, group, codes, scales, act + size_t(c) * stride);
}

const char* dotPathName(int group, cpu::SimdLevel level) { return avx2Applies(group, level) ? "avx2" : "scalar"; }

}  // namespace qs::llama2c
