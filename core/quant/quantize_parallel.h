// SPDX-License-Identifier: GPL-3.0-or-later
// Whole-tensor quantization spread over TBB workers. Threads: every function here runs in `arena`
// (tbb::task_arena*, not owned, must outlive the call; null = serially on the calling thread), which it
// enters itself; progress is called from whichever thread finishes a piece (only the calling thread when
// arena is null). The serial start (checks, global statistics of per-tensor / per-column schemes) and finish
// (double quantization) run on the calling thread; the work units (rows, or blocks for nf4/fp4) run in
// parallel and write disjoint bytes, so the result is byte-identical to Scheme::quantize() whatever the
// thread count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <tbb/task_arena.h>

#include "core/jobs/progress.h"
#include "core/quant/scheme.h"
#include "core/stats/error_stats.h"

namespace qs {

// progress (may be null) gets fractions in [0,1] with stage "quantizing <name>"; when it requests
// cancellation the call stops promptly and returns Error{kCancelledMessage}. Other failures as
// Scheme::quantize (shape, NaN/Inf naming the tensor, scale overflow). `calibration`: the statistics of the
// tensor's input for a calibrated scheme (Scheme::quantizeCalibrated; calibrationFor() finds them), null
// otherwise; a scheme that needs them refuses by name when null.
Result<QuantizedTensor> quantizeParallel(const Scheme& scheme, std::span<const float> src, int64_t rows,
                                         int64_t cols, std::string_view name, tbb::task_arena* arena,
                                         ProgressSink* progress,
                                         const TensorCalibration* calibration = nullptr);

struct QuantizedWithStats {
    QuantizedTensor tensor;
    ErrorReport error;
};

// quantizeParallel plus the error statistics of the result: bit-identical to
// computeErrorStats(src, dequantize(tensor), rows, cols, statsOptions). For row schemes (the ggml types;
// QuantJob::rowsFinal) without histograms, the passes are fused over the fixed partition of the statistics
// (stats::ErrorPartition, whole rows): each chunk of rows is quantized, dequantized into a per-thread scratch
// buffer and compared while it is in cache, so no dequantized copy of the tensor is ever allocated. Otherwise
// the tensor is quantized, dequantized in parallel and compared. Progress, cancellation and errors as
// quantizeParallel.
Result<QuantizedWithStats> quantizeWithErrorStats(const Scheme& scheme, std::span<const float> src,
                                                  int64_t rows, int64_t cols, std::string_view name,
                                                  const ErrorStatsOptions& statsOptions,
                                                  tbb::task_arena* arena, ProgressSink* progress,
                                                  const TensorCalibration* calibration = nullptr);

// The error statistics of an already quantized tensor: dequantized in parallel (rows) and compared with src,
// bit-identical to quantizeWithErrorStats's statistics for the same tensor and options (what a cached tensor
// needs when its statistics are asked for later).
ErrorReport compareQuantized(const Scheme& scheme, const QuantizedTensor& q, std::span<const float> src,
                             const ErrorStatsOptions& statsOptions, tbb::task_arena* arena);

}  // namespace qs
