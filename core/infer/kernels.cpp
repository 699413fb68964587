// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/kernels.h"

#include "core/infer/float_gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define QS_KERNELS_X86 1
#endif

namespace qs::kernels {

namespace {

// Cephes expf constants (see the header).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
constexpr float kExpMin = -87.3365447f;          // ln(FLT_MIN): below it e^x is subnormal; 0 is returned
constexpr float kExpMax = 88.3762626647949f;     // above it round(x log2 e) = 128 would not fit the exponent

void softmaxScalar(float* x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    float lanes[8] = {};
    const int64_t n8 = n / 8 * 8;
    for (int64_t i = 0; i < n8; i += 8)
        for (int k = 0; k < 8; ++k) {
            x[i + k] = expApprox(x[i + k] - m);
            lanes[k] += x[i + k];
        }
    float sum = laneSum(lanes);
    for (int64_t i = n8; i < n; ++i) {
        x[i] = expApprox(x[i] - m);
        sum += x[i];
    }
    for (int64_t i = 0; i < n; ++i) x[i] /= sum;
}

void weightedRowSumScalar(const float* p, int64_t count, const float* rows, int64_t ldRows, int64_t width,
                          float* out) {
    std::fill(out, out + width, 0.0f);
    for (int64_t i = 0; i < count; ++i) {
        const float* row = rows + i * ldRows;
        for (int64_t d = 0; d < width; ++d) out[d] = std::fma(p[i], row[d], out[d]);
    }
}

void swigluScalar(float* gate, const float* up, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        gate[i] = (g * (1.0f / (1.0f + expApprox(-g)))) * up[i];
    }
}

#ifdef QS_KERNELS_X86

#pragma GCC push_options
#pragma GCC target("avx2,fma")

// expApprox on eight lanes: the same operations in the same order.
inline __m256 expAvx2(__m256 x) {
    const __m256 lo = _mm256_set1_ps(kExpMin), hi = _mm256_set1_ps(kExpMax);
    // maxps/minps return their second operand when either is NaN: NaN stays NaN.
    const __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Hi), xc);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Lo), r);
    const __m256 z = _mm256_mul_ps(r, r);
    __m256 poly = _mm256_fmadd_ps(_mm256_set1_ps(kP0), r, _mm256_set1_ps(kP1));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(kP2));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(kP3));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(kP4));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(kP5));
    const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(poly, z, r), _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 e = _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
    e = _mm256_blendv_ps(e, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    return _mm256_blendv_ps(e, _mm256_set1_ps(std::numeric_limits<float>::infinity()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
}

void softmaxAvx2(float* x, int64_t n) {
    const int64_t n8 = n / 8 * 8;
    float m = x[0];
    if (n8 > 0) {
        __m256 mv = _mm256_loadu_ps(x);
        for (int64_t i = 8; i < n8; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
        alignas(32) float l[8];
        _mm256_store_ps(l, mv);
        for (float v : l) m = v > m ? v : m;
    }
    for (int64_t i = n8; i < n; ++i) m = x[i] > m ? x[i] : m;
    const __m256 mv = _mm256_set1_ps(m);
    __m256 lanes = _mm256_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8) {
        const __m256 e = expAvx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        lanes = _mm256_add_ps(lanes, e);
    }
    alignas(32) float l[8];
    _mm256_store_ps(l, lanes);
    float sum = laneSum(l);
    for (int64_t i = n8; i < n; ++i) {
        x[i] = expApprox(x[i] - m);
        sum += x[i];
    }
    const __m256 sv = _mm256_set1_ps(sum);
    for (int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), sv));
    for (int64_t i = n8; i < n; ++i) x[i] /= sum;
}

// V registers of 8 output values kept across all rows (V * 8 <= 64 values: 8 accumulators, one broadcast and
// one load of the 16 registers).
template <int V>
void weightedBlockAvx2(const float* p, int64_t count, const float* rows, int64_t ldRows, float* out) {
    __m256 acc[V];
#pragma GCC unroll 8
    for (int j = 0; j < V; ++j) acc[j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < count; ++i) {
        const __m256 pv = _mm256_broadcast_ss(p + i);
        const float* row = rows + i * ldRows;
#pragma GCC unroll 8
        for (int j = 0; j < V; ++j) acc[j] = _mm256_fmadd_ps(pv, _mm256_loadu_ps(row + 8 * j), acc[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < V; ++j) _mm256_storeu_ps(out + 8 * j, acc[j]);
}

void weightedRowSumAvx2(const float* p, int64_t count, const float* rows, int64_t ldRows, int64_t width,
                        float* out) {
    int64_t d = 0;
    for (; d + 64 <= width; d += 64) weightedBlockAvx2<8>(p, count, rows + d, ldRows, out + d);
    for (; d + 32 <= width; d += 32) weightedBlockAvx2<4>(p, count, rows + d, ldRows, out + d);
    for (; d + 8 <= width; d += 8) weightedBlockAvx2<1>(p, count, rows + d, ldRows, out + d);
    if (d < width) weightedRowSumScalar(p, count, rows + d, ldRows, width - d, out + d);
}

void swigluAvx2(float* gate, const float* up, int64_t n) {
    const int64_t n8 = n / 8 * 8;
    const __m256 one = _mm256_set1_ps(1.0f), signBit = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n8; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 sigmoid = _mm256_div_ps(one, _mm256_add_ps(one, expAvx2(_mm256_xor_ps(g, signBit))));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid), _mm256_loadu_ps(up + i)));
    }
    swigluScalar(gate + n8, up + n8, n - n8);
}

