// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli quantize MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] [--json]
//                               [--export-tensor-types FILE] [--save-map FILE] [--threads N]
//                               [--calib FILE [--calib-tokens N] [--calib-ctx N]]
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>

#include <tbb/task_arena.h>

#include "app/cli/args.h"
#include "app/cli/calib_setup.h"
#include "app/cli/commands.h"
#include "core/infer/inference_model.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_export.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quantize_report.h"

namespace qscli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void onInterrupt(int) { g_interrupted = 1; }

constexpr const char* kUsage =
    "usage: quantscope-cli quantize MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] [--json]\n"
    "                                     [--export-tensor-types FILE] [--save-map FILE] [--threads N]\n"
    "                                     [--calib FILE [--calib-tokens N] [--calib-ctx N]]\n"
    "Quantizes every tensor the map selects and reports, per tensor, the scheme, the bytes and the error\n"
    "(RMSE, SQNR), then per-role totals. Nothing is written to the model.\n"
    "  --map FILE       quantization map JSON: {\"version\":1,\"rules\":[{\"role\":\"body\",\"layers\":\"0-3\",\n"
    "                   \"pattern\":\"glob:*attn*\",\"scheme\":\"q4_K\"}]}\n"
    "  --rule R=S       one rule: role R (embedding, head, attention, mlp, norm, body, all) gets scheme S\n"
    "                   (q8_0, q4_K, nf4, int4_g128, ... or keep); repeatable, appended after the map's rules.\n"
    "                   A later rule wins; `all` and `body` leave 1-D tensors (norms) as stored.\n"
    "  --json           one JSON object (tensors[], roles{}, footprint{before, after}) instead of the table\n"
    "  --export-tensor-types FILE  write a llama.cpp --tensor-type-file for the resolved map (ggml types only)\n"
    "  --save-map FILE  write the resolved map (rules + the scheme each tensor got) as JSON\n"
    "  --threads N      worker threads, 1..1024 (default or 0: all cores); results do not depend on it\n";
constexpr const char* kUsageTail =
    "A scheme that needs calibration (e.g. q4_K_im) without --calib is refused naming the scheme and tensor\n"
    "(exit code 1).\n";

}  // namespace

int runQuantize(int argc, char** argv, int first) {
    Args args(withCalibOptions({"map", "rule", "export-tensor-types", "save-map", "threads"}), {"json", "help", "calib-sequential"});
    if (!args.parse(argc, argv, first)) return fail("quantize", args.error(), kExitUsage);
    if (args.flag("help")) {
        std::fputs(kUsage, stdout);
        std::fputs(kCalibOptionsHelp, stdout);
        std::fputs(kCalibSequentialHelp, stdout);
        std::fputs(kUsageTail, stdout);
        return kExitOk;
    }
    if (args.positional().size() != 1) return fail("quantize", "expects exactly one MODEL path (see --help)", kExitUsage);
    if (!args.has("map") && !args.has("rule"))
        return fail("quantize", "nothing to do: give --map FILE and/or --rule ROLE=SCHEME (see --help)", kExitUsage);
    int threads = 1;
    if (int rc = parseThreads("quantize", args, threads); rc != kExitOk) return rc;

    qs::QuantMap map;
    if (int rc = parseMapOptions("quantize", args, map, kExitFailure); rc != kExitOk) return rc;
    CalibOptions calib;
    if (int rc = parseCalibOptions("quantize", args, calib); rc != kExitOk) return rc;
    tbb::task_arena arena(threads);

    // With --calib the model is opened for inference (tokenizer and float weights) to run the text through it.
    qs::InferenceModel model;
    std::shared_ptr<const qs::CalibrationSet> calibration;
    std::optional<qs::ResolvedMap> sequentialMap;
    if (args.flag("calib-sequential") && !calib.given())
        return fail("quantize", "--calib-sequential needs --calib FILE", kExitUsage);
    if (calib.given()) {
        auto m = qs::openInferenceModel(args.positional()[0], {}, &arena);
        if (!m) return fail("quantize", m.message());
        model = std::move(*m);
        for (const auto& w : model.warnings) std::fprintf(stderr, "quantscope-cli quantize: warning: %s\n", w.c_str());
        if (auto s = addMapNeeds(calib.settings, map, *model.checkpoint, model.info); !s)
            return fail("quantize", s.message());
        if (args.flag("calib-sequential")) {
            auto r = qs::resolveMap(map, model.checkpoint->tensors, model.info);
            if (!r) return fail("quantize", r.message());
            sequentialMap = std::move(*r);
            calib.sequential = &*sequentialMap;
            calib.mapKey = qs::quantMapToJson(map).dump();
        }
        if (int rc = runCalibration("quantize", calib, model, &arena, !args.flag("json") && isatty(STDERR_FILENO),
                                    calibration);
            rc != kExitOk)
            return rc;
    } else {
        auto ckpt = qs::openCheckpoint(args.positional()[0]);
        if (!ckpt) return fail("quantize", ckpt.message());
        model.checkpoint = std::move(*ckpt);
        model.info = qs::analyzeModel(*model.checkpoint);
    }
    const qs::Checkpoint& c = *model.checkpoint;
    const qs::ModelInfo& info = model.info;
    auto resolved = qs::resolveMap(map, c.tensors, info);
    if (!resolved) return fail("quantize", resolved.message());
    if (!calib.given())
        if (int rc = parseImatrixOption("quantize", args, c, info, calibration); rc != kExitOk) return rc;

    if (auto path = args.value("export-tensor-types")) {
        auto text = qs::llamaCppTensorTypes(*resolved, c.tensors, info, c.format == qs::FileFormat::Gguf);
        if (!text) return fail("quantize", text.message());
        if (auto s = qs::writeFileAtomically(*path, *text); !s) return fail("quantize", s.message());
    }
    if (auto path = args.value("save-map")) {
        const std::string text = qs::resolvedMapJson(*resolved, c.tensors, info).dump(1) + "\n";
        if (auto s = qs::writeFileAtomically(*path, text); !s) return fail("quantize", s.message());
    }

    std::signal(SIGINT, onInterrupt);
    const bool showProgress = !args.flag("json") && isatty(STDERR_FILENO);
    qs::ApplyOptions options;
    options.calibration = calibration.get();
    options.progress = [showProgress](double fraction, std::string_view stage) {
        if (showProgress) std::fprintf(stderr, "\r%5.1f%% %-60.60s", 100.0 * fraction, std::string(stage).c_str());
        return g_interrupted == 0;
    };
    std::optional<qs::Result<qs::ApplyResult>> applied;
    auto run = [&] { applied.emplace(qs::applyMap(c, info, *resolved, options)); };
    arena.execute(run);
    if (showProgress) std::fprintf(stderr, "\r%-70s\r", "");
    std::signal(SIGINT, SIG_DFL);
    if (!applied->ok()) {
        const bool cancelled = applied->message() == qs::kCancelledMessage;
        return fail("quantize", applied->message(), cancelled ? kExitCancelled : kExitFailure);
    }

    if (args.flag("json")) {
        std::string s = qs::quantizeReportJson(c, info, *resolved, applied->value()).dump(1);
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fputc('\n', stdout);
    } else {
        std::string s = qs::quantizeReportText(c, info, *resolved, applied->value());
        std::fwrite(s.data(), 1, s.size(), stdout);
        for (const auto& w : applied->value().warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    }
    return kExitOk;
}

}  // namespace qscli
