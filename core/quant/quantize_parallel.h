// SPDX-License-Identifier: GPL-3.0-or-later
// Whole-tensor quantization spread over TBB workers. Runs in the caller's task arena (wrap the call in a
// tbb::task_arena to choose the thread count). The serial start (checks, global statistics of per-tensor /
// per-column schemes) and finish (double quantization) run on the calling thread; the work units (rows,
// or blocks for nf4/fp4) run in parallel and write disjoint bytes, so the result is byte-identical to
// Scheme::quantize() whatever the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/jobs/progress.h"
#include "core/quant/scheme.h"

namespace qs {

// progress (may be null) gets fractions in [0,1] with stage "quantizing <name>"; when it requests
// cancellation the call stops promptly and returns Error{kCancelledMessage}. Other failures as
// Scheme::quantize (shape, NaN/Inf naming the tensor, scale overflow).
Result<QuantizedTensor> quantizeParallel(const Scheme& scheme, std::span<const float> src, int64_t rows,
                                         int64_t cols, std::string_view name, ProgressSink* progress);

}  // namespace qs
