// SPDX-License-Identifier: GPL-3.0-or-later
// Sensitivity scan: which parts of the model can take a smaller scheme, and at what cost. Each group
// (core/sweep/sweep_groups.h: by default every layer's attention and MLP, the embedding and the head) is
// quantized with the scan's scheme ALONE, every other tensor as the baseline map says, and measured with a
// MapEvaluator (core/sweep/map_evaluator.h). Per group: the damage (the measure's change against the baseline
// point), the bytes saved against the baseline, and the damage per byte saved. The one-at-a-time design is
// the layer-wise sensitivity analysis of mixed-precision work (HAWQ, Dong et al. 2019; llama.cpp's
// per-tensor-type experiments); it ignores interactions between groups, which auto-mix's verification then
// measures.
//
// Damage per measure (lower is better; can be slightly negative, measurement noise or a lucky rounding):
//   kld           change of the mean KL divergence against the unquantized model, nats per token
//   ppl           change of perplexity
//   weight-error  change of the summed squared weight error over all quantized weights (RMSE^2 x quantized
//                 elements; no engine, a fast proxy that weighs every weight alike)
// Bytes are the evaluator's footprint (PointMeasure::bytes: the whole model, a tied pair once, metadata
// included), so bytesSaved = baseline bytes - point bytes (negative when the scheme is larger than the
// baseline's).
//
// A group whose scheme needs calibration for a tensor that has no input activations (an embedding, a lookup:
// GPTQ's Hessian, AWQ's scales and the _im importance do not exist for it) is skipped, not measured: listed in
// `skipped` with the reason (calibrationFor's message) and in the warnings; the scan goes on. (LLM.int8 sizes
// an embedding by its weights and is measured.)
//
// Order of the rows: groups that save bytes first, by damage per byte saved, largest (most sensitive) first;
// then groups that save nothing, by damage, largest first; ties in scan order.
// Thread affinity: the evaluator's (one scan at a time per evaluator). Progress covers the whole scan
// (baseline point, then one point per group); returning false cancels (Error kCancelledMessage).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/sweep/map_evaluator.h"
#include "core/sweep/sweep_groups.h"
#include "core/util/result.h"

namespace qs::sweep {

struct SensitivityOptions {
    std::string scheme;               // registry name, e.g. "q2_K"
    QuantMap baseline;                // every tensor outside the scanned group (empty: as stored)
    std::vector<std::string> groups;  // sweep group names; empty: defaultScanGroups(info)
};

struct SensitivityRow {
    std::string group;
    std::string scheme;
    PointMeasure point;       // the map with only this group changed
    int64_t bytesSaved = 0;   // baseline bytes - point bytes
    double damage = 0;        // see the header comment
    double damagePerMiB = 0;  // damage / (bytesSaved / 2^20); 0 when bytesSaved <= 0
};

struct SensitivityResult {
    std::string measure;  // "kld", "ppl", "weight-error"
    std::string scheme;
    PointMeasure baseline;
    std::vector<SensitivityRow> rows;  // sorted (see above)
    struct Skipped {
        std::string group, reason;
    };
    std::vector<Skipped> skipped;  // in scan order
    std::vector<std::string> warnings;
    double seconds = 0;
};

// "embedding", "head" (not for a tied pair: the embedding is that one tensor), "layer-parts".
std::vector<std::string> defaultScanGroups(const ModelInfo& info);

// The measure's damage of `point` against `baseline` (see the header comment).
double damageOf(SweepMeasure measure, const PointMeasure& point, const PointMeasure& baseline);

// Measures the baseline point (or takes `baselinePoint` when given: auto-mix shares it between scans), then
// one point per group. Fails on an unknown scheme or group (named), on a failed measurement (the group
// named), or when cancelled.
Result<SensitivityResult> runSensitivityScan(MapEvaluator& evaluator, const ModelInfo& info,
                                             const SensitivityOptions& options,
                                             const ProgressFn& progress = {},
                                             const PointMeasure* baselinePoint = nullptr);

// Sorts rows as described above (exposed for tests).
void sortSensitivityRows(std::vector<SensitivityRow>& rows);

// One object: measure, scheme, baseline {bytes, bpw, ...}, rows [{rank, group, scheme, bytes, bytes_saved,
// damage, damage_per_mib, bpw, rmse, sqnr_db, ppl?, kld?, top1?}], skipped [{group, reason}], seconds, warnings.
nlohmann::json sensitivityJson(const SensitivityResult& r);
// CSV with a header line:
// rank,group,scheme,bytes,bytes_saved,damage,damage_per_mib,bpw,rmse,sqnr_db,ppl,kld,top1 (ppl/kld/top1 empty
// when not measured).
std::string sensitivityCsv(const SensitivityResult& r);

}  // namespace qs::sweep
