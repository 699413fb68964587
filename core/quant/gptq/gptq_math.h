// SPDX-License-Identifier: GPL-3.0-or-later
// Dense linear algebra of GPTQ (gptq_scheme.cpp), in double: the upper Cholesky factor of the inverse of a
// symmetric positive definite matrix, as the reference computes it (IST-DASLab/gptq fasterquant:
// torch.linalg.cholesky, cholesky_inverse, cholesky(upper=True), the same unique factor). Pure functions, any
// thread.
#pragma once

#include <cstdint>
#include <vector>

#include "core/util/result.h"

namespace qs::gptq {

// U [n, n] upper triangular with h^-1 = U^T U, for h [n, n] symmetric positive definite (row-major), computed
// in h's own storage (pass it moved to avoid a copy: the Hessian of a 14336-column layer is 1.6 GB).
// Error "the Hessian is not positive definite ..." when h is not.
Result<std::vector<double>> upperCholeskyOfInverse(std::vector<double> h, int64_t n);

}  // namespace qs::gptq
