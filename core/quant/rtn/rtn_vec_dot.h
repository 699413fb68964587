// SPDX-License-Identifier: GPL-3.0-or-later
// Native dot products of RTN-quantized weight rows (rtn_scheme.cpp's row records) with q8_0 activations, so
// an intN model runs in its packed bytes as the ggml types do (ggml_vec_dot.h). Covered layouts: 4-bit codes
// (asymmetric or symmetric) and 8-bit symmetric codes, per output row or per group of a multiple of 32
// values: there the weight value minus its zero point, q - z, fits a signed byte and the integer block sums
// are exact. 8-bit asymmetric (q - z up to +-255), 2/3/5/6/7-bit (codes straddle bytes) and per-column /
// per-tensor layouts have no kernel and keep the dequantize-per-row-block path.
//
// Numerics (the ggml legacy-block contract, so the AVX2 path equals the scalar reference bit for bit): eight
// float lanes; for each 32-value activation block, lane k accumulates fma(s * da, S_k, lane_k), with s the
// group's fp16 scale, da the block's fp16 activation scale and S_k the exact integer sum of (q - z) * a over
// values 4k..4k+3; the lanes are summed as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
//
// HQQ's 4-bit layout (core/quant/hqq/hqq_scheme.cpp: the same LSB-first 4-bit codes, then fp16 scales, then
// fp16 zero points z that are not integers) runs on the same lanes with the zero point factored out:
// x' = (q - z) * s, so per 32-value block and lane k, with S_k = sum of q * a and A_k = sum of a over values
// 4k..4k+3 (exact integers), lane_k = fma(s * da, S_k, lane_k), then lane_k = fma(-((s * z) * da), A_k, lane_k);
// same final lane sum.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/util/cpu_features.h"

namespace qs {
class Scheme;
}

namespace qs::rtn {

struct NativeLayout {
    int bits = 4;            // 4 or 8
    int64_t group = 0;       // values per scale (the row length for per-row schemes); a multiple of 32
    bool symmetric = false;  // codes stored as q + 2^(bits-1), no zero stream
    bool floatZero = false;  // HQQ: fp16 zero points (one per group) after the scales; 4-bit codes only
    uint64_t codeBytes = 0;  // bytes of a row's codes (the scales follow)
    uint64_t recordBytes = 0;
};

// A scheme whose packed bytes are exactly the row records of an RTN scheme (GPTQ stores int<b>_g<g>): it
// runs on the same kernels, and nativeLayout() of it is nativeLayout() of rtnStorage().
class RtnStoredScheme {
public:
    virtual ~RtnStoredScheme() = default;
    virtual const Scheme& rtnStorage() const = 0;
};

// Dequantizes nRows consecutive row records of the row-wise RTN scheme `scheme` (per row or per group) starting
// at `records` into dst[nRows * cols], for schemes that embed RTN records in a larger tensor (AWQ). False (and
// nothing written) when `scheme` is not a row-wise RTN scheme.
bool dequantizeRowRecords(const Scheme& scheme, const std::byte* records, int64_t cols, int64_t nRows, float* dst);

// The layout of `scheme` for rows of `cols` values when dot() covers it, else nullopt (defined in
// rtn_scheme.cpp, which owns the record format; HQQ schemes are answered by hqq::nativeLayout,
// hqq_scheme.cpp).
std::optional<NativeLayout> nativeLayout(const Scheme& scheme, int64_t cols);

// out[c] = dot(row record `w`, q8_0 activation row act + c * stride) for c < nCols, n values each, with the
// path of the highest implemented level <= `level` ("scalar" or "avx2": dotPathName).
void dot(const NativeLayout& layout, int64_t n, const std::byte* w, const std::byte* act, size_t stride,
         int nCols, float* out, cpu::SimdLevel level);
const char* dotPathName(cpu::SimdLevel level);

}  // namespace qs::rtn
