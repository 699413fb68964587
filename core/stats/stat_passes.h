// SPDX-License-Identifier: GPL-3.0-or-later
// The three passes behind WeightStats, over one span of values: range and sum (pass 1), central moments
// about a given mean (pass 2), counts above thresholds (pass 3). Shared by computeWeightStats (the whole
// tensor in memory, weight_stats.h) and streamWeightStats (row blocks, tensor_scan.h), so both give the same
// numbers. Each pass uses the fixed partition of fixed_reduce.h: deterministic whatever the thread count.
// Non-finite values are counted in pass 1 and skipped everywhere else.
// Threads: every function here runs in `arena` (not owned, must outlive the call; null = serially on the
// calling thread), which it enters itself.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "core/util/cpu_features.h"

namespace qs::stats {

struct RangePart {
    uint64_t count = 0, nonFinite = 0, zeros = 0;  // count: finite values
    double sum = 0.0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    void merge(const RangePart& b);
};

struct MomentPart {
    double m2 = 0.0, m4 = 0.0;  // sums of (x - mean)^2 and (x - mean)^4
    void merge(const MomentPart& b) {
        m2 += b.m2;
        m4 += b.m4;
    }
};

// Vectorised (stat_kernels.h: sums in 8 double lanes, identical on every SIMD level); `simd` picks the kernels
// (default cpu::simdLevel()).
RangePart rangePass(std::span<const float> values, tbb::task_arena* arena,
                    std::optional<cpu::SimdLevel> simd = {});
MomentPart momentPass(std::span<const float> values, double mean, tbb::task_arena* arena,
                      std::optional<cpu::SimdLevel> simd = {});
// Adds to counts[k] the number of finite values with |x| > thresholds[k] (counts.size() == thresholds.size()).
void countAbovePass(std::span<const float> values, const std::vector<double>& thresholds,
                    std::vector<uint64_t>& counts, tbb::task_arena* arena,
                    std::optional<cpu::SimdLevel> simd = {});

// dst[c] = max(dst[c], max over rows of |values[r*cols + c]|) for finite values; values is rows x cols,
// row-major. Parallel over column tiles; max is exact, so the result does not depend on the partition.
void accumulateColumnAbsmax(std::span<const float> values, int64_t rows, int64_t cols, float* dst,
                            tbb::task_arena* arena);

}  // namespace qs::stats
