// SPDX-License-Identifier: GPL-3.0-or-later
// The type table's function columns, ggml's `type_traits` (ggml.c: to_float, from_float_ref) and
// `type_traits_cpu` (ggml-cpu.c: from_float, vec_dot_type) in one row per DType. The facts columns (name,
// ggml name, GGUF id, block elements and bits) are DTypeInfo in core/tensor/dtype.h, below this layer; a row
// here reaches them through info(). Every consumer reads this table: the dequantizer and quantizer dispatch
// (ggml_dequant.cpp, ggml_quantize.cpp), the ggml scheme family (one scheme per row with from_float_ref and a
// scheme layout), the native dot kernels' activation pairing (ggml_vec_dot.h), Checkpoint::toFloat through
// dtypeConvertibleToFloat, and the tests, which iterate it so a new row is tested without a test edit.
//
// Adding a ggml type: its DType (enum and facts row in dtype.cpp), its block struct (ggml_blocks.h), its
// functions, and one row in ggml_type_traits.cpp. The native dot kernels stay listed per SIMD level in
// ggml_vec_dot*.cpp keyed by weight DType; the activation type they are called with is this table's
// vecDotType, never restated there.
//
// Not rows: RTN intN and bitsandbytes nf4/fp4 are schemes parameterised by bits and group (their Scheme
// computes their bytes), not storage types. llama2.c's Q8 (DType::Llama2cQ8) has a row without to_float:
// its scales follow all codes with a per-file group, so Checkpoint's decodeToFloat decodes it with the group.
//
// Thread safety: the table is immutable; every function in it is pure and re-entrant.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/tensor/dtype.h"

namespace qs::ggml {

// n values (a whole number of the type's blocks) from packed blocks at src, aligned to TypeTraits::blockAlign.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// n finite values (whole blocks) into packed blocks at dst.
using FromFloatFn = void (*)(const float* x, void* dst, int64_t n);
// As FromFloatFn; returns false (writing nothing) when this CPU lacks the instructions the kernel needs.
using FastFromFloatFn = bool (*)(const float* x, void* dst, int64_t n);

// One row of nPerRow finite values (whole blocks) into packed blocks at dst, with per-column importance
// qw[nPerRow] (finite, >= 0): ggml_quantize_chunk(type, x, dst, 0, 1, nPerRow, qw).
using WeightedFromFloatFn = void (*)(const float* x, void* dst, int64_t nPerRow, const float* qw);

// How the ggml scheme of a type presents and accounts its bytes (quant/ggml_scheme.cpp). Present only
// on rows offered as quantization schemes.
struct SchemeLayout {
    double nominalBits = 0;  // code bits (4 for q4_K); 0 = the row is not offered as a scheme
    // Bytes of one block by kind: payload (codes incl. high-bit planes), scales, zeros (mins). K-quant scale
    // bytes that also hold mins are divided by the bits each uses. payload + scales + zeros = block bytes.
    int payload = 0, scales = 0, zeros = 0;
    int scaleBlockElems = 0;  // values sharing one (sub-)block scale: the unit clipping is counted in
    const char* description = nullptr;  // one line for tooltips
};

struct TypeTraits {
    DType type = DType::Count;
    int blockBytes = 0;  // sizeof the block struct the functions read and write (ggml type_size); 0: none
    int blockAlign = 1;  // alignof that struct: toFloat needs src aligned to it
    ToFloatFn toFloat = nullptr;            // bit-exact with ggml's to_float (dequantize_row_*)
    FromFloatFn fromFloatRef = nullptr;     // byte-exact with ggml's quantize_row_*_ref; null: we do not quantize to it
    FastFromFloatFn fromFloat = nullptr;    // optimised (AVX2/AVX-512), same bytes; null: fromFloatRef is used
    // ggml's quantize_<type> with quant_weights (the imatrix path of llama-quantize), byte-exact; null: ggml
    // ignores quant_weights for the type (q8_0, f16, bf16) or we do not implement it.
    WeightedFromFloatFn fromFloatWeighted = nullptr;
    DType vecDotType = DType::Count;        // activations a native dot of these weights takes; Count: none
    SchemeLayout scheme;

    const DTypeInfo& info() const { return dtypeInfo(type); }
    bool hasVecDotType() const { return vecDotType != DType::Count; }
    bool isScheme() const { return fromFloatRef != nullptr && scheme.nominalBits > 0; }
};

// The row of type t (every DType has one; rows of types ggml has no function for are empty).
const TypeTraits& typeTraits(DType t);
// Every row, in DType order.
std::span<const TypeTraits> typeTraitsTable();
// The row whose ggml name (DTypeInfo::ggmlName, e.g. "q4_K") is `ggmlName` exactly, or nullptr.
const TypeTraits* findTypeTraits(std::string_view ggmlName);
// The row whose blocks the ggml scheme `schemeName` (canonical registry name) writes: "q4_K" and its
// importance-weighted variant "q4_K_im" both write q4_K blocks (GGUF type id, kernels, footprint). nullptr
// when the name is neither a row's ggml name nor one with "_im" on a row with fromFloatWeighted.
const TypeTraits* findSchemeStorage(std::string_view schemeName);

}  // namespace qs::ggml
