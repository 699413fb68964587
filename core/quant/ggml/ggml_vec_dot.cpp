// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar reference dot products and the activation quantizers (see ggml_vec_dot.h for the numeric contract).
// Compiled with -ffp-contract=off (core/CMakeLists.txt): every fused multiply-add here is an explicit
// std::fma, so the reference performs exactly the operations of the SIMD paths.
#include "core/quant/ggml/ggml_vec_dot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <type_traits>

#include "core/quant/ggml/ggml_blocks.h"
#include "core/quant/ggml/ggml_math.h"
#include "core/quant/ggml/ggml_quantize.h"
#include "core/util/check.h"

namespace qs::ggml {

namespace detail {

void quantizeQ8_1Ref(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_1*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = toHalf(d);
        int sum = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const int v0 = int(std::roundf(x[j] * id)), v1 = int(std::roundf(x[kQK / 2 + j] * id));
            y[i].qs[j] = int8_t(v0);
            y[i].qs[kQK / 2 + j] = int8_t(v1);
            sum += v0 + v1;
        }
        y[i].s = toHalf(float(sum) * d);
    }
}

void quantizeQ8_KRef(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < kQKK; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        // ggml uses -127/max (not -128/max) so that no code is -128 (quantize_row_q8_K_ref).
        const float iscale = -127.0f / max;
        for (int j = 0; j < kQKK; ++j) y[i].qs[j] = int8_t(std::min(127, nearestInt(iscale * x[j])));
        for (int j = 0; j < kQKK / 16; ++j) {
            int sum = 0;
            for (int k = 0; k < 16; ++k) sum += y[i].qs[16 * j + k];
            y[i].bsums[j] = int16_t(sum);
        }
        y[i].d = 1.0f / iscale;
    }
}

}  // namespace detail

namespace {

using detail::fromHalf;

float laneSum(const float* l) {
    const float t0 = l[0] + l[4], t1 = l[1] + l[5], t2 = l[2] + l[6], t3 = l[3] + l[7];
    return (t0 + t2) + (t1 + t3);
}

// One legacy block's weight codes as signed values in activation order, plus its float scale/minimum.
struct Decoded {
    int8_t q[kQK];
    float d, m;
};

template <class B> void decodeBlock(const B& b, Decoded& out);

template <> void decodeBlock(const BlockQ8_0& b, Decoded& o) {
    std::memcpy(o.q, b.qs, kQK);
    o.d = fromHalf(b.d);
    o.m = 0;
}
template <> void decodeBlock(const BlockQ4_0& b, Decoded& o) {
    for (int j = 0; j < 16; ++j) {
        o.q[j] = int8_t((b.qs[j] & 15) - 8);
        o.q[j + 16] = int8_t((b.qs[j] >> 4) - 8);
    }
    o.d = fromHalf(b.d);
    o.m = 0;
}
template <> void decodeBlock(const BlockQ4_1& b, Decoded& o) {
    for (int j = 0; j < 16; ++j) {
        o.q[j] = int8_t(b.qs[j] & 15);
        o.q[j + 16] = int8_t(b.qs[j] >> 4);
    }
    o.d = fromHalf(b.d);
    o.m = fromHalf(b.m);
}
template <class B> void decode5(const B& b, int offset, Decoded& o) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
        const int h0 = int((qh >> j) << 4) & 0x10, h1 = int(qh >> (j + 12)) & 0x10;
        o.q[j] = int8_t(((b.qs[j] & 15) | h0) - offset);
        o.q[j + 16] = int8_t(((b.qs[j] >> 4) | h1) - offset);
    }
    o.d = fromHalf(b.d);
}
template <> void decodeBlock(const BlockQ5_0& b, Decoded& o) {
    decode5(b, 16, o);
    o.m = 0;
}
template <> void decodeBlock(const BlockQ5_1& b, Decoded& o) {
    decode5(b, 0, o);
    o.m = fromHalf(b.m);
}
template <> void decodeBlock(const BlockIq4Nl& b, Decoded& o) {
    for (int j = 0; j < 16; ++j) {
        o.q[j] = kIq4nlValues[b.qs[j] & 15];
        o.q[j + 16] = kIq4nlValues[b.qs[j] >> 4];
    }
    o.d = fromHalf(b.d);
    o.m = 0;
}

