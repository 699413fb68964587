// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli export MODEL [--map FILE] [--rule ROLE=SCHEME ...] [--gguf OUT.gguf [--fallback TYPE]] [--h5
// OUT.h5 [--sweep SWEEP.csv|SWEEP.h5]]
//                             [--hqq-config F] [--gptqmodel-config F] [--torchao-config F] [--threads N]
//                             [--json]
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <tuple>

#include <tbb/task_arena.h>
#include <nlohmann/json.hpp>

#include "app/cli/shared_options.h"
#include "app/cli/calib_setup.h"
#include "app/cli/commands.h"
#include "core/export/gguf_export.h"
#include "core/export/map_configs.h"
#include "core/export/session_h5.h"
#include "core/infer/inference_model.h"
#include "core/io/checkpoint.h"
#include "core/io/utf8.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_export.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_hdf5.h"

namespace qscli {

namespace {


constexpr const char* kExportDescription =
    "Writes the model quantized by the map, or the map in another tool's format. Every file is written under a\n"
    "temporary name and renamed into place when complete. With --calib and --h5 the statistics are stored in\n"
    "the session's calibration/ group.";

struct ExportArgs {
    std::string model;  // the MODEL argument
    MapArgs map;
    CalibArgs calib;
    std::optional<std::string> gguf, fallback, h5, sweep, hqqConfig, gptqmodelConfig, torchaoConfig, tokenizer;
    std::optional<long long> bins, threads;
    bool json = false, h5Tensors = false;
    bool configOut() const { return hqqConfig || gptqmodelConfig || torchaoConfig; }
};

void addOutputOptions(CLI::App& app, ExportArgs& a) {
    addText(app, "--gguf", a.gguf, "OUT.gguf",
            "the quantized model as GGUF v3 for llama.cpp: per-tensor ggml types from the map,\n"
            "metadata and vocabulary carried over (GGUF source) or written (llama2.c / HF Llama),\n"
            "general.file_type set, a tied head stored once");
    addText(app, "--fallback", a.fallback, "TYPE",
            "store tensors whose scheme has no GGUF encoding (intN, nf4, fp4) as this ggml type\n"
            "(default: refuse them); for the config exports --fallback f16 leaves a module whose\n"
            "fallback the target cannot express (torchao and int4_g43) unquantized instead of\n"
            "refusing. A ggml type that a tensor's shape refuses (q4_K on rows of 64) is not a\n"
            "--fallback case: it follows the map's fallback chain as llama-quantize does (q4_K ->\n"
            "q5_0 on rows of 64; f16 where no block fits). Every tensor written with another scheme\n"
            "than the map asked for is printed on stderr (\"fallback: q4_K -> q5_0 ...\") and listed\n"
            "under \"fallbacks\" in --json");
    addText(app, "--h5", a.h5, "OUT.h5",
            "the session as HDF5 (h5py-readable; `inspect` opens it): the map, per-tensor scheme,\n"
            "bytes and error statistics, weight/error histograms (--bins), and with --h5-tensors the\n"
            "packed quantized tensors (layout in the README)");
    addInteger(app, "--bins", a.bins, "N", "with --h5: histogram bins (default 64, 0 none)");
    addFlag(app, "--h5-tensors", a.h5Tensors, "with --h5: store the packed quantized tensors");
    addText(app, "--sweep", a.sweep, "FILE",
            "with --h5: copy the rows of a sweep file (CSV or HDF5 table of `sweep`/`merge`) into\n"
            "the session's /sweep group; refused when the sweep was measured on other weights\n"
            "(its model fingerprint differs from MODEL's)");
    addText(app, "--hqq-config", a.hqqConfig, "FILE", "the map as a transformers HqqConfig dynamic_config (JSON)");
    addText(app, "--gptqmodel-config", a.gptqmodelConfig, "FILE",
            "the map as a GPTQModel QuantizeConfig with a `dynamic` rule set (JSON)");
    addText(app, "--torchao-config", a.torchaoConfig, "FILE",
            "the map as a torchao FqnToConfig-style JSON (module FQN or regex -> config)");
    addFlag(app, "--json", a.json, "one JSON object describing what was written");
}

struct Loaded {
    qs::InferenceModel model;       // the checkpoint; tokenizer and float weights too with --calib
    const qs::Checkpoint* ckpt = nullptr;
    qs::ModelInfo info;
    qs::ResolvedMap resolved;
    std::shared_ptr<const qs::CalibrationSet> calibration;  // with --calib
};

// The map from --map and --rule, the model, and the map resolved on it; prints the error and returns its exit
// code on failure.
int loadAndResolve(const ExportArgs& args, int threads, Loaded& out) {
    qs::QuantMap map;
    if (int rc = loadMapOptions("export", args.map, map); rc != kExitOk) return rc;
    CalibOptions calib;
    if (int rc = parseCalibOptions("export", args.calib, calib); rc != kExitOk) return rc;
    if (args.tokenizer && !calib.given() && !args.gguf)
        return fail("export", "--tokenizer needs --calib FILE (its text) or --gguf (the vocabulary written)",
                    kExitUsage);
    if (calib.given()) {
        tbb::task_arena arena(threads);
        qs::InferenceLoadOptions lo;
        lo.tokenizerPath = args.tokenizer.value_or("");
        auto m = qs::openInferenceModel(args.model, lo, &arena);
        if (!m) return fail("export", m.message());
        out.model = std::move(*m);
        warn("export", out.model.warnings);
        if (auto s = addMapNeeds(calib.settings, map, *out.model.checkpoint, out.model.info); !s)
            return fail("export", s.message());
        if (int rc = runCalibration("export", calib, out.model, &arena, !args.json && isatty(STDERR_FILENO),
                                    out.calibration);
            rc != kExitOk)
            return rc;
    } else {
        auto ckpt = qs::openCheckpoint(args.model);
        if (!ckpt) return fail("export", ckpt.message());
        out.model.checkpoint = std::move(*ckpt);
        out.model.info = qs::analyzeModel(*out.model.checkpoint);
    }
    out.ckpt = out.model.checkpoint.get();
    out.info = out.model.info;
    auto resolved = qs::resolveMap(map, out.ckpt->tensors, out.info);
    if (!resolved) return fail("export", resolved.message());
    out.resolved = std::move(*resolved);
    if (out.calibration) return kExitOk;  // from --calib
    return parseImatrixOption("export", args.calib.imatrix, *out.ckpt, out.info, out.calibration);
}

// One stderr line per tensor an output writes with another scheme than the map asked for (also with --json,
// whose stdout carries them as "fallbacks").
void printFallbacks(const std::string& out, const std::vector<qs::ExportFallback>& fallbacks) {
    for (const auto& f : fallbacks)
        std::fprintf(stderr, "quantscope-cli export: %s: fallback: %s\n", qs::io::printableText(out).c_str(),
                     qs::io::printableText(qs::describeFallback(f)).c_str());
}

// Every requested config is computed before any is written, so a refusal leaves no file behind.
int writeConfigs(const ExportArgs& args, const Loaded& m, nlohmann::json& report) {
    const std::tuple<const char*, const std::optional<std::string>*, qs::MapConfigFormat> configs[] = {
        {"hqq-config", &args.hqqConfig, qs::MapConfigFormat::Hqq},
        {"gptqmodel-config", &args.gptqmodelConfig, qs::MapConfigFormat::GptqModel},
        {"torchao-config", &args.torchaoConfig, qs::MapConfigFormat::Torchao}};
    qs::MapConfigOptions options;
    options.keepUnexpressible = args.fallback.has_value();
    struct Pending {
        std::string option, path, text;
        const char* format;
        qs::MapConfigExport result;
    };
    std::vector<Pending> pending;
    for (const auto& [option, path, format] : configs) {
        if (!*path) continue;
        auto r = qs::exportMapConfig(format, m.resolved, m.ckpt->tensors, m.info, options);
        if (!r) return fail("export", r.message());
        pending.push_back({option, **path, jsonText(r->config, 2) + "\n", qs::mapConfigFormatName(format), std::move(*r)});
    }
    for (const auto& p : pending) {
        if (auto s = qs::writeFileAtomically(p.path, p.text); !s) return fail("export", s.message());
        report[p.option] = p.path;
        report["configs"][p.option] = {{"path", p.path},
                                       {"modules", p.result.modules},
                                       {"quantized", p.result.quantized},
                                       {"fallbacks", qs::exportFallbacksJson(p.result.fallbacks)}};
        printFallbacks(p.path, p.result.fallbacks);
        if (!args.json)
            std::printf("wrote %s: %s, %d modules (%d quantized, %d unquantized), %zu fallbacks\n", p.path.c_str(),
                        p.format, p.result.modules,
                        p.result.quantized, p.result.modules - p.result.quantized, p.result.fallbacks.size());
    }
    return kExitOk;
}

int writeGgufFile(const ExportArgs& args, const Loaded& m, int threads, const std::string& out, nlohmann::json& report) {
    watchInterrupt();
    const bool showProgress = !args.json && isatty(STDERR_FILENO);
    qs::GgufExportOptions o;
    o.fallback = args.fallback.value_or("");
    o.calibration = m.calibration.get();
    o.tokenizerPath = args.tokenizer.value_or("");
    o.progress = [showProgress](double fraction, std::string_view stage) {
        if (showProgress)
            std::fprintf(stderr, "\r%5.1f%% %-60.60s", 100.0 * fraction, qs::io::printableText(stage).c_str());
        return !interrupted();
    };
    std::optional<qs::Result<qs::GgufExportResult>> r;
    tbb::task_arena arena(threads);
    r.emplace(qs::exportGguf(*m.ckpt, m.info, m.resolved, out, &arena, o));
    if (showProgress) std::fprintf(stderr, "\r%-70s\r", "");
    unwatchInterrupt();
    if (!r->ok())
        return fail("export", r->message(),
                    r->message() == qs::kCancelledMessage ? kExitCancelled : kExitFailure);
    const qs::GgufExportResult& g = r->value();
    report["gguf"] = {{"path", out},
                      {"file_type", g.fileType},
                      {"bytes", g.fileBytes},
                      {"fallbacks", qs::exportFallbacksJson(g.fallbacks)}};
    if (args.json) {  // a JSON object per tensor is ~0.5 KB: built only when it is printed
        nlohmann::json& tensors = report["gguf"]["tensors"] = nlohmann::json::array();
        tensors.get_ref<nlohmann::json::array_t&>().reserve(g.tensors.size());
        for (const auto& t : g.tensors)
            tensors.push_back({{"source", m.ckpt->tensors[t.source].name},
                               {"name", t.name},
                               {"type", std::string(qs::dtypeInfo(t.dtype).ggmlName)},
                               {"scheme", t.scheme.empty() ? "keep" : t.scheme},
                               {"bytes", t.bytes}});
    }
    report["warnings"] = g.warnings;
    printFallbacks(out, g.fallbacks);
    if (!args.json) {
        warn("export", g.warnings);
        std::printf("wrote %s: %zu tensors, %llu bytes, general.file_type %u, %zu fallbacks\n", out.c_str(),
                    g.tensors.size(), (unsigned long long)g.fileBytes, g.fileType, g.fallbacks.size());
    }
    return kExitOk;
}

// The sweep file of --sweep, read and tied to the model by its fingerprint (before anything is written).
int readSweepOption(const ExportArgs& args, const Loaded& m, int threads, std::optional<qs::SweepFile>& out) {
    const auto& path = args.sweep;
    if (!path) return kExitOk;
    const bool h5 = path->size() > 3 && path->compare(path->size() - 3, 3, ".h5") == 0;
    auto file = h5 ? qs::readSweepHdf5(*path) : qs::readSweepFile(*path);
    if (!file) return fail("export", "--sweep " + file.message());
    if (file->truncatedBytes)
        warn("export", "--sweep " + *path + ": a truncated last line (" + std::to_string(file->truncatedBytes) +
                           " bytes) is not copied");
    tbb::task_arena arena(threads);
    auto fingerprint = qs::checkpointFingerprint(*m.ckpt, &arena);
    if (!fingerprint) return fail("export", fingerprint.message());
    if (auto s = qs::checkSweepFingerprint(*file, *fingerprint, "--sweep " + *path); !s)
        return fail("export", s.message() + " (" + m.ckpt->path + ")");
    out = std::move(*file);
    return kExitOk;
}

int writeSessionFile(const ExportArgs& args, const Loaded& m, int threads, int bins, const std::string& out,
                     std::optional<qs::SweepFile> sweep, nlohmann::json& report) {
    qs::SessionOptions so;
    so.histogramBins = bins;
    so.tensors = args.h5Tensors;
    so.calibration = m.calibration.get();
    so.progress = [](double, std::string_view) { return !interrupted(); };
    watchInterrupt();
    std::optional<qs::Result<qs::Session>> session;
    tbb::task_arena arena(threads);
    session.emplace(qs::buildSession(*m.ckpt, m.info, m.resolved, &arena, so));
    if (!session->ok()) {
        unwatchInterrupt();
        return fail("export", session->message(),
                    session->message() == qs::kCancelledMessage ? kExitCancelled : kExitFailure);
    }
    const int64_t sweepPoints = sweep ? int64_t(sweep->rows.size()) : -1;
    session->value().sweep = std::move(sweep);
    // Ctrl-C stays caught while the file is written: the write finishes (or fails) and its temporary file is
    // renamed or removed, instead of the default handler killing the process with a half file beside `out`.
    const qs::Status written = interrupted() ? qs::Status(qs::Error{std::string(qs::kCancelledMessage)})
                                             : qs::writeSessionH5(out, session->value());
    unwatchInterrupt();
    if (!written)
        return fail("export", written.message(),
                    written.message() == qs::kCancelledMessage ? kExitCancelled : kExitFailure);
    report["h5"] = out;
    if (sweepPoints >= 0) report["h5_sweep"] = {{"path", *args.sweep}, {"points", sweepPoints}};
    const auto fallbacks = qs::resolutionFallbacks(m.resolved, m.ckpt->tensors);
    report["h5_fallbacks"] = qs::exportFallbacksJson(fallbacks);
    printFallbacks(out, fallbacks);
    if (!args.json)
        std::printf("wrote %s: session of %zu tensors, %zu fallbacks%s\n", out.c_str(), session->value().tensors.size(),
                    fallbacks.size(),
                    sweepPoints >= 0 ? (", sweep of " + std::to_string(sweepPoints) + " points").c_str() : "");
    return kExitOk;
}


// The combinations of options export accepts; prints the message and returns kExitUsage otherwise.
int checkExportArgs(const ExportArgs& args) {
    if (!args.gguf && !args.h5 && !args.configOut())
        return fail(
            "export",
            "nothing to write: give --gguf, --h5, --hqq-config, --gptqmodel-config or --torchao-config",
            kExitUsage);
    if (const auto& fb = args.fallback) {
        if (!args.gguf && !args.configOut())
            return fail("export", "--fallback applies to --gguf and the config exports only", kExitUsage);
        if (!qs::isGgmlType(*fb) || !qs::findScheme(*fb))
            return fail("export", "--fallback " + *fb + " is not a ggml type QuantScope quantizes to (q8_0, q4_K, f16, ...)",
                        kExitUsage);
        // A config names no ggml type: the only fallback it can write is an unquantized module.
        if (args.configOut() && *fb != "f16" && *fb != "bf16")
            return fail("export",
                        "--fallback " + *fb +
                            ": a config export can only leave a module it cannot express unquantized (--fallback f16)",
                        kExitUsage);
    }
    if ((args.bins || args.h5Tensors || args.sweep) && !args.h5)
        return fail("export", "--bins, --h5-tensors and --sweep apply to --h5 only", kExitUsage);
    const long long bins = args.bins.value_or(64);
    if (bins < 0 || bins > 1 << 20) return fail("export", "--bins must be 0..1048576", kExitUsage);
    return kExitOk;
}

}  // namespace

int runExport(int argc, char** argv, int first) {
    CommandLine cl("export", kExportDescription);
    cl.positionals("MODEL", "the model to export");
    ExportArgs args;
    addOutputOptions(cl.app(), args);
    addThreadsOption(cl.app(), args.threads);
    addMapOptions(cl.app(), args.map);
    addCalibOptions(cl.app(), args.calib);
    addTokenizerOption(cl.app(), args.tokenizer);  // --calib's text, and the vocabulary --gguf writes
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (cl.positional().size() != 1)
        return fail("export", "expects exactly one MODEL path (see --help)", kExitUsage);
    args.model = cl.positional()[0];
    if (int rc = checkExportArgs(args); rc != kExitOk) return rc;
    int threads = 1;
    if (int rc = resolveThreads("export", args.threads, threads); rc != kExitOk) return rc;

    Loaded m;
    if (int rc = loadAndResolve(args, threads, m); rc != kExitOk) return rc;
    std::optional<qs::SweepFile> sweep;
    if (int rc = readSweepOption(args, m, threads, sweep); rc != kExitOk) return rc;
    nlohmann::json report = {{"model", m.ckpt->path}};
    if (int rc = writeConfigs(args, m, report); rc != kExitOk) return rc;
    if (const auto& out = args.gguf)
        if (int rc = writeGgufFile(args, m, threads, *out, report); rc != kExitOk) return rc;
    if (const auto& out = args.h5)
        if (int rc = writeSessionFile(args, m, threads, int(args.bins.value_or(64)), *out, std::move(sweep), report); rc != kExitOk) return rc;
    if (args.json) std::puts(jsonText(report).c_str());
    return kExitOk;
}

}  // namespace qscli
