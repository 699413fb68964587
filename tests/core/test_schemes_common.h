// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers of the scheme tests: the schemes under test (every registry representative plus extra
// names exercising each grammar option) and the expected-error model.
#pragma once

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/quant/scheme.h"

namespace qstest {

// The values `q` stands for, as the scheme dequantizes them ([rows * cols], row-major).
inline std::vector<float> dequantized(const qs::Scheme& s, const qs::QuantizedTensor& q) {
    std::vector<float> y(size_t(q.rows * q.cols));
    s.dequantize(q, y.data());
    return y;
}

// A linear layer's output error over sample inputs: the sum over the rows x of `x` ([n, cols]) of
// ||(W - W') x||^2 in double, W and W' [rows, cols]. What GPTQ, AWQ and LLM.int8 minimise or bound.
inline double outputError(const std::vector<float>& w, const std::vector<float>& wq, int64_t rows, int64_t cols,
                          const std::vector<float>& x) {
    const int64_t n = int64_t(x.size()) / cols;
    double e = 0;
    for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < rows; ++r) {
            double d = 0;
            for (int64_t j = 0; j < cols; ++j)
                d += (double(w[size_t(r * cols + j)]) - wq[size_t(r * cols + j)]) * x[size_t(t * cols + j)];
            e += d * d;
        }
    return e;
}

// Registry representatives plus names that exercise the other grammar options, so a new family or option
// is covered by every loop without editing the tests. Only the schemes that quantize without calibration
// data (the loops call quantize()); the calibrated ones (calibrationNeeds() not None) are refused there by
// name and are covered with their calibration by their own tests (e.g. test_ggml_imatrix_quant).
inline std::vector<std::shared_ptr<const qs::Scheme>> schemesUnderTest() {
    std::vector<std::shared_ptr<const qs::Scheme>> all;
    for (const auto& s : qs::listSchemes())
        if (qs::isNone(s->calibrationNeeds())) all.push_back(s);
    for (const char* extra : {"int3_g64", "int4_g128_sym", "int8_sym", "int5_col", "int6_tensor", "int7",
                              "int4_g32_sym", "int2_g32", "nf4_g128", "fp4_dq_g32", "nf4_dq_g256", "hqq8_g32", "kmeans2",
                              "kmeans3_g128", "sortbins2_g32"}) {
        auto s = qs::findScheme(extra);
        bool present = false;
        for (const auto& a : all) present |= a && s && a->name() == s->name();
        if (s && !present) all.push_back(s);
    }
    return all;
}

inline std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Expected relative RMS error of a scheme on N(0,1) data, from the uniform-quantization noise formula
// e_rms = step / sqrt(12) with step = R / (2^b - 1) over a typical +-4 sigma range (R = 8). Float formats
// (16 nominal bits) round to p significand bits instead: relative e_rms ~ 2^(1-p) / sqrt(12).
inline double noiseModel(const qs::Scheme& s) {
    if (s.nominalBits() >= 16) {
        const int p = s.name() == "bf16" ? 8 : 11;
        return std::ldexp(1.0, 1 - p) / std::sqrt(12.0);
    }
    return 8.0 / ((std::ldexp(1.0, int(s.nominalBits())) - 1.0) * std::sqrt(12.0));
}
// The two-sided band: a scheme that returns its input (error 0) fails the lower bound, one that returns
// zeros (relative error 1) fails the upper bound, which is capped at 0.9 for that reason.
inline double bandLow(const qs::Scheme& s) { return noiseModel(s) / 8.0; }
inline double bandHigh(const qs::Scheme& s) { return std::min(0.9, 2.0 * noiseModel(s)); }

inline double relRmse(const std::vector<float>& x, const std::vector<float>& y) {
    double e = 0, n = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        n += double(x[i]) * x[i];
    }
    return n > 0 ? std::sqrt(e / n) : std::sqrt(e);
}

// Calibration for the registry loops' calibrated schemes (GPTQ, ...): statistics of 256 synthetic input rows
// x = z + 0.5 f (z iid N(0,1) per column, f one N(0,1) factor shared by the row: correlated inputs), every
// field collected. Cached per column count; nullptr for a scheme that needs none. The methods' own tests
// (test_gptq, ...) check what the calibration changes; these loops check the properties every scheme has.
inline const qs::TensorCalibration* calibrationFor(const qs::Scheme& s, int64_t cols) {
    if (qs::isNone(s.calibrationNeeds())) return nullptr;
    static std::mutex mutex;
    static std::map<int64_t, std::shared_ptr<qs::TensorCalibration>> cache;
    std::lock_guard lock(mutex);
    auto& slot = cache[cols];
    if (slot) return slot.get();
    constexpr int64_t kTokens = 256, kSamples = 64;
    auto c = std::make_shared<qs::TensorCalibration>();
    c->cols = cols;
    c->tokens = kTokens;
    c->sumSquares.assign(size_t(cols), 0.0);
    c->sumAbs.assign(size_t(cols), 0.0);
    c->maxAbs.assign(size_t(cols), 0.0f);
    c->hessian.assign(size_t(cols * cols), 0.0);
    std::mt19937 rng(1234);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(cols));
    for (int64_t t = 0; t < kTokens; ++t) {
        const float f = dist(rng);
        for (auto& v : x) v = dist(rng) + 0.5f * f;
        for (int64_t i = 0; i < cols; ++i) {
            const double xi = x[size_t(i)];
            c->sumSquares[size_t(i)] += xi * xi;
            c->sumAbs[size_t(i)] += std::fabs(xi);
            c->maxAbs[size_t(i)] = std::max(c->maxAbs[size_t(i)], std::fabs(x[size_t(i)]));
            double* h = c->hessian.data() + i * cols;
            for (int64_t j = 0; j < cols; ++j) h[j] += xi * double(x[size_t(j)]);
        }
        if (t < kSamples) c->samples.insert(c->samples.end(), x.begin(), x.end());
    }
    slot = std::move(c);
    return slot.get();
}

// quantize() for every scheme: a calibrated one gets calibrationFor(s, cols).
inline qs::Result<qs::QuantizedTensor> quantizeAny(const qs::Scheme& s, std::span<const float> x, int64_t rows,
                                                   int64_t cols, std::string_view name) {
    return s.quantizeCalibrated(x, rows, cols, name, calibrationFor(s, cols));
}

// A shape the scheme accepts: cols a multiple of 256 keeps every block type happy.
inline constexpr int64_t kRows = 32, kCols = 1024;

}  // namespace qstest
