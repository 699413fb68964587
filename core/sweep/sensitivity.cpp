// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"

namespace qs::sweep {

namespace {

// Summed squared error over the quantized weights: RMSE^2 x n (see error_stats.h for RMSE).
double summedSquaredError(const PointMeasure& p) {
    return p.rmse * p.rmse * double(p.quantizedElements);
}

// Maps [0,1] of one step onto the step's share of the whole scan; keeps the evaluator's stage label.
ProgressFn subProgress(const ProgressFn& outer, int step, int steps, const std::string& label) {
    if (!outer) return {};
    return [=](double f, std::string_view stage) {
        return outer((step + std::clamp(f, 0.0, 1.0)) / steps, label + ": " + std::string(stage));
    };
}

// Why `map` cannot be measured because a calibrated scheme lands on a tensor without input activations (an
// embedding: calibrationFor fails for it); "" otherwise (other failures are the measurement's to report).
std::string uncalibratableReason(const MapEvaluator& evaluator, const ModelInfo& info, const QuantMap& map) {
    const Checkpoint& ckpt = evaluator.checkpoint();
    auto resolved = resolveMap(map, ckpt.tensors, info);
    if (!resolved) return {};
    const CalibrationSet* set = evaluator.options().calibration.get();
    for (size_t i = 0; i < resolved->tensors.size(); ++i) {
        const TensorPlan& p = resolved->tensors[i];
        if (!p.quantized() || info.entries[i].role != Role::Embedding) continue;
        auto scheme = findScheme(p.scheme);
        if (!scheme) continue;
        if (auto c = calibrationFor(*scheme, set, ckpt.tensors[i].name, p.cols); !c)
            return c.message() + " (an embedding is looked up, not multiplied: it has no input activations)";
    }
    return {};
}

}  // namespace

std::vector<std::string> defaultScanGroups(const ModelInfo& info) {
    std::vector<std::string> g{"embedding"};
    if (!info.tie) g.push_back("head");
    g.push_back("layer-parts");
    return g;
}

double damageOf(SweepMeasure measure, const PointMeasure& point, const PointMeasure& baseline) {
    switch (measure) {
        case SweepMeasure::Kld:
            return point.kld - baseline.kld;
        case SweepMeasure::Ppl:
            return point.ppl - baseline.ppl;
        case SweepMeasure::WeightError:
            return summedSquaredError(point) - summedSquaredError(baseline);
    }
    return 0;
}

void sortSensitivityRows(std::vector<SensitivityRow>& rows) {
    std::stable_sort(rows.begin(), rows.end(), [](const SensitivityRow& a, const SensitivityRow& b) {
        const bool sa = a.bytesSaved > 0, sb = b.bytesSaved > 0;
        if (sa != sb) return sa;
        if (sa) {
            // a.damage / a.saved > b.damage / b.saved without dividing.
            return (long double)a.damage * b.bytesSaved > (long double)b.damage * a.bytesSaved;
        }
        return a.damage > b.damage;
    });
}

Result<SensitivityResult> runSensitivityScan(MapEvaluator& evaluator, const ModelInfo& info,
                                             const SensitivityOptions& options, const ProgressFn& progress,
                                             const PointMeasure* baselinePoint) {
    const auto t0 = std::chrono::steady_clock::now();
    SensitivityResult r;
    r.measure = std::string(sweepMeasureName(evaluator.options().measure));
    auto scheme = canonicalSchemeName(options.scheme);
    if (!scheme) return scheme.error();
    if (*scheme == kKeepScheme)
        return Error{"the scheme to scan with must quantize (not \"keep\")"};
    r.scheme = *scheme;
    auto groups = expandGroups(info, options.groups.empty() ? defaultScanGroups(info) : options.groups);
    if (!groups) return groups.error();

    const int steps = int(groups->size()) + (baselinePoint ? 0 : 1);
    int step = 0;
    if (baselinePoint) {
        r.baseline = *baselinePoint;
    } else {
        auto b = evaluator.measure(options.baseline, subProgress(progress, step++, steps, "baseline"));
        if (!b)
            return b.message() == kCancelledMessage ? b.error()
                                                    : Error{"baseline map: " + b.message()};
        r.baseline = std::move(*b);
    }
    r.warnings = r.baseline.warnings;
    for (const auto& group : *groups) {
        auto map = mapFor(info, options.baseline, {{group, r.scheme}});
        if (!map) return Error{"group " + group.name + ": " + map.message()};
        if (std::string why = uncalibratableReason(evaluator, info, *map); !why.empty()) {
            r.skipped.push_back({group.name, why});
            r.warnings.push_back("group " + group.name + " skipped: " + why);
            ++step;
            continue;
        }
        auto p = evaluator.measure(*map, subProgress(progress, step++, steps, group.name + " " + r.scheme));
        if (!p) {
            if (p.message() == kCancelledMessage) return p.error();
            return Error{"group " + group.name + " at " + r.scheme + ": " + p.message()};
        }
        SensitivityRow row;
        row.group = group.name;
        row.scheme = r.scheme;
        row.bytesSaved = int64_t(r.baseline.bytes) - int64_t(p->bytes);
        row.damage = damageOf(evaluator.options().measure, *p, r.baseline);
        row.damagePerMiB = row.bytesSaved > 0 ? row.damage / (double(row.bytesSaved) / 1048576.0) : 0.0;
        for (const auto& w : p->warnings)
            if (std::find(r.warnings.begin(), r.warnings.end(), w) == r.warnings.end())
                r.warnings.push_back(w);
        row.point = std::move(*p);
        r.rows.push_back(std::move(row));
    }
    sortSensitivityRows(r.rows);
    if (progress && !progress(1.0, "done")) return Error{std::string(kCancelledMessage)};
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

namespace {

nlohmann::json pointJson(const PointMeasure& p) {
    nlohmann::json j = {{"bytes", p.bytes}, {"bpw", p.bpw}, {"rmse", p.rmse}};
    j["sqnr_db"] = std::isfinite(p.sqnrDb) ? nlohmann::json(p.sqnrDb) : nlohmann::json(nullptr);
    if (p.hasPpl) j["ppl"] = p.ppl;
    if (p.hasKld) {
        j["kld"] = p.kld;
        j["top1"] = p.top1;
    }
    if (p.hasPpl || p.hasKld) j["tokens"] = p.tokens;
    return j;
}

std::string num(double v) {
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

}  // namespace

nlohmann::json sensitivityJson(const SensitivityResult& r) {
    nlohmann::json rows = nlohmann::json::array();
    int rank = 1;
    for (const auto& row : r.rows) {
        nlohmann::json j = pointJson(row.point);
        j["rank"] = rank++;
        j["group"] = row.group;
        j["scheme"] = row.scheme;
        j["bytes_saved"] = row.bytesSaved;
        j["damage"] = row.damage;
        j["damage_per_mib"] = row.bytesSaved > 0 ? nlohmann::json(row.damagePerMiB) : nlohmann::json(nullptr);
        rows.push_back(std::move(j));
    }
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& s : r.skipped) skipped.push_back({{"group", s.group}, {"reason", s.reason}});
    return {{"measure", r.measure}, {"scheme", r.scheme},   {"baseline", pointJson(r.baseline)},
            {"rows", rows},         {"skipped", skipped},   {"seconds", r.seconds}, {"warnings", r.warnings}};
}

std::string sensitivityCsv(const SensitivityResult& r) {
    std::ostringstream o;
    o << "rank,group,scheme,bytes,bytes_saved,damage,damage_per_mib,bpw,rmse,sqnr_db,ppl,kld,top1\n";
    int rank = 1;
    for (const auto& row : r.rows) {
        const auto& p = row.point;
        o << rank++ << ',' << row.group << ',' << row.scheme << ',' << p.bytes << ',' << row.bytesSaved << ','
          << num(row.damage) << ',' << (row.bytesSaved > 0 ? num(row.damagePerMiB) : "") << ',' << num(p.bpw)
          << ',' << num(p.rmse) << ',' << num(p.sqnrDb) << ',' << (p.hasPpl ? num(p.ppl) : "") << ','
          << (p.hasKld ? num(p.kld) : "") << ',' << (p.hasKld ? num(p.top1) : "") << '\n';
    }
    return o.str();
}

}  // namespace qs::sweep
