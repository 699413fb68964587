// SPDX-License-Identifier: GPL-3.0-or-later
// Shared argument handling of the inference commands (generate, ppl, chat, bench): the model path, --tokenizer,
// --threads and the thread arena, and --map FILE / --rule ROLE=SCHEME (repeatable, appended after the map's
// rules), which quantize the model before it runs. The work itself is in core/infer and core/quant.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "app/cli/args.h"
#include "app/cli/calib_setup.h"
#include "core/infer/inference_model.h"
#include "core/infer/sampler.h"

namespace qscli {

// Help lines for the options every inference command accepts.
inline constexpr const char* kInferenceOptionsHelp =
    "  --map FILE, --rule ROLE=SCHEME  quantize the model first (rules as for `quantize`; --rule repeatable)\n"
    "  --dequant native|once|rows  run quantized and stored ggml/f16/bf16 tensors in their packed form with\n"
    "                        native kernels (default; activations quantized to q8 as ggml does), dequantized\n"
    "                        once to float (the scheme's exact numerics, float memory), or dequantized per\n"
    "                        block of rows at every use (packed memory, exact numerics, slow)\n"
    "  --tokenizer PATH      use this tokenizer instead of the one found with the model\n"
    "  --threads N           worker threads, 1..1024 (default or 0: all cores)\n" QS_CALIB_OPTIONS_HELP;

// The sampling options of generate and chat: --temperature, --seed (default: from the clock), --top-k, --top-p,
// --repeat-penalty, with the command's defaults for temperature and top-p. On a bad value prints the message and
// returns the usage exit code; otherwise fills `out` and returns kExitOk.
int parseSampling(const std::string& command, Args& args, double defaultTemperature, double defaultTopP,
                  qs::SamplerOptions& out);

// Options every inference command accepts (value options).
std::set<std::string> inferenceValueOptions(std::set<std::string> more);

struct InferenceSetup {
    std::unique_ptr<tbb::task_arena> arena;
    qs::InferenceModel model;
    std::shared_ptr<const qs::ModelWeights> weights;  // what runs: quantized when a map or rule was given
    bool quantized = false;                           // then model.weights is the unquantized reference
    std::shared_ptr<const qs::CalibrationSet> calibration;  // with --calib: what the map was quantized with
    int threads = 1;
    std::vector<std::string> warnings;  // model, tokenizer, quantization and memory warnings (also on stderr)
};

// Parses --threads, --tokenizer, --map, --rule and --calib (collected on the unquantized model), opens the single positional MODEL, loads it and quantizes
// it when asked. On failure prints the message and returns the exit code; on success returns kExitOk.
// Warnings (also kept in out.warnings, for --json) and a one-line quantization summary go to stderr.
int openInference(const std::string& command, Args& args, int maxContext, InferenceSetup& out);

}  // namespace qscli
