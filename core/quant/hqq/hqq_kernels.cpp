// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/hqq/hqq_kernels.h"

#include <algorithm>
#include <cmath>

#include "core/util/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QS_X86_SIMD 1
#include <immintrin.h>
#endif

namespace qs::hqq {

namespace {
// Rounded and clamped in float, so a value far outside the code range never reaches an int conversion.
inline float codeOf(float x, float a, float z, float qmax) {
    const float r = std::nearbyint(x * a + z);
    return std::min(std::max(r, 0.0f), qmax);
}

// shrink_lp_op of the reference for p < 1: sign(d) * relu(|d| - (1/beta) * |d|^(p-1)). At d = 0 the power is
// +inf and the result 0, as in torch.
inline float shrink(float d, float invBeta, float pm1) {
    const float ad = std::fabs(d);
    const float m = std::max(ad - invBeta * std::pow(ad, pm1), 0.0f);
    return d < 0.0f ? -m : (d > 0.0f ? m : 0.0f);
}

void codesRef(const float* x, int64_t n, float a, float z, int qmax, uint8_t* out) {
    const float qm = float(qmax);
    for (int64_t i = 0; i < n; ++i) out[i] = uint8_t(codeOf(x[i], a, z, qm));
}

#ifdef QS_X86_SIMD
__attribute__((target("avx2"))) void codesAvx2(const float* x, int64_t n, float a, float z, int qmax,
                                               uint8_t* out) {
    const __m256 va = _mm256_set1_ps(a), vz = _mm256_set1_ps(z);
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(float(qmax));
    int64_t i = 0;
    alignas(32) int32_t lanes[8];
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), va), vz);
        v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_cvtps_epi32(v));
        for (int k = 0; k < 8; ++k) out[i + k] = uint8_t(lanes[k]);
    }
    codesRef(x + i, n - i, a, z, qmax, out + i);
}
#endif
}  // namespace

float optimiseZero(const float* x, int64_t n, float a, float zero, int qmax, const ProximalParams& p,
                   double* bestError) {
    const float qm = float(qmax);
    const float pm1 = p.lpNorm - 1.0f;
    double beta = p.beta;
    double best = INFINITY;
    float bestZero = zero;
    for (int it = 0; it <= p.iterations; ++it) {
        const bool update = it < p.iterations;
        const float invBeta = float(1.0 / beta);
        double err = 0.0, zsum = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            const float q = codeOf(x[i], a, zero, qm);
            const float r = (q - zero) / a;
            const float d = x[i] - r;
            err += std::fabs(d);
            if (update) zsum += q - (x[i] - shrink(d, invBeta, pm1)) * a;
        }
        err /= double(n);
        if (!(err < best)) break;
        best = err;
        bestZero = zero;
        if (!update) break;
        zero = float(zsum / double(n));
        beta *= p.kappa;
    }
    if (bestError) *bestError = best;
    return bestZero;
}

void codes(const float* x, int64_t n, float a, float z, int qmax, uint8_t* out, QuantPath path) {
#ifdef QS_X86_SIMD
    static const bool kAvx2 = cpu::simdLevel() >= cpu::SimdLevel::Avx2;
    if (path == QuantPath::Optimised && kAvx2) return codesAvx2(x, n, a, z, qmax, out);
#endif
    (void)path;
    codesRef(x, n, a, z, qmax, out);
}

}  // namespace qs::hqq
