// SPDX-License-Identifier: GPL-3.0-or-later
// What one scheme does to one tensor, for the histogram view: the tensor is quantized with the scheme, then
// dequantized in row blocks and compared with the original. Gives the histogram of the original weights, the
// histogram of the dequantized weights over the SAME bin edges (so the two overlay bin for bin), the error
// statistics (error_stats.h: RMSE, SQNR, ...), the histogram of the error e = q - w over [-max|e|, max|e|]
// and the exact packed bytes (ByteBreakdown: effective bits per weight = 8 * total / elements).
//
// Memory: the original floats and the packed tensor are held for the whole call (quantizing needs the whole
// tensor: some schemes take per-tensor or per-column statistics); the dequantized values only one block of
// rows at a time (two passes over the blocks: statistics, then the error histogram once max|e| is known).
//
// Determinism: quantizeParallel and the statistics are independent of the thread count; results depend on
// blockElements and the data only. Progress (may be null): fraction of the whole call, "quantizing <name>"
// then "comparing <name>"; cancelling returns kCancelledMessage. Threads: runs in `arena` (not owned, must
// outlive the call; null = serially on the calling thread), which it enters itself; progress may be called
// from any of the arena's threads.
// Failure: undecodable tensor, a shape the scheme refuses (its reject reason), NaN/Inf input (named).
//
// With QuantPreviewOptions::cache the packed tensor is taken from the cache when another job (Quantize, the
// layer overview, the chat) or an earlier preview quantized it with the same scheme, and published to it
// otherwise (core/quant/quantized_tensor_cache.h); the comparison passes always run (they need histograms).
#pragma once

#include <cstdint>
#include <string>

#include <tbb/task_arena.h>

#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/quant/scheme.h"
#include "core/stats/error_stats.h"
#include "core/stats/histogram.h"
#include "core/stats/weight_stats.h"
#include "core/util/result.h"

namespace qs {

struct QuantPreviewOptions {
    int bins = 128;                       // weight / dequantized histogram bins over [min w, max w]
    int errorBins = 128;                  // error histogram bins
    uint64_t blockElements = uint64_t(1) << 22;  // dequantized floats per block (whole rows)
    QuantizedTensorCache* cache = nullptr;       // not owned; null: quantize here
    // The statistics a calibrated scheme quantizes with (calibrationFor, scheme.h; not owned; may be null: a
    // calibrated scheme then refuses by name). Cached under the set's fingerprint, as applyMap does.
    const CalibrationSet* calibration = nullptr;
};

struct QuantPreview {
    std::string scheme;        // canonical scheme name
    int64_t rows = 0, cols = 0;
    ByteBreakdown bytes;       // of the packed tensor
    WeightStats weights;       // of the original (histogram over [min, max] with `bins` bins)
    Histogram dequantized;     // same lo, hi and bins as weights.histogram; below/above count values outside
    ErrorStats error;
    Histogram errorHistogram;  // of q - w over [-max|e|, max|e|]
    bool fromCache = false;    // the packed tensor came from QuantPreviewOptions::cache

    uint64_t elements() const { return uint64_t(rows) * uint64_t(cols); }
    double bitsPerWeight() const { return elements() ? 8.0 * double(bytes.total()) / double(elements()) : 0.0; }
};

Result<QuantPreview> previewQuantization(const Checkpoint& ckpt, size_t tensor, const Scheme& scheme,
                                         tbb::task_arena* arena, const QuantPreviewOptions& options = {},
                                         ProgressSink* progress = nullptr);

}  // namespace qs
