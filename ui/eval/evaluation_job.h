// SPDX-License-Identifier: GPL-3.0-or-later
// The background job behind the Evaluations view: perplexity of a model on a text file, and, when a
// reference model is given, its KL divergence and top-1 agreement against that reference on the same windows
// (qs::evaluatePerplexity, the same protocols as `quantscope-cli ppl`).
//
// Ownership: the request holds the weights and the tokenizer by shared_ptr to const, so the job keeps them
// alive while the user opens another model. The job reads the text file itself (never on the UI thread); a
// file that cannot be read is an error naming it, a file that is not valid UTF-8 a warning (as the CLI).
// Thread affinity: the returned function runs on a JobRunner worker; it never touches Qt objects.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <string>

#include "core/infer/model_weights.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "ui/jobs/job_runner.h"

namespace qsui {

struct EvaluationRequest {
    std::shared_ptr<const qs::ModelWeights> model;  // the model scored (the quantized one, or the original)
    std::shared_ptr<const qs::ModelWeights> reference;  // null: no KLD / top-1 (the original scored alone)
    std::shared_ptr<const qs::Tokenizer> tokenizer;
    std::string textPath;
    qs::PerplexityOptions options;
    tbb::task_arena* arena = nullptr;  // must outlive the job (the JobRunner's)
};

// A JobFn for JobRunner::start<qs::PerplexityResult>. Progress is the fraction of windows evaluated.
JobFn<qs::PerplexityResult> evaluationJob(EvaluationRequest request);

}  // namespace qsui
