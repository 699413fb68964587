// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quantize_parallel.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "core/quant/chunked_scheme.h"

namespace qs {

Result<QuantizedTensor> quantizeParallel(const Scheme& scheme, std::span<const float> src, int64_t rows,
                                         int64_t cols, std::string_view name, ProgressSink* progress) {
    const std::string stage = "quantizing " + std::string(name);
    if (progress && !progress->report(0.0, stage)) return Error{std::string(kCancelledMessage)};
    const auto* chunked = dynamic_cast<const ChunkedScheme*>(&scheme);
    if (!chunked) {
        // A scheme without work units (none built in today) runs serially.
        auto r = scheme.quantize(src, rows, cols, name);
        if (progress && r.ok()) progress->report(1.0, stage);
        return r;
    }
    auto started = chunked->start(src, rows, cols, name, QuantPath::Optimised);
    if (!started.ok()) return started.error();
    QuantJob& job = **started;
    const int64_t units = job.units();
    // Chunks of ~64K values: big enough to amortise scheduling, small enough to balance and cancel promptly.
    const int64_t valuesPerUnit = std::max<int64_t>(1, int64_t(src.size()) / std::max<int64_t>(1, units));
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / valuesPerUnit);
    std::atomic<int64_t> done{0};
    std::atomic<bool> cancelled{false};
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, units, grain), [&](const tbb::blocked_range<int64_t>& r) {
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

}  // namespace qs
