// SPDX-License-Identifier: GPL-3.0-or-later
// Row-interleaved ("repacked") q8_0, q4_0, q4_K and q6_K weights and the GEMM that runs on them: the prompt
// and decode path of PackedLinearWeights for these types on AVX2 and AVX-512 VNNI (the idea of ggml's repacked
// GEMMs, ggml-cpu/repack.cpp q4_0_8x8 / q8_0_4x8 / q4_K_8x8 with q8_K; our own layout of 16 rows). The K-quant
// layouts and their contract are described below the q8_0/q4_0 ones.
//
// Layout: rows in groups of kRepackRows = 16 (the last group padded with zero rows: scale 0, codes 0). Group g
// holds, block after block (n / 32 blocks of 32 values), a RepackedBlock:
//   - the 16 rows' fp16 scales d, row s at byte 2 s (32 bytes);
//   - q8_0: 8 chunks of 64 bytes; chunk k holds, for row s, the codes of values 4k..4k+3 at bytes 4 s .. 4 s + 3
//     (one 64-byte load: one 4-value group per row);
//   - q4_0: 4 chunks of 64 bytes; chunk k holds, for row s, the stored bytes qs[4k .. 4k+3] at 4 s .. 4 s + 3:
//     low nibbles are values 4k..4k+3, high nibbles values 16+4k .. 16+4k+3 (the value group k+4), as in
//     q4_0's own qs[j] (low: value j, high: value j + 16).
// The same bytes per block as the stored form (544 B = 16 x 34 for q8_0, 288 B = 16 x 18 for q4_0).
//
// Numerics (the contract of every path here; the SIMD paths equal the scalar reference gemmRef bit for bit):
// activations are quantized to q8_0 (ggml's quantize_row_q8_0 bytes, as ggml_vec_dot.h). For weight row r and
// activation column c, with S_b the exact int32 sum over block b of w_code * a_code (q4_0: w_code = q - 8),
// dw_b, da_b the fp16 scales as float:
//     acc = 0;  for b in block order: acc = fma(float(S_b), dw_b * da_b, acc);   y[c][r] = acc
// (one float lane per output: the float step of ggml's repacked x86 GEMMs, ggml-cpu/arch/x86/repack.cpp
// `acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc), _mm256_mul_ps(col_scale, row_scale), acc)`). This differs
// from ggml_vec_dot.h's eight-lane contract of the per-pair dots (DotFn) in the order of the float roundings
// only; both are within the activation quantization bound of dequantize-then-multiply.
//
// K-quants (q4_K, q6_K; super-blocks of 256 values): the same groups of 16 rows; per super-block
//   q4_K (2368 B = 16 x 144 + 64): d[16], dmin[16] (fp16, row s at 2 s); sc[8][16] (u8: sub-block j of row s
//     at 16 j + s); m: 4 x 32 bytes, pair p: byte 2 s = m[2p] of row s, 2 s + 1 = m[2p+1] (the int16 pairs of
//     vpdpwssd); then per sub-block j of 32 values 4 chunks of 64 bytes: chunk k, row s, byte i holds value
//     32 j + 8 k + i (low nibble) and 32 j + 8 k + 4 + i (high nibble);
//   q6_K (3360 B = 16 x 210): d[16] (fp16); sc[16][16] (int8, sub-block j of row s at 16 j + s); then per 32
//     values g (8 of them) 4 low-nibble chunks as q4_K's (values 32 g + 8 k + i and + 4) and 2 chunks of the
//     high 2 bits: chunk h, row s, byte i: bits 0-1, 2-3, 4-5, 6-7 = values 32 g + 16 h + i, + 4, + 8, + 12.
// Their activations are q8_K (ggml's quantize_row_q8_K: float scale da, int16 sums of 16 codes). For row r,
// column c and super-block b, with exact int32 sums (S_j over sub-block j of the code times the activation
// code; q6_K: S_j = sum (q - 32) a, computed as sum q a - 32 bsum_j; B_j the activation codes' sum over
// q4_K's sub-block j of 32):
//   q4_K: acc = fma(float(sum_j sc_j S_j), d * da, acc); acc = fma(float(sum_j m_j B_j), dmin * -da, acc)
//   q6_K: acc = fma(float(sum_j sc_j S_j), d * da, acc)
// (the float steps of ggml's q4_K_8x8 x86 GEMM, ggml-cpu/arch/x86/repack.cpp, with its min term folded into
// the same accumulator instead of a second one subtracted at the end). |sum_j sc_j S_j| < 2^28: exact in int32.
//
// Thread-safety: pure functions on caller-owned memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/tensor/dtype.h"
#include "core/util/cpu_features.h"

