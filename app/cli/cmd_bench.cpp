// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli bench MODEL [--threads N]: prompt-processing and generation speed, and peak resident memory.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "app/cli/infer_setup.h"
#include "core/infer/generator.h"

namespace qscli {

namespace {
constexpr const char* kUsage =
    "usage: quantscope-cli bench MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] [--tokenizer PATH]\n"
    "                            [--threads N] [--prompt-tokens N] [--gen-tokens N]\n"
    "                             [--json]\n"
    "Measures prompt processing (a batch of N tokens, default 128) and generation (greedy, N tokens, default\n"
    "128) in tokens per second, and the process's peak resident memory. Both are capped by the context.\n";

uint64_t peakResidentBytes() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return uint64_t(u.ru_maxrss) * 1024;  // Linux reports KiB
}
}  // namespace

int runBench(int argc, char** argv, int first) {
    Args args(inferenceValueOptions({"prompt-tokens", "gen-tokens"}), {"json", "help"});
    if (!args.parse(argc, argv, first)) return fail("bench", args.error(), kExitUsage);
    if (args.flag("help")) {
        std::fputs(kUsage, stdout);
        std::fputs(kInferenceOptionsHelp, stdout);
        return kExitOk;
    }
    const auto promptTokens = args.integer("prompt-tokens", 128);
    const auto genTokens = args.integer("gen-tokens", 128);
    if (!promptTokens || !genTokens) return fail("bench", args.error(), kExitUsage);
    if (*promptTokens < 1 || *genTokens < 1) return fail("bench", "token counts must be positive", kExitUsage);

    InferenceSetup setup;
    if (int rc = openInference("bench", args, 0, setup); rc != kExitOk) return rc;
    const qs::ModelConfig& c = setup.weights->config;
    const int pp = int(std::min<long long>(*promptTokens, c.context / 2));
    const int tg = int(std::min<long long>(*genTokens, c.context - pp - 1));
    if (pp < 1 || tg < 1) return fail("bench", "the context of " + std::to_string(c.context) + " is too small to measure");

    // A fixed pseudo-random prompt: speed does not depend on which tokens they are.
    std::vector<int> prompt(static_cast<size_t>(pp));
    if (setup.model.tokenizer->bos() >= 0) prompt[0] = setup.model.tokenizer->bos();
    for (int i = 1; i < pp; ++i) prompt[size_t(i)] = int((uint64_t(i) * 2654435761u) % uint64_t(c.vocab));

    qs::Transformer model(setup.weights, setup.arena.get());
    std::vector<float> logits(static_cast<size_t>(c.vocab));
    const auto t0 = std::chrono::steady_clock::now();
    if (auto s = model.evaluate(prompt, logits); !s) return fail("bench", s.message());
    const double ppSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    model.reset();
    const int bos[1] = {prompt[0]};
    qs::GenerateOptions o;
    o.maxNewTokens = tg + 1;  // tg forward passes after the first token
    o.sampling.temperature = 0;
    o.stopAtBos = o.stopAtEos = false;
    auto r = qs::generate(model, *setup.model.tokenizer, bos, o);
    if (!r) return fail("bench", r.message());
    const double tgPerSecond = r->generateSeconds > 0 ? double(r->tokens.size() - 1) / r->generateSeconds : 0;
    const double ppPerSecond = ppSeconds > 0 ? pp / ppSeconds : 0;
    const uint64_t rss = peakResidentBytes();

    if (args.flag("json")) {
        nlohmann::json j = {{"model", args.positional()[0]}, {"threads", setup.threads}, {"prompt_tokens", pp},
                            {"gen_tokens", int(r->tokens.size()) - 1}, {"pp_tok_s", ppPerSecond}, {"tg_tok_s", tgPerSecond},
                            {"peak_rss_bytes", rss}};
        std::printf("%s\n", j.dump(1).c_str());
    } else {
        std::printf("model %s, %d thread%s\n", args.positional()[0].c_str(), setup.threads, setup.threads == 1 ? "" : "s");
        std::printf("prompt processing: %d tokens in %.3f s = %.1f tok/s\n", pp, ppSeconds, ppPerSecond);
        std::printf("generation:        %zu tokens in %.3f s = %.1f tok/s\n", r->tokens.size() - 1, r->generateSeconds, tgPerSecond);
        std::printf("peak resident memory: %.1f MiB\n", double(rss) / (1024.0 * 1024.0));
    }
    return kExitOk;
}

}  // namespace qscli
