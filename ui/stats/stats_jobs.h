// SPDX-License-Identifier: GPL-3.0-or-later
// The background computations behind the analysis views, as JobRunner functions (job_runner.h). Each one
// holds a shared_ptr to the LoadedModel it started on, so it keeps reading that checkpoint even if the user
// opens another one meanwhile (the StatsCache generation then discards its result). They run on a worker
// and report progress / honour cancellation through the ProgressFn; their parallel work runs in `arena` (the
// JobRunner's, JobRunner::arena(); not owned, must outlive the job; null = serially on the worker).
#pragma once

#include <memory>
#include <string>

#include "core/quant/quant_preview.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/stats/tensor_scan.h"
#include "core/stats/weight_stats.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"

namespace qsui {

// The outlier thresholds (in sigmas) every weight-statistics job counts, so one cached result serves the
// stats panel (6 sigma) and the layer overview's k picker.
const std::vector<double>& standardOutlierSigmas();

// Weight statistics of one tensor with a `bins`-bin histogram (0: none), computed in row blocks.
JobFn<qs::WeightStats> weightStatsJob(std::shared_ptr<const LoadedModel> model, int tensor, int bins,
                                      tbb::task_arena* arena);
// Quantize -> dequantize -> compare one tensor with `scheme` (a registry name), histograms with `bins` bins;
// the packed tensor comes from / goes to `cache` when given (the Document's quantCache()). `calibration`: the
// Document's (Document::calibrationSet(); may be null), for a calibrated scheme.
JobFn<qs::QuantPreview> quantPreviewJob(std::shared_ptr<const LoadedModel> model, int tensor,
                                        std::string scheme, int bins, tbb::task_arena* arena,
                                        std::shared_ptr<qs::QuantizedTensorCache> cache = nullptr,
                                        std::shared_ptr<const qs::CalibrationSet> calibration = nullptr);
// The |w|/sigma tile grid (at most 512 x 512 tiles) and per-column absmax of one tensor.
JobFn<qs::OutlierGrid> outlierGridJob(std::shared_ptr<const LoadedModel> model, int tensor,
                                      tbb::task_arena* arena);

// Approximate heap size of a result, for the cache budget.
qsizetype approximateBytes(const qs::WeightStats& s);
qsizetype approximateBytes(const qs::QuantPreview& p);
qsizetype approximateBytes(const qs::OutlierGrid& g);

// The scheme tensor `i` gets under the resolved map ("" when it stays as stored); a tied head copy reports
// the scheme of the embedding it shares.
std::string resolvedSchemeOf(const Document& doc, int tensor);

}  // namespace qsui
