// SPDX-License-Identifier: GPL-3.0-or-later
// The single-threaded inner loops of every statistic (error sums, clipping, range, moments, threshold counts,
// histogram binning), vectorised and chosen at run time by SIMD level (core/util/cpu_features.h).
//
// Determinism across SIMD levels: every floating-point sum is defined on 8 double lanes. Element i of a span
// (counted from the span's first element) goes to lane i mod 8; each lane adds its terms in index order; the
// caller folds the lanes in a fixed tree (foldLanes). Products of two floats are exact in double, and the
// kernels are compiled without FMA contraction (-ffp-contract=off), so the scalar path (8 emulated lanes), the
// AVX2 path (2 x 4 lanes) and the AVX-512 path (8 lanes) give bit-identical sums. Minima, maxima, counts and
// histogram bins are exact, so any evaluation order gives the same result. Callers cut their work into a
// partition that depends on the sizes only (fixed_reduce.h) and call one kernel per piece: the results are
// then independent of the thread count as well.
//
// Values are expected finite where noted (the error kernels: schemes refuse NaN/Inf); the weight kernels skip
// non-finite values. Thread-safe: kernels only touch their arguments.
#pragma once

#include <cstdint>
#include <limits>

#include "core/util/cpu_features.h"

namespace qs::stats {

inline constexpr int kLanes = 8;

// Fixed-tree sum of 8 lanes: ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
inline double foldLanes(const double* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

// Running error sums over original w and dequantized q (finite), e = q - w formed in double.
struct ErrorLanes {
    double sqError[kLanes] = {}, sqOriginal[kLanes] = {}, sqDequantized[kLanes] = {}, product[kLanes] = {};
    double maxAbsError = 0.0;  // max |e|
    float wMin = std::numeric_limits<float>::infinity(), wMax = -std::numeric_limits<float>::infinity();
    uint64_t zeroed = 0;  // w != 0 and q == 0
};

// Finite-value range and sum (RangePart in lanes).
struct RangeLanes {
    double sum[kLanes] = {};
    float min = std::numeric_limits<float>::infinity(), max = -std::numeric_limits<float>::infinity();
    uint64_t count = 0, nonFinite = 0, zeros = 0;
};

// Central moments about a mean: sums of d^2 and d^4, d = x - mean, over finite x.
struct MomentLanes {
    double m2[kLanes] = {}, m4[kLanes] = {};
};

struct Kernels {
    cpu::SimdLevel level;
    // Adds w[0..n), q[0..n) to acc (element i to lane i mod 8).
    void (*errorSums)(const float* w, const float* q, uint64_t n, ErrorLanes& acc);
    // Clipped elements of one scale block of len elements (definition: error_stats.h).
    uint64_t (*countClipped)(const float* w, const float* q, int64_t len);
    void (*range)(const float* x, uint64_t n, RangeLanes& acc);
    void (*moments)(const float* x, uint64_t n, double mean, MomentLanes& acc);
    // counts[k] += #{finite x : |x| > thresholds[k]}, k < nThresholds.
    void (*countAbove)(const float* x, uint64_t n, const double* thresholds, int nThresholds, uint64_t* counts);
    // Histogram binning exactly as Histogram::binOf, of v = x[i] (y == nullptr) or v = double(y[i]) - double(x[i]);
    // non-finite v skipped. counts has `bins` entries.
    void (*histogram)(const float* x, const float* y, uint64_t n, double lo, double hi, int bins, uint64_t* counts,
                      uint64_t& below, uint64_t& above);
};

// The kernels of `level` (a level above what the build has falls back to the best one compiled; requesting a
// level the CPU cannot run is a programming error, checked). kernels() uses cpu::simdLevel().
const Kernels& kernels(cpu::SimdLevel level);
const Kernels& kernels();

}  // namespace qs::stats
