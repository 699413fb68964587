// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/ggml/ggml_dequant.h"

#include <cstring>

#include "core/tensor/half.h"

namespace qs::ggml {

namespace {
// Q8_0: 32 values, fp16 scale d then 32 int8 codes; x = d * q.
void dequantQ8_0(const uint8_t* src, float* dst, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, src += 34) {
        uint16_t h;
        std::memcpy(&h, src, 2);
        const float d = halfToFloat(h);
        for (int j = 0; j < 32; ++j) dst[b * 32 + j] = float(int8_t(src[2 + j])) * d;
    }
}
// Q4_0: 32 values, fp16 scale d then 16 bytes; low nibbles are values 0..15, high nibbles 16..31; x = d*(q-8).
void dequantQ4_0(const uint8_t* src, float* dst, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, src += 18) {
        uint16_t h;
        std::memcpy(&h, src, 2);
        const float d = halfToFloat(h);
        for (int j = 0; j < 16; ++j) {
            dst[b * 32 + j] = float(int(src[2 + j] & 0x0F) - 8) * d;
            dst[b * 32 + j + 16] = float(int(src[2 + j] >> 4) - 8) * d;
        }
    }
}
}  // namespace

bool hasDequantizer(DType t) { return t == DType::Q8_0 || t == DType::Q4_0; }

bool dequantize(DType t, const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint8_t*>(src);
    switch (t) {
        case DType::Q8_0: dequantQ8_0(s, dst, n); return true;
        case DType::Q4_0: dequantQ4_0(s, dst, n); return true;
        default: return false;
    }
}

}  // namespace qs::ggml
