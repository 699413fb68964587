// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/stats/weight_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/jobs/arena.h"
#include "core/stats/stat_passes.h"
#include "core/util/check.h"

namespace qs {

WeightStats computeWeightStats(std::span<const float> values, tbb::task_arena* arena,
                               const WeightStatsOptions& options) {
    WeightStats s;
    s.outlierSigmas = options.outlierSigmas;
    s.outliers.assign(options.outlierSigmas.size(), 0);
    // Pass 1: range and mean.
    const stats::RangePart r = stats::rangePass(values, arena);
    s.count = r.count;
    s.nonFinite = r.nonFinite;
    s.zeros = r.zeros;
    if (s.count == 0) return s;
    s.min = r.min;
    s.max = r.max;
    s.absmax = std::max(std::fabs(r.min), std::fabs(r.max));
    s.mean = r.sum / double(s.count);

    // Pass 2: central moments about the mean of pass 1 (two-pass: no catastrophic cancellation).
    const stats::MomentPart m = stats::momentPass(values, s.mean, arena);
    const double m2 = m.m2 / double(s.count);
    const double m4 = m.m4 / double(s.count);
    s.std = std::sqrt(m2);
    s.kurtosis = m2 > 0.0 ? m4 / (m2 * m2) - 3.0 : 0.0;

    // Pass 3: outliers against thresholds that need the std (integer counts: any partition is exact).
    if (!options.outlierSigmas.empty() && s.std > 0.0) {
        std::vector<double> thresholds;
        for (double k : options.outlierSigmas) thresholds.push_back(k * s.std);
        stats::countAbovePass(values, thresholds, s.outliers, arena);
    }

    if (options.histogramBins > 0) {
        s.histogram = makeHistogram(s.min, s.max, options.histogramBins);
        fillHistogram(s.histogram, values, arena);
    }
    return s;
}

RowColumnAbsmax rowColumnAbsmax(std::span<const float> values, int64_t rows, int64_t cols,
                                tbb::task_arena* arena) {
    QS_CHECK(rows >= 0 && cols >= 0 && uint64_t(rows) * uint64_t(cols) == values.size(),
             "rowColumnAbsmax: " + std::to_string(values.size()) + " values for [" + std::to_string(rows) +
                 ", " + std::to_string(cols) + "]");
    RowColumnAbsmax out;
    out.rows.assign(size_t(rows), 0.0f);
    out.columns.assign(size_t(cols), 0.0f);
    // max is exact, so any partition gives the same result; rows and column tiles are independent.
    parallelFor(arena, int64_t(0), rows, int64_t(64), [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t i = r.begin(); i != r.end(); ++i) {
            float m = 0.0f;
            const float* row = values.data() + i * cols;
            for (int64_t j = 0; j < cols; ++j)
                if (std::isfinite(row[j])) m = std::max(m, std::fabs(row[j]));
            out.rows[size_t(i)] = m;
        }
    });
    stats::accumulateColumnAbsmax(values, rows, cols, out.columns.data(), arena);
    return out;
}

}  // namespace qs
