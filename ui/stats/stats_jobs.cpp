// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/stats/stats_jobs.h"

#include "core/quant/scheme.h"

namespace qsui {

const std::vector<double>& standardOutlierSigmas() {
    static const std::vector<double> sigmas{3.0, 4.0, 5.0, 6.0, 8.0, 10.0};
    return sigmas;
}

JobFn<qs::WeightStats> weightStatsJob(std::shared_ptr<const LoadedModel> model, int tensor, int bins,
                                      tbb::task_arena* arena) {
    return [model = std::move(model), tensor, bins,
            arena](const qs::ProgressFn& progress) -> qs::Result<qs::WeightStats> {
        qs::ProgressSink sink(progress);
        qs::TensorScanOptions options;
        options.stats.histogramBins = bins;
        options.stats.outlierSigmas = standardOutlierSigmas();
        return qs::streamWeightStats(*model->checkpoint, size_t(tensor), arena, options, &sink);
    };
}

JobFn<qs::QuantPreview> quantPreviewJob(std::shared_ptr<const LoadedModel> model, int tensor,
                                        std::string scheme, int bins, tbb::task_arena* arena,
                                        std::shared_ptr<qs::QuantizedTensorCache> cache,
                                        std::shared_ptr<const qs::CalibrationSet> calibration) {
    return [model = std::move(model), tensor, scheme = std::move(scheme), bins, arena,
            cache = std::move(cache), calibration = std::move(calibration)](
               const qs::ProgressFn& progress) -> qs::Result<qs::QuantPreview> {
        auto s = qs::parseScheme(scheme);
        if (!s) return s.error();
        qs::ProgressSink sink(progress);
        qs::QuantPreviewOptions options;
        options.bins = bins;
        options.errorBins = bins;
        options.cache = cache.get();
        options.calibration = calibration.get();
        return qs::previewQuantization(*model->checkpoint, size_t(tensor), **s, arena, options, &sink);
    };
}

JobFn<qs::OutlierGrid> outlierGridJob(std::shared_ptr<const LoadedModel> model, int tensor,
                                      tbb::task_arena* arena) {
    return [model = std::move(model), tensor,
            arena](const qs::ProgressFn& progress) -> qs::Result<qs::OutlierGrid> {
        qs::ProgressSink sink(progress);
        return qs::computeOutlierGrid(*model->checkpoint, size_t(tensor), arena, {}, &sink);
    };
}

qsizetype approximateBytes(const qs::WeightStats& s) {
    return qsizetype(sizeof s + s.histogram.counts.size() * sizeof(uint64_t));
}

qsizetype approximateBytes(const qs::QuantPreview& p) {
    return qsizetype(sizeof p + (p.weights.histogram.counts.size() + p.dequantized.counts.size() +
                                 p.errorHistogram.counts.size()) * sizeof(uint64_t));
}

qsizetype approximateBytes(const qs::OutlierGrid& g) {
    return qsizetype(sizeof g + (g.tileAbsmax.size() + g.columnAbsmax.size()) * sizeof(float));
}

std::string resolvedSchemeOf(const Document& doc, int tensor) {
    const qs::ResolvedMap* r = doc.resolvedMap();
    if (!r || tensor < 0 || size_t(tensor) >= r->tensors.size()) return {};
    const qs::TensorPlan& p = r->tensors[size_t(tensor)];
    if (p.tiedTo >= 0 && size_t(p.tiedTo) < r->tensors.size()) return r->tensors[size_t(p.tiedTo)].scheme;
    return p.scheme;
}

}  // namespace qsui
