// SPDX-License-Identifier: GPL-3.0-or-later
// The background jobs of the Sensitivity tab (mix_view.h): core's sensitivity scan, auto-mix and the
// embedding-versus-head study (core/sweep/sensitivity.h, automix.h, embed_head_study.h), each on a JobRunner
// worker with its own MapEvaluator (sweep_job.h openMapEvaluator: the Document's quantized-tensor cache, and
// for ppl/kld the reference pass first). Progress covers the reference pass and the core job; cancel stops
// between or inside points. Thread affinity: the returned JobFn runs on a worker and never touches Qt
// objects; the request keeps the model, tokenizer and weights alive.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include "core/sweep/automix.h"
#include "core/sweep/embed_head_study.h"
#include "core/sweep/sensitivity.h"
#include "ui/jobs/job_runner.h"
#include "ui/sweep/sweep_job.h"

namespace qsui {

JobFn<qs::sweep::SensitivityResult> sensitivityJob(EvaluatorRequest request,
                                                   qs::sweep::SensitivityOptions options);
JobFn<qs::sweep::AutoMixResult> autoMixJob(EvaluatorRequest request, qs::sweep::AutoMixOptions options);
JobFn<qs::sweep::EmbedHeadStudyResult> embedHeadStudyJob(EvaluatorRequest request,
                                                         qs::sweep::EmbedHeadStudyOptions options);

}  // namespace qsui
