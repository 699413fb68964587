// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/gptq/gptq_math.h"

#include <cmath>
#include <string>

namespace qs::gptq {

Result<std::vector<double>> choleskyLower(const std::vector<double>& a, int64_t n) {
    std::vector<double> l(size_t(n * n), 0.0);
    for (int64_t j = 0; j < n; ++j) {
        double d = a[size_t(j * n + j)];
        for (int64_t k = 0; k < j; ++k) d -= l[size_t(j * n + k)] * l[size_t(j * n + k)];
        if (!(d > 0.0) || !std::isfinite(d))
            return Error{"the matrix is not positive definite (Cholesky pivot " + std::to_string(d) + " at column " +
                         std::to_string(j) + ")"};
        const double ljj = std::sqrt(d);
        l[size_t(j * n + j)] = ljj;
        for (int64_t i = j + 1; i < n; ++i) {
            double s = a[size_t(i * n + j)];
            const double* li = l.data() + i * n;
            const double* lj = l.data() + j * n;
            for (int64_t k = 0; k < j; ++k) s -= li[k] * lj[k];
            l[size_t(i * n + j)] = s / ljj;
        }
    }
    return l;
}

// The reference computes cholesky(cholesky_inverse(cholesky(h)), upper=True). The factor is unique, so it is
// computed here in one factorisation: with J the reversal permutation and J h J = L L^T,
// h^-1 = J L^-T L^-1 J = (J L^-1 J)^T (J L^-1 J), and U = J L^-1 J is upper triangular with a positive diagonal.
Result<std::vector<double>> upperCholeskyOfInverse(const std::vector<double>& h, int64_t n) {
    std::vector<double> rev(size_t(n * n));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) rev[size_t(i * n + j)] = h[size_t((n - 1 - i) * n + (n - 1 - j))];
    auto l = choleskyLower(rev, n);
    if (!l) return Error{"the Hessian is not positive definite (a Cholesky pivot is not positive)"};
    const std::vector<double>& L = l.value();
    // X = L^-1 (lower), row by row: X_ij = -(sum_{j <= k < i} L_ik X_kj) / L_ii, X_ii = 1 / L_ii.
    std::vector<double> x(size_t(n * n), 0.0), acc(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        std::fill(acc.begin(), acc.begin() + i, 0.0);
        for (int64_t k = 0; k < i; ++k) {
            const double lik = L[size_t(i * n + k)];
            const double* xk = x.data() + k * n;
            for (int64_t j = 0; j <= k; ++j) acc[size_t(j)] += lik * xk[j];
        }
        const double inv = 1.0 / L[size_t(i * n + i)];
        for (int64_t j = 0; j < i; ++j) x[size_t(i * n + j)] = -acc[size_t(j)] * inv;
        x[size_t(i * n + i)] = inv;
    }
    std::vector<double> u(size_t(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j) u[size_t(i * n + j)] = x[size_t((n - 1 - i) * n + (n - 1 - j))];
    return u;
}

}  // namespace qs::gptq
