// SPDX-License-Identifier: GPL-3.0-or-later
// --calib FILE [--calib-tokens N] [--calib-ctx N]: the calibration options of every command that quantizes
// (quantize, export, ppl, generate, chat, bench, sweep, automix, sensitivity, embed-head-study, calibrate), one
// definition. The statistics are collected by QuantScope's engine on the loaded model
// (core/collect/collect.h calibrateModel, cached per model, text and settings for the process) and handed to
// the map-application paths; a scheme that needs them and gets none refuses by name (core/quant/scheme.h).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "app/cli/args.h"
#include "core/collect/collect.h"
#include "core/infer/inference_model.h"
#include "core/quant/quant_map.h"

namespace qscli {

// A string literal, so that other help texts can splice it in.
#define QS_CALIB_OPTIONS_HELP                                                                                  \
    "  --calib FILE          calibration text for the schemes that need input statistics (q4_K_im, gptq,\n" \
    "                        awq, llmint8): run through the model, WikiText-2 style raw text; or a STATS.h5\n"  \
    "                        written by `calibrate --out` / `export --h5` for the same weights\n"               \
    "  --calib-tokens N      tokens of it to run, in whole sequences (default 16384; 0: the whole text)\n"     \
    "  --calib-ctx N         tokens per sequence, each starting with BOS (default 512, at most the context)\n"   \
    "  --imatrix FILE        llama.cpp importance matrix (imatrix.dat or imatrix GGUF) for the _im schemes,\n"  \
    "                        instead of --calib\n"
inline constexpr const char* kCalibOptionsHelp = QS_CALIB_OPTIONS_HELP;

// quantize and calibrate also take this flag (GPTQ's sequential mode, collect.h).
inline constexpr const char* kCalibSequentialHelp =
    "  --calib-sequential    collect each block's inputs on the model whose earlier blocks are already quantized\n"
    "                        by the map (GPTQ's sequential mode; one pass over the text per block)\n";

struct CalibOptions {
    std::string file;  // --calib ("" when not given)
    qs::CalibrationSettings settings;
    const qs::ResolvedMap* sequential = nullptr;  // --calib-sequential: the map, resolved (set by the command)
    std::string mapKey;
    bool given() const { return !file.empty(); }
};

// `more` plus calib, calib-tokens, calib-ctx and imatrix (read by parseImatrixOption, args.h).
std::set<std::string> withCalibOptions(std::set<std::string> more);

// Reads the options; --calib with --imatrix, --calib-tokens/--calib-ctx without --calib, or out of range (tokens >= 0, ctx 2..1048576),
// print the message and return kExitUsage; otherwise kExitOk.
int parseCalibOptions(const std::string& command, Args& args, CalibOptions& out);

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
