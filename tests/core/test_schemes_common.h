// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers of the scheme tests: the schemes under test (every registry representative plus extra
// names exercising each grammar option) and the expected-error model.
#pragma once

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/quant/scheme.h"

namespace qstest {

// Registry representatives plus names that exercise the other grammar options, so a new family or option
// is covered by every loop without editing the tests.
inline std::vector<std::shared_ptr<const qs::Scheme>> schemesUnderTest() {
    auto all = qs::listSchemes();
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

// A shape the scheme accepts: cols a multiple of 256 keeps every block type happy.
inline constexpr int64_t kRows = 32, kCols = 1024;

}  // namespace qstest
