// SPDX-License-Identifier: GPL-3.0-or-later
// Shared argument handling of the commands that measure maps with a MapEvaluator (sensitivity, automix,
// embed-head-study): MODEL, --map FILE / --rule ROLE=SCHEME as the BASELINE map (not applied up front),
// --measure weight-error|ppl|kld, --text FILE, --ctx N, --windows N, --protocol P, --tokenizer PATH,
// --threads N. Weight error opens only the checkpoint; ppl/kld open the model for inference.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tbb/task_arena.h>

#include "app/cli/calib_setup.h"
#include "app/cli/shared_options.h"
#include "core/infer/inference_model.h"
#include "core/quant/quant_map.h"
#include "core/sweep/map_evaluator.h"

namespace qscli {

// The options of the commands that measure maps (sensitivity, automix, embed-head-study) and of sweep.
struct EvaluatorArgs {
    MapArgs map;  // the baseline map
    std::optional<std::string> measure, tokenizer, dequant;
    TextEvalArgs text;
    std::optional<long long> threads;
    CalibArgs calib;
};
// Adds them to `app`. `defaultMeasure` is the command's; `weightError`: whether the command accepts
// --measure weight-error (embed-head-study measures ppl/kld only, so its help does not list it).
void addEvaluatorOptions(CLI::App& app, EvaluatorArgs& args, qs::SweepMeasure defaultMeasure, bool weightError);

// The pieces below are shared with `sweep`, which builds its evaluator itself (it also records a spec).
// --measure (default `defaultMeasure`), --ctx, --windows, --protocol, --separator, --dequant, and --text (read
// into options.text; required by ppl/kld, refused with weight-error). `textPath` is the file named by --text.
int parseEvaluationOptions(const std::string& command, const EvaluatorArgs& args, qs::SweepMeasure defaultMeasure,
                           qs::MapEvaluatorOptions& options, std::string& textPath);
// Warns on stderr when `text` (the --text file `textPath`) is not UTF-8, saying what model's tokenizer does
// with such bytes (qs::invalidUtf8Warning; nothing without a tokenizer).
void warnTextNotUtf8(const std::string& command, const std::string& textPath, std::string_view text,
                     const qs::InferenceModel& model);
// The model the measure needs: the checkpoint and its analysis for weight-error (--tokenizer refused), plus
// the tokenizer and the unquantized weights for ppl/kld or --calib (openInferenceModel; its warnings printed).
int openModelForMeasure(const std::string& command, const EvaluatorArgs& args, const std::string& path, qs::SweepMeasure measure,
                        tbb::task_arena* arena, qs::InferenceModel& model);

// --calib FILE ...: the statistics the baseline map and the candidate schemes need, collected on `model` (opened
// for inference: openModelForMeasure does so when --calib is given) into options.calibration. kExitOk without
// --calib; otherwise prints the message and returns the exit code on failure.
int calibrateEvaluator(const std::string& command, const EvaluatorArgs& args, const qs::InferenceModel& model,
                       const qs::QuantMap& baseline, const std::vector<std::string>& candidates,
                       tbb::task_arena* arena, bool progress, qs::MapEvaluatorOptions& options);

struct EvaluatorSetup {
    std::unique_ptr<tbb::task_arena> arena;
    qs::InferenceModel model;  // checkpoint + info always; tokenizer and weights for ppl/kld
    qs::QuantMap baseline;
    std::unique_ptr<qs::MapEvaluator> evaluator;
    std::string modelPath, textPath;
    int threads = 1;
    const qs::Checkpoint& checkpoint() const { return *model.checkpoint; }
    const qs::ModelInfo& info() const { return model.info; }
};

// Checks the options above (`positional`: the command's positional arguments, one MODEL; `candidates`: the
// schemes the command will try, for the calibration they need) and builds the evaluator (the reference logits for kld are computed here, with a
// progress line on stderr when `progress`). Prints the message and returns the exit code on failure.
int openEvaluator(const std::string& command, const std::vector<std::string>& positional, const EvaluatorArgs& args,
                  const std::vector<std::string>& candidates, EvaluatorSetup& out, bool progress);

// The end the evaluator commands share once their job succeeded: each warning on stderr as
// "quantscope-cli <command>: warning: ...", then with --json the object `json()` plus "model" (the MODEL
// argument), "threads" and, when a text was read, "text"; otherwise `text()` prints the table. Returns kExitOk.
int printEvaluatorResult(const std::string& command, bool asJson, const EvaluatorSetup& setup,
                         const std::vector<std::string>& warnings, const std::function<nlohmann::json()>& json,
                         const std::function<void()>& text);

// A failed job: the message, exit kExitCancelled when it was cancelled (Ctrl-C), kExitFailure otherwise.
int evaluatorJobFailed(const std::string& command, const std::string& message);

// A ProgressFn printing "\r<command>: 42% stage" on stderr at most every 0.5 s (none when !enabled), and
// returning false after SIGINT so a Ctrl-C cancels the job cleanly.
qs::ProgressFn stderrProgress(const std::string& command, bool enabled);

}  // namespace qscli
