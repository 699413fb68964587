// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/ggml/ggml_quantize.h"

#include <cstring>

#include "core/ggml/ggml_type_traits.h"
#include "core/tensor/half.h"

namespace qs::ggml {

namespace detail {

// ggml stores F16/BF16 tensors element by element with its scalar conversions (ggml_fp32_to_fp16_row,
// ggml_fp32_to_bf16_row_ref); half.h reproduces both bit for bit.
void quantizeF16(const float* x, void* dst, int64_t n) {
    auto* out = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = floatToHalf(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
    }
}

void quantizeBF16(const float* x, void* dst, int64_t n) {
    auto* out = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = floatToBf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
    }
}

}  // namespace detail

bool hasQuantizer(DType t) { return typeTraits(t).fromFloatRef != nullptr; }

bool quantizeRef(DType t, const float* x, void* dst, int64_t n) {
    const FromFloatFn fn = typeTraits(t).fromFloatRef;
    if (!fn) return false;
    fn(x, dst, n);
    return true;
}

bool quantize(DType t, const float* x, void* dst, int64_t n) {
    if (const FastFromFloatFn f = typeTraits(t).fromFloat; f && f(x, dst, n)) return true;
    return quantizeRef(t, x, dst, n);
}

bool hasWeightedQuantizer(DType t) { return typeTraits(t).fromFloatWeighted != nullptr; }

bool quantizeRowWeighted(DType t, const float* x, void* dst, int64_t nPerRow, const float* qw) {
    const WeightedFromFloatFn fn = typeTraits(t).fromFloatWeighted;
    if (!fn) return false;
    fn(x, dst, nPerRow, qw);
    return true;
}

const char* quantizeKernelName(DType t) {
    if (!typeTraits(t).fromFloat) return "scalar";
    return detail::simdLevelName();
}

}  // namespace qs::ggml
