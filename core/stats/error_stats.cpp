// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/stats/error_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/stats/fixed_reduce.h"
#include "core/util/check.h"

namespace qs {

ErrorSums& ErrorSums::operator+=(const ErrorSums& o) {
    count += o.count;
    clipped += o.clipped;
    zeroed += o.zeroed;
    sumSqError += o.sumSqError;
    sumSqOriginal += o.sumSqOriginal;
    sumSqDequantized += o.sumSqDequantized;
    sumProduct += o.sumProduct;
    maxAbsError = std::max(maxAbsError, o.maxAbsError);
    return *this;
}

ErrorStats ErrorStats::fromSums(const ErrorSums& s) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    ErrorStats e;
    e.sums = s;
    e.count = s.count;
    if (s.count == 0) return e;
    const double n = double(s.count);
    e.mse = s.sumSqError / n;
    e.rmse = std::sqrt(e.mse);
    e.maxAbsError = s.maxAbsError;
    e.sqnrDb = s.sumSqError == 0.0 ? kInf : 10.0 * std::log10(s.sumSqOriginal / s.sumSqError);
    if (s.sumSqOriginal == 0.0 && s.sumSqDequantized == 0.0) e.cosine = 1.0;
    else if (s.sumSqOriginal == 0.0 || s.sumSqDequantized == 0.0) e.cosine = 0.0;
    else e.cosine = s.sumProduct / std::sqrt(s.sumSqOriginal * s.sumSqDequantized);
    if (s.sumSqError == 0.0) e.relFrobenius = 0.0;
    else e.relFrobenius = s.sumSqOriginal == 0.0 ? kInf : std::sqrt(s.sumSqError / s.sumSqOriginal);
    e.fractionClipped = double(s.clipped) / n;
    e.fractionZeroed = double(s.zeroed) / n;
    return e;
}

namespace stats {

ErrorPartition ErrorPartition::of(int64_t rows, int64_t cols, int64_t clipBlock) {
    ErrorPartition p;
    p.rows = rows;
    p.cols = cols;
    if (rows <= 0 || cols <= 0) return p;
    // Work units are scale blocks (never split), so each block's clipping test sees the whole block.
    p.block = clipBlock > 0 ? std::min(clipBlock, cols) : cols;
    p.blocksPerRow = uint64_t((cols + p.block - 1) / p.block);
    p.units = uint64_t(rows) * p.blocksPerRow;
    p.perChunk = unitsPerChunk(p.units, uint64_t(p.block));
    // A chunk spanning a row anyway is rounded up to whole rows, so a fused pass can quantize it row by row.
    if (p.perChunk >= p.blocksPerRow) p.perChunk = (p.perChunk + p.blocksPerRow - 1) / p.blocksPerRow * p.blocksPerRow;
    p.chunks = (p.units + p.perChunk - 1) / p.perChunk;
    return p;
}

uint64_t ErrorPartition::elementOffset(uint64_t unit) const {
    return (unit / blocksPerRow) * uint64_t(cols) + (unit % blocksPerRow) * uint64_t(block);
}

void ErrorPartial::merge(const ErrorPartial& b) {
    sums += b.sums;
    wMin = b.wMin < wMin ? b.wMin : wMin;
    wMax = b.wMax > wMax ? b.wMax : wMax;
}

ErrorPartial errorChunk(const ErrorPartition& part, uint64_t chunk, const float* w, const float* q,
                        const Kernels& k) {
    const uint64_t u0 = chunk * part.perChunk, u1 = std::min(part.units, (chunk + 1) * part.perChunk);
    const uint64_t base = part.elementOffset(u0), n = part.elementOffset(u1) - base;
    ErrorLanes lanes;
    k.errorSums(w, q, n, lanes);
    ErrorPartial out;
    ErrorSums& s = out.sums;
    s.count = n;
    s.zeroed = lanes.zeroed;
    s.sumSqError = foldLanes(lanes.sqError);
    s.sumSqOriginal = foldLanes(lanes.sqOriginal);
    s.sumSqDequantized = foldLanes(lanes.sqDequantized);
    s.sumProduct = foldLanes(lanes.product);
    s.maxAbsError = lanes.maxAbsError;
    out.wMin = lanes.wMin;
    out.wMax = lanes.wMax;
    // One-element blocks (f16, bf16) have a single level each: nothing can count as clipped.
    if (part.block > 1) {
        uint64_t bi = u0 % part.blocksPerRow;  // block index within its row
        const float* wb = w;
        const float* qb = q;
        for (uint64_t u = u0; u < u1; ++u) {
            const int64_t len = std::min(part.block, part.cols - int64_t(bi) * part.block);
            s.clipped += k.countClipped(wb, qb, len);
            wb += len;
            qb += len;
            if (++bi == part.blocksPerRow) bi = 0;
        }
    }
    return out;
}

}  // namespace stats

ErrorReport computeErrorStats(std::span<const float> original, std::span<const float> dequantized,
                              int64_t rows, int64_t cols, tbb::task_arena* arena,
                              const ErrorStatsOptions& options) {
    QS_CHECK(rows >= 0 && cols >= 0 && original.size() == dequantized.size() &&
                 uint64_t(rows) * uint64_t(cols) == original.size(),
             "computeErrorStats: " + std::to_string(original.size()) + " original and " +
                 std::to_string(dequantized.size()) + " dequantized values for [" + std::to_string(rows) + ", " +
                 std::to_string(cols) + "]");
    ErrorReport report;
    if (original.empty()) return report;
    const stats::Kernels& k = options.simdLevel ? stats::kernels(*options.simdLevel) : stats::kernels();
    const stats::ErrorPartition part = stats::ErrorPartition::of(rows, cols, options.clipBlock);
    const float* w = original.data();
    const float* q = dequantized.data();
    stats::ErrorPartial p = stats::fixedReduce<stats::ErrorPartial>(
        part.chunks, arena,
        [&](uint64_t c) {
            const uint64_t at = part.elementOffset(c * part.perChunk);
            return stats::errorChunk(part, c, w + at, q + at, k);
        },
        [](stats::ErrorPartial& a, const stats::ErrorPartial& b) { a.merge(b); });
    report.stats = ErrorStats::fromSums(p.sums);

    if (options.histogramBins > 0) {
        report.weightHistogram = makeHistogram(p.wMin, p.wMax, options.histogramBins);
        fillHistogram(report.weightHistogram, original, arena, options.simdLevel);
        const double m = p.sums.maxAbsError;
        report.errorHistogram = makeHistogram(-m, m, options.histogramBins);
        // e is formed in double exactly as in the sums, so every error falls inside [-max|e|, max|e|].
        fillDifferenceHistogram(report.errorHistogram, original, dequantized, arena, options.simdLevel);
    }
    return report;
}

}  // namespace qs
