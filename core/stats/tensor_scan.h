// SPDX-License-Identifier: GPL-3.0-or-later
// Statistics of one checkpoint tensor computed in row blocks straight from the checkpoint, so a 128K x 4096
// embedding never needs one multi-gigabyte float buffer: the tensor is decoded `blockElements` floats at a
// time (whole rows) with Checkpoint::toFloat(i, first, count, dst), once per pass.
//
// streamWeightStats gives the same WeightStats as computeWeightStats over the whole tensor (weight_stats.h):
// same definitions (population std, excess kurtosis, outliers |w| > k * std, histogram over [min, max]);
// counts, min, max and the histogram are identical, the moments agree to rounding (the double sums are
// merged per block instead of over one partition). Passes: 1 range and mean, 2 central moments and the
// histogram, 3 outlier counts (skipped without outlier thresholds).
//
// computeOutlierGrid adds, during pass 1, the maximum of |w| per tile of a grid of at most
// maxGridRows x maxGridCols tiles (each tile covering ceil(rows/maxGridRows) rows and ceil(cols/maxGridCols)
// columns) and the maximum of |w| per column (for LLM.int8-style outlier columns, Dettmers et al. 2022).
//
// Matrix view: cols = innermost dimension, rows = elements / cols (a 1-D tensor is one row).
// Determinism: results depend on blockElements and the data only, never on the thread count.
// Progress and cancellation: `progress` (may be null) gets the fraction over all passes; when it asks to
// cancel the call returns kCancelledMessage promptly (between blocks). Threads: both functions run in `arena`
// (not owned, must outlive the call; null = serially on the calling thread), which they enter themselves;
// progress is called on the calling thread.
// Failure: a tensor that cannot be decoded to float (the message names it and its type).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/stats/weight_stats.h"
#include "core/util/result.h"

namespace qs {

inline constexpr uint64_t kDefaultScanBlockElements = uint64_t(1) << 22;  // 16 MiB of floats

struct TensorScanOptions {
    WeightStatsOptions stats;
    uint64_t blockElements = kDefaultScanBlockElements;  // rounded down to whole rows (at least one row)
};

Result<WeightStats> streamWeightStats(const Checkpoint& ckpt, size_t tensor, tbb::task_arena* arena,
                                      const TensorScanOptions& options = {},
                                      ProgressSink* progress = nullptr);

struct OutlierGridOptions {
    int maxGridRows = 512, maxGridCols = 512;            // tiles along each axis, at most
    uint64_t blockElements = kDefaultScanBlockElements;
    std::vector<double> outlierSigmas{6.0};              // forwarded to the weight statistics
};

struct OutlierGrid {
    int64_t rows = 0, cols = 0;           // matrix view of the tensor
    int64_t tileRows = 1, tileCols = 1;   // matrix rows / columns covered by one tile (the last may be smaller)
    int gridRows = 0, gridCols = 0;       // tiles along each axis
    std::vector<float> tileAbsmax;        // [gridRows * gridCols], row-major: max |w| in the tile
    std::vector<float> columnAbsmax;      // [cols]: max |w| in each matrix column
    WeightStats stats;                    // of the whole tensor: sigma = stats.std

    // Columns whose max |w| exceeds threshold * sigma (0 when sigma is 0).
    int64_t columnsAbove(double threshold) const;
};

Result<OutlierGrid> computeOutlierGrid(const Checkpoint& ckpt, size_t tensor, tbb::task_arena* arena,
                                       const OutlierGridOptions& options = {},
                                       ProgressSink* progress = nullptr);

}  // namespace qs
