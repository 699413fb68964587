// SPDX-License-Identifier: GPL-3.0-or-later
// The repacked q4_K / q6_K layout, their q8_K activations and the scalar reference of their GEMM contract
// (ggml_repack.h). Compiled with -ffp-contract=off (core/CMakeLists.txt): every fused multiply-add is the
// explicit std::fma, and the dequantized rows round exactly as ggml's dequantize_row_q4_K / _q6_K.
#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_repack.h"
#include "core/ggml/ggml_repack_k_layout.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/util/check.h"

namespace qs::ggml::detail {

namespace {

using namespace kq;

static_assert(sizeof(ActBlockK) == 312);

// Where value v of row s sits in the repacked block: the byte of its low nibble (q4_K: its code) and whether
// it is the high nibble.
size_t nibbleByte(size_t codes, int v, int s, bool& high) {
    const int w = v % 32, k = w / 8;
    high = w % 8 >= 4;
    return codes + size_t(4 * (v / 32) + k) * kChunk + size_t(4 * s + w % 4);
}
size_t q6NibbleByte(int v, int s, bool& high) {
    const int w = v % 32, k = w / 8;
    high = w % 8 >= 4;
    return kQ6Codes + size_t(v / 32) * kQ6Group + size_t(k) * kChunk + size_t(4 * s + w % 4);
}
// q6_K: the byte and shift of value v's two high bits.
size_t q6HighByte(int v, int s, int& shift) {
    const int w = v % 32, h = w / 16, u = w % 16;
    shift = 2 * (u / 4);
    return kQ6Codes + size_t(v / 32) * kQ6Group + 4 * kChunk + size_t(h) * kChunk + size_t(4 * s + u % 4);
}

uint16_t half16(const std::byte* blk, size_t off, int s) {
    uint16_t h;
    std::memcpy(&h, blk + off + 2 * size_t(s), 2);
    return h;
}

// Row s of a stored block into its repacked block (byte loops over whole 4-value groups: loading is not slowed
// by the per-value address arithmetic the readers below use).
void packQ4K(const BlockQ4_K& b, int s, uint8_t* out) {
    std::memcpy(out + kQ4D + 2 * s, &b.d, 2);
    std::memcpy(out + kQ4Dmin + 2 * s, &b.dmin, 2);
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        scaleMinK4(j, b.scales, sc, m);
        out[kQ4Sc + 16 * j + s] = sc;
        out[kQ4Min + 32 * (j / 2) + 2 * s + j % 2] = m;
        // Sub-block j: value w is byte 32 (j / 2) + w of qs, low nibble for even j, high for odd j.
        const uint8_t* src = b.qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int k = 0; k < 4; ++k)
            for (int i = 0; i < 4; ++i)
                out[kQ4Codes + size_t(4 * j + k) * kChunk + size_t(4 * s + i)] =
                    uint8_t(((src[8 * k + i] >> shift) & 15) | (((src[8 * k + 4 + i] >> shift) & 15) << 4));
    }
}

void packQ6K(const BlockQ6_K& b, int s, uint8_t* out) {
    std::memcpy(out + kQ6D + 2 * s, &b.d, 2);
    for (int j = 0; j < 16; ++j) out[kQ6Sc + 16 * j + s] = uint8_t(b.scales[j]);
    for (int g = 0; g < 8; ++g) {
        // Values 32 g + w: half h = g / 4 of the block, quarter q = g % 4: low bits in ql[64 h + 32 (q % 2) + w]
        // (low nibble for q < 2), high bits at 2 q of qh[32 h + w] (ggml_blocks.h).
        const int h = g / 4, q = g % 4;
        const uint8_t* ql = b.ql + 64 * h + (q % 2) * 32;
        const uint8_t* qh = b.qh + 32 * h;
        const int lowShift = q < 2 ? 0 : 4, highShift = 2 * q;
        uint8_t* grp = out + kQ6Codes + size_t(g) * kQ6Group;
        const auto low = [&](int w) { return (ql[w] >> lowShift) & 15; };
        const auto high = [&](int w) { return (qh[w] >> highShift) & 3; };
        for (int k = 0; k < 4; ++k)
            for (int i = 0; i < 4; ++i)
                grp[size_t(k) * kChunk + size_t(4 * s + i)] = uint8_t(low(8 * k + i) | (low(8 * k + 4 + i) << 4));
        for (int hh = 0; hh < 2; ++hh)
            for (int i = 0; i < 4; ++i)
                grp[4 * kChunk + size_t(hh) * kChunk + size_t(4 * s + i)] =
                    uint8_t(high(16 * hh + i) | (high(16 * hh + 4 + i) << 2) | (high(16 * hh + 8 + i) << 4) |
                            (high(16 * hh + 12 + i) << 6));
    }
}

// Row s's code of value v in a repacked block.
int packedCode(DType t, const std::byte* blk, int v, int s) {
    const auto* u = reinterpret_cast<const uint8_t*>(blk);
    // The byte index first, in its own statement: it sets `high`/`shift`, which the shift then reads (one
    // expression relied on C++17's operand order of >>; GCC 12's UBSan saw `high` read uninitialised).
    bool high = false;
    if (t == DType::Q4_K) {
        const size_t at = nibbleByte(kQ4Codes, v, s, high);
        return (u[at] >> (high ? 4 : 0)) & 15;
    }
    const size_t lowAt = q6NibbleByte(v, s, high);
    const int low = (u[lowAt] >> (high ? 4 : 0)) & 15;
    int shift = 0;
    const size_t highAt = q6HighByte(v, s, shift);
    return low | (((u[highAt] >> shift) & 3) << 4);
}

}  // namespace

