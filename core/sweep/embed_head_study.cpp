// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/embed_head_study.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/quant/footprint_after.h"
#include "core/quant/quant_map_resolve.h"
#include "core/sweep/sweep_groups.h"

namespace qs::sweep {

std::vector<std::string> defaultStudySchemes() {
    return {"f16", "q8_0", "int8", "nf4", "q4_K", "int4_g64", "q2_K"};
}

namespace {

struct Target {
    std::string label;
    SweepGroup group;
    Role role;
    int tensor = -1;
};

// The target tensor's bytes and share, and the scheme it actually got.
Status describeTarget(const Checkpoint& ckpt, const ModelInfo& info, const QuantMap& map, const Target& t,
                      StudyRow& row) {
    auto resolved = resolveMap(map, ckpt.tensors, info);
    if (!resolved) return Error{"embed-head study: " + resolved.message()};
    // The per-tensor AWQ form, as MapEvaluator measures the rows.
    const MapFootprint f = footprintAfter(*resolved, ckpt.tensors, info, nullptr, /*foldAwqScales=*/false);
    const FootprintShares shares = footprintShares(f);
    const RoleShare& s = shares.byRole[int(t.role)];
    row.targetBytes = s.after;
    row.targetBpw = s.bitsAfter;
    row.sharePercent = s.shareAfter;
    const auto& plan = resolved->tensors[t.tensor];
    row.schemeUsed = plan.scheme.empty()
                         ? "stored (" + std::string(dtypeName(ckpt.tensors[t.tensor].dtype)) + ")"
                         : plan.scheme;
    return {};
}

// The study's schemes by their canonical names ("keep" refused: it is the baseline row).
Result<std::vector<std::string>> studySchemes(const EmbedHeadStudyOptions& o) {
    std::vector<std::string> schemes;
    for (const auto& s : o.schemes.empty() ? defaultStudySchemes() : o.schemes) {
        auto c = canonicalSchemeName(s);
        if (!c) return Error{"embed-head study: " + c.message()};
        if (*c == kKeepScheme)
            return Error{"embed-head study: \"keep\" is the baseline row, not a study scheme"};
        schemes.push_back(*c);
    }
    return schemes;
}

// The embedding and the head, or the one tied tensor (noted in r).
Result<std::vector<Target>> studyTargets(const Checkpoint& ckpt, const ModelInfo& info, EmbedHeadStudyResult& r) {
    r.tied = info.tie.has_value();
    std::vector<std::string> names =
        r.tied ? std::vector<std::string>{"embedding"} : std::vector<std::string>{"embedding", "head"};
    auto groups = expandGroups(info, names);
    if (!groups) return Error{"embed-head study: " + groups.message()};
    std::vector<Target> targets;
    if (r.tied) {
        r.tieNote = "embedding and head are one tensor (" + info.tie->describe() + "): varied together";
        targets.push_back({"embedding+head", (*groups)[0], Role::Embedding, info.tie->embedding});
    } else {
        const int emb = int(std::find_if(info.entries.begin(), info.entries.end(),
                                         [](const TensorEntry& e) { return e.role == Role::Embedding; }) -
                            info.entries.begin());
        const int head = int(std::find_if(info.entries.begin(), info.entries.end(),
                                          [](const TensorEntry& e) { return e.role == Role::Head; }) -
                             info.entries.begin());
        if (emb >= int(info.entries.size()) || head >= int(info.entries.size()))
            return Error{"embed-head study: " + ckpt.path + " has no " +
                         (emb >= int(info.entries.size()) ? "token embedding" : "output head") + " tensor"};
        targets.push_back({"embedding", (*groups)[0], Role::Embedding, emb});
        targets.push_back({"head", (*groups)[1], Role::Head, head});
    }
    return targets;
}

// The progress of measured map number `done` (from 0) of `total`.
ProgressFn stepProgress(const ProgressFn& progress, double done, double total) {
    if (!progress) return {};
    const double from = done / total, to = (done + 1) / total;
    return [=](double f, std::string_view stage) {
        return progress(from + (to - from) * std::clamp(f, 0.0, 1.0), stage);
    };
}

// Measures the baseline, then every target under every scheme: a baseline row and one row per scheme each.
Status measureStudy(MapEvaluator& evaluator, const Checkpoint& ckpt, const ModelInfo& info,
                    const EmbedHeadStudyOptions& o, const std::vector<Target>& targets,
                    const std::vector<std::string>& schemes, const ProgressFn& progress, EmbedHeadStudyResult& r) {
    const double total = 1.0 + double(targets.size() * schemes.size());
    double done = 0;
    auto base = evaluator.measure(o.baseline, stepProgress(progress, done, total));
    if (!base)
        return base.message() == kCancelledMessage ? base.error()
                                                   : Error{"embed-head study: baseline: " + base.message()};
    done += 1;
    r.baseline = std::move(*base);
    r.warnings = r.baseline.warnings;
    for (const auto& t : targets) {
        StudyRow baseRow;
        baseRow.target = t.label;
        baseRow.scheme = "baseline";
        baseRow.point = r.baseline;
        if (auto st = describeTarget(ckpt, info, o.baseline, t, baseRow); !st) return st.error();
        r.rows.push_back(std::move(baseRow));
        for (const auto& s : schemes) {
            auto map = mapFor(info, o.baseline, {{t.group, s}});
            if (!map) return Error{"embed-head study: " + t.label + " " + s + ": " + map.message()};
            StudyRow row;
            row.target = t.label;
            row.scheme = s;
            if (auto st = describeTarget(ckpt, info, *map, t, row); !st) return st.error();
            auto p = evaluator.measure(*map, stepProgress(progress, done, total));
            if (!p)
                return p.message() == kCancelledMessage
                           ? p.error()
                           : Error{"embed-head study: " + t.label + " " + s + ": " + p.message()};
            done += 1;
            for (const auto& w : p->warnings)
                if (std::find(r.warnings.begin(), r.warnings.end(), w) == r.warnings.end())
                    r.warnings.push_back(w);
            row.point = std::move(*p);
            r.rows.push_back(std::move(row));
        }
    }
    return {};
}

}  // namespace

Result<EmbedHeadStudyResult> runEmbedHeadStudy(MapEvaluator& evaluator, const Checkpoint& ckpt,
                                               const ModelInfo& info, const EmbedHeadStudyOptions& o,
                                               const ProgressFn& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    EmbedHeadStudyResult r;
    r.measure = std::string(sweepMeasureName(evaluator.options().measure));
    auto schemes = studySchemes(o);
    if (!schemes) return schemes.error();
    auto targets = studyTargets(ckpt, info, r);
    if (!targets) return targets.error();
    if (auto st = measureStudy(evaluator, ckpt, info, o, *targets, *schemes, progress, r); !st) return st.error();
    if (progress && !progress(1.0, "done")) return Error{std::string(kCancelledMessage)};
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

nlohmann::json embedHeadStudyJson(const EmbedHeadStudyResult& r) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : r.rows) {
        const auto& p = row.point;
        nlohmann::json j = {{"target", row.target},
                            {"scheme", row.scheme},
                            {"scheme_used", row.schemeUsed},
                            {"target_bytes", row.targetBytes},
                            {"target_bpw", row.targetBpw},
                            {"share_percent", row.sharePercent},
                            {"bytes", p.bytes},
                            {"bpw", p.bpw}};
        if (p.hasPpl) j["ppl"] = p.ppl;
        if (p.hasKld) j["kld"] = p.kld, j["kld_max"] = p.kldMax, j["top1"] = p.top1;
        rows.push_back(std::move(j));
    }
    return {{"measure", r.measure}, {"tied", r.tied},       {"tie", r.tieNote},
            {"rows", rows},         {"seconds", r.seconds}, {"warnings", r.warnings}};
}

}  // namespace qs::sweep
