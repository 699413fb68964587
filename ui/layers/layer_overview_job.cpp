// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/layers/layer_overview_job.h"

#include "core/quant/apply_map.h"
#include "core/stats/tensor_scan.h"
#include "core/stats/weight_stats.h"
#include "ui/stats/stats_jobs.h"

namespace qsui {

std::vector<std::string> resolvedSchemes(const Document& doc) {
    std::vector<std::string> out(size_t(doc.tensorCount()));
    for (int i = 0; i < doc.tensorCount(); ++i) {
        std::string s = resolvedSchemeOf(doc, i);
        out[size_t(i)] = s + doc.calibrationTag(s).toStdString();
    }
    return out;
}

JobFn<LayerOverviewData> layerOverviewJob(LayerOverviewInput input, tbb::task_arena* arena) {
    return [input = std::move(input),
            arena](const qs::ProgressFn& progress) -> qs::Result<LayerOverviewData> {
        const qs::Checkpoint& ckpt = *input.model->checkpoint;
        const qs::ModelInfo& info = input.model->info;
        const size_t n = ckpt.tensors.size();
        LayerOverviewData out;
        out.schemes = input.schemes;
        out.tensors.resize(n);

        // Weight statistics of the tensors not cached yet: the first part of the progress bar, by elements.
        uint64_t missing = 0, done = 0;
        for (size_t i = 0; i < n; ++i)
            if (info.entries[i].isParameter && !(i < input.cachedWeights.size() && input.cachedWeights[i]))
                missing += ckpt.tensors[i].elements();
        const double statsShare = missing ? 0.3 : 0.0;
        for (size_t i = 0; i < n; ++i) {
            LayerOverviewTensor& t = out.tensors[i];
            t.included = info.entries[i].isParameter;
            if (!t.included) continue;
            if (i < input.cachedWeights.size() && input.cachedWeights[i]) {
                t.weights = input.cachedWeights[i];
                continue;
            }
            const double base = missing ? double(done) / double(missing) : 0.0;
            const double span = missing ? double(ckpt.tensors[i].elements()) / double(missing) : 0.0;
            qs::ProgressSink sink([&](double f, std::string_view stage) {
                return !progress || progress(statsShare * (base + f * span), stage);
            });
            qs::TensorScanOptions so;
            so.stats.outlierSigmas = standardOutlierSigmas();
            auto w = qs::streamWeightStats(ckpt, i, arena, so, &sink);
            if (!w) return w.error();
            t.weights = std::make_shared<const qs::WeightStats>(std::move(w.value()));
            done += ckpt.tensors[i].elements();
        }

        // The error under the map.
        qs::ApplyOptions ao;
        ao.cache = input.cache.get();
        ao.calibration = input.calibration.get();
        ao.progress = [&](double f, std::string_view stage) {
            return !progress || progress(statsShare + (1.0 - statsShare) * f, stage);
        };
        auto applied = qs::applyMap(ckpt, info, input.resolved, ao, arena);
        if (!applied) return applied.error();
        for (size_t i = 0; i < n && i < applied->tensors.size(); ++i) {
            const qs::AppliedTensor& a = applied->tensors[i];
            LayerOverviewTensor& t = out.tensors[i];
            t.scheme =
                i < input.schemes.size() ? input.schemes[i].substr(0, input.schemes[i].find('@')) : a.scheme;
            t.quantized = a.quantized || (a.tiedTo >= 0 && !t.scheme.empty());
            if (t.quantized) {
                t.error = a.error().stats.sums;
                t.bytes = a.bytes;
            }
        }
        out.warnings = applied->warnings;
        out.fromCache = applied->fromCache;
        out.quantizedHere = applied->quantizedHere;
        return out;
    };
}

}  // namespace qsui