// Activation block views: codes, scale, and (q8_1) the scaled sum.
inline const int8_t* actCodes(const BlockQ8_0& a) { return a.qs; }
inline const int8_t* actCodes(const BlockQ8_1& a) { return a.qs; }
inline float actSum(const BlockQ8_0&) { return 0.0f; }
inline float actSum(const BlockQ8_1& a) { return fromHalf(a.s); }

template <class B, class A> float dotLegacy(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const B*>(wv);
    const auto* a = reinterpret_cast<const A*>(av);
    float lanes[8] = {};
    float mins = 0.0f;
    Decoded dec;
    for (int64_t ib = 0; ib < n / kQK; ++ib) {
        decodeBlock(w[ib], dec);
        const int8_t* y = actCodes(a[ib]);
        const float d = dec.d * fromHalf(a[ib].d);
        for (int k = 0; k < 8; ++k) {
            int s = 0;
            for (int j = 4 * k; j < 4 * k + 4; ++j) s += int(dec.q[j]) * int(y[j]);
            lanes[k] = std::fma(d, float(s), lanes[k]);
        }
        if constexpr (std::is_same_v<A, BlockQ8_1>) mins += dec.m * actSum(a[ib]);
    }
    return laneSum(lanes) + mins;
}

float dotQ4_K(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const BlockQ4_K*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float sum = 0.0f;
    for (int64_t ib = 0; ib < n / kQKK; ++ib) {
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            detail::scaleMinK4(j, w[ib].scales, sc, m);
            const uint8_t* q = w[ib].qs + 32 * (j / 2);
            const int8_t* y = a[ib].qs + 32 * j;
            int s = 0;
            for (int l = 0; l < 32; ++l) s += int(j % 2 ? q[l] >> 4 : q[l] & 15) * int(y[l]);
            isum += sc * s;
            msum += m * (a[ib].bsums[2 * j] + a[ib].bsums[2 * j + 1]);
        }
        const float d = a[ib].d * fromHalf(w[ib].d), dmin = a[ib].d * fromHalf(w[ib].dmin);
        sum += d * float(isum) - dmin * float(msum);
    }
    return sum;
}

float dotQ5_K(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const BlockQ5_K*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float sum = 0.0f;
    for (int64_t ib = 0; ib < n / kQKK; ++ib) {
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            detail::scaleMinK4(j, w[ib].scales, sc, m);
            const uint8_t* q = w[ib].qs + 32 * (j / 2);
            const int8_t* y = a[ib].qs + 32 * j;
            int s = 0;
            for (int l = 0; l < 32; ++l) {
                const int lo = j % 2 ? q[l] >> 4 : q[l] & 15;
                s += (lo | (((w[ib].qh[l] >> j) & 1) << 4)) * int(y[l]);
            }
            isum += sc * s;
            msum += m * (a[ib].bsums[2 * j] + a[ib].bsums[2 * j + 1]);
        }
        const float d = a[ib].d * fromHalf(w[ib].d), dmin = a[ib].d * fromHalf(w[ib].dmin);
        sum += d * float(isum) - dmin * float(msum);
    }
    return sum;
}

