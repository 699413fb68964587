// SPDX-License-Identifier: GPL-3.0-or-later
// The layer overview's background job: for every parameter tensor of the model, weight statistics (kurtosis,
// outlier counts at standardOutlierSigmas(); cached per tensor, map-independent) and the quantization error
// under the current map (qs::applyMap: quantize, dequantize, compare, tensor by tensor in streaming batches;
// through the Document's quantized-tensor cache, so tensors Quantize or the chat already quantized are only
// compared).
// The result is per tensor; LayerOverviewModel aggregates it per (layer, role).
//
// Cancellation: the job stops between tensors (and inside applyMap's row loops); a cancelled job delivers
// nothing, so the table keeps what it showed. Thread-safety: the input is copied into the job; its parallel
// work runs in `arena` (the JobRunner's; not owned, must outlive the job; null = serially on the worker).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"
#include "core/quant/apply_map.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/stats/error_stats.h"
#include "core/stats/weight_stats.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"

namespace qsui {

struct LayerOverviewTensor {
    bool included = false;   // a parameter tensor (buffers such as RoPE tables are left out)
    std::string scheme;      // scheme applied ("" = stays as stored)
    bool quantized = false;  // its error sums are meaningful (a tied head copy shares the embedding's)
    qs::ErrorSums error;
    qs::ByteBreakdown bytes;                         // packed bytes when quantized
    std::shared_ptr<const qs::WeightStats> weights;  // no histogram
};

struct LayerOverviewData {
    std::vector<std::string> schemes;          // resolvedSchemes() when the job started
    std::vector<LayerOverviewTensor> tensors;  // parallel to Checkpoint::tensors
    std::vector<std::string> warnings;
    int fromCache = 0, quantizedHere = 0;  // packed tensors taken from the cache / quantized by the job
};

struct LayerOverviewInput {
    std::shared_ptr<const LoadedModel> model;
    qs::ResolvedMap resolved;
    std::vector<std::string> schemes;
    // Weight statistics already cached (null where missing), parallel to the tensors.
    std::vector<std::shared_ptr<const qs::WeightStats>> cachedWeights;
    std::shared_ptr<qs::QuantizedTensorCache> cache;  // the Document's quantCache() (may be null)
    std::shared_ptr<const qs::CalibrationSet> calibration;  // the Document's (may be null)
};

// The per-tensor scheme vector a layer overview depends on: resolvedSchemeOf, a calibrated scheme tagged with
// the calibration it used (Document::calibrationTag: "gptq4_g32@<fingerprint>").
std::vector<std::string> resolvedSchemes(const Document& doc);

JobFn<LayerOverviewData> layerOverviewJob(LayerOverviewInput input, tbb::task_arena* arena);

}  // namespace qsui
