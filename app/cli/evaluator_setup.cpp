// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/evaluator_setup.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/io/bounded_text.h"
#include "core/io/utf8.h"
#include "core/model/model_info.h"

namespace qscli {


void addEvaluatorOptions(CLI::App& app, EvaluatorArgs& args, qs::SweepMeasure defaultMeasure, bool weightError) {
    const std::string fallback(qs::sweepMeasureName(defaultMeasure));
    addText(app, "--measure", args.measure, weightError ? "weight-error|ppl|kld" : "kld|ppl",
            std::string(weightError ? "damage measure: weight error (no engine, fast), perplexity, or KL divergence\n"
                                      "against the unquantized model (ppl and kld need --text)"
                                    : "KL divergence against the unquantized model, or perplexity") +
                " (default " + fallback + ")");
    addMapOptions(app, args.map);
    addTextEvalOptions(app, args.text);
    addDequantOption(app, args.dequant);
    addTokenizerOption(app, args.tokenizer);
    addThreadsOption(app, args.threads);
    addCalibOptions(app, args.calib);
}

int printEvaluatorResult(const std::string& command, bool asJson, const EvaluatorSetup& setup,
                         const std::vector<std::string>& warnings, const std::function<nlohmann::json()>& json,
                         const std::function<void()>& text) {
    warn(command, warnings);
    if (asJson) {
        nlohmann::json j = json();
        j["model"] = setup.modelPath;
        j["threads"] = setup.threads;
        if (!setup.textPath.empty()) j["text"] = setup.textPath;
        std::printf("%s\n", jsonText(j).c_str());
    } else {
        text();
    }
    return kExitOk;
}

int evaluatorJobFailed(const std::string& command, const std::string& message) {
    return fail(command, message, message == qs::kCancelledMessage ? kExitCancelled : kExitFailure);
}

qs::ProgressFn stderrProgress(const std::string& command, bool enabled) {
    watchInterrupt();
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    return [=](double fraction, std::string_view stage) {
        const auto now = std::chrono::steady_clock::now();
        if (enabled && (now - *last > std::chrono::milliseconds(500) || fraction >= 1.0)) {
            *last = now;
            std::fprintf(stderr, "\r%s: %5.1f%% %-60.60s", command.c_str(), 100.0 * fraction,
                         qs::io::printableText(stage).c_str());
            if (fraction >= 1.0) std::fprintf(stderr, "\n");
        }
        return !interrupted();
    };
}

void warnTextNotUtf8(const std::string& command, const std::string& textPath, std::string_view text,
                     const qs::InferenceModel& model) {
    if (!model.tokenizer) return;
    if (auto bad = qs::io::firstInvalidUtf8(text)) warn(command, qs::invalidUtf8Warning(textPath, *bad, *model.tokenizer));
}

int parseEvaluationOptions(const std::string& command, const EvaluatorArgs& args, qs::SweepMeasure defaultMeasure,
                           qs::MapEvaluatorOptions& eo, std::string& textPath) {
    const std::string measureName = args.measure.value_or(std::string(qs::sweepMeasureName(defaultMeasure)));
    const auto measure = qs::sweepMeasureFromName(measureName);
    if (!measure)
        return fail(command, "unknown --measure '" + measureName + "' (weight-error, ppl, kld)", kExitUsage);
    eo.measure = *measure;
    if (int rc = parseTextEval(command, args.text, eo.perplexity); rc != kExitOk) return rc;
    if (int rc = parseWindows(command, "--windows", args.text.windows, eo.perplexity); rc != kExitOk) return rc;
    const auto dequant = dequantMode(command, args.dequant);
    if (!dequant) return kExitUsage;
    eo.weights.quantized = *dequant;
    if (*measure == qs::SweepMeasure::WeightError) {
        if (args.text.text)
            return fail(command, "--text is used by --measure ppl or kld, not weight-error", kExitUsage);
        return kExitOk;
    }
    const auto& path = args.text.text;
    if (!path) return fail(command, "--measure " + measureName + " needs --text FILE", kExitUsage);
    auto read = qs::io::readBoundedFile(*path, qs::io::kMaxTextFileBytes, "an evaluation text");
    if (!read) return fail(command, read.message());
    eo.text = std::move(*read);
    textPath = *path;
    return kExitOk;
}

int openModelForMeasure(const std::string& command, const EvaluatorArgs& args, const std::string& path, qs::SweepMeasure measure,
                        tbb::task_arena* arena, qs::InferenceModel& model) {
    // --calib runs the engine too (the calibration text through the unquantized model).
    if (measure != qs::SweepMeasure::WeightError || args.calib.file) {
        qs::InferenceLoadOptions lo;
        lo.tokenizerPath = args.tokenizer.value_or("");
        auto m = qs::openInferenceModel(path, lo, arena);
        if (!m) return fail(command, m.message());
        model = std::move(m.value());
        warn(command, model.warnings);
        return kExitOk;
    }
    if (args.tokenizer)
        return fail(command, "--tokenizer is used by --measure ppl or kld, or --calib", kExitUsage);
    auto c = qs::openCheckpoint(path);
    if (!c) return fail(command, c.message());
    model.checkpoint = std::move(c.value());
    model.info = qs::analyzeModel(*model.checkpoint);
    return kExitOk;
}

int calibrateEvaluator(const std::string& command, const EvaluatorArgs& args, const qs::InferenceModel& model,
                       const qs::QuantMap& baseline, const std::vector<std::string>& candidates,
                       tbb::task_arena* arena, bool progress, qs::MapEvaluatorOptions& options) {
    CalibOptions calib;
    if (int rc = parseCalibOptions(command, args.calib, calib); rc != kExitOk) return rc;
    if (!calib.given()) {
        std::shared_ptr<const qs::CalibrationSet> imatrix;
        const int rc = parseImatrixOption(command, args.calib.imatrix, *model.checkpoint, model.info, imatrix);
        options.calibration = std::move(imatrix);
        return rc;
    }
    if (auto s = addMapNeeds(calib.settings, baseline, *model.checkpoint, model.info); !s)
        return fail(command, s.message(), kExitUsage);
    addSchemeNeeds(calib.settings, candidates);
    std::shared_ptr<const qs::CalibrationSet> set;
    if (int rc = runCalibration(command, calib, model, arena, progress, set); rc != kExitOk) return rc;
    options.calibration = std::move(set);
    return kExitOk;
}

int openEvaluator(const std::string& command, const std::vector<std::string>& positional, const EvaluatorArgs& args,
                  const std::vector<std::string>& candidates, EvaluatorSetup& out, bool progress) {
    if (positional.size() != 1)
        return fail(command, "expects exactly one MODEL path (see --help)", kExitUsage);
    out.modelPath = positional[0];
    if (int rc = resolveThreads(command, args.threads, out.threads); rc != kExitOk) return rc;
    qs::MapEvaluatorOptions eo;
    if (int rc = parseEvaluationOptions(command, args, qs::SweepMeasure::Kld, eo, out.textPath); rc != kExitOk)
        return rc;
    if (int rc = loadMapOptions(command, args.map, out.baseline); rc != kExitOk) return rc;
    out.arena = std::make_unique<tbb::task_arena>(out.threads);
    eo.arena = out.arena.get();
    if (int rc = openModelForMeasure(command, args, out.modelPath, eo.measure, out.arena.get(), out.model);
        rc != kExitOk)
        return rc;
    warnTextNotUtf8(command, out.textPath, eo.text, out.model);
    if (int rc = calibrateEvaluator(command, args, out.model, out.baseline, candidates, out.arena.get(), progress, eo);
        rc != kExitOk)
        return rc;
    auto ev =
        qs::MapEvaluator::create(*out.model.checkpoint, out.model.info, out.model.tokenizer.get(),
                                 out.model.weights, eo, stderrProgress(command + " (reference)", progress));
    if (!ev)
        return fail(command, ev.message(),
                    ev.message() == qs::kCancelledMessage ? kExitCancelled : kExitFailure);
    out.evaluator = std::move(ev.value());
    return kExitOk;
}

}  // namespace qscli
