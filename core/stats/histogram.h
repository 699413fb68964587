// SPDX-License-Identifier: GPL-3.0-or-later
// A fixed-range histogram with equal-width bins, as the explorer plots it. Counts are integers, so filling it
// in parallel gives the same result whatever the thread count.
// Threads: the fill functions run in `arena` (not owned, must outlive the call; null = serially on the
// calling thread), which they enter themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "core/util/cpu_features.h"

namespace qs {

struct Histogram {
    double lo = 0.0, hi = 0.0;       // range covered; bin i is [lo + i*w, lo + (i+1)*w), w = (hi-lo)/bins
    std::vector<uint64_t> counts;    // empty when no histogram was requested
    uint64_t below = 0, above = 0;   // values outside [lo, hi] (0 when the range came from the data)

    bool empty() const { return counts.empty(); }
    int bins() const { return int(counts.size()); }
    double binWidth() const { return counts.empty() ? 0.0 : (hi - lo) / double(counts.size()); }
    double binCenter(int i) const { return lo + (i + 0.5) * binWidth(); }
    uint64_t total() const;           // sum of counts (below/above excluded)

    // Bin of x: values equal to `hi` land in the last bin; outside [lo, hi] gives -1 (below) or bins() (above).
    int binOf(double x) const;
};

// An empty histogram over [lo, hi] with `bins` bins. A degenerate range (hi <= lo) is widened to
// [lo - 0.5, lo + 0.5] so every bin has a positive width. Requires bins >= 1.
Histogram makeHistogram(double lo, double hi, int bins);

// Counts the finite values of `values` into h (non-finite values are skipped). Parallel, deterministic;
// vectorised (stat_kernels.h), binning exactly as binOf. `simd` picks the kernels (default cpu::simdLevel()).
void fillHistogram(Histogram& h, std::span<const float> values, tbb::task_arena* arena,
                   std::optional<cpu::SimdLevel> simd = {});

// Counts e = double(b[i]) - double(a[i]) into h (an error histogram: a original, b dequantized); a and b have
// the same size (checked). Parallel, deterministic, vectorised as fillHistogram.
void fillDifferenceHistogram(Histogram& h, std::span<const float> a, std::span<const float> b,
                             tbb::task_arena* arena, std::optional<cpu::SimdLevel> simd = {});

// Counts valueAt(i) for i in [0, n) into h; valueAt must be thread-safe (with a null arena it is called on
// the calling thread only). Parallel, deterministic (counts are integers, so the partition does not matter).
template <class ValueAt>
void fillHistogramWith(Histogram& h, uint64_t n, tbb::task_arena* arena, ValueAt&& valueAt);

}  // namespace qs

#include "core/stats/histogram_fill.h"
