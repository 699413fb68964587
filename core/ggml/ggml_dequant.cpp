// SPDX-License-Identifier: GPL-3.0-or-later
// Dequantizers of ggml block types, transcribing ggml's dequantize_row_* (ggml/src/ggml-quants.c) with the
// same expression order so every output float is bit-identical. Layouts: ggml_blocks.h. This file holds the
// legacy and K-quant types and the dispatch through the type table's to_float column (ggml_type_traits.cpp);
// the i-quants are in ggml_dequant_iq.cpp, the rest in ggml_dequant_other.cpp.
#include "core/ggml/ggml_dequant.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_dequant_impl.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_type_traits.h"
#include "core/tensor/half.h"
#include "core/util/cpu_features.h"

namespace qs::ggml {

namespace {
template <class Block>
const Block* blocks(const void* src) {
    return static_cast<const Block*>(src);
}
}  // namespace

namespace detail {

void dequantQ4_0(const void* src, float* y, int64_t n) {
    static const bool kAvx2 = cpu::simdLevel() >= cpu::SimdLevel::Avx2;
    if (kAvx2) return dequantQ4_0Avx2(src, y, n);
    dequantQ4_0Scalar(src, y, n);
}

void dequantQ4_0Scalar(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ4_0>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = detail::fromHalf(x[i].d);
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = float((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + kQK / 2] = float((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantQ4_1(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ4_1>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = detail::fromHalf(x[i].d), m = detail::fromHalf(x[i].m);
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = float(x[i].qs[j] & 0x0F) * d + m;
            y[j + kQK / 2] = float(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantQ5_0(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ5_0>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = detail::fromHalf(x[i].d);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < kQK / 2; ++j) {
            const int h0 = int(((qh >> j) << 4) & 0x10);
            const int h1 = int((qh >> (j + 12)) & 0x10);
            y[j] = float(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
            y[j + kQK / 2] = float(((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

void dequantQ5_1(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ5_1>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = detail::fromHalf(x[i].d), m = detail::fromHalf(x[i].m);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < kQK / 2; ++j) {
            const int h0 = int(((qh >> j) << 4) & 0x10);
            const int h1 = int((qh >> (j + 12)) & 0x10);
            y[j] = float((x[i].qs[j] & 0x0F) | h0) * d + m;
            y[j + kQK / 2] = float((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

void dequantQ8_0(const void* src, float* y, int64_t n) {
    static const bool kAvx2 = cpu::simdLevel() >= cpu::SimdLevel::Avx2;
    if (kAvx2) return dequantQ8_0Avx2(src, y, n);
    dequantQ8_0Scalar(src, y, n);
}

void dequantQ8_0Scalar(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ8_0>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = detail::fromHalf(x[i].d);
        for (int j = 0; j < kQK; ++j) y[j] = float(x[i].qs[j]) * d;
    }
}

void dequantQ2_K(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ2_K>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = detail::fromHalf(x[i].d), min = detail::fromHalf(x[i].dmin);
        const uint8_t* q = x[i].qs;
        int is = 0;
        for (int nn = 0; nn < kQKK; nn += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * float(sc & 0xF), ml = min * float(sc >> 4);
                    for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void dequantQ3_K(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ3_K>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float dAll = detail::fromHalf(x[i].d);
        // Unpack the 16 signed 6-bit scales: low nibbles from bytes 0..7, two high bits from bytes 8..11.
        int8_t scales[16];
        for (int j = 0; j < 16; ++j) {
            const int lo = j < 8 ? (x[i].scales[j] & 0xF) : (x[i].scales[j - 8] >> 4);
            const int hi = (x[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3;
            scales[j] = int8_t(lo | (hi << 4));
        }
        const uint8_t* q = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int nn = 0; nn < kQKK; nn += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
                for (int half = 0; half < 2; ++half) {
                    const float dl = dAll * float(scales[is++] - 32);
                    for (int l = 0; l < 16; ++l) {
                        const int k = l + 16 * half;
                        *y++ = dl * float(((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
                    }
                }
            }
        }
    }
}

void dequantQ4_K(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ4_K>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const uint8_t* q = x[i].qs;
        const float d = detail::fromHalf(x[i].d), min = detail::fromHalf(x[i].dmin);
        int is = 0;
        for (int j = 0; j < kQKK; j += 64, q += 32, is += 2) {
            uint8_t sc, m;
            detail::scaleMinK4(is + 0, x[i].scales, sc, m);
            const float d1 = d * float(sc), m1 = min * float(m);
            detail::scaleMinK4(is + 1, x[i].scales, sc, m);
            const float d2 = d * float(sc), m2 = min * float(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
        }
    }
}

void dequantQ5_K(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ5_K>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const uint8_t* ql = x[i].qs;
        const uint8_t* qh = x[i].qh;
        const float d = detail::fromHalf(x[i].d), min = detail::fromHalf(x[i].dmin);
        int is = 0;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < kQKK; j += 64, ql += 32, is += 2) {
            uint8_t sc, m;
            detail::scaleMinK4(is + 0, x[i].scales, sc, m);
            const float d1 = d * float(sc), m1 = min * float(m);
            detail::scaleMinK4(is + 1, x[i].scales, sc, m);
            const float d2 = d * float(sc), m2 = min * float(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            u1 = uint8_t(u1 << 2);
            u2 = uint8_t(u2 << 2);
        }
    }
}

void dequantQ6_K(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockQ6_K>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = detail::fromHalf(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int nn = 0; nn < kQKK; nn += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = int((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = int((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * float(sc[is + 0]) * float(q1);
                y[l + 32] = d * float(sc[is + 2]) * float(q2);
                y[l + 64] = d * float(sc[is + 4]) * float(q3);
                y[l + 96] = d * float(sc[is + 6]) * float(q4);
            }
        }
    }
}

void dequantIq4Nl(const void* src, float* y, int64_t n) {
    const auto* x = blocks<BlockIq4Nl>(src);
    for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
        const float d = detail::fromHalf(x[i].d);
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = d * float(kIq4nlValues[x[i].qs[j] & 0xF]);
            y[j + kQK / 2] = d * float(kIq4nlValues[x[i].qs[j] >> 4]);
        }
    }
}

void dequantF16(const void* src, float* y, int64_t n) {
    const auto* s = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        y[i] = detail::fromHalf(h);
    }
}

void dequantBF16(const void* src, float* y, int64_t n) {
    const auto* s = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        y[i] = bf16ToFloat(h);
    }
}

}  // namespace detail

bool hasDequantizer(DType t) { return typeTraits(t).toFloat != nullptr; }

bool dequantize(DType t, const void* src, float* dst, int64_t n) {
    const TypeTraits& row = typeTraits(t);
    const ToFloatFn fn = row.toFloat;
    if (!fn) return false;
    const size_t align = size_t(row.blockAlign);
    if (reinterpret_cast<uintptr_t>(src) % align == 0) {
        fn(src, dst, n);
        return true;
    }
    // A GGUF may declare general.alignment 1, so blocks can sit at any address. Reading a block struct there
    // is undefined behaviour: decode through an aligned copy, a chunk of blocks at a time.
    const int64_t be = row.info().blockElems, bb = row.info().blockBits / 8, chunkBlocks = 256;
    std::vector<uint32_t> buf(size_t((chunkBlocks * bb + 3) / 4));
    const auto* p = static_cast<const uint8_t*>(src);
    for (int64_t done = 0; done < n;) {
        const int64_t blocksNow = std::min<int64_t>(chunkBlocks, (n - done) / be);
        if (blocksNow == 0) break;  // a partial block (callers pass whole blocks)
        std::memcpy(buf.data(), p + done / be * bb, size_t(blocksNow * bb));
        fn(buf.data(), dst + done, blocksNow * be);
        done += blocksNow * be;
    }
    return true;
}

}  // namespace qs::ggml
