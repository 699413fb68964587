// SPDX-License-Identifier: GPL-3.0-or-later
// Dequantization of ggml block types, as GGUF files store them. Used by the readers (Checkpoint::toFloat)
// and by the ggml schemes of the registry. Bit-exact with ggml's dequantize_row_* reference functions.
#pragma once

#include <cstdint>

#include "core/tensor/dtype.h"

namespace qs::ggml {

// True when dequantize() handles type t.
bool hasDequantizer(DType t);

// Dequantizes n values (a whole number of blocks of t) from packed blocks at src into dst.
// Returns false (writing nothing) when t has no dequantizer.
bool dequantize(DType t, const void* src, float* dst, int64_t n);

}  // namespace qs::ggml
