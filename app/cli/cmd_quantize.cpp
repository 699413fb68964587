// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli quantize MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] [--json]
//                               [--export-tensor-types FILE] [--save-map FILE] [--threads N]
//                               [--calib FILE [--calib-tokens N] [--calib-ctx N] [--tokenizer PATH]]
#include <unistd.h>

#include <cstdio>
#include <optional>

#include <tbb/task_arena.h>

#include "app/cli/shared_options.h"
#include "app/cli/calib_setup.h"
#include "app/cli/commands.h"
#include "core/infer/inference_model.h"
#include "core/io/checkpoint.h"
#include "core/io/utf8.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_export.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quantize_report.h"
#include "core/util/json_stream.h"

namespace qscli {

namespace {

constexpr const char* kQuantizeDescription =
    "Quantizes every tensor the map selects and reports, per tensor, the scheme, the bytes and the error\n"
    "(RMSE, SQNR), then per-role totals. Nothing is written to the model. --json prints one JSON object\n"
    "(tensors[], roles{}, footprint{before, after}) instead of the table. --threads does not change the results.\n"
    "A scheme that needs calibration (e.g. q4_K_im) without --calib is refused naming the scheme and tensor\n"
    "(exit code 1).";

struct QuantizeArgs {
    MapArgs map;
    CalibArgs calib;
    std::optional<std::string> exportTypes, saveMap, tokenizer;
    std::optional<long long> threads;
    bool json = false, sequential = false;
};

void addQuantizeOptions(CLI::App& app, QuantizeArgs& a) {
    addJsonFlag(app, a.json);
    addText(app, "--export-tensor-types", a.exportTypes, "FILE",
            "write a llama.cpp --tensor-type-file for the resolved map (ggml types only)");
    addText(app, "--save-map", a.saveMap, "FILE", "write the resolved map (rules + the scheme each tensor got) as JSON");
    addThreadsOption(app, a.threads);
    addMapOptions(app, a.map);
    addCalibOptions(app, a.calib);
    addCalibSequentialFlag(app, a.sequential);
    addTokenizerOption(app, a.tokenizer)->group("Calibration");  // the text is tokenized only with --calib
}

// The model: for --calib opened for inference and the calibration collected (after the map's needs are added;
// --calib-sequential through the resolved map), else the checkpoint and its analysis.
int openModel(const std::string& path, const QuantizeArgs& args, const qs::QuantMap& map, tbb::task_arena* arena,
              CalibOptions& calib, qs::InferenceModel& model, std::optional<qs::ResolvedMap>& sequentialMap,
              std::shared_ptr<const qs::CalibrationSet>& calibration) {
    if (calib.given()) {
        qs::InferenceLoadOptions lo;
        lo.tokenizerPath = args.tokenizer.value_or("");
        auto m = qs::openInferenceModel(path, lo, arena);
        if (!m) return fail("quantize", m.message());
        model = std::move(*m);
        warn("quantize", model.warnings);
        if (auto s = addMapNeeds(calib.settings, map, *model.checkpoint, model.info); !s)
            return fail("quantize", s.message());
        if (args.sequential) {
            auto r = qs::resolveMap(map, model.checkpoint->tensors, model.info);
            if (!r) return fail("quantize", r.message());
            sequentialMap = std::move(*r);
            calib.sequential = &*sequentialMap;
            calib.mapKey = qs::quantMapToJson(map).dump();
        }
        if (int rc = runCalibration("quantize", calib, model, arena, !args.json && isatty(STDERR_FILENO),
                                    calibration);
            rc != kExitOk)
            return rc;
    } else {
        auto ckpt = qs::openCheckpoint(path);
        if (!ckpt) return fail("quantize", ckpt.message());
        warn("quantize", (*ckpt)->warnings);
        model.checkpoint = std::move(*ckpt);
        model.info = qs::analyzeModel(*model.checkpoint);
    }
    return kExitOk;
}

// --export-tensor-types and --save-map: written before quantizing, from the resolved map alone.
int writeSideFiles(const QuantizeArgs& args, const qs::ResolvedMap& resolved, const qs::Checkpoint& c,
                   const qs::ModelInfo& info) {
    if (const auto& path = args.exportTypes) {
        auto text = qs::llamaCppTensorTypes(resolved, c.tensors, info, c.format == qs::FileFormat::Gguf);
        if (!text) return fail("quantize", text.message());
        if (auto s = qs::writeFileAtomically(*path, *text); !s) return fail("quantize", s.message());
    }
    if (const auto& path = args.saveMap) {
        const std::string text = jsonText(qs::resolvedMapJson(resolved, c.tensors, info)) + "\n";
        if (auto s = qs::writeFileAtomically(*path, text); !s) return fail("quantize", s.message());
    }
    return kExitOk;
}

}  // namespace

int runQuantize(int argc, char** argv, int first) {
    CommandLine cl("quantize", kQuantizeDescription);
    cl.positionals("MODEL", "the model to quantize (in memory)");
    QuantizeArgs args;
    addQuantizeOptions(cl.app(), args);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (cl.positional().size() != 1) return fail("quantize", "expects exactly one MODEL path (see --help)", kExitUsage);
    if (!args.map.given())
        return fail("quantize", "nothing to do: give --map FILE and/or --rule ROLE=SCHEME (see --help)", kExitUsage);
    int threads = 1;
    if (int rc = resolveThreads("quantize", args.threads, threads); rc != kExitOk) return rc;

    qs::QuantMap map;
    if (int rc = loadMapOptions("quantize", args.map, map); rc != kExitOk) return rc;
    CalibOptions calib;
    if (int rc = parseCalibOptions("quantize", args.calib, calib); rc != kExitOk) return rc;
    tbb::task_arena arena(threads);

    // With --calib the model is opened for inference (tokenizer and float weights) to run the text through it.
    qs::InferenceModel model;
    std::shared_ptr<const qs::CalibrationSet> calibration;
    std::optional<qs::ResolvedMap> sequentialMap;
    if (args.sequential && !calib.given())
        return fail("quantize", "--calib-sequential needs --calib FILE", kExitUsage);
    if (args.tokenizer && !calib.given()) return fail("quantize", "--tokenizer needs --calib FILE", kExitUsage);
    if (int rc = openModel(cl.positional()[0], args, map, &arena, calib, model, sequentialMap, calibration);
        rc != kExitOk)
        return rc;
    const qs::Checkpoint& c = *model.checkpoint;
    const qs::ModelInfo& info = model.info;
    auto resolved = qs::resolveMap(map, c.tensors, info);
    if (!resolved) return fail("quantize", resolved.message());
    if (!calib.given())
        if (int rc = parseImatrixOption("quantize", args.calib.imatrix, c, info, calibration); rc != kExitOk) return rc;

    if (int rc = writeSideFiles(args, *resolved, c, info); rc != kExitOk) return rc;

    watchInterrupt();
    const bool showProgress = !args.json && isatty(STDERR_FILENO);
    qs::ApplyOptions options;
    options.calibration = calibration.get();
    options.progress = [showProgress](double fraction, std::string_view stage) {
        if (showProgress) std::fprintf(stderr, "\r%5.1f%% %-60.60s", 100.0 * fraction, qs::io::printableText(stage).c_str());
        return !interrupted();
    };
    std::optional<qs::Result<qs::ApplyResult>> applied;
    applied.emplace(qs::applyMap(c, info, *resolved, options, &arena));
    if (showProgress) std::fprintf(stderr, "\r%-70s\r", "");
    unwatchInterrupt();
    if (!applied->ok()) {
        const bool cancelled = applied->message() == qs::kCancelledMessage;
        return fail("quantize", applied->message(), cancelled ? kExitCancelled : kExitFailure);
    }

    if (args.json) {
        // Streamed: the tensors are made and printed one by one (util/json_stream.h), as jsonText would print them.
        const qs::ApplyResult& a = applied->value();
        qs::writeJsonWithArray(
            qs::quantizeReportJson(c, info, *resolved, a, /*withTensors=*/false), "tensors", c.tensors.size(),
            [&](size_t i) { return qs::quantizeReportTensorJson(c, info, *resolved, a, i); }, kJsonIndent,
            [](std::string_view piece) { std::fwrite(piece.data(), 1, piece.size(), stdout); });
        std::fputc('\n', stdout);
    } else {
        // Streamed: the table of a model with many tensors is never one string in memory.
        qs::writeQuantizeReportText(c, info, *resolved, applied->value(), [](std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
        });
        warn("quantize", applied->value().warnings);
    }
    return kExitOk;
}

}  // namespace qscli
