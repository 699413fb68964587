// SPDX-License-Identifier: GPL-3.0-or-later
// --calib FILE [--calib-tokens N] [--calib-ctx N]: the calibration options of every command that quantizes
// (quantize, export, ppl, generate, chat, bench, sweep, automix, sensitivity, embed-head-study, calibrate), one
// definition. The statistics are collected by QuantScope's engine on the loaded model
// (core/collect/collect.h calibrateModel, cached per model, text and settings for the process) and handed to
// the map-application paths; a scheme that needs them and gets none refuses by name (core/quant/scheme.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "app/cli/command_line.h"
#include "core/calib/calibration.h"
#include "core/collect/collect.h"
#include "core/infer/inference_model.h"
#include "core/quant/quant_map.h"

namespace qscli {

// The options as given. --imatrix FILE: a llama.cpp importance matrix (legacy binary or GGUF,
// core/calib/imatrix_file.h) as the calibration of the importance-weighted schemes (<type>_im), instead of --calib.
struct CalibArgs {
    std::optional<std::string> file, imatrix;
    std::optional<long long> tokens, ctx;
};
// Adds --calib, --calib-tokens, --calib-ctx and --imatrix.
void addCalibOptions(CLI::App& app, CalibArgs& args);
// --calib-sequential of quantize and calibrate (GPTQ's sequential mode, collect.h).
void addCalibSequentialFlag(CLI::App& app, bool& sequential);

struct CalibOptions {
    std::string file;  // --calib ("" when not given)
    qs::CalibrationSettings settings;
    const qs::ResolvedMap* sequential = nullptr;  // --calib-sequential: the map, resolved (set by the command)
    std::string mapKey;
    bool given() const { return !file.empty(); }
};

// Reads the options; --calib with --imatrix, --calib-tokens/--calib-ctx without --calib, or out of range (tokens >= 0, ctx 2..1048576),
// print the message and return kExitUsage; otherwise kExitOk.
int parseCalibOptions(const std::string& command, const CalibArgs& args, CalibOptions& out);

// --imatrix FILE read as the calibration of `ckpt`'s tensors; without the option `out` stays null. A file that
// cannot be read or does not fit the model exits kExitFailure (message printed).
int parseImatrixOption(const std::string& command, const std::optional<std::string>& path, const qs::Checkpoint& ckpt,
                       const qs::ModelInfo& info, std::shared_ptr<const qs::CalibrationSet>& out);

// Adds to `settings` what the schemes named in `map` need for `model` (union of Scheme::calibrationNeeds over
// the quantized tensors; Hessians only for the blocks, and the head, whose tensors need one). Fails on a map
// that does not resolve.
qs::Status addMapNeeds(qs::CalibrationSettings& settings, const qs::QuantMap& map, const qs::Checkpoint& ckpt,
                       const qs::ModelInfo& info);
// Adds what each named scheme needs, for every block (sweep and automix candidates). Unknown names are ignored
// here (the commands report them).
void addSchemeNeeds(qs::CalibrationSettings& settings, const std::vector<std::string>& schemes);

// Reads the --calib text, collects (or reuses) the statistics on `model` (which must have its tokenizer and
// float weights) and sets `out`; one line on stderr: tokens, sequences, seconds or "reused". Prints the
// message and returns kExitFailure on a failure, kExitCancelled on Ctrl-C; kExitOk otherwise.
int runCalibration(const std::string& command, const CalibOptions& options, const qs::InferenceModel& model,
                   tbb::task_arena* arena, bool progress, std::shared_ptr<const qs::CalibrationSet>& out);

}  // namespace qscli
