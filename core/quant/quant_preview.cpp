// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quant_preview.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "core/jobs/arena.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quantize_parallel.h"

namespace qs {

namespace {

// The packed tensor from the cache (second: true) or quantized here and published to it.
Result<std::pair<std::shared_ptr<const QuantizedTensor>, bool>> packedTensor(
    const Checkpoint& ckpt, size_t tensor, const Scheme& scheme, std::span<const float> floats, int64_t rows,
    int64_t cols, QuantizedTensorCache* cache, const CalibrationSet* set, tbb::task_arena* arena,
    ProgressSink& sink) {
    const std::string& name = ckpt.tensors[tensor].name;
    auto calibration = calibrationFor(scheme, set, name, cols);
    if (!calibration) return calibration.error();
    QuantizedTensorCache::Claim claim;
    if (cache) {
        const auto key = QuantizedTensorCache::keyOf(ckpt, int(tensor), scheme.name(),
                                                     *calibration ? set->fingerprint() : std::string());
        auto l = cache->lookupWaiting(
            key, [&] { return !sink.report(0.0, "waiting for " + name + " (another job is quantizing it)"); });
        if (!l) return Error{std::string(kCancelledMessage)};
        if (l->entry) return std::pair{l->entry->tensor, true};
        claim = std::move(l->claim);
    }
    Result<QuantizedTensor> q = Error{"not run"};
    // Isolated while holding the claim (see quantized_tensor_cache.h).
    runIsolated(arena,
                [&] { q = quantizeParallel(scheme, floats, rows, cols, name, arena, &sink, *calibration); });
    if (!q) return q.error();
    auto shared = std::make_shared<const QuantizedTensor>(std::move(q.value()));
    if (claim) claim.publish(QuantizedTensorCache::Entry{shared, std::nullopt, 0});
    return std::pair{shared, false};
}

}  // namespace

Result<QuantPreview> previewQuantization(const Checkpoint& ckpt, size_t tensor, const Scheme& scheme,
                                         tbb::task_arena* arena, const QuantPreviewOptions& options,
                                         ProgressSink* progress) {
    if (tensor >= ckpt.tensors.size()) return Error{"tensor index " + std::to_string(tensor) + " out of range"};
    if (options.bins < 1 || options.errorBins < 1) return Error{"quantization preview needs at least one bin"};
    const TensorInfo& t = ckpt.tensors[tensor];
    auto shape = matrixShape(t);
    if (!shape) return shape.error();
    QuantPreview out;
    out.scheme = scheme.name();
    out.rows = shape->first;
    out.cols = shape->second;
    if (const std::string why = scheme.rejectReason(out.rows, out.cols); !why.empty())
        return Error{t.name + ": " + out.scheme + " cannot take this shape: " + why};

    // Progress: quantizing is the first 60 %, the two comparison passes the rest (a rough split of the cost).
    const std::string compareStage = "comparing " + t.name;
    ProgressSink quantSink([progress](double f, std::string_view stage) {
        return !progress || progress->report(0.6 * f, stage);
    });
    auto floats = ckpt.toFloat(tensor);
    if (!floats) return floats.error();
    out.weights = computeWeightStats(*floats, arena, WeightStatsOptions{options.bins, {6.0}});
    if (out.weights.nonFinite > 0)
        return Error{t.name + ": " + std::to_string(out.weights.nonFinite) + " NaN/Inf values cannot be quantized"};
    auto packed = packedTensor(ckpt, tensor, scheme, *floats, out.rows, out.cols, options.cache,
                               options.calibration, arena, quantSink);
    if (!packed) return packed.error();
    out.fromCache = packed->second;
    out.bytes = packed->first->bytes;
    const QuantizedTensor& q = *packed->first;

    const int64_t cols = std::max<int64_t>(1, out.cols);
    const int64_t blockRows = std::max<int64_t>(1, int64_t(options.blockElements / uint64_t(cols)));
    std::vector<float> deq(size_t(std::min(blockRows, std::max<int64_t>(1, out.rows)) * cols));
    auto dequantizeBlock = [&](int64_t r0, int64_t n) {
        const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / cols);
        parallelFor(arena, int64_t(0), n, grain, [&](const tbb::blocked_range<int64_t>& r) {
            scheme.dequantizeRows(q, r0 + r.begin(), r.end() - r.begin(), deq.data() + r.begin() * cols);
        });
    };
    const double rows = double(std::max<int64_t>(1, out.rows));
    auto report = [&](double base, int64_t done) {
        return !progress || progress->report(base + 0.2 * double(done) / rows, compareStage);
    };

    // Pass 1: error sums (merged over blocks) and the dequantized histogram on the original's edges.
    const Histogram& edges = out.weights.histogram;
    out.dequantized = makeHistogram(edges.lo, edges.hi, options.bins);
    ErrorStatsOptions eo;
    eo.clipBlock = clipBlockOf(scheme);
    ErrorSums sums;
    for (int64_t r0 = 0; r0 < out.rows; r0 += blockRows) {
        const int64_t n = std::min(blockRows, out.rows - r0);
        const size_t count = size_t(n * cols);
        dequantizeBlock(r0, n);
        const std::span<const float> orig(floats->data() + r0 * cols, count), dq(deq.data(), count);
        sums += computeErrorStats(orig, dq, n, cols, arena, eo).stats.sums;
        fillHistogram(out.dequantized, dq, arena);
        if (!report(0.6, r0 + n)) return Error{std::string(kCancelledMessage)};
    }
    out.error = ErrorStats::fromSums(sums);

    // Pass 2: the error histogram over [-max|e|, max|e|] (makeHistogram widens a zero range).
    const double emax = out.error.maxAbsError;
    out.errorHistogram = makeHistogram(-emax, emax, options.errorBins);
    for (int64_t r0 = 0; r0 < out.rows; r0 += blockRows) {
        const int64_t n = std::min(blockRows, out.rows - r0);
        dequantizeBlock(r0, n);
        const size_t count = size_t(n * cols);
        fillDifferenceHistogram(out.errorHistogram, std::span<const float>(floats->data() + r0 * cols, count),
                                std::span<const float>(deq.data(), count), arena);
        if (!report(0.8, r0 + n)) return Error{std::string(kCancelledMessage)};
    }
    if (progress) progress->report(1.0, compareStage);
    return out;
}

}  // namespace qs
