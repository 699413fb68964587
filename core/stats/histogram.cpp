// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/stats/histogram.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/stats/stat_kernels.h"

#include "core/util/check.h"

namespace qs {

uint64_t Histogram::total() const {
    uint64_t t = 0;
    for (uint64_t c : counts) t += c;
    return t;
}

int Histogram::binOf(double x) const {
    const int n = bins();
    if (x < lo) return -1;
    if (x > hi) return n;
    // Computed in double from the stored range, so every caller bins a value identically.
    const double f = (x - lo) / (hi - lo) * double(n);
    int b = int(f);
    return b >= n ? n - 1 : b;
}

Histogram makeHistogram(double lo, double hi, int bins) {
    QS_CHECK(bins >= 1, "histogram needs at least one bin, got " + std::to_string(bins));
    Histogram h;
    if (!(hi > lo)) {
        hi = lo + 0.5;
        lo = lo - 0.5;
    }
    h.lo = lo;
    h.hi = hi;
    h.counts.assign(size_t(bins), 0);
    return h;
}

namespace {

// Bins x (or y - x) over the fixed partition of fixed_reduce.h; counts are integers, so any order is exact.
void fillWithKernel(Histogram& h, const float* x, const float* y, uint64_t n, tbb::task_arena* arena,
                    std::optional<cpu::SimdLevel> simd) {
    QS_CHECK(!h.empty(), "fillHistogram on a histogram without bins");
    if (n == 0) return;
    const stats::Kernels& k = simd ? stats::kernels(*simd) : stats::kernels();
    struct Part {
        std::vector<uint64_t> counts;
        uint64_t below = 0, above = 0;
    };
    const uint64_t per = stats::unitsPerChunk(n, 1);
    const uint64_t chunks = (n + per - 1) / per;
    const int bins = h.bins();
    const double lo = h.lo, hi = h.hi;
    Part total = stats::fixedReduce<Part>(
        chunks, arena,
        [&](uint64_t c) {
            Part p;
            p.counts.assign(size_t(bins), 0);
            const uint64_t b = c * per, e = std::min(n, b + per);
            k.histogram(x + b, y ? y + b : nullptr, e - b, lo, hi, bins, p.counts.data(), p.below, p.above);
            return p;
        },
        [](Part& a, const Part& b) {
            for (size_t i = 0; i < a.counts.size(); ++i) a.counts[i] += b.counts[i];
            a.below += b.below;
            a.above += b.above;
        });
    for (int i = 0; i < bins; ++i) h.counts[size_t(i)] += total.counts[size_t(i)];
    h.below += total.below;
    h.above += total.above;
}

}  // namespace

void fillHistogram(Histogram& h, std::span<const float> values, tbb::task_arena* arena,
                   std::optional<cpu::SimdLevel> simd) {
    fillWithKernel(h, values.data(), nullptr, values.size(), arena, simd);
}

void fillDifferenceHistogram(Histogram& h, std::span<const float> a, std::span<const float> b,
                             tbb::task_arena* arena, std::optional<cpu::SimdLevel> simd) {
    QS_CHECK(a.size() == b.size(), "fillDifferenceHistogram: " + std::to_string(a.size()) + " and " +
                                       std::to_string(b.size()) + " values");
    fillWithKernel(h, a.data(), b.data(), a.size(), arena, simd);
}

}  // namespace qs
