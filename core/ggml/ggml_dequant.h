// SPDX-License-Identifier: GPL-3.0-or-later
// Dequantization of ggml block types, as GGUF files store them. Used by the readers (Checkpoint::toFloat)
// and by the ggml schemes of the registry. Bit-exact with ggml's dequantize_row_* reference functions
// (tests/data/ggml-types holds ggml's own output for the types QuantScope does not quantize to).
// Types: f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, q2_K..q6_K, q8_K, iq1_s, iq1_m, iq2_xxs, iq2_xs,
// iq2_s, iq3_xxs, iq3_s, iq4_nl, iq4_xs, tq1_0, tq2_0, mxfp4, nvfp4, q1_0, q2_0. q8_1 (which ggml itself
// never dequantizes) decodes as q8_0, x = d * q, as ggml's q8_0 x q8_1 dot product reads it.
// Thread safety: pure functions of their arguments.
#pragma once

#include <cstdint>

#include "core/tensor/dtype.h"

namespace qs::ggml {

// True when dequantize() handles type t.
bool hasDequantizer(DType t);

// Dequantizes n values (a whole number of blocks of t) from packed blocks at src into dst. src may have any
// alignment (blocks at a misaligned address are decoded through an aligned copy).
// Returns false (writing nothing) when t has no dequantizer.
bool dequantize(DType t, const void* src, float* dst, int64_t n);

}  // namespace qs::ggml
