// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/evaluator_setup.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/io/utf8.h"
#include "core/model/model_info.h"

namespace qscli {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void onInterrupt(int) {
    g_interrupted = 1;
}
}  // namespace

std::set<std::string> evaluatorValueOptions(std::set<std::string> more) {
    more.insert({"map", "rule", "measure", "text", "ctx", "windows", "protocol", "tokenizer", "threads"});
    return more;
}

std::vector<std::string> splitCommaList(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t comma = s.find(',', start);
        std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) out.push_back(std::move(item));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

qs::ProgressFn stderrProgress(const std::string& command, bool enabled) {
    g_interrupted = 0;
    std::signal(SIGINT, onInterrupt);
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    return [=](double fraction, std::string_view stage) {
        const auto now = std::chrono::steady_clock::now();
        if (enabled && (now - *last > std::chrono::milliseconds(500) || fraction >= 1.0)) {
            *last = now;
            std::fprintf(stderr, "\r%s: %5.1f%% %-60.60s", command.c_str(), 100.0 * fraction,
                         std::string(stage).c_str());
            if (fraction >= 1.0) std::fprintf(stderr, "\n");
        }
        return g_interrupted == 0;
    };
}

int openEvaluator(const std::string& command, Args& args, EvaluatorSetup& out, bool progress) {
    if (args.positional().size() != 1)
        return fail(command, "expects exactly one MODEL path (see --help)", kExitUsage);
    if (int rc = parseThreads(command, args, out.threads); rc != kExitOk) return rc;
    const std::string measureName = args.value("measure").value_or("kld");
    const auto measure = qs::sweepMeasureFromName(measureName);
    if (!measure)
        return fail(command, "unknown --measure '" + measureName + "' (weight-error, ppl, kld)", kExitUsage);
    const auto ctx = args.integer("ctx", 512);
    const auto windows = args.integer("windows", 0);
    if (!ctx || !windows) return fail(command, args.error(), kExitUsage);
    if (*ctx < 2 || *ctx > (1 << 20)) return fail(command, "--ctx must be between 2 and 1048576", kExitUsage);
    if (*windows < 0) return fail(command, "--windows must be >= 0 (0: all)", kExitUsage);
    qs::MapEvaluatorOptions eo;
    eo.measure = *measure;
    eo.perplexity.context = int(*ctx);
    eo.perplexity.maxWindows = int(*windows);
    const std::string protocol = args.value("protocol").value_or("llamacpp");
    const auto p = qs::pplProtocolFromName(protocol);
    if (!p)
        return fail(command, "unknown --protocol '" + protocol + "' (llamacpp, gptq, documents)", kExitUsage);
    eo.perplexity.protocol = *p;
    const bool engine = *measure != qs::SweepMeasure::WeightError;
    if (engine) {
        const auto textPath = args.value("text");
        if (!textPath)
            return fail(command, "--text FILE is required for --measure " + measureName, kExitUsage);
        std::ifstream in(*textPath, std::ios::binary);
        if (!in) return fail(command, *textPath + ": cannot open");
        std::ostringstream ss;
        ss << in.rdbuf();
        eo.text = ss.str();
        out.textPath = *textPath;
        if (auto bad = qs::io::firstInvalidUtf8(eo.text))
            std::fprintf(stderr, "quantscope-cli %s: warning: %s is not valid UTF-8 (byte %zu)\n",
                         command.c_str(), textPath->c_str(), size_t(*bad));
    } else if (args.has("text")) {
        return fail(command, "--text is used by --measure ppl or kld, not weight-error", kExitUsage);
    }

    if (auto path = args.value("map")) {
        auto m = qs::loadQuantMap(*path);
        if (!m) return fail(command, m.message());
        out.baseline = std::move(*m);
    }
    for (const std::string& spec : args.values("rule")) {
        auto r = qs::parseRuleSpec(spec);
        if (!r) return fail(command, r.message(), kExitUsage);
        out.baseline.rules.push_back(std::move(*r));
    }

    out.arena = std::make_unique<tbb::task_arena>(out.threads);
    eo.arena = out.arena.get();
    const std::string& path = args.positional()[0];
    if (engine) {
        qs::InferenceLoadOptions lo;
        lo.tokenizerPath = args.value("tokenizer").value_or("");
        auto m = qs::openInferenceModel(path, lo, out.arena.get());
        if (!m) return fail(command, m.message());
        out.model = std::move(m.value());
        for (const auto& w : out.model.warnings)
            std::fprintf(stderr, "quantscope-cli %s: warning: %s\n", command.c_str(), w.c_str());
    } else {
        if (args.has("tokenizer"))
            return fail(command, "--tokenizer is used by --measure ppl or kld", kExitUsage);
        auto c = qs::openCheckpoint(path);
        if (!c) return fail(command, c.message());
        out.model.checkpoint = std::move(c.value());
        out.model.info = qs::analyzeModel(*out.model.checkpoint);
    }
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
