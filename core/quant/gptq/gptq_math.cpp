// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/gptq/gptq_math.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qs::gptq {

// The reference computes cholesky(cholesky_inverse(cholesky(h)), upper=True). The factor is unique, so it is
// computed here in one factorisation: with J the reversal permutation and J h J = L L^T,
// h^-1 = J L^-T L^-1 J = (J L^-1 J)^T (J L^-1 J), and U = J L^-1 J is upper triangular with a positive diagonal.
// J a J of a row-major [n, n] matrix is its flat array reversed. Everything happens in the one array.
Result<std::vector<double>> upperCholeskyOfInverse(std::vector<double> h, int64_t n) {
    std::reverse(h.begin(), h.end());
    // Lower Cholesky in place (the upper triangle is cleared).
    for (int64_t j = 0; j < n; ++j) {
        double* lj = h.data() + j * n;
        double d = lj[j];
        for (int64_t k = 0; k < j; ++k) d -= lj[k] * lj[k];
        if (!(d > 0.0) || !std::isfinite(d))
            return Error{"the Hessian is not positive definite (a Cholesky pivot is not positive)"};
        const double ljj = std::sqrt(d);
        lj[j] = ljj;
        for (int64_t i = j + 1; i < n; ++i) {
            double* li = h.data() + i * n;
            double s = li[j];
            for (int64_t k = 0; k < j; ++k) s -= li[k] * lj[k];
            li[j] = s / ljj;
        }
        std::fill(lj + j + 1, lj + n, 0.0);
    }
    // X = L^-1 in place, row by row: X_ij = -(sum_{j <= k < i} L_ik X_kj) / L_ii, X_ii = 1 / L_ii. Row i of L
    // is read only while computing row i of X; the rows above already hold X.
    std::vector<double> acc(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        double* row = h.data() + i * n;
        std::fill(acc.begin(), acc.begin() + i, 0.0);
        for (int64_t k = 0; k < i; ++k) {
            const double lik = row[k];
            const double* xk = h.data() + k * n;
            for (int64_t j = 0; j <= k; ++j) acc[size_t(j)] += lik * xk[j];
        }
        const double inv = 1.0 / row[i];
        for (int64_t j = 0; j < i; ++j) row[j] = -acc[size_t(j)] * inv;
        row[i] = inv;
    }
    std::reverse(h.begin(), h.end());
    return h;
}

}  // namespace qs::gptq
