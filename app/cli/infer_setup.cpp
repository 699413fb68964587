// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/infer_setup.h"

#include <algorithm>
#include <cstdio>

#include <unistd.h>

#include "core/infer/memory_plan.h"
#include "core/infer/quantized_model.h"
#include "core/quant/quant_map.h"

namespace qscli {

void addInferenceOptions(CLI::App& app, InferenceArgs& args) {
    addMapOptions(app, args.map);
    addDequantOption(app, args.dequant);
    addTokenizerOption(app, args.tokenizer);
    addThreadsOption(app, args.threads);
    addCalibOptions(app, args.calib);
}

void addContextOption(CLI::App& app, InferenceArgs& args) {
    addInteger(app, "--ctx", args.ctx, "N",
               "context length: the KV cache holds N positions, 1..1048576 (default: the model's trained context); "
               "a shorter one needs less memory, and generation stops at it");
}

int openInference(const std::string& command, const std::vector<std::string>& positional, const InferenceArgs& args,
                  int maxContext, InferenceSetup& out) {
    if (positional.size() != 1) return fail(command, "expects exactly one MODEL path", kExitUsage);
    if (args.ctx && (*args.ctx < 1 || *args.ctx > (1 << 20)))
        return fail(command, "--ctx must be in 1..1048576", kExitUsage);
    if (args.ctx) maxContext = int(*args.ctx);
    if (int rc = resolveThreads(command, args.threads, out.threads); rc != kExitOk) return rc;
    qs::QuantMap map;
    if (int rc = loadMapOptions(command, args.map, map); rc != kExitOk) return rc;
    const bool quantize = args.map.given();
    CalibOptions calib;
    if (int rc = parseCalibOptions(command, args.calib, calib); rc != kExitOk) return rc;
    if (calib.given() && !quantize)
        return fail(command, "--calib calibrates the schemes of --map/--rule; none given", kExitUsage);
    if (args.calib.imatrix && !quantize)
        return fail(command, "--imatrix is used with --map/--rule (the _im schemes)", kExitUsage);
    const auto dequant = dequantMode(command, args.dequant);
    if (!dequant) return kExitUsage;
    out.arena = std::make_unique<tbb::task_arena>(out.threads);
    qs::InferenceLoadOptions options;
    options.tokenizerPath = args.tokenizer.value_or("");
    options.weights.maxContext = maxContext;
    options.weights.quantized = *dequant;
    auto m = qs::openInferenceModel(positional[0], options, out.arena.get());
    if (!m) return fail(command, m.message());
    out.model = std::move(m.value());
    auto warnAndKeep = [&](const std::string& w) {
        warn(command, w);
        out.warnings.push_back(w);
    };
    for (const auto& w : out.model.warnings) warnAndKeep(w);  // the checkpoint's and the tokenizer's
    out.weights = out.model.weights;
    if (!quantize) return kExitOk;

    if (calib.given()) {
        if (auto s = addMapNeeds(calib.settings, map, *out.model.checkpoint, out.model.info); !s)
            return fail(command, s.message());
        if (int rc = runCalibration(command, calib, out.model, out.arena.get(), isatty(STDERR_FILENO) != 0,
                                    out.calibration);
            rc != kExitOk)
            return rc;
    } else if (int rc = parseImatrixOption(command, args.calib.imatrix, *out.model.checkpoint, out.model.info, out.calibration);
               rc != kExitOk) {
        return rc;
    }
    auto q = qs::quantizeForInference(*out.model.checkpoint, out.model.info, map, out.arena.get(), {},
                                      out.calibration.get());
    if (!q) return fail(command, q.message());
    for (const auto& w : q->warnings) warnAndKeep(w);
    auto plan = qs::planWeightMemory(*out.model.checkpoint, out.model.info, &q->tensors, options.weights);
    if (!plan) return fail(command, plan.message());
    if (!plan->warning.empty()) warnAndKeep(plan->warning);
    auto w = qs::loadModelWeights(*out.model.checkpoint, out.model.info, &q->tensors, plan->options, out.arena.get());
    if (!w) return fail(command, w.message());
    out.weights = std::move(w.value());
    out.quantized = true;
    std::fprintf(stderr, "quantscope-cli %s: %d tensors quantized (%llu bytes packed), run %s\n",
                 command.c_str(), q->quantizedTensors, (unsigned long long)q->packedBytes,
                 *dequant == qs::WeightLoadOptions::Quantized::Native ? "by native kernels where the scheme has one"
                                                                      : "through their dequantization");
    if (q->replacedTensors > 0)
        std::fprintf(stderr, "quantscope-cli %s: %d norms carry folded AWQ scales (their consumers store no s)\n",
                     command.c_str(), q->replacedTensors);
    return kExitOk;
}

}  // namespace qscli