#pragma GCC pop_options

#endif  // QS_KERNELS_X86

}  // namespace


bool rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const bool finite = std::isfinite(ss);
    ss /= float(n);
    ss += eps;
    ss = 1.0f / std::sqrt(ss);
    for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (ss * x[i]);
    return finite;
}

void rope(float* x, int heads, int headDim, const float* c, const float* s, RopeLayout layout) {
    const int half = headDim / 2;
    for (int h = 0; h < heads; ++h) {
        float* v = x + int64_t(h) * headDim;
        if (layout == RopeLayout::AdjacentPairs) {
            for (int j = 0; j < half; ++j) {
                const float a = v[2 * j], b = v[2 * j + 1];
                v[2 * j] = a * c[j] - b * s[j];
                v[2 * j + 1] = a * s[j] + b * c[j];
            }
        } else {
            for (int j = 0; j < half; ++j) {
                const float a = v[j], b = v[j + half];
                v[j] = a * c[j] - b * s[j];
                v[j + half] = a * s[j] + b * c[j];
            }
        }
    }
}

void geglu(float* gate, const float* up, int64_t n) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    for (int64_t i = 0; i < n; ++i) {
        const float x = gate[i];
        gate[i] = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x))) * up[i];
    }
}

double logSoftmaxAt(const float* logits, int64_t n, int64_t target) {
    double maxVal = logits[0];
    for (int64_t i = 1; i < n; ++i) maxVal = std::max(maxVal, double(logits[i]));
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - maxVal);
    return double(logits[target]) - maxVal - std::log(sum);
}

float expApprox(float x) {
    if (std::isnan(x)) return x;
    if (x < kExpMin) return 0.0f;
    if (x > kExpMax) return std::numeric_limits<float>::infinity();
    const float n = std::nearbyint(x * kLog2e);
    float r = std::fma(n, -kLn2Hi, x);
    r = std::fma(n, -kLn2Lo, r);
    const float z = r * r;
    float poly = std::fma(kP0, r, kP1);
    poly = std::fma(poly, r, kP2);
    poly = std::fma(poly, r, kP3);
    poly = std::fma(poly, r, kP4);
    poly = std::fma(poly, r, kP5);
    const float y = std::fma(poly, z, r) + 1.0f;
    const auto bits = uint32_t(int32_t(n) + 127) << 23;
    return y * std::bit_cast<float>(bits);
}

void softmax(float* x, int64_t n, cpu::SimdLevel level) {
    if (n <= 0) return;
#ifdef QS_KERNELS_X86
    if (level >= cpu::SimdLevel::Avx2) return softmaxAvx2(x, n);
#endif
    (void)level;
    softmaxScalar(x, n);
}

void softmax(float* x, int64_t n) {
    static const cpu::SimdLevel level = cpu::simdLevel();
    softmax(x, n, level);
}

void swiglu(float* gate, const float* up, int64_t n, cpu::SimdLevel level) {
#ifdef QS_KERNELS_X86
    if (level >= cpu::SimdLevel::Avx2) return swigluAvx2(gate, up, n);
#endif
    (void)level;
    swigluScalar(gate, up, n);
}

void swiglu(float* gate, const float* up, int64_t n) {
    static const cpu::SimdLevel level = cpu::simdLevel();
    swiglu(gate, up, n, level);
}

void weightedRowSum(const float* p, int64_t count, const float* rows, int64_t ldRows, int64_t width, float* out,
                    cpu::SimdLevel level) {
    if (width <= 0) return;
#ifdef QS_KERNELS_X86
    if (level >= cpu::SimdLevel::Avx2) return weightedRowSumAvx2(p, count, rows, ldRows, width, out);
#endif
    (void)level;
    weightedRowSumScalar(p, count, rows, ldRows, width, out);
}

void weightedRowSum(const float* p, int64_t count, const float* rows, int64_t ldRows, int64_t width, float* out) {
    static const cpu::SimdLevel level = cpu::simdLevel();
    weightedRowSum(p, count, rows, ldRows, width, out, level);
}

const char* floatKernelPathName(cpu::SimdLevel level) {
#ifdef QS_KERNELS_X86
    if (level >= cpu::SimdLevel::Avx2) return "avx2";
#endif
    (void)level;
    return "scalar";
}

}  // namespace qs::kernels
