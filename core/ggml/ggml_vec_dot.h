// SPDX-License-Identifier: GPL-3.0-or-later
// Native dot products of stored weight rows with activations, ggml's vec_dot shape: the activations of a
// matmul are quantized ONCE to the type the weight type pairs with, the vecDotType column of the type table
// (ggml_type_traits.h; ggml's `vec_dot_type`): q8_0 for q4_0/q5_0/q8_0/iq4_nl, q8_1 for q4_1/q5_1 (it carries
// d*sum(q) for their minimum term), q8_K for the K-quants (q2_K ... q6_K) and iq4_xs; f16 weights pair with
// f16 activations and bf16 with bf16 (ggml-cpu.c type_traits_cpu: the input is rounded to the weight's 16-bit
// type once per matmul, round to nearest even, as llama.cpp's CPU backend and its llamafile sgemm do). Then
// each weight row is dotted with them in integer arithmetic per block (exact), scaled in float. f16/bf16 also
// have kernels with f32 activations (ActivationPairing::Float below), for checkpoints llama.cpp does not run.
//
// q8_0 and q4_0 weights at AVX2 and above do not run these dots in the engine: PackedLinearWeights repacks them
// into the 16-row interleaved layout of ggml_repack.h, whose GEMM has its own contract (one float lane per
// output, not the eight below); the entries here remain the scalar-level path and the reference for the other
// legacy types.
//
// Numerics (the contract every path keeps, so the SIMD paths equal the scalar reference bit for bit):
//  - legacy 32-value blocks: eight float lanes; lane k accumulates, block by block, fma(dw*da, S_k, lane_k)
//    where S_k is the exact integer sum of the products of values 4k..4k+3 of the block; q4_1/q5_1 add
//    their minimum terms mw*sa in a separate float sum, in block order; the lanes are summed as
//    ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
//  - q2_K, q3_K and iq4_xs: the super-block's scaled integer sums are exact int32; the float sum runs over
//    super-blocks in order: sum += (da*dw)*float(isum) [- (da*dmin)*float(msum)].
//  - q4_K, q5_K, q6_K: eight exact int32 lane sums per super-block (lane k: bytes 4k..4k+3 of every 32-value
//    chunk times its sub-block scale; the minimum/offset terms from the q8_K bsums, lane k from sub-block k or
//    the pair 2k, 2k+1); float lanes acc_k = fma(da*dw, float(I_k), acc_k) [mn_k = fma(da*dmin, float(M_k),
//    mn_k)], summed once per row as below: laneSum(acc) - laneSum(mn) (the layout of ggml's AVX2 dots, which
//    keep float vector accumulators across super-blocks).
//  - f16/bf16: 32 float lanes, lane k accumulates fma(w[i+k], x[i+k], lane) over i in steps of 32 (w and x
//    both 16-bit, their product exact in float); the four groups of eight are added ((g0+g1)+(g2+g3)), then
//    summed as above; the last n % 32 values (any n) accumulate in order in one float, tail = fma(w, x, tail),
//    added last: laneSum + tail.
// Activation quantizers reproduce ggml's quantize_row_q8_0/q8_1/q8_K reference bytes.
//
// Thread-safety: pure functions. Shapes: n values per row, a whole number of the type's blocks (q8_K: 256,
// others 32; f16/bf16: any n >= 1).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/ggml/ggml_type_traits.h"
#include "core/tensor/dtype.h"
#include "core/util/cpu_features.h"

namespace qs::ggml {

// The block kernels' rows are a multiple of this (legacy blocks are 32); the f16/bf16 dots run 32 float
// lanes and a tail.
inline constexpr int kDotLanes = 32;

// out[c] = dot(weight row w, activation row a + c * aStride) for c < nCols (1..4), n values each.
using DotFn = void (*)(int64_t n, const void* w, const std::byte* a, size_t aStride, int nCols, float* out);
using QuantizeActFn = void (*)(const float* x, std::byte* a, int64_t n);
// Decode (one activation row): out[r] = dot(weight row r, a) for r < nRows, the rows rowBytes apart; each
// out[r] equals what DotFn gives for that row with nCols = 1, bit for bit (one call per run of rows saves the
// per-row call and shares the activation loads).
using DotRowsFn = void (*)(int64_t n, const std::byte* w, size_t rowBytes, int64_t nRows, const std::byte* a,
                           float* out);

// Prompt tile: tileRows consecutive weight rows (rowBytes apart) against nCols (1..4) activation rows (aStride
// apart): out[c * ldOut + r] = dot(weight row r, activation row c), each bit for bit what DotFn gives for that
// pair (the weight block is unpacked once per row for all columns, the activation block once for all rows).
using DotTileFn = void (*)(int64_t n, const std::byte* w, size_t rowBytes, const std::byte* a, size_t aStride,
                           int nCols, float* out, size_t ldOut);

// One kernel per (weight type, SIMD level), listed in ggml_vec_dot*.cpp. What it pairs with and the row
// granularity come from the type table, never from the list.
struct DotKernel {
    DType weight;
    cpu::SimdLevel level;  // the level this entry's code needs (<= the level asked for)
    DotFn dot;
    DotRowsFn rows = nullptr;  // optional decode path (nullptr: callers loop over rows with dot)
    DotTileFn tile = nullptr;  // optional prompt path over tileRows rows (nullptr: callers use dot per row)
    int tileRows = 0;
    // Count: ggml's pairing, the type table's vecDotType. F32: an f16/bf16 kernel of ActivationPairing::Float.
    DType activation = DType::Count;
    // The activation type: typeTraits(weight).vecDotType (F16, BF16, Q8_0, Q8_1 or Q8_K), or `activation`.
    DType act() const { return activation != DType::Count ? activation : typeTraits(weight).vecDotType; }
    // n must be a multiple of this: the weight's and the activation's blocks, and kDotLanes; 1 for f16/bf16.
    int64_t blockElems() const;
};

// Which activations f16/bf16 weights take. Ggml: their own 16-bit type, as llama.cpp's CPU backend (the
// engine's choice for tensors a GGUF stores and for ggml types a map quantizes to: what llama.cpp runs).
// Float: f32 activations, the float arithmetic transformers runs a safetensors checkpoint's f16/bf16 weights
// with in float32 (the engine's choice for tensors stored in non-GGUF files). Other types: ggml's pairing only.
enum class ActivationPairing { Ggml, Float };

// The kernel for weights of type t at the highest implemented level <= `level`; nullptr when t has no native
// kernel. Callers also check n % blockElems == 0.
const DotKernel* findDotKernel(DType t, cpu::SimdLevel level, ActivationPairing pairing = ActivationPairing::Ggml);

// Bytes of n activations of type `act` (a DotKernel::act(); n a multiple of its block), and the quantizer
// writing them: the type table's from_float (ggml's reference bytes; q8_0 uses the AVX2/AVX-512 quantizer of
// ggml_simd.cpp when present; f16/bf16: round to nearest even, ggml_cpu_fp32_to_fp16/bf16); f32 activations
// are the input itself.
size_t activationBytes(DType act, int64_t n);
void quantizeActivations(DType act, const float* x, std::byte* a, int64_t n);
const char* actTypeName(DType act);  // ggml's name: "f16", "bf16", "q8_0", "q8_1", "q8_K"

namespace detail {
// Scalar references (ggml_vec_dot.cpp) and x86 paths (ggml_vec_dot_x86.cpp).
const DotKernel* scalarDotKernels(size_t& count);
const DotKernel* x86DotKernels(size_t& count);
}  // namespace detail

}  // namespace qs::ggml
