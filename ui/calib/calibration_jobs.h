// SPDX-License-Identifier: GPL-3.0-or-later
// The calibration behind the map editor's Calibration section (calibration_section.h), as JobRunner functions
// and UI-thread helpers.
//
// - collectCalibrationJob: QuantScope's engine over a calibration text (core/collect/collect.h calibrateModel:
//   cached per model, text and settings for the process), on the unquantized weights and the tokenizer the
//   chat already loaded when it has, else loaded by the job. What is collected: the CLI's defaults
//   (importance, max|x|, mean|x|) plus what the map's schemes need (core addMapNeeds: GPTQ Hessians for their
//   blocks, AWQ's samples), plus, when asked, Hessians and samples for every block and the head (so the
//   Sweep, Sensitivity and Auto-mix can try gptq/awq anywhere).
// - loadCalibrationJob: a llama.cpp imatrix (legacy .dat or GGUF; core/calib/imatrix_file.h, mapped to this
//   model's tensors) or QuantScope's statistics (.h5 from `calibrate --out`, a session, or the GUI's session
//   file; core/calib/calibration_h5.h), refused when collected on other weights (model fingerprint).
// Both produce a DocumentCalibration with the set's fingerprint computed on the worker. Errors name the file.
//
// missingCalibration: the tensors of the current map whose scheme needs calibration the Document's
// calibration cannot give (core calibrationFor: none loaded, no entry, a statistic not collected), each with
// core's reason. Reasons are worded for the GUI (ui/util/gui_messages.h). Thread affinity: the JobFns run on
// a worker and touch no Qt object; the rest on the UI thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <QString>

#include "core/collect/collect.h"
#include "core/infer/model_weights.h"
#include "core/infer/tokenizer.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"

namespace qsui {

struct CalibrationJobResult {
    DocumentCalibration calibration;
    std::vector<std::string> warnings;
    double seconds = 0;
    bool cacheHit = false;
};

struct CollectRequest {
    std::shared_ptr<const LoadedModel> model;
    QString textPath;
    qs::CalibrationSettings settings;  // tokens, sequenceLength and needs as wanted (see collectSettings)
    std::shared_ptr<const qs::Tokenizer> tokenizer;       // null: loaded by the job
    std::shared_ptr<const qs::ModelWeights> unquantized;  // null: loaded by the job
    tbb::task_arena* arena = nullptr;                     // the JobRunner's
};

// The settings a collection for `doc`'s map uses: tokens and ctx as given, the default needs plus the map's
// (addMapNeeds), plus Hessians and samples for every block and the head when `everyScheme`.
qs::CalibrationSettings collectSettings(const Document& doc, int64_t tokens, int ctx, bool everyScheme);

JobFn<CalibrationJobResult> collectCalibrationJob(CollectRequest request);
JobFn<CalibrationJobResult> loadCalibrationJob(std::shared_ptr<const LoadedModel> model, QString path,
                                               tbb::task_arena* arena);

struct MissingCalibration {
    int tensor = -1;     // index into Checkpoint::tensors
    std::string scheme;  // the resolved scheme
    QString reason;      // core's refusal, with the GUI hint
};
std::vector<MissingCalibration> missingCalibration(const Document& doc);
// One line for a message: "3 tensors of the map need calibration that is not loaded (gptq4_g32 on …); Map
// editor → Calibration → Collect", or "" when nothing is missing.
QString missingCalibrationSummary(const Document& doc);

}  // namespace qsui
