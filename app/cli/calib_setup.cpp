// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/calib_setup.h"

#include "core/io/bounded_text.h"
#include "core/io/hdf5_reader.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "app/cli/evaluator_setup.h"
#include "core/calib/calibration_h5.h"
#include "core/calib/imatrix_file.h"
#include "core/io/utf8.h"
#include "core/sweep/sweep.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"

namespace qscli {

void addCalibOptions(CLI::App& app, CalibArgs& args) {
    const char* group = "Calibration";
    addText(app, "--calib", args.file, "FILE",
            "calibration text for the schemes that need input statistics (q4_K_im, gptq, awq, llmint8): run\n"
            "through the model, WikiText-2 style raw text; or a STATS.h5 written by `calibrate --out` /\n"
            "`export --h5` for the same weights")
        ->group(group);
    addInteger(app, "--calib-tokens", args.tokens, "N",
               "tokens of it to run, in whole sequences (default 16384; 0: the whole text)")
        ->group(group);
    addInteger(app, "--calib-ctx", args.ctx, "N",
               "tokens per sequence, each starting with BOS (default 512, at most the context)")
        ->group(group);
    addText(app, "--imatrix", args.imatrix, "FILE",
            "llama.cpp importance matrix (imatrix.dat or imatrix GGUF) for the _im schemes, instead of --calib")
        ->group(group);
}

void addCalibSequentialFlag(CLI::App& app, bool& sequential) {
    addFlag(app, "--calib-sequential", sequential,
            "collect each block's inputs on the model whose earlier blocks are already quantized by the map\n"
            "(GPTQ's sequential mode; one pass over the text per block)")
        ->group("Calibration");
}

int parseCalibOptions(const std::string& command, const CalibArgs& args, CalibOptions& out) {
    out.file = args.file.value_or("");
    if (out.given() && args.imatrix)
        return fail(command, "give either --calib (statistics collected by QuantScope) or --imatrix (a llama.cpp file), not both",
                    kExitUsage);
    if (!out.given() && (args.tokens || args.ctx))
        return fail(command, "--calib-tokens and --calib-ctx need --calib FILE", kExitUsage);
    const long long tokens = args.tokens.value_or(out.settings.tokens);
    const long long ctx = args.ctx.value_or(out.settings.sequenceLength);
    if (tokens < 0) return fail(command, "--calib-tokens must be >= 0 (0: the whole text)", kExitUsage);
    if (ctx < 2 || ctx > (1 << 20)) return fail(command, "--calib-ctx must be between 2 and 1048576", kExitUsage);
    out.settings.tokens = tokens;
    out.settings.sequenceLength = int(ctx);
    return kExitOk;
}

int parseImatrixOption(const std::string& command, const std::optional<std::string>& path, const qs::Checkpoint& ckpt,
                       const qs::ModelInfo& info, std::shared_ptr<const qs::CalibrationSet>& out) {
    if (!path) return kExitOk;
    // QuantScope's own statistics (calibrate --out, a session) are HDF5: say which option reads them.
    if (qs::io::isHdf5File(*path))
        return fail(command, *path + " is an HDF5 file (QuantScope's statistics from `calibrate --out` or a session), "
                                     "not a llama.cpp imatrix: pass it with --calib");
    auto file = qs::readImatrix(*path);
    if (!file) return fail(command, file.message());
    for (const std::string& w : file->warnings) warn(command, *path + ": " + w);
    auto set = qs::imatrixToCalibration(*file, ckpt, info, *path);
    if (!set) return fail(command, set.message());
    out = std::make_shared<const qs::CalibrationSet>(std::move(*set));
    return kExitOk;
}

qs::Status addMapNeeds(qs::CalibrationSettings& settings, const qs::QuantMap& map, const qs::Checkpoint& ckpt,
                       const qs::ModelInfo& info) {
    auto resolved = qs::resolveMap(map, ckpt.tensors, info);
    if (!resolved) return resolved.error();
    qs::addMapNeeds(settings, *resolved, info);
    return {};
}

void addSchemeNeeds(qs::CalibrationSettings& settings, const std::vector<std::string>& schemes) {
    for (const std::string& name : schemes)
        if (auto s = qs::findScheme(name)) settings.needs |= s->calibrationNeeds();
    if (qs::hasAll(settings.needs, qs::CalibrationNeeds::Hessian)) {
        settings.hessianLayers.clear();
        settings.hessianHead = true;
    }
}

namespace {

// --calib STATS.h5: statistics saved by `calibrate --out` or a session (`export --h5` with --calib), for the
// same weights (checked by fingerprint).
int loadSavedCalibration(const std::string& command, const CalibOptions& options, const qs::InferenceModel& model,
                         tbb::task_arena* arena, std::shared_ptr<const qs::CalibrationSet>& out) {
    auto saved = qs::readCalibrationH5(options.file);
    if (!saved) return fail(command, saved.message());
    if (!*saved)
        return fail(command, options.file + ": an HDF5 file without a /calibration group (write one with "
                                            "`quantscope-cli calibrate --out`)");
    auto print = qs::checkpointFingerprint(*model.checkpoint, arena);
    if (!print) return fail(command, print.message());
    const qs::CalibrationProvenance& p = (*saved)->provenance;
    if (p.modelFingerprint != *print)
        return fail(command, options.file + ": the statistics were collected on other weights (model fingerprint " +
                                 p.modelFingerprint + ", this model " + *print + ")");
    if (options.sequential)
        return fail(command, "--calib-sequential collects anew; it cannot use the saved statistics of " + options.file,
                    kExitUsage);
    std::fprintf(stderr, "quantscope-cli %s: calibration read from %s (%lld tokens of %s, %s)\n", command.c_str(),
                 options.file.c_str(), (long long)p.tokens, p.textSource.c_str(),
                 qs::calibrationNeedsText(p.collected).c_str());
    out = std::make_shared<const qs::CalibrationSet>(std::move(**saved));
    return kExitOk;
}

}  // namespace

int runCalibration(const std::string& command, const CalibOptions& options, const qs::InferenceModel& model,
                   tbb::task_arena* arena, bool progress, std::shared_ptr<const qs::CalibrationSet>& out) {
    if (qs::io::isHdf5File(options.file)) return loadSavedCalibration(command, options, model, arena, out);
    std::error_code ec;
    if (std::filesystem::is_directory(options.file, ec))
        return fail(command, options.file + ": is a folder; --calib takes a text file (or a STATS.h5)");
    auto read = qs::io::readBoundedFile(options.file, qs::io::kMaxTextFileBytes, "a calibration text");
    if (!read) return fail(command, read.message());
    qs::CalibrationRequest request;
    request.text = std::move(*read);
    // A model or an imatrix GGUF given as the text would calibrate on its bytes: refused by its magic.
    if (request.text.compare(0, 4, "GGUF") == 0)
        return fail(
            command,
            options.file + ": is a GGUF file, not a calibration text (an imatrix GGUF goes to --imatrix)");
    if (auto bad = qs::io::firstInvalidUtf8(request.text); bad && model.tokenizer)
        warn(command, qs::invalidUtf8Warning(options.file, *bad, *model.tokenizer));
    request.textSource = options.file;
    request.settings = options.settings;
    request.sequential = options.sequential;
    request.mapKey = options.mapKey;
    auto r = qs::calibrateModel(model, request, arena, stderrProgress(command, progress));
    if (!r) return fail(command, r.message(), r.message() == qs::kCancelledMessage ? kExitCancelled : kExitFailure);
    warn(command, r->warnings);
    const qs::CalibrationProvenance& p = r->set->provenance;
    if (p.sequenceLength < options.settings.sequenceLength && p.sequenceLength == model.weights->config.context)
        std::fprintf(stderr, "quantscope-cli %s: note: --calib-ctx %d is more than the model's context; sequences of %lld\n",
                     command.c_str(), options.settings.sequenceLength, (long long)p.sequenceLength);
    if (r->cacheHit)
        std::fprintf(stderr, "quantscope-cli %s: calibration reused (%s)\n", command.c_str(), options.file.c_str());
    else
        std::fprintf(stderr, "quantscope-cli %s: calibrated on %s: %lld tokens in %lld sequences of %lld (%s), %.1f s\n",
                     command.c_str(), options.file.c_str(), (long long)p.tokens, (long long)p.sequences,
                     (long long)p.sequenceLength, qs::calibrationNeedsText(p.collected).c_str(), r->seconds);
    out = r->set;
    return kExitOk;
}

}  // namespace qscli
