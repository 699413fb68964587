// SPDX-License-Identifier: GPL-3.0-or-later
// Auto-mix: a scheme per group chosen to fit a size budget with the least predicted damage, then verified.
//
// 1. One sensitivity scan (core/sweep/sensitivity.h) per candidate scheme over the same groups and baseline
//    (the baseline point is measured once; the evaluator reuses every (tensor, scheme) it has seen).
// 2. Per group the options are: each candidate scheme (bytes from the footprint, damage from its scan) and,
//    unless disabled, the baseline (the group as the baseline map leaves it, damage 0). The allocation
//    (core/sweep/allocation.h: Lagrangian hull pass + greedy fill) picks one per group under the budget,
//    assuming damages add up across groups (the scans measure each group alone).
// 3. The chosen map (mapFor(baseline, choices)) is measured with the evaluator: predicted (baseline measure +
//    summed damages) against measured. Optionally each candidate scheme applied uniformly to all groups is
//    measured too, the reference points a mix should beat at equal or smaller size.
//
// Budget bytes (core/sweep/size_budget.h): a byte budget is on the whole model's footprint under the map
// (PointMeasure::bytes: every tensor, a tied pair once, metadata included); a bits-per-weight budget is the
// bpw every command prints (PointMeasure::bpw, core/quant/footprint_after.h: 8 x bytes / elements over the
// weights of the network, a tied pair once, RoPE buffers on neither side).
// Both are arithmetic (core/quant/footprint_after.h), so the verified bytes equal the predicted bytes
// exactly; the result says so and runAutoMix fails rather than return a map over the budget. Thread affinity:
// the evaluator's. Progress covers scans, verification and uniform points; false cancels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/sweep/allocation.h"
#include "core/sweep/sensitivity.h"
#include "core/sweep/size_budget.h"

namespace qs::sweep {

struct AutoMixOptions {
    SizeBudget budget;
    std::vector<std::string> schemes;  // candidate registry names, at least one
    QuantMap baseline;                 // tensors outside the groups, and the "baseline" option
    std::vector<std::string> groups;   // sweep group names; empty: defaultScanGroups(info)
    bool allowBaseline = true;         // a group may stay as the baseline leaves it
    bool measureUniform = true;        // also measure each candidate scheme on every group (but those
                                       // its scan skipped: they keep the baseline, said in the warnings)
};

struct AutoMixChoice {
    std::string group;
    std::string scheme;  // a candidate, or "baseline"
    uint64_t bytes = 0;  // the group's bytes under it (budget basis)
    double predictedDamage = 0;
};

struct UniformPoint {
    std::string scheme;
    uint64_t budgetBytes = 0;  // the point's bytes in the budget basis
    PointMeasure point;
};

struct AutoMixResult {
    std::string measure;                 // "kld", "ppl", "weight-error"
    std::string budgetText;              // as typed
    std::string budgetBasis;             // "model bytes" or "weights"
    uint64_t budgetBytes = 0;            // the budget in bytes of that basis
    uint64_t weightElements = 0;         // weight elements (a tied pair once): the bpw divisor
    QuantMap map;                        // baseline rules + one rule per group not left at the baseline
    std::vector<AutoMixChoice> choices;  // per group, in scan order
    Allocation allocation;
    uint64_t predictedBytes = 0, measuredBytes = 0;  // budget basis
    double measuredBpw = 0;                          // 8 x measuredBytes / weightElements (bpw basis)
    PointMeasure baseline, measured;
    double predictedDamage = 0, measuredDamage = 0;  // against the baseline point
    double predictedValue = 0, measuredValue = 0;    // the measure itself (kld, ppl, summed squared error)
    std::vector<SensitivityResult> scans;            // one per candidate scheme
    std::vector<UniformPoint> uniform;               // when measureUniform
    std::vector<std::string> warnings;
    double seconds = 0;
};

// Fails on no candidate, a bad scheme or group, a budget below the smallest choice (the allocation's message:
// both byte counts), a failed measurement, or cancellation.
Result<AutoMixResult> runAutoMix(MapEvaluator& evaluator, const Checkpoint& ckpt, const ModelInfo& info,
                                 const AutoMixOptions& options, const ProgressFn& progress = {});

// The measure's own value at a point (kld, ppl, or summed squared weight error), matching damageOf.
double measureValue(SweepMeasure measure, const PointMeasure& p);

// Bytes of `map` in the budget basis of `kind` (Bytes: the whole footprint; BitsPerWeight: the weights'
// bytes), and the weight elements (a tied pair once). `calibration`: what sizes LLM.int8's kept columns
// (footprintAfter); a size that cannot be known (no calibration; LLM.int8 on an embedding) is refused by name.
struct BudgetBasisBytes {
    uint64_t bytes = 0;
    uint64_t weightElements = 0;
};
Result<BudgetBasisBytes> budgetBasisBytes(const Checkpoint& ckpt, const ModelInfo& info, const QuantMap& map,
                                          SizeBudget::Kind kind, const CalibrationSet* calibration = nullptr);

nlohmann::json autoMixJson(const AutoMixResult& r);
// The map file: the QuantMap JSON of core/quant/quant_map.h (loadable by --map), each rule commented with its
// group and predicted damage; written to a temporary file and renamed into place.
Status writeAutoMixMap(const std::string& path, const AutoMixResult& r);

}  // namespace qs::sweep
