// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mix/mix_jobs.h"

namespace qsui {

namespace {

// The reference pass (kld) takes the first tenth of the bar, the core job the rest.
constexpr double kSetupShare = 0.1;

template <class T, class Run>
JobFn<T> evaluatorJob(EvaluatorRequest request, const char* name, Run run) {
    return [r = std::move(request), name,
            run = std::move(run)](const qs::ProgressFn& progress) -> qs::Result<T> {
        auto evaluator = openMapEvaluator(
            r, [&](double f, std::string_view stage) { return progress(kSetupShare * f, stage); });
        if (!evaluator) return qs::Error{std::string(name) + ": " + evaluator.message()};
        const qs::ProgressFn rest = [&](double f, std::string_view stage) {
            return progress(kSetupShare + (1 - kSetupShare) * f, stage);
        };
        return run(**evaluator, *r.model, rest);
    };
}

}  // namespace

JobFn<qs::sweep::SensitivityResult> sensitivityJob(EvaluatorRequest request,
                                                   qs::sweep::SensitivityOptions options) {
    return evaluatorJob<qs::sweep::SensitivityResult>(
        std::move(request), "sensitivity",
        [o = std::move(options)](qs::MapEvaluator& e, const LoadedModel& m, const qs::ProgressFn& p) {
            return qs::sweep::runSensitivityScan(e, m.info, o, p);
        });
}

JobFn<qs::sweep::AutoMixResult> autoMixJob(EvaluatorRequest request, qs::sweep::AutoMixOptions options) {
    return evaluatorJob<qs::sweep::AutoMixResult>(
        std::move(request), "auto-mix",
        [o = std::move(options)](qs::MapEvaluator& e, const LoadedModel& m, const qs::ProgressFn& p) {
            return qs::sweep::runAutoMix(e, *m.checkpoint, m.info, o, p);
        });
}

JobFn<qs::sweep::EmbedHeadStudyResult> embedHeadStudyJob(EvaluatorRequest request,
                                                         qs::sweep::EmbedHeadStudyOptions options) {
    return evaluatorJob<qs::sweep::EmbedHeadStudyResult>(
        std::move(request), "embedding-vs-head study",
        [o = std::move(options)](qs::MapEvaluator& e, const LoadedModel& m, const qs::ProgressFn& p) {
            return qs::sweep::runEmbedHeadStudy(e, *m.checkpoint, m.info, o, p);
        });
}

}  // namespace qsui
