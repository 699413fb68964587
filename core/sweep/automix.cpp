// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/automix.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "core/quant/footprint_after.h"
#include "core/quant/quant_map_export.h"
#include "core/quant/quant_map_resolve.h"

namespace qs::sweep {

namespace {

constexpr const char* kBaselineOption = "baseline";

ProgressFn subProgress(const ProgressFn& outer, double from, double to) {
    if (!outer) return {};
    return [=](double f, std::string_view stage) {
        return outer(from + (to - from) * std::clamp(f, 0.0, 1.0), stage);
    };
}

void addWarnings(std::vector<std::string>& into, const std::vector<std::string>& from) {
    for (const auto& w : from)
        if (std::find(into.begin(), into.end(), w) == into.end()) into.push_back(w);
}

// The footprint of `map` (resolved against the checkpoint).
// Sizes that depend on data it does not have (LLM.int8 without calibration, or on an embedding) are refused:
// the allocation needs exact bytes.
Result<MapFootprint> footprintOf(const Checkpoint& ckpt, const ModelInfo& info, const QuantMap& map,
                                 ResolvedMap* resolvedOut = nullptr, const CalibrationSet* calibration = nullptr) {
    auto resolved = resolveMap(map, ckpt.tensors, info);
    if (!resolved) return Error{"auto-mix: " + resolved.message()};
    // The per-tensor AWQ form: what MapEvaluator measures (a later apply of the map may fold, only smaller).
    MapFootprint f = footprintAfter(*resolved, ckpt.tensors, info, calibration, /*foldAwqScales=*/false);
    if (auto s = sizeFromWeights(f, *resolved, ckpt, info, calibration); !s) return Error{"auto-mix: " + s.message()};
    if (!f.undetermined.empty())
        return Error{"auto-mix needs exact sizes; the size of " + f.undetermined.front()};
    if (resolvedOut) *resolvedOut = std::move(*resolved);
    return f;
}

// The sizes of the allocation problem, known before any scan. A group's members are the tensors its rule
// governs in mapFor(baseline, {group, S}) (1-D tensors never, a tied head copy 0 bytes): an option's bytes are
// their bytes under S, the baseline option their bytes under the baseline; fixedBytes is the basis bytes of
// everything else.
struct SizedOption {
    std::string scheme;
    uint64_t bytes = 0;
    std::string fallback;     // "q2_K→q5_0: <reason>" when the members are stored with another scheme, else ""
    std::string unavailable;  // why the footprint of this option cannot be had ("" when it can)
};
struct SizedGroup {
    std::vector<SizedOption> options;  // one per candidate scheme, in o.schemes order
    uint64_t baselineBytes = 0;
};
struct Sizes {
    std::vector<SizedGroup> groups;
    uint64_t fixedBytes = 0;
};

Result<Sizes> sizeOptions(const Checkpoint& ckpt, const ModelInfo& info, const AutoMixOptions& o,
                          const std::vector<SweepGroup>& groups, uint64_t baseBytes, const CalibrationSet* calibration) {
    auto base = footprintOf(ckpt, info, o.baseline, nullptr, calibration);
    if (!base) return base.error();
    const int groupRule = int(o.baseline.rules.size());  // mapFor appends the group's rule after the baseline
    Sizes sizes;
    int64_t fixed = int64_t(baseBytes);
    for (const auto& g : groups) {
        SizedGroup sg;
        std::vector<bool> members;
        for (const auto& scheme : o.schemes) {
            SizedOption option{scheme, 0, {}, {}};
            auto m = mapFor(info, o.baseline, {{g, scheme}});
            if (!m) return Error{"auto-mix: group " + g.name + ": " + m.message()};
            ResolvedMap resolved;
            auto f = footprintOf(ckpt, info, *m, &resolved, calibration);
            if (!f) {
                option.unavailable = f.message();
                sg.options.push_back(std::move(option));
                continue;
            }
            std::vector<bool> in(ckpt.tensors.size());
            uint64_t baseline = 0;
            for (size_t i = 0; i < in.size(); ++i) {
                in[i] = resolved.tensors[i].rule == groupRule;
                if (!in[i]) continue;
                option.bytes += f->tensors[i].after.total();
                baseline += base->tensors[i].after.total();
                const TensorPlan& t = resolved.tensors[i];
                if (option.fallback.empty() && t.quantized() && t.scheme != t.requested(resolved.map))
                    option.fallback = t.requested(resolved.map) + "\u2192" + t.scheme + ": " + t.fallbackReason;
            }
            if (!members.empty() && members != in)
                return Error{"auto-mix: group " + g.name + " selects different tensors for different schemes"};
            members = std::move(in);
            sg.baselineBytes = baseline;
            sg.options.push_back(std::move(option));
        }
        fixed -= int64_t(sg.baselineBytes);
        sizes.groups.push_back(std::move(sg));
    }
    if (fixed < 0) return Error{"auto-mix: the groups overlap (their bytes exceed the model's)"};
    sizes.fixedBytes = uint64_t(fixed);
    return sizes;
}

// Refuses, before any scan, a budget below the smallest map the candidates make, saying which of the smallest
// options fall back to a larger scheme on this model (a K-quant on rows that are not a multiple of 256).
Status checkBudgetReachable(const Sizes& sizes, const std::vector<SweepGroup>& groups, const AutoMixOptions& o,
                            uint64_t budgetBytes) {
    uint64_t minimum = sizes.fixedBytes;
    std::map<std::string, std::vector<std::string>> fallbackGroups;  // "q2_K→iq4_nl: reason" -> groups
    for (size_t g = 0; g < groups.size(); ++g) {
        const SizedOption* smallest = nullptr;
        for (const auto& option : sizes.groups[g].options)
            if (option.unavailable.empty() && (!smallest || option.bytes < smallest->bytes)) smallest = &option;
        uint64_t bytes = smallest ? smallest->bytes : UINT64_MAX;
        if (o.allowBaseline && sizes.groups[g].baselineBytes < bytes) {
            bytes = sizes.groups[g].baselineBytes;
            smallest = nullptr;
        }
        if (bytes == UINT64_MAX) continue;  // no option at all: buildProblem names the group after the scans
        minimum += bytes;
        if (smallest && !smallest->fallback.empty()) fallbackGroups[smallest->fallback].push_back(groups[g].name);
    }
    if (minimum <= budgetBytes) return {};
    std::string fallbacks;
    for (const auto& [what, names] : fallbackGroups) {
        std::string list;
        for (size_t i = 0; i < std::min<size_t>(names.size(), 3); ++i) list += (i ? ", " : "") + names[i];
        if (names.size() > 3) list += " and " + std::to_string(names.size() - 3) + " more";
        fallbacks += (fallbacks.empty() ? "" : "; ") + what.substr(0, what.find(':')) + " in " + list +
                     what.substr(what.find(':'));
    }
    return Error{"auto-mix: " + o.budget.describe() + ": budget of " + std::to_string(budgetBytes) +
                 " bytes is below the smallest choice: " + std::to_string(minimum) +
                 " bytes (every group at its smallest option, " + std::to_string(sizes.fixedBytes) +
                 " bytes outside the groups)" +
                 (fallbacks.empty() ? std::string()
                                    : "; on this model the smallest candidates fall back to larger schemes (" +
                                          fallbacks + ")")};
}

// The allocation problem: the sizes above with each option's damage from its scan. A scan skips a group its
// calibrated scheme cannot take (an embedding for GPTQ): no option there.
struct Built {
    AllocationProblem problem;
    std::vector<std::vector<std::string>> labels;  // per group, per option: scheme or "baseline"
};

Result<Built> buildProblem(const Sizes& sizes, const AutoMixOptions& o, const std::vector<SweepGroup>& groups,
                           const std::vector<SensitivityResult>& scans, uint64_t budgetBytes) {
    Built b;
    for (size_t g = 0; g < groups.size(); ++g) {
        AllocGroup ag{groups[g].name, {}};
        std::vector<std::string> labels;
        for (size_t s = 0; s < scans.size(); ++s) {
            const auto& scan = scans[s];
            const auto row = std::find_if(scan.rows.begin(), scan.rows.end(),
                                          [&](const SensitivityRow& r) { return r.group == groups[g].name; });
            if (row == scan.rows.end()) {
                const auto skipped = std::find_if(scan.skipped.begin(), scan.skipped.end(),
                                                  [&](const auto& x) { return x.group == groups[g].name; });
                if (skipped == scan.skipped.end())
                    return Error{"auto-mix: group " + groups[g].name + " missing from the scan"};
                continue;
            }
            const SizedOption& option = sizes.groups[g].options[s];
            if (!option.unavailable.empty()) return Error{option.unavailable};
            ag.options.push_back({scan.scheme, option.bytes, row->damage});
            labels.push_back(scan.scheme);
        }
        if (ag.options.empty() && !o.allowBaseline)
            return Error{"auto-mix: no candidate scheme can take group " + groups[g].name + " (see the warnings)"};
        if (o.allowBaseline) {
            ag.options.insert(ag.options.begin(), {kBaselineOption, sizes.groups[g].baselineBytes, 0.0});
            labels.insert(labels.begin(), kBaselineOption);
        }
        b.problem.groups.push_back(std::move(ag));
        b.labels.push_back(std::move(labels));
    }
    b.problem.fixedBytes = sizes.fixedBytes;
    b.problem.budgetBytes = budgetBytes;
    return b;
}

}  // namespace

double measureValue(SweepMeasure measure, const PointMeasure& p) {
    PointMeasure zero;
    return damageOf(measure, p, zero);
}

Result<BudgetBasisBytes> budgetBasisBytes(const Checkpoint& ckpt, const ModelInfo& info, const QuantMap& map,
                                          SizeBudget::Kind kind, const CalibrationSet* calibration) {
    auto footprint = footprintOf(ckpt, info, map, nullptr, calibration);
    if (!footprint) return footprint.error();
    const MapFootprint& f = *footprint;
    BudgetBasisBytes r;
    r.weightElements = f.parameterElements;
    r.bytes = kind == SizeBudget::Kind::Bytes ? f.after.total : f.weightsAfter.total;
    return r;
}

namespace {

// The steps of the progress bar: scans, verification, uniform points (equal shares per measured map).
struct Steps {
    const ProgressFn& progress;
    double total;
    double done = 0;
    ProgressFn next() const { return subProgress(progress, done / total, (done + 1) / total); }
};

// Measures the baseline map, then scans every group under each candidate scheme.
Status measureBaselineAndScans(MapEvaluator& evaluator, const ModelInfo& info, const AutoMixOptions& o,
                               const std::vector<SweepGroup>& groups, Steps& steps, AutoMixResult& r) {
    auto b = evaluator.measure(o.baseline, subProgress(steps.progress, 0, 1 / steps.total));
    if (!b)
        return b.message() == kCancelledMessage ? b.error() : Error{"auto-mix: baseline map: " + b.message()};
    r.baseline = std::move(*b);
    steps.done = 1;
    for (const auto& s : o.schemes) {
        SensitivityOptions so{s, o.baseline, o.groups};
        const double n = double(groups.size());
        auto scan = runSensitivityScan(evaluator, info, so,
                                       subProgress(steps.progress, steps.done / steps.total,
                                                   (steps.done + n) / steps.total),
                                       &r.baseline);
        if (!scan) return scan.error();
        steps.done += n;
        addWarnings(r.warnings, scan->warnings);
        r.scans.push_back(std::move(*scan));
    }
    return {};
}

// Allocates the budget over the scanned options and builds the chosen map, its rules commented with the
// predicted damage.
Status allocateAndBuildMap(const ModelInfo& info, const AutoMixOptions& o, const Sizes& sizes,
                           const std::vector<SweepGroup>& groups, SweepMeasure measure, AutoMixResult& r) {
    auto built = buildProblem(sizes, o, groups, r.scans, r.budgetBytes);
    if (!built) return built.error();
    auto alloc = allocateBudget(built->problem);
    if (!alloc) return Error{"auto-mix: " + o.budget.describe() + ": " + alloc.message()};
    r.allocation = std::move(*alloc);
    r.predictedBytes = r.allocation.bytes;
    r.predictedDamage = r.allocation.damage;
    r.predictedValue = measureValue(measure, r.baseline) + r.predictedDamage;

    std::vector<std::pair<SweepGroup, std::string>> chosen;
    for (size_t g = 0; g < groups.size(); ++g) {
        const auto& opt = built->problem.groups[g].options[r.allocation.choice[g]];
        const std::string& label = built->labels[g][r.allocation.choice[g]];
        r.choices.push_back({groups[g].name, label, opt.bytes, opt.damage});
        if (label != kBaselineOption) chosen.push_back({groups[g], label});
    }
    auto map = mapFor(info, o.baseline, chosen);
    if (!map) return Error{"auto-mix: " + map.message()};
    for (size_t i = 0; i < chosen.size(); ++i) {
        auto& rule = map->rules[o.baseline.rules.size() + i];
        const auto c = std::find_if(r.choices.begin(), r.choices.end(),
                                    [&](const AutoMixChoice& x) { return x.group == chosen[i].first.name; });
        rule.comment = "auto-mix: group " + c->group + ", predicted " + r.measure + " damage " +
                       std::to_string(c->predictedDamage);
    }
    r.map = std::move(*map);
    return {};
}

// Measures the chosen map's size (refusing it over the budget) and its damage.
Status verifyChosenMap(MapEvaluator& evaluator, const Checkpoint& ckpt, const ModelInfo& info,
                       const AutoMixOptions& o, const CalibrationSet* calibration, SweepMeasure measure,
                       Steps& steps, AutoMixResult& r) {
    auto measuredBytes = budgetBasisBytes(ckpt, info, r.map, o.budget.kind, calibration);
    if (!measuredBytes) return measuredBytes.error();
    r.measuredBytes = measuredBytes->bytes;
    if (r.measuredBytes > r.budgetBytes)
        return Error{"auto-mix: the chosen map takes " + std::to_string(r.measuredBytes) +
                     " bytes, over the budget of " + std::to_string(r.budgetBytes) +
                     " (the groups' bytes do not add up: overlapping groups?)"};
    auto weights = budgetBasisBytes(ckpt, info, r.map, SizeBudget::Kind::BitsPerWeight, calibration);
    if (!weights) return weights.error();
    r.measuredBpw = bitsPerWeight(weights->bytes, weights->weightElements);

    auto v = evaluator.measure(r.map, steps.next());
    if (!v)
        return v.message() == kCancelledMessage ? v.error()
                                                : Error{"auto-mix: verifying the chosen map: " + v.message()};
    steps.done += 1;
    r.measured = std::move(*v);
    addWarnings(r.warnings, r.measured.warnings);
    r.measuredDamage = damageOf(measure, r.measured, r.baseline);
    r.measuredValue = measureValue(measure, r.measured);
    return {};
}

// Measures each candidate scheme applied uniformly, for comparison with the mix.
Status measureUniformMaps(MapEvaluator& evaluator, const Checkpoint& ckpt, const ModelInfo& info,
                          const AutoMixOptions& o, const std::vector<SweepGroup>& groups,
                          const CalibrationSet* calibration, Steps& steps, AutoMixResult& r) {
    for (const auto& s : o.schemes) {
        // Every group but those the scheme's scan skipped (an embedding under GPTQ), which keep the baseline.
        const SensitivityResult& scan = r.scans[size_t(&s - o.schemes.data())];
        std::vector<std::pair<SweepGroup, std::string>> all;
        for (const auto& g : groups) {
            const bool skipped = std::any_of(scan.skipped.begin(), scan.skipped.end(),
                                             [&](const auto& k) { return k.group == g.name; });
            if (!skipped) all.push_back({g, s});
            else addWarnings(r.warnings, {"uniform " + scan.scheme + ": group " + g.name + " left as the baseline"});
        }
        auto um = mapFor(info, o.baseline, all);
        if (!um) return Error{"auto-mix: uniform " + s + ": " + um.message()};
        auto ub = budgetBasisBytes(ckpt, info, *um, o.budget.kind, calibration);
        if (!ub) return ub.error();
        auto p = evaluator.measure(*um, steps.next());
        if (!p)
            return p.message() == kCancelledMessage
                       ? p.error()
                       : Error{"auto-mix: uniform " + s + ": " + p.message()};
        steps.done += 1;
        r.uniform.push_back({r.scans[&s - o.schemes.data()].scheme, ub->bytes, std::move(*p)});
    }
    return {};
}

}  // namespace

Result<AutoMixResult> runAutoMix(MapEvaluator& evaluator, const Checkpoint& ckpt, const ModelInfo& info,
                                 const AutoMixOptions& o, const ProgressFn& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.schemes.empty()) return Error{"auto-mix: no candidate scheme"};
    const SweepMeasure measure = evaluator.options().measure;
    const CalibrationSet* calibration = evaluator.options().calibration.get();
    AutoMixResult r;
    r.measure = std::string(sweepMeasureName(measure));
    r.budgetText = o.budget.text;
    r.budgetBasis = o.budget.kind == SizeBudget::Kind::Bytes ? "model bytes" : "weights";
    auto groups = expandGroups(info, o.groups.empty() ? defaultScanGroups(info) : o.groups);
    if (!groups) return Error{"auto-mix: " + groups.message()};
    if (auto s = checkDisjointGroups(info, *groups); !s) return Error{"auto-mix: " + s.message()};
    auto base = budgetBasisBytes(ckpt, info, o.baseline, o.budget.kind, calibration);
    if (!base) return base.error();
    r.weightElements = base->weightElements;
    r.budgetBytes = o.budget.bytesFor(base->weightElements);
    auto sizes = sizeOptions(ckpt, info, o, *groups, base->bytes, calibration);
    if (!sizes) return sizes.error();
    if (auto s = checkBudgetReachable(*sizes, *groups, o, r.budgetBytes); !s) return s.error();

