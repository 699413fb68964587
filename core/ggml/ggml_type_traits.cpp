// SPDX-License-Identifier: GPL-3.0-or-later
// The type table (see ggml_type_traits.h). Rows follow ggml-org/ggml d99724f2: ggml.c's type_traits (to_float,
// from_float_ref) and ggml-cpu.c's type_traits_cpu (from_float, vec_dot_type). Where QuantScope differs, the
// row says so: q8_1/q8_K, the activation formats, pair with nothing. f16/bf16 weights pair with f16/bf16
// activations as in ggml (the input rounded once per matmul; ggml_vec_dot.h also offers them f32 activations,
// ActivationPairing::Float, for checkpoints llama.cpp does not run). Rows without from_float_ref are types QuantScope
// decodes but does not quantize to (the i-quants below 4 bits need an importance matrix; ternary, FP4,
// q1_0/q2_0 are not offered yet). fromFloatWeighted is ggml's quant_weights path (llama-quantize --imatrix).
#include "core/ggml/ggml_type_traits.h"

#include <array>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_dequant_impl.h"
#include "core/ggml/ggml_quantize.h"
#include "core/util/check.h"

namespace qs::ggml {

// Each row names only the columns it has; the others keep TypeTraits' defaults (null, none). GCC 12 warns
// about designated initializers that leave members out, which is the point here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

using namespace detail;
using D = DType;

// A row of a type without ggml functions here: plain types, FP8/FP6/FP4, llama2.c Q8, C64.
constexpr TypeTraits none(DType t) { return TypeTraits{.type = t}; }

constexpr std::array<TypeTraits, size_t(DType::Count)> kTable{{
    none(D::BOOL), none(D::U8), none(D::I8), none(D::I16), none(D::U16), none(D::I32), none(D::U32),
    none(D::I64), none(D::U64), none(D::F64),
    {.type = D::F32, .vecDotType = D::F32},
    {.type = D::F16, .blockBytes = 2, .blockAlign = 1,  // decoded through memcpy: any alignment
     .toFloat = dequantF16, .fromFloatRef = quantizeF16, .vecDotType = D::F16,
     .scheme = {16, 2, 0, 0, 1, "IEEE half precision (16 bpw)"}},
    {.type = D::BF16, .blockBytes = 2, .blockAlign = 1,
     .toFloat = dequantBF16, .fromFloatRef = quantizeBF16, .vecDotType = D::BF16,
     .scheme = {16, 2, 0, 0, 1, "bfloat16 (16 bpw)"}},
    none(D::F8_E4M3), none(D::F8_E5M2), none(D::F8_E8M0), none(D::F6_E2M3), none(D::F6_E3M2), none(D::F4_E2M1),
    // Legacy 32-value blocks.
    {.type = D::Q4_0, .blockBytes = sizeof(BlockQ4_0), .blockAlign = alignof(BlockQ4_0),
     .toFloat = dequantQ4_0, .fromFloatRef = quantizeQ4_0Ref, .fromFloat = quantizeQ4_0Fast,
     .fromFloatWeighted = quantizeQ4_0Weighted, .vecDotType = D::Q8_0,
     .scheme = {4, 16, 2, 0, 32, "ggml 4-bit, blocks of 32 with an fp16 scale (4.5 bpw)"}},
    {.type = D::Q4_1, .blockBytes = sizeof(BlockQ4_1), .blockAlign = alignof(BlockQ4_1),
     .toFloat = dequantQ4_1, .fromFloatRef = quantizeQ4_1Ref, .fromFloatWeighted = quantizeQ4_1Weighted, .vecDotType = D::Q8_1,
     .scheme = {4, 16, 2, 2, 32, "ggml 4-bit, blocks of 32 with fp16 scale and minimum (5.0 bpw)"}},
    {.type = D::Q5_0, .blockBytes = sizeof(BlockQ5_0), .blockAlign = alignof(BlockQ5_0),
     .toFloat = dequantQ5_0, .fromFloatRef = quantizeQ5_0Ref, .fromFloatWeighted = quantizeQ5_0Weighted, .vecDotType = D::Q8_0,
     .scheme = {5, 20, 2, 0, 32, "ggml 5-bit, blocks of 32 with an fp16 scale (5.5 bpw)"}},
    {.type = D::Q5_1, .blockBytes = sizeof(BlockQ5_1), .blockAlign = alignof(BlockQ5_1),
     .toFloat = dequantQ5_1, .fromFloatRef = quantizeQ5_1Ref, .fromFloatWeighted = quantizeQ5_1Weighted, .vecDotType = D::Q8_1,
     .scheme = {5, 20, 2, 2, 32, "ggml 5-bit, blocks of 32 with fp16 scale and minimum (6.0 bpw)"}},
    {.type = D::Q8_0, .blockBytes = sizeof(BlockQ8_0), .blockAlign = alignof(BlockQ8_0),
     .toFloat = dequantQ8_0, .fromFloatRef = quantizeQ8_0Ref, .fromFloat = quantizeQ8_0Fast, .vecDotType = D::Q8_0,
     .scheme = {8, 32, 2, 0, 32, "ggml 8-bit, blocks of 32 with an fp16 scale (8.5 bpw)"}},
    // q8_1: an activation format (q4_1/q5_1's); its to_float reads it as q8_0 does (ggml has none).
    {.type = D::Q8_1, .blockBytes = sizeof(BlockQ8_1), .blockAlign = alignof(BlockQ8_1),
     .toFloat = dequantQ8_1, .fromFloatRef = quantizeQ8_1Ref},
    // K-quants: 256-value super-blocks.
    {.type = D::Q2_K, .blockBytes = sizeof(BlockQ2_K), .blockAlign = alignof(BlockQ2_K),
     .toFloat = dequantQ2_K, .fromFloatRef = quantizeQ2_KRef, .fromFloatWeighted = quantizeQ2_KWeighted, .vecDotType = D::Q8_K,
     .scheme = {2, 64, 10, 10, 16, "ggml K-quant 2-bit, 4-bit sub-block scales and mins (2.625 bpw)"}},
    {.type = D::Q3_K, .blockBytes = sizeof(BlockQ3_K), .blockAlign = alignof(BlockQ3_K),
     .toFloat = dequantQ3_K, .fromFloatRef = quantizeQ3_KRef, .fromFloatWeighted = quantizeQ3_KWeighted, .vecDotType = D::Q8_K,
     .scheme = {3, 96, 14, 0, 16, "ggml K-quant 3-bit, 6-bit sub-block scales (3.4375 bpw)"}},
    {.type = D::Q4_K, .blockBytes = sizeof(BlockQ4_K), .blockAlign = alignof(BlockQ4_K),
     .toFloat = dequantQ4_K, .fromFloatRef = quantizeQ4_KRef, .fromFloat = quantizeQ4_KFast,
     .fromFloatWeighted = quantizeQ4_KWeighted, .vecDotType = D::Q8_K,
     .scheme = {4, 128, 8, 8, 32, "ggml K-quant 4-bit, 6-bit sub-block scales and mins (4.5 bpw)"}},
    {.type = D::Q5_K, .blockBytes = sizeof(BlockQ5_K), .blockAlign = alignof(BlockQ5_K),
     .toFloat = dequantQ5_K, .fromFloatRef = quantizeQ5_KRef, .fromFloatWeighted = quantizeQ5_KWeighted, .vecDotType = D::Q8_K,
     .scheme = {5, 160, 8, 8, 32, "ggml K-quant 5-bit, 6-bit sub-block scales and mins (5.5 bpw)"}},
    {.type = D::Q6_K, .blockBytes = sizeof(BlockQ6_K), .blockAlign = alignof(BlockQ6_K),
     .toFloat = dequantQ6_K, .fromFloatRef = quantizeQ6_KRef, .fromFloatWeighted = quantizeQ6_KWeighted, .vecDotType = D::Q8_K,
     .scheme = {6, 192, 18, 0, 16, "ggml K-quant 6-bit, 8-bit sub-block scales (6.5625 bpw)"}},
    // q8_K: the K-quants' activation format.
    {.type = D::Q8_K, .blockBytes = sizeof(BlockQ8_K), .blockAlign = alignof(BlockQ8_K),
     .toFloat = dequantQ8_K, .fromFloatRef = quantizeQ8_KRef},
    // i-quants: iq4_nl/iq4_xs are quantized (with or without importance); the others decoded only.
    {.type = D::IQ2_XXS, .blockBytes = sizeof(BlockIq2Xxs), .blockAlign = alignof(BlockIq2Xxs),
     .toFloat = dequantIq2Xxs, .vecDotType = D::Q8_K},
    {.type = D::IQ2_XS, .blockBytes = sizeof(BlockIq2Xs), .blockAlign = alignof(BlockIq2Xs),
     .toFloat = dequantIq2Xs, .vecDotType = D::Q8_K},
    {.type = D::IQ3_XXS, .blockBytes = sizeof(BlockIq3Xxs), .blockAlign = alignof(BlockIq3Xxs),
     .toFloat = dequantIq3Xxs, .vecDotType = D::Q8_K},
    {.type = D::IQ1_S, .blockBytes = sizeof(BlockIq1S), .blockAlign = alignof(BlockIq1S),
     .toFloat = dequantIq1S, .vecDotType = D::Q8_K},
    {.type = D::IQ4_NL, .blockBytes = sizeof(BlockIq4Nl), .blockAlign = alignof(BlockIq4Nl),
     .toFloat = dequantIq4Nl, .fromFloatRef = quantizeIq4NlRef,
     .fromFloatWeighted = quantizeIq4NlWeighted, .vecDotType = D::Q8_0,
     .scheme = {4, 16, 2, 0, 32, "ggml 4-bit non-linear codebook, blocks of 32 (4.5 bpw)"}},
    {.type = D::IQ3_S, .blockBytes = sizeof(BlockIq3S), .blockAlign = alignof(BlockIq3S),
     .toFloat = dequantIq3S, .vecDotType = D::Q8_K},
    {.type = D::IQ2_S, .blockBytes = sizeof(BlockIq2S), .blockAlign = alignof(BlockIq2S),
     .toFloat = dequantIq2S, .vecDotType = D::Q8_K},
    {.type = D::IQ4_XS, .blockBytes = sizeof(BlockIq4Xs), .blockAlign = alignof(BlockIq4Xs),
     .toFloat = dequantIq4Xs, .fromFloatRef = quantizeIq4XsRef, .fromFloatWeighted = quantizeIq4XsWeighted,
     .vecDotType = D::Q8_K,
     .scheme = {4, 128, 8, 0, 32, "ggml 4-bit non-linear codebook, 6-bit scales per 32 in blocks of 256 (4.25 bpw)"}},
    {.type = D::IQ1_M, .blockBytes = sizeof(BlockIq1M), .blockAlign = alignof(BlockIq1M),
     .toFloat = dequantIq1M, .vecDotType = D::Q8_K},
    // Ternary, FP4 and 1/2-bit types.
    {.type = D::TQ1_0, .blockBytes = sizeof(BlockTq1_0), .blockAlign = alignof(BlockTq1_0),
     .toFloat = dequantTq1_0, .vecDotType = D::Q8_K},
    {.type = D::TQ2_0, .blockBytes = sizeof(BlockTq2_0), .blockAlign = alignof(BlockTq2_0),
     .toFloat = dequantTq2_0, .vecDotType = D::Q8_K},
    {.type = D::MXFP4, .blockBytes = sizeof(BlockMxfp4), .blockAlign = alignof(BlockMxfp4),
     .toFloat = dequantMxfp4, .vecDotType = D::Q8_0},
    {.type = D::NVFP4, .blockBytes = sizeof(BlockNvfp4), .blockAlign = alignof(BlockNvfp4),
     .toFloat = dequantNvfp4, .vecDotType = D::Q8_0},
    {.type = D::Q1_0, .blockBytes = sizeof(BlockQ1_0), .blockAlign = alignof(BlockQ1_0),
     .toFloat = dequantQ1_0, .vecDotType = D::Q8_0},
    {.type = D::Q2_0, .blockBytes = sizeof(BlockQ2_0), .blockAlign = alignof(BlockQ2_0),
     .toFloat = dequantQ2_0, .vecDotType = D::Q8_0},
    // llama2.c Q8: decoded by Checkpoint's decodeToFloat with the file's group size.
    none(D::Llama2cQ8), none(D::C64),
}};

constexpr bool inEnumOrder() {
    for (size_t i = 0; i < kTable.size(); ++i)
        if (size_t(kTable[i].type) != i) return false;
    return true;
}
static_assert(inEnumOrder(), "type table rows must follow the DType enum order");

#pragma GCC diagnostic pop

}  // namespace

const TypeTraits& typeTraits(DType t) {
    QS_CHECK(size_t(t) < kTable.size(), "dtype " + std::to_string(int(t)));
    return kTable[size_t(t)];
}

std::span<const TypeTraits> typeTraitsTable() { return kTable; }

const TypeTraits* findTypeTraits(std::string_view ggmlName) {
    if (ggmlName.empty()) return nullptr;
    for (const TypeTraits& r : kTable)
        if (r.info().ggmlName == ggmlName) return &r;
    return nullptr;
}

const TypeTraits* findSchemeStorage(std::string_view schemeName) {
    if (const TypeTraits* r = findTypeTraits(schemeName)) return r;
    constexpr std::string_view kIm = "_im";
    if (!schemeName.ends_with(kIm)) return nullptr;
    const TypeTraits* r = findTypeTraits(schemeName.substr(0, schemeName.size() - kIm.size()));
    return r && r->fromFloatWeighted ? r : nullptr;
}

}  // namespace qs::ggml
