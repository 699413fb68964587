// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/stats/stat_passes.h"

#include <algorithm>
#include <cmath>

#include "core/jobs/arena.h"
#include "core/stats/fixed_reduce.h"
#include "core/stats/stat_kernels.h"

namespace qs::stats {

namespace {

// Runs fn(begin, end) -> Part over the fixed partition of [0, n) and merges the partials in order.
template <class Part, class Fn>
Part reduceSpan(uint64_t n, tbb::task_arena* arena, Fn&& fn) {
    const uint64_t per = unitsPerChunk(n, 1);
    const uint64_t chunks = (n + per - 1) / per;
    return fixedReduce<Part>(
        chunks, arena, [&](uint64_t c) { return fn(c * per, std::min(n, (c + 1) * per)); },
        [](Part& a, const Part& b) { a.merge(b); });
}

struct CountPart {
    std::vector<uint64_t> counts;
    void merge(const CountPart& b) {
        if (counts.empty()) counts.assign(b.counts.size(), 0);
        for (size_t k = 0; k < b.counts.size(); ++k) counts[k] += b.counts[k];
    }
};

}  // namespace

void RangePart::merge(const RangePart& b) {
    count += b.count;
    nonFinite += b.nonFinite;
    zeros += b.zeros;
    sum += b.sum;
    min = std::min(min, b.min);
    max = std::max(max, b.max);
}

RangePart rangePass(std::span<const float> v, tbb::task_arena* arena, std::optional<cpu::SimdLevel> simd) {
    const Kernels& k = simd ? kernels(*simd) : kernels();
    return reduceSpan<RangePart>(v.size(), arena, [&](uint64_t b, uint64_t e) {
        RangeLanes lanes;
        k.range(v.data() + b, e - b, lanes);
        RangePart p;
        p.count = lanes.count;
        p.nonFinite = lanes.nonFinite;
        p.zeros = lanes.zeros;
        p.sum = foldLanes(lanes.sum);
        if (lanes.count > 0) {
            p.min = lanes.min;
            p.max = lanes.max;
        }
        return p;
    });
}

MomentPart momentPass(std::span<const float> v, double mean, tbb::task_arena* arena,
                      std::optional<cpu::SimdLevel> simd) {
    const Kernels& k = simd ? kernels(*simd) : kernels();
    return reduceSpan<MomentPart>(v.size(), arena, [&](uint64_t b, uint64_t e) {
        MomentLanes lanes;
        k.moments(v.data() + b, e - b, mean, lanes);
        return MomentPart{foldLanes(lanes.m2), foldLanes(lanes.m4)};
    });
}

void countAbovePass(std::span<const float> v, const std::vector<double>& thresholds,
                    std::vector<uint64_t>& counts, tbb::task_arena* arena,
                    std::optional<cpu::SimdLevel> simd) {
    const Kernels& k = simd ? kernels(*simd) : kernels();
    CountPart total = reduceSpan<CountPart>(v.size(), arena, [&](uint64_t b, uint64_t e) {
        CountPart p;
        p.counts.assign(thresholds.size(), 0);
        k.countAbove(v.data() + b, e - b, thresholds.data(), int(thresholds.size()), p.counts.data());
        return p;
    });
    for (size_t k = 0; k < total.counts.size() && k < counts.size(); ++k) counts[k] += total.counts[k];
}

void accumulateColumnAbsmax(std::span<const float> values, int64_t rows, int64_t cols, float* dst,
                            tbb::task_arena* arena) {
    constexpr int64_t kTile = 256;
    const int64_t tiles = (cols + kTile - 1) / kTile;
    parallelFor(arena, int64_t(0), tiles, int64_t(1), [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t t = r.begin(); t != r.end(); ++t) {
            const int64_t c0 = t * kTile, c1 = std::min(cols, c0 + kTile);
            for (int64_t i = 0; i < rows; ++i) {
                const float* row = values.data() + i * cols;
                for (int64_t j = c0; j < c1; ++j)
                    if (std::isfinite(row[j])) dst[j] = std::max(dst[j], std::fabs(row[j]));
            }
        }
    });
}

}  // namespace qs::stats
