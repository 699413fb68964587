// SPDX-License-Identifier: GPL-3.0-or-later
// Dequantizers of ggml's i-quants (iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m, iq4_xs), written
// from the layouts in ggml_blocks.h with the float expression order of ggml's dequantize_row_* in
// ggml/src/ggml-quants.c (scale products grouped left to right, integers converted before multiplying), so
// every output float is bit-identical to ggml's. Grids: ggml_iq_grids.h. Reads assume a little-endian host,
// as GGUF and ggml do.
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_dequant_impl.h"
#include "core/ggml/ggml_iq_grids.h"
#include "core/ggml/ggml_math.h"

namespace qs::ggml::detail {

namespace {

// The 1/8 shift added to every iq1 grid value (ggml-common.h IQ1S_DELTA, equal to IQ1M_DELTA).
constexpr float kIq1Delta = 0.125f;

// Writes 8 values scale * magnitude * sign, the sign of value j being bit j of signs.
inline void put8Signed(float* y, float scale, uint64_t grid, uint8_t signs) {
    for (int j = 0; j < 8; ++j) y[j] = scale * float(gridByte(grid, j)) * ((signs >> j) & 1 ? -1.f : 1.f);
}

// The same for two 4-value grid entries (iq3): g1 gives values 0..3, g2 values 4..7.
inline void put4x2Signed(float* y, float scale, uint32_t g1, uint32_t g2, uint8_t signs) {
    for (int j = 0; j < 4; ++j) {
        y[j + 0] = scale * float(gridByte(g1, j)) * ((signs >> j) & 1 ? -1.f : 1.f);
        y[j + 4] = scale * float(gridByte(g2, j)) * ((signs >> (j + 4)) & 1 ? -1.f : 1.f);
    }
}

// Eight iq1 values dl * (g + delta), g the int8 bytes of the grid entry.
inline void put8Iq1(float* y, float dl, uint64_t grid, float delta) {
    for (int j = 0; j < 8; ++j) y[j] = dl * (float(int8_t(gridByte(grid, j))) + delta);
}

}  // namespace

void dequantIq2Xxs(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq2Xxs*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        for (int ib32 = 0; ib32 < kQKK / 32; ++ib32) {
            uint8_t idx[4];
            uint32_t aux;
            std::memcpy(idx, x[i].qs + 4 * ib32, 4);
            std::memcpy(&aux, x[i].qs + 4 * ib32 + 2, 4);
            const float db = d * (0.5f + float(aux >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l, y += 8)
                put8Signed(y, db, kIq2xxsGrid[idx[l]], kIq2xsSigns[(aux >> (7 * l)) & 127]);
        }
    }
}

void dequantIq2Xs(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq2Xs*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        for (int ib32 = 0; ib32 < kQKK / 32; ++ib32) {
            const float db[2] = {d * (0.5f + float(x[i].scales[ib32] & 0xf)) * 0.25f,
                                 d * (0.5f + float(x[i].scales[ib32] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l, y += 8) {
                const uint16_t q = x[i].qs[4 * ib32 + l];
                put8Signed(y, db[l / 2], kIq2xsGrid[q & 511], kIq2xsSigns[q >> 9]);
            }
        }
    }
}

void dequantIq2S(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq2S*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        const uint8_t* qs = x[i].qs;
        const uint8_t* signs = x[i].qs + kQKK / 8;  // the second half of qs holds explicit sign bytes
        for (int ib32 = 0; ib32 < kQKK / 32; ++ib32, qs += 4, signs += 4) {
            const float db[2] = {d * (0.5f + float(x[i].scales[ib32] & 0xf)) * 0.25f,
                                 d * (0.5f + float(x[i].scales[ib32] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l, y += 8) {
                const int idx = qs[l] | ((x[i].qh[ib32] << (8 - 2 * l)) & 0x300);
                put8Signed(y, db[l / 2], kIq2sGrid[idx], signs[l]);
            }
        }
    }
}

void dequantIq3Xxs(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq3Xxs*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        const uint8_t* qs = x[i].qs;
        const uint8_t* scalesAndSigns = x[i].qs + kQKK / 4;
        for (int ib32 = 0; ib32 < kQKK / 32; ++ib32, qs += 8) {
            uint32_t aux;
            std::memcpy(&aux, scalesAndSigns + 4 * ib32, 4);
            const float db = d * (0.5f + float(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; ++l, y += 8)
                put4x2Signed(y, db, kIq3xxsGrid[qs[2 * l]], kIq3xxsGrid[qs[2 * l + 1]],
                             kIq2xsSigns[(aux >> (7 * l)) & 127]);
        }
    }
}

void dequantIq3S(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq3S*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        const uint8_t* qs = x[i].qs;
        const uint8_t* signs = x[i].signs;
        // Each ib32 has one qh byte (the 9th index bit of its eight indices) and takes its scale from a
        // nibble of scales[ib32 / 2].
        for (int ib32 = 0; ib32 < kQKK / 32; ++ib32, qs += 8, signs += 4) {
            const uint8_t sc = x[i].scales[ib32 / 2];
            const float db = d * float(1 + 2 * ((ib32 % 2 ? sc >> 4 : sc) & 0xf));
            const int qh = x[i].qh[ib32];
            for (int l = 0; l < 4; ++l, y += 8) {
                const int i1 = qs[2 * l + 0] | ((qh << (8 - 2 * l)) & 256);
                const int i2 = qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
                put4x2Signed(y, db, kIq3sGrid[i1], kIq3sGrid[i2], signs[l]);
            }
        }
    }
}

void dequantIq1S(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq1S*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        const uint8_t* qs = x[i].qs;
        for (int ib = 0; ib < kQKK / 32; ++ib, qs += 4) {
            const uint16_t qh = x[i].qh[ib];
            const float dl = d * float(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
            for (int l = 0; l < 4; ++l, y += 8)
                put8Iq1(y, dl, kIq1sGrid[qs[l] | (((qh >> (3 * l)) & 7) << 8)], delta);
        }
    }
}

void dequantIq1M(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq1M*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        uint16_t sc[4];
        std::memcpy(sc, x[i].scales, sizeof sc);
        // The fp16 super-block scale is the top nibble of each of the four scale words.
        const uint16_t scaleBits =
            uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        const float d = fromHalf(scaleBits);
        const uint8_t* qs = x[i].qs;
        const uint8_t* qh = x[i].qh;
        for (int ib = 0; ib < kQKK / 32; ++ib, qs += 4, qh += 2) {
            const float dl1 = d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1);
            const float dl2 = d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1);
            const int idx[4] = {qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700),
                                qs[2] | ((qh[1] << 8) & 0x700), qs[3] | ((qh[1] << 4) & 0x700)};
            const float delta[4] = {
                qh[0] & 0x08 ? -kIq1Delta : kIq1Delta, qh[0] & 0x80 ? -kIq1Delta : kIq1Delta,
                qh[1] & 0x08 ? -kIq1Delta : kIq1Delta, qh[1] & 0x80 ? -kIq1Delta : kIq1Delta};
            for (int l = 0; l < 4; ++l, y += 8) put8Iq1(y, l < 2 ? dl1 : dl2, kIq1sGrid[idx[l]], delta[l]);
        }
    }
}

void dequantIq4Xs(const void* src, float* y, int64_t n) {
    const auto* x = static_cast<const BlockIq4Xs*>(src);
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float d = fromHalf(x[i].d);
        const uint8_t* qs = x[i].qs;
        for (int ib = 0; ib < kQKK / 32; ++ib, y += 32, qs += 16) {
            const int ls =
                ((x[i].scalesL[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x[i].scalesH >> (2 * ib)) & 3) << 4);
            const float dl = d * float(ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j + 0] = dl * float(kIq4nlValues[qs[j] & 0xf]);
                y[j + 16] = dl * float(kIq4nlValues[qs[j] >> 4]);
            }
        }
    }
}

}  // namespace qs::ggml::detail
