// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/stats/tensor_scan.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>
#include <string>

#include "core/jobs/arena.h"
#include "core/stats/stat_passes.h"
#include "core/util/check.h"

namespace qs {

namespace {

// Decodes the tensor block by block (whole rows) and calls visit(firstRow, nRows, values) for each.
class BlockReader {
public:
    BlockReader(const Checkpoint& ckpt, size_t tensor, uint64_t blockElements) : m_ckpt(ckpt), m_tensor(tensor) {
        const TensorInfo& t = ckpt.tensors[tensor];
        m_cols = std::max<int64_t>(1, t.rowLength());
        m_rows = t.rowLength() == 0 ? 0 : t.rows();
        m_blockRows = std::max<int64_t>(1, int64_t(blockElements / uint64_t(m_cols)));
        m_blockRows = std::min<int64_t>(m_blockRows, std::max<int64_t>(1, m_rows));
    }
    int64_t rows() const { return m_rows; }
    int64_t cols() const { return m_cols; }

    // visit returns false to stop (cancel). Returns the decode error, or a cancellation error.
    template <class Visit>
    Status forEach(Visit&& visit) {
        if (m_rows == 0) return {};
        const TensorInfo& t = m_ckpt.tensors[m_tensor];
        if (!dtypeConvertibleToFloat(t.dtype))
            return Error{m_ckpt.path + ": tensor '" + t.name + "' has type " + std::string(dtypeName(t.dtype)) +
                         ", which cannot be decoded to float"};
        // The bytes are fetched once, before any buffer: a reader's refusal costs nothing, and a tensor read on
        // demand (HDF5 chunked) is read once, not once per block.
        auto d = m_ckpt.data(m_tensor);
        if (!d) return d.error();
        m_held = std::move(*d);
        const float* direct = directFloats();
        if (!direct) m_buffer.resize(size_t(m_blockRows * m_cols));
        for (int64_t r = 0; r < m_rows; r += m_blockRows) {
            const int64_t n = std::min(m_blockRows, m_rows - r);
            const uint64_t count = uint64_t(n) * uint64_t(m_cols);
            const float* values = direct ? direct + uint64_t(r) * uint64_t(m_cols) : m_buffer.data();
            if (!direct) {
                Status s = decodeToFloat(t.dtype, m_held.bytes, t.elements(), t.group, uint64_t(r) * uint64_t(m_cols),
                                         count, m_buffer.data());
                if (!s) return Error{m_ckpt.path + ": tensor '" + t.name + "': " + s.message()};
            }
            if (!visit(r, n, std::span<const float>(values, size_t(count)))) return Error{std::string(kCancelledMessage)};
        }
        return {};
    }

private:
    // An F32 tensor's stored floats (m_held), used in place (little-endian host, float-aligned); nullptr: decode
    // blocks.
    const float* directFloats() const {
        const TensorInfo& t = m_ckpt.tensors[m_tensor];
        if constexpr (std::endian::native != std::endian::little) return nullptr;
        if (t.dtype != DType::F32 || t.bytes != t.elements() * sizeof(float)) return nullptr;
        if (m_held.bytes.size() != t.bytes || reinterpret_cast<uintptr_t>(m_held.bytes.data()) % alignof(float) != 0)
            return nullptr;
        return reinterpret_cast<const float*>(m_held.bytes.data());
    }

