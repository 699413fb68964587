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

}  // namespace qs::ggml
