// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli sweep MODEL --groups G[,G...] (--bits B[,B...] | --schemes S[,S...]) --measure M --out FILE
//                     [--text FILE --ctx N --windows N] [--resume] [--shard I/N] [--map F] [--rule R=S]...
// quantscope-cli merge OUT IN...
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "app/cli/evaluator_setup.h"
#include "core/infer/inference_model.h"
#include "core/io/checkpoint.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/utf8.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_hdf5.h"

namespace qscli {

namespace {

constexpr const char* kSweepDescription =
    "Measures every combination of candidate schemes over the groups: one row per point with bytes, bits per\n"
    "weight (a tied pair once, metadata included), rmse and sqnr_db of all quantized weights, and with --measure\n"
    "ppl: ppl; kld: ppl, kld, kld_max, top1 against the unquantized model (its logits computed once).\n"
    "Points are the Cartesian product in odometer order (the last group varies fastest); more than\n"
    "--max-points is refused: shard it, or rank groups with a sensitivity scan. --map/--rule give the baseline\n"
    "map every point starts from (each group's rule is appended after it). The evaluation options are those of\n"
    "`ppl` (--windows = ppl's --max-windows); a point equals `ppl MODEL --map POINT` exactly.\n"
    "Progress and an ETA go to stderr; Ctrl-C stops after storing the finished points (exit 3; --resume later):\n"
    "a .csv file has each point appended as it finishes, an .h5 table is rewritten with every finished point\n"
    "when the sweep stops (a process killed outright leaves an .h5 as it was before the run).\n"
    "--json prints a summary object (points, measured, skipped, seconds, out, warnings).";

constexpr const char* kMergeDescription =
    "Joins sweep files of one sweep (shards or partial runs): rows sorted by point index, the header of the\n"
    "unsharded sweep. Refuses inputs of different sweeps, truncated inputs and a point stored twice with\n"
    "different values. Writes a temporary file and renames it into place.\n"
    "A merge that lacks points (a shard not given, or a shard stopped before its end) is refused, naming the\n"
    "missing shards, unless --allow-partial.";

struct SweepArgs {
    EvaluatorArgs eval;
    std::optional<std::string> groups, bits, schemes, out, shard;
    std::optional<long long> maxPoints;
    bool resume = false, json = false;
};

void addSweepOptions(CLI::App& app, SweepArgs& a) {
    addText(app, "--groups", a.groups, "G[,G...]",
            "embedding, head, body, attention, mlp, layers (one group per block: layer0, layer1, ...),\n"
            "layer-parts (layer0.attention, layer0.mlp, ...), or layerN / layerN.attention / layerN.mlp;\n"
            "groups must not overlap (body,attention is refused)");
    addText(app, "--bits", a.bits, "B[,B...]",
            "bit widths of the default family int{b}_g64: RTN, asymmetric (min-max, zero point), groups\n"
            "of 64, 2..8 bits; the same candidates for every group");
    addText(app, "--schemes", a.schemes, "S[,S...]",
            "registry names instead of --bits (q4_K, q8_0, nf4, int3_g128, keep...)");
    addText(app, "--out", a.out, "FILE.csv|FILE.h5",
            "FILE.csv: rows appended and flushed as points finish (line 1: the spec as JSON; resumable);\n"
            "FILE.h5: an HDF5 table written when the sweep ends or stops (temporary file, then renamed)");
    addFlag(app, "--resume", a.resume,
            "continue FILE.csv or FILE.h5: same spec and shard required, stored points skipped (a CSV's\n"
            "truncated last line cut off); the finished file equals an uninterrupted run. Without\n"
            "--resume an existing FILE is refused (a finished sweep is never replaced by accident)");
    addText(app, "--shard", a.shard, "I/N",
            "run only the points whose index % N == I (0 <= I < N), e.g. one Slurm array task each;\n"
            "join the shard files (.csv or .h5) with `quantscope-cli merge OUT.csv IN...`");
    addInteger(app, "--max-points", a.maxPoints, "N", "the most points a sweep may have (default 1000)");
    addJsonFlag(app, a.json);
    addEvaluatorOptions(app, a.eval, qs::SweepMeasure::WeightError, /*weightError=*/true);
}


bool endsWith(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The candidate schemes from --bits or --schemes.
int candidates(const SweepArgs& args, std::vector<std::string>& out) {
    if (args.bits.has_value() == args.schemes.has_value()) return fail("sweep", "give exactly one of --bits and --schemes", kExitUsage);
    if (const auto& bits = args.bits) {
        for (const auto& b : qscli::splitCommaList(*bits)) {
            char* end = nullptr;
            const long v = std::strtol(b.c_str(), &end, 10);
            if (*end != '\0') return fail("sweep", "--bits: '" + b + "' is not a bit width", kExitUsage);
            auto s = qs::schemeForBits(int(v));
            if (!s) return fail("sweep", s.message(), kExitUsage);
            out.push_back(*s);
        }
    } else {
        for (const auto& s : qscli::splitCommaList(*args.schemes)) {
            auto c = qs::canonicalSchemeName(s);
            if (!c) return fail("sweep", "--schemes: " + c.message(), kExitUsage);
            out.push_back(*c);
        }
    }
    if (out.empty()) return fail("sweep", "no candidate scheme given", kExitUsage);
    return kExitOk;
}

// --out, --resume, --groups, --shard and --max-points before any work; prints the message and returns the exit
// code on a bad combination.
int checkSweepArgs(const SweepArgs& args, qs::SweepShard& shard) {
    const auto& out = args.out;
    if (!out || !(endsWith(*out, ".csv") || endsWith(*out, ".h5")))
        return fail("sweep", "--out FILE.csv or FILE.h5 is required", kExitUsage);
    if (auto s = qs::checkOutputPath(*out); !s) return fail("sweep", "--out " + s.message());
    // A finished sweep is never replaced by accident: without --resume the file must not exist yet.
    if (std::error_code ec; !args.resume && std::filesystem::file_size(*out, ec) > 0 && !ec)
        return fail("sweep", "--out " + *out + " exists: --resume continues it (same setup); to start over, remove it "
                             "first");
    if (!args.groups) return fail("sweep", "--groups is required (" + qs::sweepGroupList() + ")", kExitUsage);
    if (const auto& s = args.shard) {
        auto p = qs::parseShard(*s);
        if (!p) return fail("sweep", p.message(), kExitUsage);
        shard = *p;
    }
    if (args.maxPoints.value_or(qs::kDefaultMaxPoints) < 1)
        return fail("sweep", "--max-points must be at least 1", kExitUsage);
    return kExitOk;
}

// The spec's record of how points are measured (the resume/merge check compares it).
void recordEvaluation(const qs::MapEvaluatorOptions& o, const std::string& dequant, qs::SweepSpec& spec) {
    spec.weightsMode = dequant;
    spec.perplexity = o.perplexity;
    if (o.measure == qs::SweepMeasure::WeightError) return;
    spec.textHash = qs::fnv1aHex(o.text);
    spec.textBytes = o.text.size();
}

std::string pointLine(const qs::SweepSpec& spec, const qs::SweepRow& row) {
    char buf[200];
    std::string s;
    for (size_t j = 0; j < row.schemes.size(); ++j) s += (j ? " " : "") + spec.groups[j].name + "=" + row.schemes[j];
    std::snprintf(buf, sizeof buf, "  %llu bytes  %.4f bpw  rmse %.6g  sqnr %.2f dB", (unsigned long long)row.measure.bytes,
                  row.measure.bpw, row.measure.rmse, row.measure.sqnrDb);
    s += buf;
    if (row.measure.hasPpl) {
        std::snprintf(buf, sizeof buf, "  ppl %.4f", row.measure.ppl);
        s += buf;
    }
    if (row.measure.hasKld) {
        std::snprintf(buf, sizeof buf, "  kld %.6f  top1 %.2f%%", row.measure.kld, 100.0 * row.measure.top1);
        s += buf;
    }
    return s;
}

// The spec's model part: bytes, fingerprint, the groups (expanded, disjoint) with their candidates; checked
// against --max-points.
int completeSpec(const SweepArgs& args, const qs::InferenceModel& model, const std::vector<std::string>& schemes,
                 tbb::task_arena* arena, qs::SweepSpec& spec) {
    for (const auto& t : model.checkpoint->tensors) spec.modelBytes += t.bytes;
    auto fingerprint = qs::checkpointFingerprint(*model.checkpoint, arena);
    if (!fingerprint) return fail("sweep", fingerprint.message());
    spec.modelFingerprint = *fingerprint;
    auto groups = qs::expandGroups(model.info, qscli::splitCommaList(*args.groups));
    if (!groups) return fail("sweep", groups.message(), kExitUsage);
    if (auto s = qs::checkDisjointGroups(model.info, *groups); !s) return fail("sweep", s.message(), kExitUsage);
    spec.groups = *groups;
    spec.schemes.assign(spec.groups.size(), schemes);
    if (auto s = qs::checkSweepSpec(spec, args.maxPoints.value_or(qs::kDefaultMaxPoints)); !s)
        return fail("sweep", s.message(), kExitUsage);
    return kExitOk;
}

// --resume of an existing file: refused now when it cannot be resumed, not after the reference pass (minutes
// for kld).
int checkResumeFile(const SweepArgs& args, const qs::SweepSpec& spec, const qs::SweepShard& shard) {
    const std::string& out = *args.out;
    std::error_code ec;
    if (!args.resume || !std::filesystem::exists(out, ec)) return kExitOk;
    if (endsWith(out, ".h5")) {
        auto f = qs::readSweepHdf5(out);
        if (!f) return fail("sweep", "--resume: " + f.message());
        if (auto s = qs::checkResumableFile(spec, shard, out, &*f); !s) return fail("sweep", s.message());
    } else if (auto s = qs::checkResumable(spec, shard, out); !s) {
        return fail("sweep", s.message());
    }
    return kExitOk;
}

// Measures the shard's points into --out (a line per point with an ETA on stderr), then the summary (--json).
int runPoints(qs::MapEvaluator& evaluator, const qs::ModelInfo& info, const qs::SweepSpec& spec,
              const qs::SweepShard& shard, const SweepArgs& args, int threads) {
    const std::string& out = *args.out;
    int64_t inShard = 0;
    for (int64_t p = 0; p < spec.pointCount(); ++p) inShard += shard.takes(p);
    const auto t0 = std::chrono::steady_clock::now();
    qs::SweepRunOptions ro;
    ro.shard = shard;
    ro.progress = [](double, std::string_view) { return !interrupted(); };
    ro.onPoint = [&](const qs::SweepRow& row) -> qs::Status {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "quantscope-cli sweep: %lld/%lld point #%lld (%.1f s, ETA %.0f s):%s\n",
                     (long long)row.runIndex, (long long)row.runTotal, (long long)row.point, elapsed,
                     elapsed / double(row.runIndex) * double(row.runTotal - row.runIndex), pointLine(spec, row).c_str());
        return {};
    };
    qs::SweepRunResult result;
    int64_t stored = 0;
    {
        auto r = endsWith(out, ".h5") ? qs::runSweepToHdf5(evaluator, info, spec, out, args.resume, ro)
                                      : qs::runSweepToCsv(evaluator, info, spec, out, args.resume, ro);
        if (!r) {
            if (interrupted())
                return fail("sweep", "cancelled; the finished points are stored in " + out + " (continue with --resume)", kExitCancelled);
            return fail("sweep", r.message());
        }
        if (r->truncatedBytes)
            std::fprintf(stderr, "quantscope-cli sweep: %s: cut off a truncated last line (%llu bytes)\n", out.c_str(),
                         (unsigned long long)r->truncatedBytes);
        result = r->run;
        stored = r->stored;
    }
    warn("sweep", result.warnings);
    if (args.json) {
        nlohmann::json j = {{"out", out}, {"points", spec.pointCount()}, {"shard", shard.text()}, {"shard_points", inShard},
                            {"measured", result.measured}, {"skipped", result.skipped}, {"stored", stored},
                            {"seconds", result.seconds}, {"threads", threads}, {"warnings", result.warnings}};
        std::printf("%s\n", jsonText(j).c_str());
    } else {
        std::printf("%lld points measured, %lld already stored, %.2f s -> %s\n", (long long)result.measured,
                    (long long)result.skipped, result.seconds, out.c_str());
    }
    return kExitOk;
}


}  // namespace

int runSweep(int argc, char** argv, int first) {
    CommandLine cl("sweep", kSweepDescription);
    cl.positionals("MODEL", "the model to sweep");
    SweepArgs args;
    addSweepOptions(cl.app(), args);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (cl.positional().size() != 1) return fail("sweep", "expects exactly one MODEL path", kExitUsage);
    const std::string modelPath = cl.positional()[0];
    qs::SweepShard shard;
    if (int rc = checkSweepArgs(args, shard); rc != kExitOk) return rc;
    int threads = 1;
    if (int rc = resolveThreads("sweep", args.eval.threads, threads); rc != kExitOk) return rc;
    std::vector<std::string> schemes;
    if (int rc = candidates(args, schemes); rc != kExitOk) return rc;
    qs::MapEvaluatorOptions o;
    std::string textPath;
    if (int rc = parseEvaluationOptions("sweep", args.eval, qs::SweepMeasure::WeightError, o, textPath); rc != kExitOk)
        return rc;
    const auto measure = o.measure;
    qs::SweepSpec spec;
    spec.modelPath = modelPath;
    spec.measure = measure;
    recordEvaluation(o, args.eval.dequant.value_or("native"), spec);
    if (int rc = loadMapOptions("sweep", args.eval.map, spec.baseline); rc != kExitOk) return rc;
    tbb::task_arena arena(threads);
    o.arena = &arena;

    // The model: the checkpoint and its analysis; for ppl/kld also the tokenizer and the unquantized weights.
    qs::InferenceModel model;
    if (int rc = openModelForMeasure("sweep", args.eval, modelPath, measure, &arena, model); rc != kExitOk) return rc;
    warnTextNotUtf8("sweep", textPath, o.text, model);
    if (int rc = calibrateEvaluator("sweep", args.eval, model, spec.baseline, schemes, &arena, isatty(STDERR_FILENO) != 0, o);
        rc != kExitOk)
        return rc;
    // Collected statistics are named by what they were collected from; an --imatrix file by its content (two
    // imatrix files of one dataset name must not pass for each other on --resume or merge).
    if (o.calibration)
        spec.calibration = o.calibration->provenance.source == "imatrix"
                               ? o.calibration->fingerprint()
                               : qs::CalibrationCache::keyOf(o.calibration->provenance);
    if (int rc = completeSpec(args, model, schemes, &arena, spec); rc != kExitOk) return rc;
    if (int rc = checkResumeFile(args, spec, shard); rc != kExitOk) return rc;

    watchInterrupt();
    auto evaluator = qs::MapEvaluator::create(*model.checkpoint, model.info, model.tokenizer.get(), model.weights, o,
                                              [](double f, std::string_view stage) {
                                                  if (f == 0.0) std::fprintf(stderr, "quantscope-cli sweep: %.*s\n", int(stage.size()), stage.data());
                                                  return !interrupted();
                                              });
    if (!evaluator) return fail("sweep", evaluator.message(), interrupted() ? kExitCancelled : kExitFailure);

    return runPoints(**evaluator, model.info, spec, shard, args, threads);
}

int runMerge(int argc, char** argv, int first) {
    CommandLine cl("merge", kMergeDescription);
    cl.positionals("OUT IN", "the merged file, then the sweep files to join");
    bool allowPartial = false;
    addFlag(cl.app(), "--allow-partial", allowPartial, "write the merge even when points are missing");
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    const auto& pos = cl.positional();
    if (pos.size() < 2) return fail("merge", "expects OUT and at least one IN sweep file", kExitUsage);
    const std::string out = pos[0];
    if (!endsWith(out, ".csv") && !endsWith(out, ".h5")) return fail("merge", "OUT must end in .csv or .h5", kExitUsage);
    std::vector<std::string> inputs(pos.begin() + 1, pos.end());
    for (const auto& in : inputs)
        if (in == out) return fail("merge", "OUT " + out + " is also an input", kExitUsage);
    // As sweep --out: a sweep file is never replaced by accident (`merge shard0.csv shard1.csv` with OUT forgotten
    // wrote shard 1's rows over shard 0).
    if (auto s = qs::checkOutputPath(out); !s) return fail("merge", "OUT " + s.message());
    if (std::error_code ec; std::filesystem::file_size(out, ec) > 0 && !ec)
        return fail("merge", "OUT " + out + " exists (the merged file is written new; a sweep file is never replaced: "
                             "remove it first, or give another name)");
    qs::MergeOptions mo;
    mo.allowPartial = allowPartial;
    auto n = endsWith(out, ".h5") ? qs::mergeSweepFilesToHdf5(inputs, out, mo) : qs::mergeSweepFiles(inputs, out, mo);
    if (!n) return fail("merge", n.message());
    std::printf("%lld points -> %s\n", (long long)*n, out.c_str());
    return kExitOk;
}

}  // namespace qscli