    const Checkpoint& m_ckpt;
    size_t m_tensor;
    int64_t m_rows = 0, m_cols = 1, m_blockRows = 1;
    std::vector<float> m_buffer;
    TensorData m_held;  // the tensor's bytes, fetched once by forEach
};

using Pass1Visitor = std::function<void(int64_t firstRow, int64_t nRows, std::span<const float> values)>;

Result<WeightStats> scan(const Checkpoint& ckpt, size_t tensor, tbb::task_arena* arena,
                         const TensorScanOptions& options, ProgressSink* progress,
                         const Pass1Visitor& onPass1) {
    if (tensor >= ckpt.tensors.size())
        return Error{"tensor index " + std::to_string(tensor) + " out of range (" +
                     std::to_string(ckpt.tensors.size()) + " tensors)"};
    const TensorInfo& t = ckpt.tensors[tensor];
    BlockReader reader(ckpt, tensor, options.blockElements);
    const std::vector<double>& sigmas = options.stats.outlierSigmas;
    const int passes = sigmas.empty() ? 2 : 3;
    const std::string stage = "statistics of " + t.name;
    const double rows = double(std::max<int64_t>(1, reader.rows()));
    auto report = [&](int pass, int64_t rowsDone) {
        return !progress || progress->report((pass + double(rowsDone) / rows) / passes, stage);
    };

    WeightStats s;
    s.outlierSigmas = sigmas;
    s.outliers.assign(sigmas.size(), 0);

    // Pass 1: range and mean.
    stats::RangePart range;
    Status st = reader.forEach([&](int64_t r0, int64_t n, std::span<const float> v) {
        range.merge(stats::rangePass(v, arena));
        if (onPass1) onPass1(r0, n, v);
        return report(0, r0 + n);
    });
    if (!st) return Error{st.message()};
    s.count = range.count;
    s.nonFinite = range.nonFinite;
    s.zeros = range.zeros;
    if (s.count == 0) return s;
    s.min = range.min;
    s.max = range.max;
    s.absmax = std::max(std::fabs(range.min), std::fabs(range.max));
    s.mean = range.sum / double(s.count);

    // Pass 2: central moments about the mean (two-pass, as computeWeightStats) and the histogram.
    const double mean = s.mean;
    if (options.stats.histogramBins > 0) s.histogram = makeHistogram(s.min, s.max, options.stats.histogramBins);
    stats::MomentPart moments;
    st = reader.forEach([&](int64_t r0, int64_t n, std::span<const float> v) {
        moments.merge(stats::momentPass(v, mean, arena));
        if (!s.histogram.empty()) fillHistogram(s.histogram, v, arena);
        return report(1, r0 + n);
    });
    if (!st) return Error{st.message()};
    const double m2 = moments.m2 / double(s.count), m4 = moments.m4 / double(s.count);
    s.std = std::sqrt(m2);
    s.kurtosis = m2 > 0.0 ? m4 / (m2 * m2) - 3.0 : 0.0;

    // Pass 3: outlier counts against k * std (integer counts: exact whatever the partition).
    if (!sigmas.empty() && s.std > 0.0) {
        std::vector<double> thresholds(sigmas.size());
        for (size_t k = 0; k < sigmas.size(); ++k) thresholds[k] = sigmas[k] * s.std;
        st = reader.forEach([&](int64_t r0, int64_t n, std::span<const float> v) {
            stats::countAbovePass(v, thresholds, s.outliers, arena);
            return report(2, r0 + n);
        });
        if (!st) return Error{st.message()};
    }
    if (progress) progress->report(1.0, stage);
    return s;
}

}  // namespace

Result<WeightStats> streamWeightStats(const Checkpoint& ckpt, size_t tensor, tbb::task_arena* arena,
                                      const TensorScanOptions& options, ProgressSink* progress) {
    return scan(ckpt, tensor, arena, options, progress, {});
}

int64_t OutlierGrid::columnsAbove(double threshold) const {
    if (!(stats.std > 0.0)) return 0;
    const double limit = threshold * stats.std;
    return std::count_if(columnAbsmax.begin(), columnAbsmax.end(), [limit](float a) { return double(a) > limit; });
}

Result<OutlierGrid> computeOutlierGrid(const Checkpoint& ckpt, size_t tensor, tbb::task_arena* arena,
                                       const OutlierGridOptions& options, ProgressSink* progress) {
    if (tensor >= ckpt.tensors.size())
        return Error{"tensor index " + std::to_string(tensor) + " out of range"};
    QS_CHECK(options.maxGridRows >= 1 && options.maxGridCols >= 1, "outlier grid needs at least one tile");
    const TensorInfo& t = ckpt.tensors[tensor];
    OutlierGrid g;
    g.cols = std::max<int64_t>(1, t.rowLength());
    g.rows = t.rowLength() == 0 ? 0 : t.rows();
    g.tileRows = std::max<int64_t>(1, (g.rows + options.maxGridRows - 1) / options.maxGridRows);
    g.tileCols = std::max<int64_t>(1, (g.cols + options.maxGridCols - 1) / options.maxGridCols);
    g.gridRows = int((g.rows + g.tileRows - 1) / g.tileRows);
    g.gridCols = int((g.cols + g.tileCols - 1) / g.tileCols);
    g.tileAbsmax.assign(size_t(g.gridRows) * size_t(g.gridCols), 0.0f);
    g.columnAbsmax.assign(size_t(g.cols), 0.0f);

    // max is exact and associative, so these parallel loops give the same result whatever the partition;
    // tasks write disjoint grid rows (tiles) and disjoint column ranges (column maxima).
    const Pass1Visitor visit = [&g, arena](int64_t r0, int64_t n, std::span<const float> v) {
        const int64_t cols = g.cols;
        const int gFirst = int(r0 / g.tileRows), gLast = int((r0 + n - 1) / g.tileRows);
        parallelFor(arena, gFirst, gLast + 1, 1, [&](const tbb::blocked_range<int>& range) {
            for (int gr = range.begin(); gr != range.end(); ++gr) {
                const int64_t a = std::max(r0, int64_t(gr) * g.tileRows);
                const int64_t b = std::min(r0 + n, int64_t(gr + 1) * g.tileRows);
                float* tiles = g.tileAbsmax.data() + size_t(gr) * size_t(g.gridCols);
                for (int64_t r = a; r < b; ++r) {
                    const float* row = v.data() + (r - r0) * cols;
                    for (int gc = 0; gc < g.gridCols; ++gc) {
                        const int64_t c0 = int64_t(gc) * g.tileCols, c1 = std::min(cols, c0 + g.tileCols);
                        float m = tiles[gc];
                        for (int64_t c = c0; c < c1; ++c)
                            if (std::isfinite(row[c])) m = std::max(m, std::fabs(row[c]));
                        tiles[gc] = m;
                    }
                }
            }
        });
        stats::accumulateColumnAbsmax(v, n, cols, g.columnAbsmax.data(), arena);
    };
    TensorScanOptions so;
    so.blockElements = options.blockElements;
    so.stats.outlierSigmas = options.outlierSigmas;
    auto stats = scan(ckpt, tensor, arena, so, progress, visit);
    if (!stats) return stats.error();
    g.stats = std::move(stats.value());
    return g;
}

}  // namespace qs
