// SPDX-License-Identifier: GPL-3.0-or-later
// Shared argument handling of the inference commands (generate, ppl, chat, bench): the model path, --tokenizer,
// --threads and the thread arena. The work itself is in core/infer.
#pragma once

#include <memory>
#include <set>
#include <string>

#include <tbb/task_arena.h>

#include "app/cli/args.h"
#include "core/infer/inference_model.h"

namespace qscli {

// Options every inference command accepts (value options).
std::set<std::string> inferenceValueOptions(std::set<std::string> more);

struct InferenceSetup {
    std::unique_ptr<tbb::task_arena> arena;
    qs::InferenceModel model;
    std::shared_ptr<const qs::ModelWeights> weights;  // what runs
    int threads = 1;
};

// Parses --threads and --tokenizer, opens the single positional MODEL and loads it. On failure prints the
// message and returns the exit code; on success returns kExitOk. Warnings go to stderr.
int openInference(const std::string& command, Args& args, int maxContext, InferenceSetup& out);

}  // namespace qscli