    const double scanPoints = double(o.schemes.size() * groups->size() + 1);
    Steps steps{progress, scanPoints + 1 + (o.measureUniform ? double(o.schemes.size()) : 0.0)};
    if (auto s = measureBaselineAndScans(evaluator, info, o, *groups, steps, r); !s) return s.error();
    if (auto s = allocateAndBuildMap(info, o, *sizes, *groups, measure, r); !s) return s.error();
    if (auto s = verifyChosenMap(evaluator, ckpt, info, o, calibration, measure, steps, r); !s) return s.error();
    if (o.measureUniform)
        if (auto s = measureUniformMaps(evaluator, ckpt, info, o, *groups, calibration, steps, r); !s)
            return s.error();
    if (progress && !progress(1.0, "done")) return Error{std::string(kCancelledMessage)};
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

namespace {

nlohmann::json pointSummary(SweepMeasure m, const PointMeasure& p) {
    nlohmann::json j = {{"bytes", p.bytes}, {"bpw", p.bpw}, {"rmse", p.rmse}, {"value", measureValue(m, p)}};
    if (p.hasPpl) j["ppl"] = p.ppl;
    if (p.hasKld) j["kld"] = p.kld, j["top1"] = p.top1;
    return j;
}

}  // namespace

nlohmann::json autoMixJson(const AutoMixResult& r) {
    const SweepMeasure m = *sweepMeasureFromName(r.measure);
    nlohmann::json choices = nlohmann::json::array();
    for (const auto& c : r.choices)
        choices.push_back(
            {{"group", c.group}, {"scheme", c.scheme}, {"predicted_damage", c.predictedDamage}});
    nlohmann::json uniform = nlohmann::json::array();
    for (const auto& u : r.uniform) {
        auto j = pointSummary(m, u.point);
        j["scheme"] = u.scheme;
        j["budget_bytes"] = u.budgetBytes;
        uniform.push_back(std::move(j));
    }
    return {{"measure", r.measure},
            {"budget",
             {{"text", r.budgetText},
              {"basis", r.budgetBasis},
              {"bytes", r.budgetBytes},
              {"weight_elements", r.weightElements}}},
            {"predicted",
             {{"bytes", r.predictedBytes},
              {"damage", r.predictedDamage},
              {"value", r.predictedValue},
              {"lower_bound_damage", r.allocation.lowerBound},
              {"gap_bound", r.allocation.gapBound}}},
            {"measured",
             {{"bytes", r.measuredBytes},
              {"bpw", r.measuredBpw},
              {"bpw_quantizable", r.measuredBpw},  // kept for old readers: the same bpw since the one definition
              {"damage", r.measuredDamage},
              {"value", r.measuredValue},
              {"point", pointSummary(m, r.measured)}}},
            {"baseline", pointSummary(m, r.baseline)},
            {"minimum_bytes", r.allocation.minimumBytes},
            {"choices", choices},
            {"uniform", uniform},
            {"map", quantMapToJson(r.map)},
            {"seconds", r.seconds},
            {"warnings", r.warnings}};
}

Status writeAutoMixMap(const std::string& path, const AutoMixResult& r) {
    return writeFileAtomically(path, quantMapToJson(r.map).dump(2) + "\n");
}

}  // namespace qs::sweep
