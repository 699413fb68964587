// SPDX-License-Identifier: GPL-3.0-or-later
// Scalar reference dot products and the activation quantizers (see ggml_vec_dot.h for the numeric contract).
// Compiled with -ffp-contract=off (core/CMakeLists.txt): every fused multiply-add here is an explicit
// std::fma, so the reference performs exactly the operations of the SIMD paths.
#include "core/ggml/ggml_vec_dot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <type_traits>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"
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

// q4_K / q5_K (Five): sub-block j (values 32j..32j+31) has the 6-bit scale sc_j and minimum m_j; code l of
// it is nibble (j odd: high) of qs[32 (j / 2) + l], plus the fifth bit j of qh[l] for q5_K. Lane k (0..7) of a
// super-block: I_k = sum_j sc_j sum_{l = 4k..4k+3} code * y (exact int32, |I_k| < 2^24 so float(I_k) is
// exact) and M_k = m_k (bsums[2k] + bsums[2k+1]), the minimum term of sub-block k.
template <bool Five>
float dotQ45K(int64_t n, const void* wv, const std::byte* av) {
    using B = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
    const auto* w = static_cast<const B*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float lanes[8] = {}, mins[8] = {};
    for (int64_t ib = 0; ib < n / kQKK; ++ib) {
        int isum[8] = {}, msum[8];
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            detail::scaleMinK4(j, w[ib].scales, sc, m);
            const uint8_t* q = w[ib].qs + 32 * (j / 2);
            const int8_t* y = a[ib].qs + 32 * j;
            for (int k = 0; k < 8; ++k) {
                int s = 0;
                for (int l = 4 * k; l < 4 * k + 4; ++l) {
                    int code = j % 2 ? q[l] >> 4 : q[l] & 15;
                    if constexpr (Five) code |= ((w[ib].qh[l] >> j) & 1) << 4;
                    s += code * int(y[l]);
                }
                isum[k] += sc * s;
            }
            msum[j] = m * (a[ib].bsums[2 * j] + a[ib].bsums[2 * j + 1]);
        }
        const float d = a[ib].d * fromHalf(w[ib].d), dmin = a[ib].d * fromHalf(w[ib].dmin);
        for (int k = 0; k < 8; ++k) {
            lanes[k] = std::fma(d, float(isum[k]), lanes[k]);
            mins[k] = std::fma(dmin, float(msum[k]), mins[k]);
        }
    }
    return laneSum(lanes) - laneSum(mins);
}

// Value v (0..255) of a q6_K block as a code 0..63 (the value is code - 32).
inline int q6Code(const BlockQ6_K& b, int v) {
    const int half = v / 128, r = v % 128, quarter = r / 32, l = r % 32;
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int low = quarter == 0 ? ql[l] & 15 : quarter == 1 ? ql[l + 32] & 15 : quarter == 2 ? ql[l] >> 4 : ql[l + 32] >> 4;
    return low | (((qh[l] >> (2 * quarter)) & 3) << 4);
}

// q6_K: 16-value sub-blocks j with signed scales sc_j. Lane k (0..7) of a super-block: the values 32c + 4k ..
// 32c + 4k + 3 of each 32-value chunk c (sub-block 2c + k / 4), I_k = sum sc code y, and the -32 offset term
// O_k = sc_{2k} bsums[2k] + sc_{2k+1} bsums[2k+1]; lane value I_k - 32 O_k (exact int32).
float dotQ6_K(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const BlockQ6_K*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float lanes[8] = {};
    for (int64_t ib = 0; ib < n / kQKK; ++ib) {
        int isum[8] = {};
        for (int c = 0; c < 8; ++c)
            for (int k = 0; k < 8; ++k) {
                int s = 0;
                for (int l = 32 * c + 4 * k; l < 32 * c + 4 * k + 4; ++l) s += q6Code(w[ib], l) * int(a[ib].qs[l]);
                isum[k] += int(w[ib].scales[2 * c + k / 4]) * s;
            }
        const float d = a[ib].d * fromHalf(w[ib].d);
        for (int k = 0; k < 8; ++k) {
            const int offset = int(w[ib].scales[2 * k]) * a[ib].bsums[2 * k] + int(w[ib].scales[2 * k + 1]) * a[ib].bsums[2 * k + 1];
            lanes[k] = std::fma(d, float(isum[k] - 32 * offset), lanes[k]);
        }
    }
    return laneSum(lanes);
}

// q2_K: value 128h + 32k + l (l < 32) is bits 2k..2k+1 of qs[32h + l]; sub-block j = value / 16 has scale
// scales[j] & 15 and minimum scales[j] >> 4, whose term uses the activation sums bsums[j].
float dotQ2_K(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const BlockQ2_K*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float sum = 0.0f;
    for (int64_t ib = 0; ib < n / kQKK; ++ib) {
        int isum = 0, msum = 0;
        for (int j = 0; j < 16; ++j) {
            const int h = j / 8, k = (j % 8) / 2, part = j % 2;
            const uint8_t* q = w[ib].qs + 32 * h + 16 * part;
            const int8_t* y = a[ib].qs + 16 * j;
            int s = 0;
            for (int l = 0; l < 16; ++l) s += ((q[l] >> (2 * k)) & 3) * int(y[l]);
            isum += (w[ib].scales[j] & 15) * s;
            msum += (w[ib].scales[j] >> 4) * int(a[ib].bsums[j]);
        }
        const float d = a[ib].d * fromHalf(w[ib].d), dmin = a[ib].d * fromHalf(w[ib].dmin);
        sum += d * float(isum) - dmin * float(msum);
    }
    return sum;
}

