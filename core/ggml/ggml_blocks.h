// SPDX-License-Identifier: GPL-3.0-or-later
// ggml's block layouts, byte for byte as ggml-common.h defines them and GGUF files store them (little-endian).
// Every struct is a plain byte layout (fp16 values kept as raw uint16_t bits) so a block can be memcpy'd to
// and from a GGUF tensor. The static_asserts pin the sizes GGUF readers rely on.
//
// Shared conventions: "d" is the fp16 block scale, "dmin"/"m" an fp16 minimum; "qs" holds the low bits of
// the codes, "qh"/"hmask" their high bits. K-quants group QK_K = 256 values in a super-block with 6-bit or
// 4-bit sub-block scales quantized against the fp16 super-block scale.
#pragma once

#include <cstdint>

namespace qs::ggml {

inline constexpr int kQK = 32;    // values per legacy block (q4_0 .. q8_0, iq4_nl)
inline constexpr int kQKK = 256;  // values per K-quant super-block

// q4_0: x = d * (q - 8), q in 0..15. Byte j holds value j (low nibble) and value j+16 (high nibble).
struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// q4_1: x = d * q + m, q in 0..15, same nibble order as q4_0.
struct BlockQ4_1 {
    uint16_t d, m;
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// q5_0: x = d * (q - 16), q in 0..31. Low nibbles as q4_0; bit 4 of value j is bit j of the 32-bit qh.
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// q5_1: x = d * q + m, q in 0..31, bit layout as q5_0.
struct BlockQ5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// q8_0: x = d * q, q a signed byte.
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34);

// q2_K: 16 sub-blocks of 16. scales[j] = 4-bit scale (low) | 4-bit min (high);
// x = d*sc*q - dmin*m, q in 0..3. qs: per 128 values, byte l holds values l, l+32, l+64, l+96 (2 bits each).
struct BlockQ2_K {
    uint8_t scales[kQKK / 16];
    uint8_t qs[kQKK / 4];
    uint16_t d, dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// q3_K: 16 sub-blocks of 16 with signed 6-bit scales (stored +32; low 4 bits in scales[0..7] nibbles, high 2
// bits in scales[8..11]); x = d*(sc-32)*(q-4), q in 0..7: 2 low bits in qs (as q2_K), the third bit in
// hmask (value j: byte j%32, bit j/32).
struct BlockQ3_K {
    uint8_t hmask[kQKK / 8];
    uint8_t qs[kQKK / 4];
    uint8_t scales[12];
    uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes (see get_scale_min_k4);
// x = d*sc*q - dmin*m, q in 0..15. qs: per 64 values, byte l holds value l (low) and l+32 (high).
struct BlockQ4_K {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// q5_K: as q4_K with a fifth bit per value in qh (value 64*i + l: bit 2i of qh[l]; value 64*i+32+l: bit 2i+1).
struct BlockQ5_K {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[kQKK / 8];
    uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// q6_K: 16 sub-blocks of 16 with signed 8-bit scales; x = d*sc*(q-32), q in 0..63: 4 low bits in ql,
// 2 high bits in qh (per 128 values: ql[l] = v[l] | v[l+64]<<4, ql[l+32] = v[l+32] | v[l+96]<<4,
// qh[l] = v[l]>>4 | v[l+32]>>4<<2 | v[l+64]>>4<<4 | v[l+96]>>4<<6).
struct BlockQ6_K {
    uint8_t ql[kQKK / 2];
    uint8_t qh[kQKK / 4];
    int8_t scales[kQKK / 16];
    uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// iq4_nl: x = d * kIq4nlValues[q]; nibble order as q4_0.
struct BlockIq4Nl {
    uint16_t d;
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockIq4Nl) == 18);

// The non-linear 4-bit codebook of iq4_nl (ggml-common.h kvalues_iq4nl), sorted ascending.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// ---- Types GGUF files carry that QuantScope decodes but does not quantize to (ggml_dequant_*.cpp). ----
// Sub-blocks of 32 values inside a 256-value super-block are called "ib32" below as in ggml.

// q8_1: x = d * q as q8_0; s = d * sum(q) (fp16) serves ggml's dot products only.
struct BlockQ8_1 {
    uint16_t d, s;
    int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_1) == 36);

// q8_K: x = d * q with an fp32 d; bsums (sums of 16 codes) serve ggml's dot products only.
struct BlockQ8_K {
    float d;
    int8_t qs[kQKK];
    int16_t bsums[kQKK / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// iq2_xxs: per ib32 four uint16 (eight bytes): bytes 0..3 index kIq2xxsGrid (8 magnitudes each); the last
// uint32 holds four 7-bit sign indices (kIq2xsSigns, bits 0..27) and a 4-bit scale (bits 28..31):
// x = d * (0.5 + s) / 4 * grid * sign.
struct BlockIq2Xxs {
    uint16_t d;
    uint16_t qs[kQKK / 8];
};
static_assert(sizeof(BlockIq2Xxs) == 66);

// iq2_xs: qs = 9-bit kIq2xsGrid index | 7-bit sign index << 9, one per 8 values; scales: two 4-bit scales per
// ib32 (first and second 16 values), x = d * (0.5 + s) / 4 * grid * sign.
struct BlockIq2Xs {
    uint16_t d;
    uint16_t qs[kQKK / 8];
    uint8_t scales[kQKK / 32];
};
static_assert(sizeof(BlockIq2Xs) == 74);

// iq2_s: qs[0..31] low 8 bits of 10-bit kIq2sGrid indices (2 high bits per index in qh, 4 indices per byte),
// qs[32..63] explicit 8-sign bytes; scales as iq2_xs.
struct BlockIq2S {
    uint16_t d;
    uint8_t qs[kQKK / 4];
    uint8_t qh[kQKK / 32];
    uint8_t scales[kQKK / 32];
};
static_assert(sizeof(BlockIq2S) == 82);

// iq3_xxs: qs[0..63] kIq3xxsGrid indices (4 magnitudes each); then per ib32 a uint32 of four 7-bit sign
// indices and a 4-bit scale: x = d * (0.5 + s) / 2 * grid * sign.
struct BlockIq3Xxs {
    uint16_t d;
    uint8_t qs[3 * kQKK / 8];
};
static_assert(sizeof(BlockIq3Xxs) == 98);

// iq3_s: 9-bit kIq3sGrid indices (low 8 bits in qs, 9th bit in qh), explicit sign bits, 4-bit scales per
// ib32 pair: x = d * (1 + 2 s) * grid * sign.
struct BlockIq3S {
    uint16_t d;
    uint8_t qs[kQKK / 4];
    uint8_t qh[kQKK / 32];
    uint8_t signs[kQKK / 8];
    uint8_t scales[kQKK / 64];
};
static_assert(sizeof(BlockIq3S) == 110);

// iq1_s: 11-bit kIq1sGrid indices (values -1, 0, 1): low 8 bits in qs, 3 high bits per index in qh[ib32]
// bits 0..11; qh bits 12..14 a 3-bit scale, bit 15 the sign of a shift: x = d * (2 s + 1) * (grid +- 1/8).
struct BlockIq1S {
    uint16_t d;
    uint8_t qs[kQKK / 8];
    uint16_t qh[kQKK / 32];
};
static_assert(sizeof(BlockIq1S) == 50);

// iq1_m: as iq1_s with the shift sign per 8 values (qh bits 3 and 7), 3-bit scales per 16 values in scales
// (four uint16 words, 12 bits each) and the fp16 super-block scale spread over their top nibbles.
struct BlockIq1M {
    uint8_t qs[kQKK / 8];
    uint8_t qh[kQKK / 16];
    uint8_t scales[kQKK / 32];
};
static_assert(sizeof(BlockIq1M) == 56);

// iq4_xs: kIq4nlValues codes with a 6-bit scale per ib32 (low 4 bits in scales_l nibbles, high 2 bits in
// scales_h): x = d * (ls - 32) * kIq4nlValues[q]; nibble order per ib32 as q4_0.
struct BlockIq4Xs {
    uint16_t d;
    uint16_t scalesH;
    uint8_t scalesL[kQKK / 64];
    uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockIq4Xs) == 136);

// tq1_0: ternary x = d * (t - 1), t in 0..2. A byte holds five (qs) or four (qh) trits as a base-3
// fixed-point fraction, byte = ceil(256 * (t0 t1 t2 t3 t4)_3 / 243); trit n = (uint8(byte * 3^n) * 3) >> 8.
// Value order: qs[0..31] trit 0, 1, ... 4 (32 values each), then qs[32..47] likewise (16 each), then qh
// trits 0..3 (4 each).
struct BlockTq1_0 {
    uint8_t qs[(kQKK - 4 * kQKK / 64) / 5];
    uint8_t qh[kQKK / 64];
    uint16_t d;
};
static_assert(sizeof(BlockTq1_0) == 54);

// tq2_0: ternary x = d * (q - 1), q in 0..3 two bits each (per 128 values as q2_K's qs).
struct BlockTq2_0 {
    uint8_t qs[kQKK / 4];
    uint16_t d;
};
static_assert(sizeof(BlockTq2_0) == 66);

// mxfp4 (OCP MX v1.0): 32 FP4 E2M1 codes sharing an E8M0 exponent e: x = 2^(e-127) * e2m1(q). ggml stores
// e2m1 doubled (kFp4Values) and halves the scale. Nibble order as q4_0.
struct BlockMxfp4 {
    uint8_t e;
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockMxfp4) == 17);

// nvfp4: 64 FP4 E2M1 codes in four sub-blocks of 16, each with an unsigned E4M3 scale (bias 7);
// nibble order per sub-block as q4_0.
inline constexpr int kQKNvfp4 = 64;
struct BlockNvfp4 {
    uint8_t d[kQKNvfp4 / 16];
    uint8_t qs[kQKNvfp4 / 2];
};
static_assert(sizeof(BlockNvfp4) == 36);

// q1_0: 128 values of x = +-d, bit j of the codes (LSB first) set for +d.
inline constexpr int kQK1_0 = 128;
struct BlockQ1_0 {
    uint16_t d;
    uint8_t qs[kQK1_0 / 8];
};
static_assert(sizeof(BlockQ1_0) == 18);

// q2_0: 64 values of x = d * (q - 1), q in 0..3 two bits each, value j in bits 2(j%4) of byte j/4.
inline constexpr int kQK2_0 = 64;
struct BlockQ2_0 {
    uint16_t d;
    uint8_t qs[kQK2_0 / 4];
};
static_assert(sizeof(BlockQ2_0) == 18);

}  // namespace qs::ggml
