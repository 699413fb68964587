// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quantize_parallel.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>
#include <string>

#include "core/jobs/arena.h"
#include "core/quant/chunked_scheme.h"
#include "core/stats/fixed_reduce.h"
#include "core/util/check.h"

namespace qs {

Result<QuantizedTensor> quantizeParallel(const Scheme& scheme, std::span<const float> src, int64_t rows,
                                         int64_t cols, std::string_view name, tbb::task_arena* arena,
                                         ProgressSink* progress, const TensorCalibration* calibration) {
    const std::string stage = "quantizing " + std::string(name);
    if (progress && !progress->report(0.0, stage)) return Error{std::string(kCancelledMessage)};
    const auto* chunked = dynamic_cast<const ChunkedScheme*>(&scheme);
    if (!chunked) {
        // A scheme without work units (none built in today) runs serially.
        auto r = scheme.quantizeCalibrated(src, rows, cols, name, calibration);
        if (progress && r.ok()) progress->report(1.0, stage);
        return r;
    }
    auto started = chunked->startCalibrated(src, rows, cols, name, QuantPath::Optimised, calibration);
    if (!started.ok()) return started.error();
    QuantJob& job = **started;
    const int64_t units = job.units();
    // Chunks of ~64K values: big enough to amortise scheduling, small enough to balance and cancel promptly.
    const int64_t valuesPerUnit = std::max<int64_t>(1, int64_t(src.size()) / std::max<int64_t>(1, units));
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / valuesPerUnit);
    std::atomic<int64_t> done{0};
    std::atomic<bool> cancelled{false};
    parallelFor(arena, int64_t(0), units, grain, [&](const tbb::blocked_range<int64_t>& r) {
        if (cancelled.load(std::memory_order_relaxed)) return;
        if (progress && progress->cancelled()) {
            cancelled.store(true, std::memory_order_relaxed);
            return;
        }
        job.run(r.begin(), r.end());
        const int64_t before = done.fetch_add(int64_t(r.size()), std::memory_order_relaxed);
        const int64_t after = before + int64_t(r.size());
        // Report when a 1% step is crossed, from whichever worker crosses it.
        if (progress && (before * 100) / units != (after * 100) / units) {
            if (!progress->report(double(after) / double(units), stage)) cancelled.store(true);
        }
    });
    if (cancelled.load() || (progress && progress->cancelled())) return Error{std::string(kCancelledMessage)};
    return job.finish();
}

// Dequantizes the whole tensor in parallel (rows) into uninitialised memory and compares it with src.
ErrorReport compareQuantized(const Scheme& scheme, const QuantizedTensor& q, std::span<const float> src,
                             const ErrorStatsOptions& options, tbb::task_arena* arena) {
    const int64_t rows = q.rows, cols = q.cols;
    const size_t n = src.size();
    QS_CHECK(uint64_t(rows) * uint64_t(cols) == n, "compareQuantized: " + std::to_string(n) + " values for a " +
                                                       std::to_string(rows) + " x " + std::to_string(cols) + " tensor");
    std::unique_ptr<float[]> deq(new float[n]);  // every element is written below: no zero fill
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, cols));
    parallelFor(arena, int64_t(0), rows, grain, [&](const tbb::blocked_range<int64_t>& r) {
        scheme.dequantizeRows(q, r.begin(), r.end() - r.begin(), deq.get() + r.begin() * cols);
    });
    return computeErrorStats(src, std::span<const float>(deq.get(), n), rows, cols, arena, options);
}

Result<QuantizedWithStats> quantizeWithErrorStats(const Scheme& scheme, std::span<const float> src,
                                                  int64_t rows, int64_t cols, std::string_view name,
                                                  const ErrorStatsOptions& statsOptions,
                                                  tbb::task_arena* arena, ProgressSink* progress,
                                                  const TensorCalibration* calibration) {
    const auto* chunked = dynamic_cast<const ChunkedScheme*>(&scheme);
    const stats::ErrorPartition part = stats::ErrorPartition::of(rows, cols, statsOptions.clipBlock);
    const bool fusable = chunked && statsOptions.histogramBins == 0 && part.chunks > 0 && part.wholeRows();
    std::unique_ptr<QuantJob> job;
    if (fusable) {
        auto started = chunked->startCalibrated(src, rows, cols, name, QuantPath::Optimised, calibration);
        if (!started.ok()) return started.error();
        job = std::move(*started);
    }
    const QuantizedTensor* partial = job ? job->rowsFinal() : nullptr;
    if (!partial) {
        auto q = quantizeParallel(scheme, src, rows, cols, name, arena, progress, calibration);
        if (!q) return q.error();
        ErrorReport error = compareQuantized(scheme, *q, src, statsOptions, arena);
        return QuantizedWithStats{std::move(q.value()), std::move(error)};
    }

    const std::string stage = "quantizing " + std::string(name);
    if (progress && !progress->report(0.0, stage)) return Error{std::string(kCancelledMessage)};
    const stats::Kernels& k = statsOptions.simdLevel ? stats::kernels(*statsOptions.simdLevel) : stats::kernels();
    const int64_t rowsPerChunk = part.rowsPerChunk();
    tbb::enumerable_thread_specific<std::vector<float>> scratch;
    std::atomic<int64_t> done{0};
    std::atomic<bool> cancelled{false};
    stats::ErrorPartial total = stats::fixedReduce<stats::ErrorPartial>(
        part.chunks, arena,
        [&](uint64_t c) -> stats::ErrorPartial {
            if (cancelled.load(std::memory_order_relaxed)) return {};
            if (progress && progress->cancelled()) {
                cancelled.store(true, std::memory_order_relaxed);
                return {};
            }
            const int64_t r0 = int64_t(c) * rowsPerChunk, r1 = std::min(rows, r0 + rowsPerChunk);
            job->run(r0, r1);
            std::vector<float>& buf = scratch.local();
            if (buf.size() < size_t(rowsPerChunk * cols)) buf.resize(size_t(rowsPerChunk * cols));
            scheme.dequantizeRows(*partial, r0, r1 - r0, buf.data());
            stats::ErrorPartial p = stats::errorChunk(part, c, src.data() + r0 * cols, buf.data(), k);
            const int64_t before = done.fetch_add(r1 - r0, std::memory_order_relaxed), after = before + (r1 - r0);
            // Report when a 1% step is crossed, from whichever worker crosses it.
            if (progress && (before * 100) / rows != (after * 100) / rows &&
                !progress->report(double(after) / double(rows), stage))
                cancelled.store(true);
            return p;
        },
        [](stats::ErrorPartial& a, const stats::ErrorPartial& b) { a.merge(b); });
    if (cancelled.load() || (progress && progress->cancelled())) return Error{std::string(kCancelledMessage)};
    auto q = job->finish();
    if (!q) return q.error();
    QuantizedWithStats out{std::move(q.value()), {}};
    out.error.stats = ErrorStats::fromSums(total.sums);
    return out;
}

}  // namespace qs
