// SPDX-License-Identifier: GPL-3.0-or-later
// Single-tensor weight statistics for the explorer: range, moments, outliers, histogram, and per-row /
// per-column absolute maxima.
//
// Determinism: every function here runs in parallel with oneTBB over a fixed partition (see fixed_reduce.h)
// with double accumulators and a fixed pairwise merge order, so results are bit-identical whatever the thread
// count. Threads: they run in `arena` (not owned, must outlive the call; null = serially on the calling
// thread), which they enter themselves. Inputs are not modified; nothing is retained after the call.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "core/stats/histogram.h"

namespace qs {

struct WeightStatsOptions {
    int histogramBins = 0;                    // 0: no histogram; else bins over [min, max]
    std::vector<double> outlierSigmas{3.0, 6.0};  // report counts of |w| > k * std for each k
};

struct WeightStats {
    uint64_t count = 0;       // finite values (the statistics below are over these)
    uint64_t nonFinite = 0;   // NaN and +-Inf values, excluded from everything else
    uint64_t zeros = 0;       // values exactly +-0
    double min = 0.0, max = 0.0, absmax = 0.0;
    double mean = 0.0;
    double std = 0.0;         // population standard deviation (divides by count), two-pass
    double kurtosis = 0.0;    // EXCESS kurtosis m4/m2^2 - 3 (0 for a normal distribution, 0 when std == 0)
    std::vector<double> outlierSigmas;   // copy of the options
    std::vector<uint64_t> outliers;      // outliers[i] = #{ |w| > outlierSigmas[i] * std }, std > 0
    Histogram histogram;                 // empty unless requested
};

WeightStats computeWeightStats(std::span<const float> values, tbb::task_arena* arena,
                               const WeightStatsOptions& options = {});

// Per-row and per-column maxima of |x| for a row-major [rows, cols] matrix (non-finite values are skipped;
// an all-non-finite row gives 0). Requires values.size() == rows * cols.
struct RowColumnAbsmax {
    std::vector<float> rows;     // [rows]
    std::vector<float> columns;  // [cols]
};
RowColumnAbsmax rowColumnAbsmax(std::span<const float> values, int64_t rows, int64_t cols,
                                tbb::task_arena* arena);

}  // namespace qs
