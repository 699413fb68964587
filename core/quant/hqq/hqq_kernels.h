// SPDX-License-Identifier: GPL-3.0-or-later
// Inner loops of HQQ (Half-Quadratic Quantization, Badri & Shaji 2023; reference implementation
// mobiusml/hqq, hqq/core/optimize.py `optimize_weights_proximal_legacy` and quantize.py `Quantizer`).
//
// HQQ writes the affine quantizer with the INVERSE step ("scale" in the reference): q = round(x * a + z),
// x' = (q - z) / a, with a = 1 / s. We keep that form during the optimisation (so the arithmetic matches the
// reference's order of operations) and store s = 1 / a.
//
// optimiseZero() runs the half-quadratic proximal solver for the zero point z of one group with a fixed
// inverse step a (float32 throughout, as the reference on CPU), per iteration:
//   q   = clamp(round(x * a + z), 0, qmax)           (round = ties to even, as torch.round)
//   r   = (q - z) / a
//   err = mean |x - r|                                 (the reference's early-stop criterion, L1)
//   e   = shrink_p(x - r, beta), shrink_p(d, beta) = sign(d) * relu(|d| - |d|^(p-1) / beta)
//   z   = mean(q - (x - e) * a);  beta *= kappa
// with p = 0.7, beta = 10, kappa = 1.01, 20 iterations. Early stop: the first iteration whose error is not
// below the best so far ends the search and the zero point with the lowest error is returned. (The legacy
// reference breaks after it already applied the next update, returning that zero; its v2 keeps the best, as
// we do. The reference decides on the error of the whole tensor; we decide per group, so groups are
// independent work units and no group ends with a worse error than its start.) The means are accumulated in
// double in element order: the result does not depend on threads or the SIMD level.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include <optional>

#include "core/quant/chunked_scheme.h"
#include "core/quant/rtn/rtn_vec_dot.h"

namespace qs::hqq {

struct ProximalParams {
    float lpNorm = 0.7f;
    double beta = 10.0;
    double kappa = 1.01;
    int iterations = 20;
};

// The optimised zero point of x[0..n) for inverse step `a` (> 0) and start `zero`; `bestError` receives the
// mean |x - r| of the returned zero point. Scalar; one path (the pow in the shrinkage has no exact vector form).
float optimiseZero(const float* x, int64_t n, float a, float zero, int qmax, const ProximalParams& p,
                   double* bestError = nullptr);

// codes[i] = clamp(nearbyint(x[i] * a + z), 0, qmax): the final codes with the stored (fp16-rounded)
// parameters. Reference: scalar; optimised: AVX2 when available. Bit-identical (one rounding per operation,
// no contraction: the file is compiled with -ffp-contract=off).
void codes(const float* x, int64_t n, float a, float z, int qmax, uint8_t* out, QuantPath path);

// The native-kernel layout (rtn_vec_dot.h, floatZero) of an HQQ scheme for rows of `cols` values: 4-bit codes
// in groups of a multiple of 32; nullopt for anything else (other widths stay on the dequantizing path).
// Defined in hqq_scheme.cpp, which owns the record format.
std::optional<rtn::NativeLayout> nativeLayout(const Scheme& scheme, int64_t cols);

}  // namespace qs::hqq
