// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli calibrate MODEL --calib FILE [--calib-tokens N] [--calib-ctx N]
//                          --out STATS.h5|IMATRIX.gguf|imatrix.dat [--output-format gguf|dat] [--map F] [--rule R=S]... [--hessian all|LAYERS] [--hessian-head] [--samples N]
//                          [--tokenizer PATH] [--threads N] [--json]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "app/cli/shared_options.h"
#include "app/cli/calib_setup.h"
#include "app/cli/commands.h"
#include "app/cli/evaluator_setup.h"
#include "core/calib/calibration_h5.h"
#include "core/calib/imatrix_file.h"
#include "core/infer/inference_model.h"
#include "core/io/checkpoint_writer.h"
#include "core/quant/quant_map_resolve.h"

namespace qscli {

namespace {

constexpr const char* kCalibrateDescription =
    "Runs the calibration text through the model with QuantScope's engine and writes the statistics of every\n"
    "linear layer's input: per input column the sum of squares (llama.cpp's imatrix), the sum and the max of\n"
    "|x|; with --hessian the sum of x x^T of the blocks' inputs (GPTQ), with --samples N a reservoir of N\n"
    "activation rows per input. --map/--rule add what that map's schemes need. The .h5 layout is in the README\n"
    "(h5py section) and core/calib/calibration_h5.h. An --out not ending in .h5 is a llama.cpp importance\n"
    "matrix (the sums of squares only) for llama-quantize --imatrix and QuantScope's --imatrix.\n"
    "--threads does not change the results.";

struct CalibrateArgs {
    std::optional<std::string> out, outputFormat, hessian, tokenizer;
    std::optional<long long> samples, threads;
    bool hessianHead = false, sequential = false, json = false;
    MapArgs map;
    CalibArgs calib;
};

void addCalibrateOptions(CLI::App& app, CalibrateArgs& a) {
    addText(app, "--out", a.out, "FILE",
            "STATS.h5: QuantScope's statistics; any other name: a llama.cpp imatrix, in the GGUF\n"
            "format as recent llama-imatrix writes it whatever the name (X.gguf, X.imatrix), or\n"
            "in the legacy format when the name ends in .dat (llama-imatrix needs\n"
            "--output-format dat for that; it warns about a GGUF named otherwise)");
    addText(app, "--output-format", a.outputFormat, "gguf|dat",
            "the imatrix format whatever the name (llama-imatrix's option)");
    addText(app, "--hessian", a.hessian, "all|LAYERS",
            "collect Hessians for every block or for the blocks listed (0,3,5-7)");
    addFlag(app, "--hessian-head", a.hessianHead, "and for the output head's input");
    addInteger(app, "--samples", a.samples, "N",
               "keep N activation rows per input (reservoir sampling, deterministic)");
    addJsonFlag(app, a.json);
    addTokenizerOption(app, a.tokenizer);
    addThreadsOption(app, a.threads);
    addMapOptions(app, a.map);
    addCalibOptions(app, a.calib);
    addCalibSequentialFlag(app, a.sequential);
}

bool endsWith(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The imatrix format `out` is written in (nullopt: STATS.h5): --output-format when given (not with .h5), else
// legacy for *.dat and GGUF otherwise (llama-imatrix writes GGUF whatever the name unless --output-format dat).
int imatrixFormatOf(const std::string& out, const std::optional<std::string>& format,
                    std::optional<qs::ImatrixFormat>& result) {
    result.reset();
    if (endsWith(out, ".h5")) {
        if (format) return fail("calibrate", "--output-format is for a llama.cpp imatrix, not STATS.h5", kExitUsage);
        return kExitOk;
    }
    if (format && *format != "gguf" && *format != "dat")
        return fail("calibrate", "--output-format takes gguf or dat, not '" + *format + "'", kExitUsage);
    const bool legacy = format ? *format == "dat" : endsWith(out, ".dat");
    result = legacy ? qs::ImatrixFormat::Legacy : qs::ImatrixFormat::Gguf;
    return kExitOk;
}

// "all" -> {} (every block); "0,3,5-7" -> {0,3,5,6,7}. nullopt on a malformed list.
std::optional<std::vector<int>> parseLayers(const std::string& text) {
    if (text == "all") return std::vector<int>{};
    std::vector<int> out;
    for (const std::string& item : splitCommaList(text)) {
        const size_t dash = item.find('-');
        try {
            size_t used = 0;
            const int a = std::stoi(item.substr(0, dash), &used);
            if (used != (dash == std::string::npos ? item.size() : dash) || a < 0) return std::nullopt;
            int b = a;
            if (dash != std::string::npos) {
                const std::string tail = item.substr(dash + 1);
                b = std::stoi(tail, &used);
                if (used != tail.size() || b < a || b - a > 100000) return std::nullopt;
            }
            for (int l = a; l <= b; ++l) out.push_back(l);
        } catch (...) {
            return std::nullopt;
        }
    }
    if (out.empty()) return std::nullopt;
    return out;
}

// The calibration's inputs, one per distinct TensorCalibration, with the tensors reading it.
nlohmann::json inputsJson(const qs::CalibrationSet& set) {
    std::map<const qs::TensorCalibration*, std::vector<std::string>> readers;
    std::vector<const qs::TensorCalibration*> order;
    for (const auto& [name, c] : set.tensors) {
        auto& r = readers[c.get()];
        if (r.empty()) order.push_back(c.get());
        r.push_back(name);
    }
    nlohmann::json out = nlohmann::json::array();
    for (const qs::TensorCalibration* c : order) {
        const std::vector<float> imp = c->importance();
        double mean = 0;
        for (float v : imp) mean += v;
        const float maxAbs = c->maxAbs.empty() ? 0.0f : *std::max_element(c->maxAbs.begin(), c->maxAbs.end());
        out.push_back({{"tensors", readers[c]},
                       {"cols", c->cols},
                       {"tokens", c->tokens},
                       {"mean_importance", imp.empty() ? 0.0 : mean / double(imp.size())},
                       {"max_abs", maxAbs},
                       {"collected", qs::calibrationNeedsText(c->collected())}});
    }
    return out;
}

// --hessian, --hessian-head and --samples added to what is collected; prints the message and returns kExitUsage
// on a bad value.
int addStatisticsOptions(const CalibrateArgs& args, qs::CalibrationSettings& settings) {
    if (const auto& h = args.hessian) {
        auto layers = parseLayers(*h);
        if (!layers) return fail("calibrate", "--hessian takes all or a layer list such as 0,3,5-7", kExitUsage);
        settings.needs |= qs::CalibrationNeeds::Hessian;
        settings.hessianLayers = *layers;
    }
    if (args.hessianHead) {
        if (!args.hessian) settings.hessianLayers = {-1};  // the head only
        settings.needs |= qs::CalibrationNeeds::Hessian;
        settings.hessianHead = true;
    }
    if (const auto& n = args.samples) {
        if (*n < 1 || *n > (1 << 20)) return fail("calibrate", "--samples must be 1..1048576", kExitUsage);
        settings.needs |= qs::CalibrationNeeds::Samples;
        settings.samplesPerInput = int(*n);
    }
    return kExitOk;
}

}  // namespace

int runCalibrate(int argc, char** argv, int first) {
    CommandLine cl("calibrate", kCalibrateDescription);
    cl.positionals("MODEL", "the model to run the text through");
    CalibrateArgs args;
    addCalibrateOptions(cl.app(), args);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (cl.positional().size() != 1) return fail("calibrate", "expects exactly one MODEL path (see --help)", kExitUsage);
    CalibOptions calib;
    if (int rc = parseCalibOptions("calibrate", args.calib, calib); rc != kExitOk) return rc;
    if (!calib.given()) return fail("calibrate", "--calib FILE is required", kExitUsage);
    const auto& out = args.out;
    if (!out) return fail("calibrate", "--out STATS.h5 (or a llama.cpp imatrix file) is required", kExitUsage);
    if (auto s = qs::checkOutputPath(*out); !s) return fail("calibrate", "--out " + s.message());  // before the work
    std::optional<qs::ImatrixFormat> imatrix;
    if (int rc = imatrixFormatOf(*out, args.outputFormat, imatrix); rc != kExitOk) return rc;
    if (imatrix && (args.hessian || args.hessianHead || args.samples))
        return fail("calibrate",
                    *out + ": a llama.cpp imatrix holds only the sums of squares; --hessian, --hessian-head and "
                           "--samples need --out STATS.h5",
                    kExitUsage);
    if (int rc = addStatisticsOptions(args, calib.settings); rc != kExitOk) return rc;
    int threads = 1;
    if (int rc = resolveThreads("calibrate", args.threads, threads); rc != kExitOk) return rc;
    qs::QuantMap map;
    if (int rc = loadMapOptions("calibrate", args.map, map); rc != kExitOk) return rc;

    tbb::task_arena arena(threads);
    qs::InferenceLoadOptions lo;
    lo.tokenizerPath = args.tokenizer.value_or("");
    auto model = qs::openInferenceModel(cl.positional()[0], lo, &arena);
    if (!model) return fail("calibrate", model.message());
    warn("calibrate", model->warnings);
    if (!map.rules.empty())
        if (auto s = addMapNeeds(calib.settings, map, *model->checkpoint, model->info); !s)
            return fail("calibrate", s.message(), kExitUsage);
    std::optional<qs::ResolvedMap> sequentialMap;
    if (args.sequential) {
        if (map.rules.empty()) return fail("calibrate", "--calib-sequential needs the map (--map/--rule)", kExitUsage);
        auto r = qs::resolveMap(map, model->checkpoint->tensors, model->info);
        if (!r) return fail("calibrate", r.message(), kExitUsage);
        sequentialMap = std::move(*r);
        calib.sequential = &*sequentialMap;
        calib.mapKey = qs::quantMapToJson(map).dump();
    }
    std::shared_ptr<const qs::CalibrationSet> set;
    if (int rc = runCalibration("calibrate", calib, *model, &arena, !args.json && isatty(STDERR_FILENO), set);
        rc != kExitOk)
        return rc;
    if (imatrix) {
        auto file = qs::calibrationToImatrix(*set, *model->checkpoint, model->info, *imatrix);
        if (!file) return fail("calibrate", file.message());
        if (auto s = qs::writeImatrix(*out, *file); !s) return fail("calibrate", s.message());
    } else if (auto s = qs::writeCalibrationH5(*out, *set); !s) {
        return fail("calibrate", s.message());
    }
    const qs::CalibrationProvenance& p = set->provenance;
    if (args.json) {
        nlohmann::json j = {{"model", cl.positional()[0]},
                            {"out", *out},
                            {"format", !imatrix ? "h5" : *imatrix == qs::ImatrixFormat::Gguf ? "imatrix-gguf"
                                                                                               : "imatrix-dat"},
                            {"text", p.textSource},
                            {"text_fnv1a", p.textFingerprint},
                            {"model_fingerprint", p.modelFingerprint},
                            {"tokens", p.tokens},
                            {"sequences", p.sequences},
                            {"sequence_length", p.sequenceLength},
                            {"collected", qs::calibrationNeedsText(p.collected)},
                            {"inputs", inputsJson(*set)}};
        std::printf("%s\n", jsonText(j).c_str());
    } else {
        std::printf("wrote %s: %zu tensors, %lld tokens (%lld sequences of %lld), %s\n", out->c_str(),
                    set->tensors.size(), (long long)p.tokens, (long long)p.sequences, (long long)p.sequenceLength,
                    qs::calibrationNeedsText(p.collected).c_str());
    }
    return kExitOk;
}

}  // namespace qscli