void repackGroupsK(DType t, const std::byte* src, int64_t rows, int64_t cols, int64_t g0, int64_t g1, std::byte* dst) {
    const int64_t nb = cols / kQKK;
    const size_t blockBytes = repackedBlockBytes(t);
    std::memset(dst + size_t(g0 * nb) * blockBytes, 0, size_t((g1 - g0) * nb) * blockBytes);
    for (int64_t g = g0; g < g1; ++g)
        for (int64_t b = 0; b < nb; ++b) {
            auto* out = reinterpret_cast<uint8_t*>(dst + size_t(g * nb + b) * blockBytes);
            for (int s = 0; s < kRepackRows; ++s) {
                const int64_t row = g * kRepackRows + s;
                if (row >= rows) break;  // padding rows: all zero (scales 0)
                if (t == DType::Q4_K)
                    packQ4K(reinterpret_cast<const BlockQ4_K*>(src)[row * nb + b], s, out);
                else
                    packQ6K(reinterpret_cast<const BlockQ6_K*>(src)[row * nb + b], s, out);
            }
        }
}

void dequantizeRepackedRowK(DType t, const std::byte* packed, int64_t cols, int64_t r, float* dst) {
    const int64_t nb = cols / kQKK, g = r / kRepackRows;
    const int s = int(r % kRepackRows);
    const size_t blockBytes = repackedBlockBytes(t);
    for (int64_t b = 0; b < nb; ++b, dst += kQKK) {
        const std::byte* blk = packed + size_t(g * nb + b) * blockBytes;
        const auto* u = reinterpret_cast<const uint8_t*>(blk);
        if (t == DType::Q4_K) {
            const float d = fromHalf(half16(blk, kQ4D, s)), min = fromHalf(half16(blk, kQ4Dmin, s));
            for (int j = 0; j < 8; ++j) {
                const float dj = d * float(u[kQ4Sc + 16 * j + s]), mj = min * float(u[kQ4Min + 32 * (j / 2) + 2 * s + j % 2]);
                for (int v = 32 * j; v < 32 * j + 32; ++v) dst[v] = dj * float(packedCode(t, blk, v, s)) - mj;
            }
        } else {
            const float d = fromHalf(half16(blk, kQ6D, s));
            for (int v = 0; v < kQKK; ++v)
                dst[v] = d * float(int8_t(u[kQ6Sc + 16 * (v / 16) + s])) * float(packedCode(t, blk, v, s) - 32);
        }
    }
}

void prepareActivationsK(const float* x, int64_t batch, int64_t cols, std::byte* act, std::byte* scratch) {
    const int64_t nb = cols / kQKK;
    for (int64_t c = 0; c < batch; ++c) {
        quantizeActivations(DType::Q8_K, x + c * cols, scratch, cols);
        const auto* q = reinterpret_cast<const BlockQ8_K*>(scratch);
        auto* out = reinterpret_cast<ActBlockK*>(act + size_t(c) * actColumnBytes(DType::Q4_K, cols));
        for (int64_t b = 0; b < nb; ++b) {
            out[b].d = q[b].d;
            out[b].pad = 0;
            std::memcpy(out[b].bsum16, q[b].bsums, sizeof(out[b].bsum16));
            for (int j = 0; j < 8; ++j) out[b].bsum32[j] = int16_t(q[b].bsums[2 * j] + q[b].bsums[2 * j + 1]);
            std::memcpy(out[b].qs, q[b].qs, kQKK);
        }
    }
}

void gemmRefK(DType t, int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out) {
    const int64_t nb = n / kQKK;
    const size_t blockBytes = repackedBlockBytes(t);
    for (int c = 0; c < nCols; ++c) {
        const auto* a = reinterpret_cast<const ActBlockK*>(act + size_t(c) * actColumnBytes(t, n));
        for (int s = 0; s < kRepackRows; ++s) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                const std::byte* blk = group + size_t(b) * blockBytes;
                const auto* u = reinterpret_cast<const uint8_t*>(blk);
                const int subLen = t == DType::Q4_K ? 32 : 16;
                int32_t sumi = 0;
                for (int j = 0; j < kQKK / subLen; ++j) {
                    int32_t isum = t == DType::Q6_K ? -32 * a[b].bsum16[j] : 0;
                    for (int v = j * subLen; v < (j + 1) * subLen; ++v) isum += packedCode(t, blk, v, s) * a[b].qs[v];
                    const int sc = t == DType::Q4_K ? int(u[kQ4Sc + 16 * j + s]) : int(int8_t(u[kQ6Sc + 16 * j + s]));
                    sumi += sc * isum;
                }
                if (t == DType::Q4_K) {
                    int32_t summ = 0;
                    for (int j = 0; j < 8; ++j) summ += int(u[kQ4Min + 32 * (j / 2) + 2 * s + j % 2]) * a[b].bsum32[j];
                    acc = std::fma(float(sumi), fromHalf(half16(blk, kQ4D, s)) * a[b].d, acc);
                    acc = std::fma(float(summ), fromHalf(half16(blk, kQ4Dmin, s)) * -a[b].d, acc);
                } else {
                    acc = std::fma(float(sumi), fromHalf(half16(blk, kQ6D, s)) * a[b].d, acc);
                }
            }
            out[c * kRepackRows + s] = acc;
        }
    }
}

}  // namespace qs::ggml::detail
