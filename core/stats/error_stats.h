// SPDX-License-Identifier: GPL-3.0-or-later
// Quantization error statistics: how far a dequantized tensor is from the original, per tensor and (by
// merging the raw sums) per role or per model.
//
// Definitions, with w the original value, q the dequantized value, e = q - w, over n elements:
//   MSE = sum(e^2)/n, RMSE = sqrt(MSE), max abs error = max |e|,
//   SQNR (dB) = 10 log10(sum(w^2) / sum(e^2))      (+inf when sum(e^2) == 0),
//   cosine similarity = sum(w q) / sqrt(sum(w^2) sum(q^2))   (1 when both norms are 0, 0 when one is),
//   relative Frobenius error = ||e|| / ||w||       (0 when ||e|| == 0, +inf when only ||w|| == 0),
//   fraction rounded to zero = #{ w != 0 and q == 0 } / n,
//   fraction clipped = #{ clipped } / n, where "clipped" is defined per scale block:
//     A scale block is `clipBlock` consecutive elements of one row (the last block of a row may be shorter;
//     clipBlock 0 means the whole row). Let hi be the largest dequantized value in the block and hi2 the
//     largest dequantized value strictly below it, lo/lo2 likewise at the bottom. An element is clipped when
//     w > hi + (hi - hi2)/2 or w < lo - (lo2 - lo)/2: rounding to nearest on the block's own grid would have
//     picked a level beyond the block's range had one existed, i.e. the value was saturated, not rounded.
//     The spacing at the edge of the grid makes this work for uniform (q4_0, int4) and non-uniform (nf4, fp8)
//     grids alike, and fp16 rounding of a block's absmax is not counted. A block whose values all dequantize to
//     one level has no spacing and counts no clipped elements. When unused codes sit next to the block's
//     extreme the spacing is over-estimated, so the count is a lower bound.
//
// Determinism: parallel (oneTBB) over a fixed partition of whole scale blocks (whole rows once a chunk spans a
// row; ErrorPartition), each chunk summed in 8 double lanes by the vectorised kernels of stat_kernels.h, chunk
// sums merged pairwise in a fixed order: bit-identical results whatever the thread count and SIMD level.
// Accuracy: every product of two floats is exact in double; the sums carry double rounding only (relative
// error ~1e-13 for a tensor of 1e8 elements; tests/core/test_stats_kernels.cpp checks against long double).
// Threads: computeErrorStats runs in `arena` (not owned, must outlive the call; null = serially on the
// calling thread), which it enters itself.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>

#include <tbb/task_arena.h>

#include "core/stats/histogram.h"
#include "core/stats/stat_kernels.h"

namespace qs {

// Raw sums: merge them to aggregate tensors into roles; derive the statistics with ErrorStats::fromSums.
struct ErrorSums {
    uint64_t count = 0, clipped = 0, zeroed = 0;
    double sumSqError = 0.0, sumSqOriginal = 0.0, sumSqDequantized = 0.0, sumProduct = 0.0;
    double maxAbsError = 0.0;
    ErrorSums& operator+=(const ErrorSums& o);
};

struct ErrorStats {
    uint64_t count = 0;
    double mse = 0.0, rmse = 0.0, maxAbsError = 0.0;
    double sqnrDb = 0.0;
    double cosine = 1.0;
    double relFrobenius = 0.0;
    double fractionClipped = 0.0, fractionZeroed = 0.0;
    ErrorSums sums;

    static ErrorStats fromSums(const ErrorSums& s);
};

struct ErrorStatsOptions {
    int64_t clipBlock = 0;    // elements per scale block along a row (0: whole row); see the header comment
    int histogramBins = 0;    // 0: no histograms; else weights over [min w, max w], errors over [-max|e|, max|e|]
    std::optional<cpu::SimdLevel> simdLevel;  // kernels of this level (must run here); default cpu::simdLevel()
};

struct ErrorReport {
    ErrorStats stats;
    Histogram weightHistogram;  // of w
    Histogram errorHistogram;   // of e = q - w
};

// original and dequantized are row-major [rows, cols] (a 1-D tensor is one row); both must hold rows*cols
// values (checked: a mismatch is a programming error). Values are expected finite (schemes refuse NaN/Inf).
ErrorReport computeErrorStats(std::span<const float> original, std::span<const float> dequantized,
                              int64_t rows, int64_t cols, tbb::task_arena* arena,
                              const ErrorStatsOptions& options = {});

namespace stats {

// The fixed partition behind computeErrorStats, exposed so a fused quantize + compare pass
// (quantizeWithErrorStats, core/quant/quantize_parallel.h) reduces exactly the same pieces. Units are scale
// blocks in row-major order; chunk c holds units [c * perChunk, min(units, (c + 1) * perChunk)), which are
// contiguous elements [elementOffset(first), elementOffset(last)). Depends on the shape and block only.
struct ErrorPartition {
    int64_t rows = 0, cols = 0, block = 1;
    uint64_t blocksPerRow = 1, units = 0, perChunk = 1, chunks = 0;

    static ErrorPartition of(int64_t rows, int64_t cols, int64_t clipBlock);
    // True when every chunk is whole rows (rowsPerChunk() rows, the last chunk possibly fewer).
    bool wholeRows() const { return perChunk % blocksPerRow == 0; }
    int64_t rowsPerChunk() const { return int64_t(perChunk / blocksPerRow); }
    uint64_t elementOffset(uint64_t unit) const;
};

// The statistics of one chunk; w and q point at the chunk's first element.
struct ErrorPartial {
    ErrorSums sums;
    float wMin = std::numeric_limits<float>::infinity(), wMax = -std::numeric_limits<float>::infinity();
    void merge(const ErrorPartial& b);
};
ErrorPartial errorChunk(const ErrorPartition& part, uint64_t chunk, const float* w, const float* q,
                        const Kernels& k);

}  // namespace stats

}  // namespace qs