namespace qs::ggml {

inline constexpr int kRepackRows = 16;

// True for the types with a repacked GEMM: Q8_0, Q4_0, Q4_K and Q6_K.
bool repackable(DType t);
// Values per block of t (32, or 256 for the K-quants).
int64_t repackBlockElems(DType t);
// Bytes of one repacked block of 16 rows (544, 288, 2368, 3360), and of a whole [rows, cols] tensor (rows
// rounded up to 16).
size_t repackedBlockBytes(DType t);
size_t repackedBytes(DType t, int64_t rows, int64_t cols);
// src: rows x (cols / 32) stored blocks (ggml's layout); dst: repackedBytes(t, rows, cols) bytes.
void repack(DType t, const std::byte* src, int64_t rows, int64_t cols, std::byte* dst);
// The same for the groups [g0, g1) only (rows 16 g0 .. 16 g1 - 1 of src, into their place in dst).
void repackGroups(DType t, const std::byte* src, int64_t rows, int64_t cols, int64_t g0, int64_t g1, std::byte* dst);
// Row r's cols values dequantized from the repacked form: exactly ggml's dequantize_row (d * code).
void dequantizeRepackedRow(DType t, const std::byte* packed, int64_t cols, int64_t r, float* dst);

// Activations of the GEMM: per column, per block an ActBlock (the q8_0 codes, their scale as float and the
// offset term the kernels start their integer sum from). Column c starts at c * actColumnBytes(cols). The
// K-quants use ActBlockK per super-block instead: actColumnBytes(t, cols) covers both.
struct ActBlock {
    float d;       // the q8_0 block's fp16 scale, as float
    int32_t off;   // -o * sum(codes): o = 128 (q8_0 on VNNI: codes w + 128 unsigned), 8 (q4_0: codes q unsigned)
    int8_t qs[32];
};
struct ActBlockK {
    float d;             // the q8_K block's scale
    int32_t pad;
    int16_t bsum16[16];  // sums of the codes 16 j .. 16 j + 15 (ggml's bsums)
    int16_t bsum32[8];   // sums of the codes 32 j .. 32 j + 31
    int8_t qs[256];
};
size_t actColumnBytes(int64_t cols);           // q8_0 / q4_0
size_t actColumnBytes(DType t, int64_t cols);  // any repackable t
// x: [batch][cols] floats -> act (batch * actColumnBytes(t, cols) bytes); scratch: at least
// ggml::activationBytes(DType::Q8_0 or, for the K-quants, DType::Q8_K, cols) bytes (one activation row).
void prepareActivations(DType t, const float* x, int64_t batch, int64_t cols, std::byte* act, std::byte* scratch);

// One group of 16 rows (`group`: its first block) against nCols (1..kMaxGemmCols) activation columns
// (act, columns actColumnBytes(n) apart): out[c * 16 + s] = y for row s of the group and column c.
inline constexpr int kMaxGemmCols = 8;
using RepackGemmFn = void (*)(int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out);

struct RepackGemm {
    DType weight;
    cpu::SimdLevel level;  // the level its code needs
    RepackGemmFn gemm;
};
// The GEMM for t at the highest implemented level <= `level`, nullptr below AVX2 (callers keep the per-pair
// dots there) or for another type.
const RepackGemm* findRepackGemm(DType t, cpu::SimdLevel level);
// The scalar reference of the contract above (tests; every entry of findRepackGemm equals it bit for bit).
void gemmRef(DType t, int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out);

namespace detail {
const RepackGemm* x86RepackGemms(size_t& count);
const RepackGemm* x86RepackGemmsK(size_t& count);
// The K-quant halves of the functions above (ggml_repack_k.cpp).
void repackGroupsK(DType t, const std::byte* src, int64_t rows, int64_t cols, int64_t g0, int64_t g1, std::byte* dst);
void dequantizeRepackedRowK(DType t, const std::byte* packed, int64_t cols, int64_t r, float* dst);
void prepareActivationsK(const float* x, int64_t batch, int64_t cols, std::byte* act, std::byte* scratch);
void gemmRefK(DType t, int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out);
}

}  // namespace qs::ggml
