// SPDX-License-Identifier: GPL-3.0-or-later
// Row-interleaved ("repacked") q8_0 and q4_0 weights and the GEMM that runs on them: the prompt and decode
// path of PackedLinearWeights for these two types on AVX2 and AVX-512 VNNI (the idea of ggml's repacked
// GEMMs, ggml-cpu/repack.cpp q4_0_8x8 / q8_0_4x8; our own layout of 16 rows).
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
// Thread-safety: pure functions on caller-owned memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/tensor/dtype.h"
#include "core/util/cpu_features.h"

namespace qs::ggml {

inline constexpr int kRepackRows = 16;

// True for the types with a repacked GEMM: Q8_0 and Q4_0.
bool repackable(DType t);
// Bytes of one repacked block of 16 rows (544 or 288), and of a whole [rows, cols] tensor (rows rounded up to 16).
size_t repackedBlockBytes(DType t);
size_t repackedBytes(DType t, int64_t rows, int64_t cols);
// src: rows x (cols / 32) stored blocks (ggml's layout); dst: repackedBytes(t, rows, cols) bytes.
void repack(DType t, const std::byte* src, int64_t rows, int64_t cols, std::byte* dst);
// The same for the groups [g0, g1) only (rows 16 g0 .. 16 g1 - 1 of src, into their place in dst).
void repackGroups(DType t, const std::byte* src, int64_t rows, int64_t cols, int64_t g0, int64_t g1, std::byte* dst);
// Row r's cols values dequantized from the repacked form: exactly ggml's dequantize_row (d * code).
void dequantizeRepackedRow(DType t, const std::byte* packed, int64_t cols, int64_t r, float* dst);

// Activations of the GEMM: per column, per block an ActBlock (the q8_0 codes, their scale as float and the
// offset term the kernels start their integer sum from). Column c starts at c * actColumnBytes(cols).
struct ActBlock {
    float d;       // the q8_0 block's fp16 scale, as float
    int32_t off;   // -o * sum(codes): o = 128 (q8_0 on VNNI: codes w + 128 unsigned), 8 (q4_0: codes q unsigned)
    int8_t qs[32];
};
size_t actColumnBytes(int64_t cols);
// x: [batch][cols] floats -> act (batch * actColumnBytes(cols) bytes); scratch: at least
// ggml::activationBytes(DType::Q8_0, cols) bytes (one q8_0 row).
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
}

}  // namespace qs::ggml
