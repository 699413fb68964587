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

namespace {

struct Pass1 {
    ErrorSums sums;
    double wMin = std::numeric_limits<double>::infinity();
    double wMax = -std::numeric_limits<double>::infinity();
};

// Clipped elements of one scale block [w, w+len) / [q, q+len); see the definition in the header.
uint64_t countClipped(const float* w, const float* q, int64_t len) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    float hi = -kInf, lo = kInf;
    for (int64_t i = 0; i < len; ++i) {
        hi = std::max(hi, q[i]);
        lo = std::min(lo, q[i]);
    }
    if (!(hi > lo)) return 0;  // a single level: no grid spacing to judge by
    float hi2 = -kInf, lo2 = kInf;
    for (int64_t i = 0; i < len; ++i) {
        if (q[i] < hi) hi2 = std::max(hi2, q[i]);
        if (q[i] > lo) lo2 = std::min(lo2, q[i]);
    }
    const double top = double(hi) + 0.5 * (double(hi) - double(hi2));
    const double bottom = double(lo) - 0.5 * (double(lo2) - double(lo));
    uint64_t n = 0;
    for (int64_t i = 0; i < len; ++i)
        if (double(w[i]) > top || double(w[i]) < bottom) ++n;
    return n;
}

}  // namespace

ErrorReport computeErrorStats(std::span<const float> original, std::span<const float> dequantized, int64_t rows,
                              int64_t cols, const ErrorStatsOptions& options) {
    QS_CHECK(rows >= 0 && cols >= 0 && original.size() == dequantized.size() &&
                 uint64_t(rows) * uint64_t(cols) == original.size(),
             "computeErrorStats: " + std::to_string(original.size()) + " original and " +
                 std::to_string(dequantized.size()) + " dequantized values for [" + std::to_string(rows) + ", " +
                 std::to_string(cols) + "]");
    ErrorReport report;
    if (original.empty()) return report;

    // Work units are scale blocks (never split), so each block's clipping test sees the whole block.
    const int64_t block = options.clipBlock > 0 ? std::min(options.clipBlock, cols) : cols;
    const uint64_t blocksPerRow = uint64_t((cols + block - 1) / block);
    const uint64_t units = uint64_t(rows) * blocksPerRow;
    const uint64_t per = stats::unitsPerChunk(units, uint64_t(block));
    const uint64_t chunks = (units + per - 1) / per;
    const float* w = original.data();
    const float* q = dequantized.data();

    Pass1 p = stats::fixedReduce<Pass1>(
        chunks,
        [&](uint64_t c) {
            Pass1 part;
            ErrorSums& s = part.sums;
            const uint64_t uEnd = std::min(units, (c + 1) * per);
            for (uint64_t u = c * per; u < uEnd; ++u) {
                const uint64_t row = u / blocksPerRow;
                const int64_t c0 = int64_t(u % blocksPerRow) * block;
                const int64_t len = std::min(block, cols - c0);
                const float* wb = w + row * uint64_t(cols) + uint64_t(c0);
                const float* qb = q + row * uint64_t(cols) + uint64_t(c0);
                for (int64_t i = 0; i < len; ++i) {
                    const double a = wb[i], b = qb[i], e = b - a;
                    s.sumSqError += e * e;
                    s.sumSqOriginal += a * a;
                    s.sumSqDequantized += b * b;
                    s.sumProduct += a * b;
                    s.maxAbsError = std::max(s.maxAbsError, std::fabs(e));
                    if (wb[i] != 0.0f && qb[i] == 0.0f) ++s.zeroed;
                    part.wMin = std::min(part.wMin, a);
                    part.wMax = std::max(part.wMax, a);
                }
                s.count += uint64_t(len);
                s.clipped += countClipped(wb, qb, len);
            }
            return part;
        },
        [](Pass1& a, const Pass1& b) {
            a.sums += b.sums;
            a.wMin = std::min(a.wMin, b.wMin);
            a.wMax = std::max(a.wMax, b.wMax);
        });
    report.stats = ErrorStats::fromSums(p.sums);

    if (options.histogramBins > 0) {
        report.weightHistogram = makeHistogram(p.wMin, p.wMax, options.histogramBins);
        fillHistogram(report.weightHistogram, original);
        const double m = p.sums.maxAbsError;
        report.errorHistogram = makeHistogram(-m, m, options.histogramBins);
        // e is formed in double exactly as in pass 1, so every error falls inside [-max|e|, max|e|].
        fillHistogramWith(report.errorHistogram, original.size(),
                          [&](uint64_t i) { return double(q[i]) - double(w[i]); });
    }
    return report;
}

}  // namespace qs
