// SPDX-License-Identifier: GPL-3.0-or-later
// Shared argument handling of the inference commands (generate, ppl, chat, bench): the model path, --tokenizer,
// --threads and the thread arena, and --map FILE / --rule ROLE=SCHEME (repeatable, appended after the map's
// rules), which quantize the model before it runs. The work itself is in core/infer and core/quant.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "app/cli/calib_setup.h"
#include "app/cli/shared_options.h"
#include "core/infer/inference_model.h"

namespace qscli {

// The options every inference command (generate, ppl, chat, compare, bench) accepts.
struct InferenceArgs {
    MapArgs map;
    std::optional<std::string> tokenizer, dequant;
    std::optional<long long> threads;
    CalibArgs calib;
    std::optional<long long> ctx;  // --ctx (addContextOption): the KV cache's positions
};
// Adds them to `app`: --map/--rule (quantize the model first), --dequant, --tokenizer, --threads, the calibration.
void addInferenceOptions(CLI::App& app, InferenceArgs& args);
// Adds --ctx N: caps the context (the KV cache's positions, so its memory) at N, 1..2^20 (default: the model's
// trained context, or what openInference's caller passes). Not for ppl, whose --ctx is its window.
void addContextOption(CLI::App& app, InferenceArgs& args);

struct InferenceSetup {
    std::unique_ptr<tbb::task_arena> arena;
    qs::InferenceModel model;
    std::shared_ptr<const qs::ModelWeights> weights;  // what runs: quantized when a map or rule was given
    bool quantized = false;                           // then model.weights is the unquantized reference
    std::shared_ptr<const qs::CalibrationSet> calibration;  // with --calib: what the map was quantized with
    int threads = 1;
    std::vector<std::string> warnings;  // model, tokenizer, quantization and memory warnings (also on stderr)
};

// Checks `args` (--calib is collected on the unquantized model), opens the single positional MODEL (`positional`
// holds the command's positional arguments), loads it and quantizes it when asked. On failure prints the message and returns the exit code; on success returns kExitOk.
// Warnings (also kept in out.warnings, for --json) and a one-line quantization summary go to stderr.
// maxContext: the KV cache's positions when --ctx is not given (0 = the model's trained context).
int openInference(const std::string& command, const std::vector<std::string>& positional, const InferenceArgs& args,
                  int maxContext, InferenceSetup& out);

}  // namespace qscli
