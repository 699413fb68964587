// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/infer_setup.h"

#include <cstdio>
#include <thread>

namespace qscli {

std::set<std::string> inferenceValueOptions(std::set<std::string> more) {
    more.insert({"tokenizer", "threads"});
    return more;
}

int openInference(const std::string& command, Args& args, int maxContext, InferenceSetup& out) {
    if (args.positional().size() != 1) return fail(command, "expects exactly one MODEL path", kExitUsage);
    const auto threads = args.integer("threads", std::max(1u, std::thread::hardware_concurrency()));
    if (!threads) return fail(command, args.error(), kExitUsage);
    if (*threads < 1 || *threads > 1024) return fail(command, "--threads must be between 1 and 1024", kExitUsage);
    out.threads = int(*threads);
    out.arena = std::make_unique<tbb::task_arena>(out.threads);
    qs::InferenceLoadOptions options;
    options.tokenizerPath = args.value("tokenizer").value_or("");
    options.weights.maxContext = maxContext;
    auto m = qs::openInferenceModel(args.positional()[0], options, out.arena.get());
    if (!m) return fail(command, m.message());
    out.model = std::move(m.value());
    for (const auto& w : out.model.warnings) std::fprintf(stderr, "quantscope-cli %s: warning: %s\n", command.c_str(), w.c_str());
    out.weights = out.model.weights;
    return kExitOk;
}

}  // namespace qscli
