// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/ggml/ggml_quantize.h"

#include <cstring>

#include "core/tensor/half.h"

namespace qs::ggml {

namespace {
using QuantFn = void (*)(const float*, void*, int64_t);
using FastFn = bool (*)(const float*, void*, int64_t);

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

QuantFn reference(DType t) {
    switch (t) {
        case DType::Q4_0: return detail::quantizeQ4_0Ref;
        case DType::Q4_1: return detail::quantizeQ4_1Ref;
        case DType::Q5_0: return detail::quantizeQ5_0Ref;
        case DType::Q5_1: return detail::quantizeQ5_1Ref;
        case DType::Q8_0: return detail::quantizeQ8_0Ref;
        case DType::Q2_K: return detail::quantizeQ2_KRef;
        case DType::Q3_K: return detail::quantizeQ3_KRef;
        case DType::Q4_K: return detail::quantizeQ4_KRef;
        case DType::Q5_K: return detail::quantizeQ5_KRef;
        case DType::Q6_K: return detail::quantizeQ6_KRef;
        case DType::IQ4_NL: return detail::quantizeIq4NlRef;
        case DType::F16: return quantizeF16;
        case DType::BF16: return quantizeBF16;
        default: return nullptr;
    }
}

FastFn fast(DType t) {
    switch (t) {
        case DType::Q8_0: return detail::quantizeQ8_0Fast;
        case DType::Q4_0: return detail::quantizeQ4_0Fast;
        case DType::Q4_K: return detail::quantizeQ4_KFast;
        default: return nullptr;
    }
}
}  // namespace

bool hasQuantizer(DType t) { return reference(t) != nullptr; }

bool quantizeRef(DType t, const float* x, void* dst, int64_t n) {
    const QuantFn fn = reference(t);
    if (!fn) return false;
    fn(x, dst, n);
    return true;
}

bool quantize(DType t, const float* x, void* dst, int64_t n) {
    if (const FastFn f = fast(t); f && f(x, dst, n)) return true;
    return quantizeRef(t, x, dst, n);
}

const char* quantizeKernelName(DType t) {
    if (!fast(t)) return "scalar";
    return detail::simdLevelName();
}

}  // namespace qs::ggml
