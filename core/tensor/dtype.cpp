// SPDX-License-Identifier: GPL-3.0-or-later
// The dtype table. Block sizes follow the block structs of ggml's ggml-common.h (QK_K = 256 super-blocks,
// 32-value legacy blocks) and the GGUF type ids follow enum ggml_type in ggml.h (ids 4, 5, 31..33 and 36..38
// are retired layouts that GGUF files no longer carry; checked against ggml-org/ggml d99724f2, GGML_TYPE_COUNT
// 43). Plain element sizes follow safetensors' Dtype::bitsize.
#include "core/tensor/dtype.h"

#include <array>

#include "core/util/check.h"

namespace qs {

namespace {

constexpr int kDTypeCount = int(DType::Count);

// One row per DType, in enum order (checked below).
struct Row {
    DType type;
    DTypeInfo info;
};

constexpr std::array<Row, kDTypeCount> kTable{{
    // Plain types: {name, ggmlName, blockElems, blockBits, ggmlId, isFloatPlain}
    {DType::BOOL, {"BOOL", "", 1, 8, -1, false}},
    {DType::U8, {"U8", "", 1, 8, -1, false}},
    {DType::I8, {"I8", "i8", 1, 8, 24, false}},
    {DType::I16, {"I16", "i16", 1, 16, 25, false}},
    {DType::U16, {"U16", "", 1, 16, -1, false}},
    {DType::I32, {"I32", "i32", 1, 32, 26, false}},
    {DType::U32, {"U32", "", 1, 32, -1, false}},
    {DType::I64, {"I64", "i64", 1, 64, 27, false}},
    {DType::U64, {"U64", "", 1, 64, -1, false}},
    {DType::F64, {"F64", "f64", 1, 64, 28, true}},
    {DType::F32, {"F32", "f32", 1, 32, 0, true}},
    {DType::F16, {"F16", "f16", 1, 16, 1, true}},
    {DType::BF16, {"BF16", "bf16", 1, 16, 30, true}},
    {DType::F8_E4M3, {"F8_E4M3", "", 1, 8, -1, true}},
    {DType::F8_E5M2, {"F8_E5M2", "", 1, 8, -1, true}},
    {DType::F8_E8M0, {"F8_E8M0", "", 1, 8, -1, true}},
    {DType::F6_E2M3, {"F6_E2M3", "", 1, 6, -1, true}},
    {DType::F6_E3M2, {"F6_E3M2", "", 1, 6, -1, true}},
    {DType::F4_E2M1, {"F4", "", 1, 4, -1, true}},  // safetensors spells FP4 E2M1 "F4"
    // ggml block types: bytes per block = sizeof(block_*) in ggml-common.h.
    {DType::Q4_0, {"Q4_0", "q4_0", 32, 18 * 8, 2, false}},     // fp16 d + 16 nibble bytes
    {DType::Q4_1, {"Q4_1", "q4_1", 32, 20 * 8, 3, false}},     // fp16 d, m + 16
    {DType::Q5_0, {"Q5_0", "q5_0", 32, 22 * 8, 6, false}},     // fp16 d + 4 qh + 16
    {DType::Q5_1, {"Q5_1", "q5_1", 32, 24 * 8, 7, false}},     // fp16 d, m + 4 qh + 16
    {DType::Q8_0, {"Q8_0", "q8_0", 32, 34 * 8, 8, false}},     // fp16 d + 32
    {DType::Q8_1, {"Q8_1", "q8_1", 32, 36 * 8, 9, false}},     // fp16 d, s + 32
    {DType::Q2_K, {"Q2_K", "q2_K", 256, 84 * 8, 10, false}},   // 16 scales + 64 qs + fp16 d, dmin
    {DType::Q3_K, {"Q3_K", "q3_K", 256, 110 * 8, 11, false}},  // 32 hmask + 64 qs + 12 scales + fp16 d
    {DType::Q4_K, {"Q4_K", "q4_K", 256, 144 * 8, 12, false}},  // fp16 d, dmin + 12 scales + 128 qs
    {DType::Q5_K, {"Q5_K", "q5_K", 256, 176 * 8, 13, false}},  // fp16 d, dmin + 12 scales + 32 qh + 128 qs
    {DType::Q6_K, {"Q6_K", "q6_K", 256, 210 * 8, 14, false}},  // 128 ql + 64 qh + 16 scales + fp16 d
    {DType::Q8_K, {"Q8_K", "q8_K", 256, 292 * 8, 15, false}},  // fp32 d + 256 qs + 16 int16 bsums
    {DType::IQ2_XXS, {"IQ2_XXS", "iq2_xxs", 256, 66 * 8, 16, false}},  // fp16 d + 32 uint16
    {DType::IQ2_XS, {"IQ2_XS", "iq2_xs", 256, 74 * 8, 17, false}},    // fp16 d + 32 uint16 + 8 scales
    {DType::IQ3_XXS, {"IQ3_XXS", "iq3_xxs", 256, 98 * 8, 18, false}},  // fp16 d + 96
    {DType::IQ1_S, {"IQ1_S", "iq1_s", 256, 50 * 8, 19, false}},      // fp16 d + 32 qs + 8 uint16 qh
    {DType::IQ4_NL, {"IQ4_NL", "iq4_nl", 32, 18 * 8, 20, false}},     // fp16 d + 16
    {DType::IQ3_S, {"IQ3_S", "iq3_s", 256, 110 * 8, 21, false}},     // fp16 d + 64 qs + 8 qh + 32 signs + 4 scales
    {DType::IQ2_S, {"IQ2_S", "iq2_s", 256, 82 * 8, 22, false}},      // fp16 d + 64 qs + 8 qh + 8 scales
    {DType::IQ4_XS, {"IQ4_XS", "iq4_xs", 256, 136 * 8, 23, false}},   // fp16 d + uint16 scales_h + 4 scales_l + 128
    {DType::IQ1_M, {"IQ1_M", "iq1_m", 256, 56 * 8, 29, false}},      // 32 qs + 16 qh + 8 scales (scale inside)
    {DType::TQ1_0, {"TQ1_0", "tq1_0", 256, 54 * 8, 34, false}},      // 48 qs + 4 qh + fp16 d
    {DType::TQ2_0, {"TQ2_0", "tq2_0", 256, 66 * 8, 35, false}},      // 64 qs + fp16 d
    {DType::MXFP4, {"MXFP4", "mxfp4", 32, 17 * 8, 39, false}},       // E8M0 exponent + 16 nibble bytes
    {DType::NVFP4, {"NVFP4", "nvfp4", 64, 36 * 8, 40, false}},       // 4 UE4M3 sub-block scales + 32 nibble bytes
    {DType::Q1_0, {"Q1_0", "q1_0", 128, 18 * 8, 41, false}},        // fp16 d + 16 sign-bit bytes
    {DType::Q2_0, {"Q2_0", "q2_0", 64, 18 * 8, 42, false}},         // fp16 d + 16 bytes of 2-bit codes
    // llama2.c v2: the int8 codes are one byte each; the fp32 scales that follow depend on the group size
    // (llama2cQ8Bytes), so dtypeBytes() refuses this type.
    {DType::Llama2cQ8, {"Q8 (llama2.c)", "", 1, 8, -1, false}},
    {DType::C64, {"C64", "", 1, 64, -1, false}},
}};

constexpr bool tableInEnumOrder() {
    for (int i = 0; i < kDTypeCount; ++i)
        if (int(kTable[size_t(i)].type) != i) return false;
    return true;
}
static_assert(tableInEnumOrder(), "kTable rows must follow the DType enum order");

}  // namespace

const DTypeInfo& dtypeInfo(DType t) {
    QS_CHECK(size_t(t) < size_t(kDTypeCount), "dtype " + std::to_string(int(t)));
    return kTable[size_t(t)].info;
}

std::string_view dtypeName(DType t) { return dtypeInfo(t).name; }

std::optional<DType> dtypeFromSafetensorsName(std::string_view name) {
    // Only the plain types are safetensors dtypes (block types never appear in a safetensors header).
    for (const Row& r : kTable) {
        if (r.info.blockElems != 1 || r.type == DType::Llama2cQ8) continue;
        if (r.info.name == name) return r.type;
    }
    return std::nullopt;
}

std::optional<DType> dtypeFromGgmlId(uint32_t id) {
    for (const Row& r : kTable)
        if (r.info.ggmlId >= 0 && uint32_t(r.info.ggmlId) == id) return r.type;
    return std::nullopt;
}

std::optional<uint64_t> dtypeBytes(DType t, uint64_t elements) {
    if (t == DType::Llama2cQ8) return std::nullopt;
    const DTypeInfo& info = dtypeInfo(t);
    const uint64_t be = uint64_t(info.blockElems);
    const uint64_t bits = uint64_t(info.blockBits);
    if (elements % be != 0) return std::nullopt;
    const uint64_t blocks = elements / be;
    uint64_t totalBits = 0;
    if (__builtin_mul_overflow(blocks, bits, &totalBits)) return std::nullopt;
    // Sub-byte types pack into whole bytes only (safetensors rejects a tensor ending mid-byte).
    if (totalBits % 8 != 0) return std::nullopt;
    return totalBits / 8;
}

uint64_t llama2cQ8Bytes(uint64_t elements, int group) {
    QS_CHECK(group > 0, "llama2.c Q8 group " + std::to_string(group));
    return elements + 4 * (elements / uint64_t(group));
}

}  // namespace qs
