// SPDX-License-Identifier: GPL-3.0-or-later
// Pieces of the q4_K/q5_K reference shared with the optimised q4_K kernel (ggml_simd.cpp), so both paths
// run literally the same scale packing, requantization and code packing.
#pragma once

#include <cstdint>

namespace qs::ggml::detail {

// d, dmin and the 12 packed 6-bit scale/min bytes of a q4_K/q5_K super-block.
struct BlockQ4_KHeader {
    uint16_t d = 0, dmin = 0;
    uint8_t scales[12] = {};
};

// ggml's importance weights of n values from an importance matrix row qw: w_l = qw_l * sqrt(sigma2 + x_l^2), where
// sigma2 is the type's mean square (legacy types: sum(x^2) / n_per_row; q2_K: over the super-block; iq4_nl:
// 2 sum(x^2) / 32). Returns their sum, accumulated in ggml's order. Compiled without FMA contraction, as all
// quantizers.
float importanceWeights(const float* x, const float* qw, float sigma2, int n, float* w);

// ggml make_qx_quants with rmse_type 1: symmetric scale search; weights qw[n], or x^2 when qw is null.
// L receives codes offset by nmax (0 .. 2*nmax-1). Returns the scale.
float makeQxQuants(int n, int nmax, const float* x, int8_t* L, const float* qw);
// ggml make_qkx3_quants with weights (never null here): asymmetric (scale, min) grid search minimising the
// weighted squared error; *theMin receives -min (>= 0).
float makeQkx3Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* theMin,
                     uint8_t* Laux, float rmin, float rdelta, int nstep);
// ggml make_qp_quants: quantizes n non-negative values (the sub-block scales or mins) to 0..nmax against one
// scale, weighted by quant_weights; coordinate descent on the codes. Returns that scale.
float makeQpQuants(int n, int nmax, const float* x, uint8_t* L, const float* quantWeights);
// q6_K of n values (whole super-blocks) with sub-block weights qw (per value, ggml passes the importance
// unchanged) or, for null, x^2: quantize_row_q6_K_impl / quantize_row_q6_K_ref.
void quantizeQ6_KImpl(const float* x, void* y, int64_t n, const float* qw);

// ggml make_qkx2_quants: asymmetric (scale, min) search for one group; *theMin receives -min (>= 0).
float makeQkx2Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* theMin,
                     uint8_t* Laux, float rmin, float rdelta, int nstep, bool useMad);
// Quantizes the 8 sub-block scales and mins to 6 bits against fp16 d = maxScale/63, dmin = maxMin/63.
void packQ4_KScales(const float* scales, const float* mins, float maxScale, float maxMin, BlockQ4_KHeader& h);
// Recomputes the 256 codes (0..nmax) from the quantized scales, as ggml does after packing them.
void requantizeK4(const float* x, const BlockQ4_KHeader& h, int nmax, uint8_t* L);
// q4_K nibble packing: per 64 values, byte l = L[l] | L[l+32] << 4.
void packQ4_KCodes(const uint8_t* L, uint8_t* qs);
// q5_K: low nibbles as q4_K into ql, the fifth bit of value 64*i + l into bit 2i of qh[l] (+32: bit 2i+1).
void packQ5_KCodes(const uint8_t* L, uint8_t* ql, uint8_t* qh);

}  // namespace qs::ggml::detail
