// SPDX-License-Identifier: GPL-3.0-or-later
// Storage types of tensors as checkpoints hold them: the union of safetensors' dtypes, ggml's types (with
// their GGUF type ids) and llama2.c v2's split Q8 layout. A block type stores `blockElems` values in
// `blockBits / 8` bytes; plain types have blockElems == 1. Sub-byte plain types (F4, F6) are described by bits.
//
// The type table, ggml's `type_traits` shape, in two column groups joined by DType (as ggml splits ggml.c's
// type_traits from ggml-cpu's type_traits_cpu):
//  - here, the facts every layer needs (name, ggml name, GGUF id, block elements and bits): DTypeInfo,
//    readers and sizes depend on nothing else;
//  - core/ggml/ggml_type_traits.h, the functions (to_float, from_float_ref, from_float, the vec_dot_type
//    the native dot kernels pair with, the block struct, the ggml scheme's byte split), one row per DType.
// RTN intN and bitsandbytes nf4/fp4 are not storage types: they are schemes parameterised by bits and group
// (core/quant/rtn, core/quant/bnb), whose bytes their Scheme computes; a checkpoint never holds them as a
// dtype. llama2.c's Q8 is a row here (Llama2cQ8), but its size depends on the file's group size.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace qs {

enum class DType : uint16_t {
    // Plain element types (safetensors names; GGUF uses some of them too).
    BOOL, U8, I8, I16, U16, I32, U32, I64, U64,
    F64, F32, F16, BF16, F8_E4M3, F8_E5M2, F8_E8M0, F6_E2M3, F6_E3M2, F4_E2M1,
    // ggml block types (GGUF type ids in dtypeInfo().ggmlId).
    Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
    Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
    IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, IQ1_M,
    TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0,
    // llama2.c v2 ("version 2") Q8: int8[n] followed by float32 scales[n / group]; group in TensorView.
    Llama2cQ8,
    // safetensors "C64": complex64, two float32 (real, imaginary). Listed so such files open; not convertible.
    C64,
    Count
};

struct DTypeInfo {
    std::string_view name;      // "F32", "Q4_K", ... as safetensors and GGUF tools display it
    std::string_view ggmlName;  // ggml's type_name ("f32", "q4_K", "iq2_xxs"), "" if ggml has no such type
    int blockElems;         // values per block (1 for plain types)
    int blockBits;          // bits per block (8 * bytes; sub-byte plain types: 4 or 6)
    int ggmlId;             // GGUF/ggml type id, -1 if ggml has none
    bool isFloatPlain;      // a plain floating-point type
};

const DTypeInfo& dtypeInfo(DType t);
std::string_view dtypeName(DType t);

// Lookups by the names/ids the formats use. Unknown names/ids give nullopt (a reader reports them).
std::optional<DType> dtypeFromSafetensorsName(std::string_view name);
std::optional<DType> dtypeFromGgmlId(uint32_t id);

// Exact storage size of `elements` values of type t, or nullopt when elements is not a whole number of
// blocks (or for Llama2cQ8, whose size depends on the group: use llama2cQ8Bytes).
std::optional<uint64_t> dtypeBytes(DType t, uint64_t elements);
uint64_t llama2cQ8Bytes(uint64_t elements, int group);

}  // namespace qs