// Value v (0..255) of a q6_K block as q - 32.
inline int q6Value(const BlockQ6_K& b, int v) {
    const int half = v / 128, r = v % 128, quarter = r / 32, l = r % 32;
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int low = quarter == 0 ? ql[l] & 15 : quarter == 1 ? ql[l + 32] & 15 : quarter == 2 ? ql[l] >> 4 : ql[l + 32] >> 4;
    return (low | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
}

float dotQ6_K(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const BlockQ6_K*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float sum = 0.0f;
    for (int64_t ib = 0; ib < n / kQKK; ++ib) {
        int isum = 0;
        for (int j = 0; j < 16; ++j) {
            int s = 0;
            for (int l = 0; l < 16; ++l) s += q6Value(w[ib], 16 * j + l) * int(a[ib].qs[16 * j + l]);
            isum += int(w[ib].scales[j]) * s;
        }
        sum += (a[ib].d * fromHalf(w[ib].d)) * float(isum);
    }
    return sum;
}

template <float (*Conv)(uint16_t)> float dotHalfLike(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const uint16_t*>(wv);
    const auto* x = reinterpret_cast<const float*>(av);
    float lanes[32] = {};
    for (int64_t i = 0; i < n; i += 32)
        for (int k = 0; k < 32; ++k) lanes[k] = std::fma(Conv(w[i + k]), x[i + k], lanes[k]);
    float g[8];
    for (int k = 0; k < 8; ++k) g[k] = (lanes[k] + lanes[8 + k]) + (lanes[16 + k] + lanes[24 + k]);
    return laneSum(g);
}

float halfConv(uint16_t h) { return fromHalf(h); }
float bf16Conv(uint16_t h) { return bf16ToFloat(h); }

template <float (*One)(int64_t, const void*, const std::byte*)>
void columns(int64_t n, const void* w, const std::byte* a, size_t stride, int nCols, float* out) {
    for (int c = 0; c < nCols; ++c) out[c] = One(n, w, a + size_t(c) * stride);
}

constexpr auto S = cpu::SimdLevel::Scalar;
const DotKernel kScalar[] = {
    {DType::Q8_0, S, columns<dotLegacy<BlockQ8_0, BlockQ8_0>>},
    {DType::Q4_0, S, columns<dotLegacy<BlockQ4_0, BlockQ8_0>>},
    {DType::Q4_1, S, columns<dotLegacy<BlockQ4_1, BlockQ8_1>>},
    {DType::Q5_0, S, columns<dotLegacy<BlockQ5_0, BlockQ8_0>>},
    {DType::Q5_1, S, columns<dotLegacy<BlockQ5_1, BlockQ8_1>>},
    {DType::IQ4_NL, S, columns<dotLegacy<BlockIq4Nl, BlockQ8_0>>},
    {DType::Q4_K, S, columns<dotQ4_K>},
    {DType::Q5_K, S, columns<dotQ5_K>},
    {DType::Q6_K, S, columns<dotQ6_K>},
    {DType::F16, S, columns<dotHalfLike<halfConv>>},
    {DType::BF16, S, columns<dotHalfLike<bf16Conv>>},
};

}  // namespace

namespace detail {
const DotKernel* scalarDotKernels(size_t& count) {
    count = std::size(kScalar);
    return kScalar;
}
}  // namespace detail

const DotKernel* findDotKernel(DType t, cpu::SimdLevel level) {
    if (level >= cpu::SimdLevel::Avx2) {
        size_t count = 0;
        const DotKernel* table = detail::x86DotKernels(count);
        const DotKernel* best = nullptr;
        for (size_t i = 0; i < count; ++i)
            if (table[i].weight == t && table[i].level <= level && (!best || table[i].level > best->level))
                best = &table[i];
        if (best) return best;
    }
    for (const DotKernel& k : kScalar)
        if (k.weight == t) return &k;
    return nullptr;
}

int64_t DotKernel::blockElems() const {
    return std::max<int64_t>({kDotLanes, dtypeInfo(weight).blockElems, dtypeInfo(act()).blockElems});
}

size_t activationBytes(DType act, int64_t n) {
    const auto bytes = dtypeBytes(act, uint64_t(n));
    QS_CHECK(bytes.has_value(), std::to_string(n) + " activations are not whole " + std::string(dtypeName(act)) + " blocks");
    return size_t(*bytes);
}

void quantizeActivations(DType act, const float* x, std::byte* a, int64_t n) {
    if (act == DType::F32) {
        std::memcpy(a, x, size_t(n) * sizeof(float));
        return;
    }
    QS_CHECK(quantize(act, x, a, n), std::string("no quantizer for the activation type ") + actTypeName(act));
}

const char* actTypeName(DType act) { return dtypeInfo(act).ggmlName.data(); }

}  // namespace qs::ggml