// q3_K: as q2_K for the two low bits; the third bit of value 128h + 32k + l is bit 4h + k of hmask[l]; the
// code is q - 4 (bit clear: -4..-1, set: 0..3). Signed 6-bit scales (stored + 32), no minimum.
float dotQ3_K(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const BlockQ3_K*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float sum = 0.0f;
    for (int64_t ib = 0; ib < n / kQKK; ++ib) {
        int isum = 0;
        for (int j = 0; j < 16; ++j) {
            const int h = j / 8, k = (j % 8) / 2, part = j % 2;
            const int lo = j < 8 ? (w[ib].scales[j] & 0xF) : (w[ib].scales[j - 8] >> 4);
            const int sc = (lo | (((w[ib].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            const uint8_t* q = w[ib].qs + 32 * h + 16 * part;
            const uint8_t* hm = w[ib].hmask + 16 * part;
            const int8_t* y = a[ib].qs + 16 * j;
            int s = 0;
            for (int l = 0; l < 16; ++l)
                s += (((q[l] >> (2 * k)) & 3) + 4 * ((hm[l] >> (4 * h + k)) & 1) - 4) * int(y[l]);
            isum += sc * s;
        }
        sum += (a[ib].d * fromHalf(w[ib].d)) * float(isum);
    }
    return sum;
}

// iq4_xs: 32-value sub-block ib has the 6-bit scale ls (low nibble in scalesL, two high bits in scalesH), value
// (ls - 32) * kIq4nlValues[q]; nibble order per sub-block as q4_0.
float dotIq4Xs(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const BlockIq4Xs*>(wv);
    const auto* a = reinterpret_cast<const BlockQ8_K*>(av);
    float sum = 0.0f;
    for (int64_t ibl = 0; ibl < n / kQKK; ++ibl) {
        int isum = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = ((w[ibl].scalesL[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((w[ibl].scalesH >> (2 * ib)) & 3) << 4);
            const uint8_t* q = w[ibl].qs + 16 * ib;
            const int8_t* y = a[ibl].qs + 32 * ib;
            int s = 0;
            for (int l = 0; l < 16; ++l)
                s += kIq4nlValues[q[l] & 15] * int(y[l]) + kIq4nlValues[q[l] >> 4] * int(y[l + 16]);
            isum += (ls - 32) * s;
        }
        sum += (a[ibl].d * fromHalf(w[ibl].d)) * float(isum);
    }
    return sum;
}

// f16/bf16 weights. HalfAct: activations of the same 16-bit type (ggml's vec_dot_f16 / vec_dot_bf16; each
// product of two f16 (bf16) values is exact in float); else f32 activations (ActivationPairing::Float).
template <float (*Conv)(uint16_t), bool HalfAct> float dotHalfLike(int64_t n, const void* wv, const std::byte* av) {
    const auto* w = static_cast<const uint16_t*>(wv);
    const auto x = [av](int64_t i) {
        if constexpr (HalfAct) return Conv(reinterpret_cast<const uint16_t*>(av)[i]);
        else return reinterpret_cast<const float*>(av)[i];
    };
    const int64_t whole = n - n % kDotLanes;
    float lanes[32] = {};
    for (int64_t i = 0; i < whole; i += 32)
        for (int k = 0; k < 32; ++k) lanes[k] = std::fma(Conv(w[i + k]), x(i + k), lanes[k]);
    float g[8];
    for (int k = 0; k < 8; ++k) g[k] = (lanes[k] + lanes[8 + k]) + (lanes[16 + k] + lanes[24 + k]);
    float tail = 0.0f;
    for (int64_t i = whole; i < n; ++i) tail = std::fma(Conv(w[i]), x(i), tail);
    return laneSum(g) + tail;
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
    {DType::Q2_K, S, columns<dotQ2_K>},
    {DType::Q3_K, S, columns<dotQ3_K>},
    {DType::Q4_K, S, columns<dotQ45K<false>>},
    {DType::Q5_K, S, columns<dotQ45K<true>>},
    {DType::Q6_K, S, columns<dotQ6_K>},
    {DType::IQ4_XS, S, columns<dotIq4Xs>},
    {DType::F16, S, columns<dotHalfLike<halfConv, true>>},
    {DType::BF16, S, columns<dotHalfLike<bf16Conv, true>>},
    {DType::F16, S, columns<dotHalfLike<halfConv, false>>, nullptr, nullptr, 0, DType::F32},
    {DType::BF16, S, columns<dotHalfLike<bf16Conv, false>>, nullptr, nullptr, 0, DType::F32},
};

}  // namespace

namespace detail {
const DotKernel* scalarDotKernels(size_t& count) {
    count = std::size(kScalar);
    return kScalar;
}
}  // namespace detail

const DotKernel* findDotKernel(DType t, cpu::SimdLevel level, ActivationPairing pairing) {
    // Float pairing exists for f16/bf16 only; every other type has ggml's pairing alone.
    const DType wantAct = pairing == ActivationPairing::Float && (t == DType::F16 || t == DType::BF16)
                              ? DType::F32
                              : DType::Count;
    if (level >= cpu::SimdLevel::Avx2) {
        size_t count = 0;
        const DotKernel* table = detail::x86DotKernels(count);
        const DotKernel* best = nullptr;
        for (size_t i = 0; i < count; ++i)
            if (table[i].weight == t && table[i].activation == wantAct && table[i].level <= level &&
                (!best || table[i].level > best->level))
                best = &table[i];
        if (best) return best;
    }
    for (const DotKernel& k : kScalar)
        if (k.weight == t && k.activation == wantAct) return &k;
    return nullptr;
}

int64_t DotKernel::blockElems() const {
    if (weight == DType::F16 || weight == DType::BF16) return 1;  // 32 lanes, then a tail of n % 32 values
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
