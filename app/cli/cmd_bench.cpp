// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli bench MODEL [--threads N]: prompt-processing and generation speed, and peak resident memory.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <vector>

#include <tbb/parallel_for.h>

#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "app/cli/infer_setup.h"
#include "core/infer/generator.h"
#include "core/infer/linear_weights.h"
#include "core/infer/transformer.h"
#include "core/util/cpu_features.h"

namespace qscli {

namespace {
constexpr const char* kBenchDescription =
    "Measures prompt processing (a batch of N tokens, default 128) and generation (greedy, N tokens, default\n"
    "128) in tokens per second, and the process's peak resident memory. When the model's context is shorter\n"
    "than both, the engine's context is extended for the measurement (speed does not depend on it; the\n"
    "numbers produced beyond the trained context are not meaningful). --json adds bytes_per_token (weights and\n"
    "KV cache one decode step reads), copy_bandwidth_bytes_per_s (memcpy of 2 x 128 MiB on the bench's\n"
    "threads, bytes read plus written per second) and bandwidth_fraction (decode bytes per second over it;\n"
    "decode only reads, and reading alone streams faster than copying, so a value a little above 1 is possible;\n"
    "both are null when the copy's buffers do not fit in memory), weights_owned_bytes (weights held in memory\n"
    "beyond the checkpoint's file mapping: repacked or converted copies), kv_cache_bytes (the KV cache as the run\n"
    "grew it: in steps of at least 64 positions, up to --ctx or the positions the run uses) and scratch_bytes\n"
    "(activation buffers, RoPE tables and the kernels' per-thread scratch); weight_kinds counts the matrices per\n"
    "form they run in (weights names the first layer's). peak_rss_bytes is read after the\n"
    "run and before the bandwidth copy, whose 2 x 128 MiB buffers it does not include.\n"
    "With --map/--rule the quantized model is measured.";

// Bytes one decode step reads: every layer matrix and the head in full, one embedding row, and the KV cache
// up to the average position of the generated tokens.
double decodeBytesPerToken(const qs::ModelWeights& w, int positions) {
    double bytes = double(w.embedding->weightBytes()) / double(w.embedding->rows()) + double(w.output->weightBytes());
    for (const auto& l : w.layers)
        for (const auto* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) bytes += double((*m)->weightBytes());
    const qs::ModelConfig& c = w.config;
    bytes += double(c.layers) * 2.0 * c.kvDim() * sizeof(float) * (1.0 + positions) / 2.0;
    return bytes;
}

// How many of the model's matrices run in each form ("q4_K, native avx2 kernel ..." -> count): a mixed file's
// types all show, where `weights` names the first layer's only. A tied head is the embedding, counted once.
nlohmann::json weightKinds(const qs::ModelWeights& w) {
    std::map<std::string, int> kinds;
    ++kinds[w.embedding->describe()];
    if (w.output != w.embedding) ++kinds[w.output->describe()];
    for (const auto& l : w.layers)
        for (const auto* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) ++kinds[(*m)->describe()];
    return kinds;
}

// Best of 5 parallel memcpy passes over 2 x 128 MiB (far beyond the caches), split over the arena's threads;
// bytes read plus bytes written per second (STREAM's Copy convention). 0 when the buffers cannot be allocated.
double copyBandwidth(tbb::task_arena& arena) {
    constexpr size_t kBytes = size_t(128) << 20;
    std::vector<char> src, dst;
    try {
        src.assign(kBytes, 1);
        dst.assign(kBytes, 0);
    } catch (const std::bad_alloc&) {
        return 0;
    }
    const size_t parts = size_t(std::max(1, arena.max_concurrency()));
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        arena.execute([&] {
            tbb::parallel_for(size_t(0), parts, [&](size_t p) {
                const size_t a = kBytes * p / parts, b = kBytes * (p + 1) / parts;
                std::memcpy(dst.data() + a, src.data() + a, b - a);
            });
        });
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (sec > 0) best = std::max(best, 2.0 * double(kBytes) / sec);
    }
    return best;
}

uint64_t peakResidentBytes() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return uint64_t(u.ru_maxrss) * 1024;  // Linux reports KiB
}

// What one bench run measured.
struct BenchFigures {
    int pp = 0;                 // prompt batch length
    double ppSeconds = 0, ppPerSecond = 0;
    size_t tokenCount = 0;      // tokens the generation returned (the first is BOS, not timed)
    double generateSeconds = 0, tgPerSecond = 0;
    uint64_t rss = 0, scratch = 0, owned = 0;
    qs::Transformer::MemoryUse use;
    double bytesPerToken = 0;
    int trainedContext = 0;
    int64_t context = 0;  // the engine's, extended past trainedContext when the run needs more
};

// Times the prompt batch of pp tokens and tg greedy decode steps, then reads the memory figures.
// Returns kExitOk, or the failure's exit code (reported).
int measureBench(const InferenceSetup& setup, int pp, int tg, BenchFigures& f) {
    const qs::ModelConfig& c = setup.weights->config;
    // A fixed pseudo-random prompt: speed does not depend on which tokens they are.
    std::vector<int> prompt(static_cast<size_t>(pp));
    if (setup.model.tokenizer->bos() >= 0) prompt[0] = setup.model.tokenizer->bos();
    for (int i = 1; i < pp; ++i) prompt[size_t(i)] = int((uint64_t(i) * 2654435761u) % uint64_t(c.vocab));

    qs::Transformer model(setup.weights, setup.arena.get());
    std::vector<float> logits(static_cast<size_t>(c.vocab));
    const auto t0 = std::chrono::steady_clock::now();
    if (auto s = model.evaluate(prompt, logits); !s) return fail("bench", s.message());
    f.ppSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    model.reset();
    const int bos[1] = {prompt[0]};
    qs::GenerateOptions o;
    o.maxNewTokens = tg + 1;  // tg forward passes after the first token
    o.sampling.temperature = 0;
    o.stopAtBos = o.stopAtEos = false;
    auto r = qs::generate(model, *setup.model.tokenizer, bos, o);
    if (!r) return fail("bench", r.message());
    f.pp = pp;
    f.tokenCount = r->tokens.size();
    f.generateSeconds = r->generateSeconds;
    f.tgPerSecond = r->generateSeconds > 0 ? double(r->tokens.size() - 1) / r->generateSeconds : 0;
    f.ppPerSecond = f.ppSeconds > 0 ? pp / f.ppSeconds : 0;
    f.rss = peakResidentBytes();
    f.use = model.memoryUse();
    f.scratch = f.use.scratchBytes + qs::kernelScratchBytes();
    f.owned = setup.weights->ownedBytes();
    f.bytesPerToken = decodeBytesPerToken(*setup.weights, tg);
    f.context = c.context;
    return kExitOk;
}

void printBenchJson(const std::string& modelPath, const InferenceSetup& setup, const BenchFigures& f) {
    const double bandwidth = copyBandwidth(*setup.arena);
    nlohmann::json j = {{"model", modelPath}, {"threads", setup.threads}, {"prompt_tokens", f.pp},
                        {"gen_tokens", int(f.tokenCount) - 1}, {"pp_tok_s", f.ppPerSecond}, {"tg_tok_s", f.tgPerSecond},
                        {"prompt_tps", f.ppPerSecond}, {"decode_tps", f.tgPerSecond},
                        {"bytes_per_token", f.bytesPerToken},
                        {"copy_bandwidth_bytes_per_s", bandwidth > 0 ? nlohmann::json(bandwidth) : nlohmann::json()},
                        {"bandwidth_fraction",
                         bandwidth > 0 ? nlohmann::json(f.bytesPerToken * f.tgPerSecond / bandwidth) : nlohmann::json()},
                        {"trained_context", f.trainedContext}, {"context_extended", f.context > f.trainedContext},
                        {"weights", setup.weights->layers.empty() ? "" : setup.weights->layers[0].wq->describe()},
                        {"weight_kinds", weightKinds(*setup.weights)},
                        {"simd", qs::cpu::simdLevelName(qs::cpu::simdLevel())},
                        {"peak_rss_bytes", f.rss}, {"weights_owned_bytes", f.owned},
                        {"kv_cache_bytes", f.use.kvCacheBytes}, {"scratch_bytes", f.scratch}};
    j["warnings"] = setup.warnings;
    if (bandwidth <= 0)
        j["warnings"].push_back("the copy bandwidth was not measured: its 2 x 128 MiB buffers do not fit in memory");
    if (f.context > f.trainedContext)
        j["warnings"].push_back("the context is extended from " + std::to_string(f.trainedContext) + " to " +
                                std::to_string(f.context) +
                                " positions for the measurement; the speed is meaningful, the tokens past the trained context are not");
    std::printf("%s\n", jsonText(j).c_str());
}

void printBenchText(const std::string& modelPath, const InferenceSetup& setup, const BenchFigures& f) {
    std::printf("model %s, %d thread%s\n", modelPath.c_str(), setup.threads, setup.threads == 1 ? "" : "s");
    std::printf("prompt processing: %d tokens in %.3f s = %.1f tok/s\n", f.pp, f.ppSeconds, f.ppPerSecond);
    std::printf("generation:        %zu tokens in %.3f s = %.1f tok/s\n", f.tokenCount - 1, f.generateSeconds,
                f.tgPerSecond);
    std::printf("peak resident memory: %.1f MiB (weights held beyond the file mapping %.1f MiB, KV cache %.1f MiB, "
                "scratch %.1f MiB)\n",
                double(f.rss) / (1024.0 * 1024.0), double(f.owned) / (1024.0 * 1024.0),
                double(f.use.kvCacheBytes) / (1024.0 * 1024.0), double(f.scratch) / (1024.0 * 1024.0));
    if (f.context > f.trainedContext)
        std::printf("(context extended from %d to %d for the measurement)\n", f.trainedContext, int(f.context));
}
}  // namespace

int runBench(int argc, char** argv, int first) {
    CommandLine cl("bench", kBenchDescription);
    cl.positionals("MODEL", "the model to measure");
    InferenceArgs inference;
    std::optional<long long> promptArg, genArg;
    bool asJson = false;
    addInteger(cl.app(), "--prompt-tokens", promptArg, "N", "prompt batch length, 1..65536 (default 128)");
    addStepsOption(cl.app(), genArg, "tokens generated greedily, 1..65536 (default 128)", "--gen-tokens");
    addJsonFlag(cl.app(), asJson);
    addInferenceOptions(cl.app(), inference);
    addContextOption(cl.app(), inference);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    const long long promptTokens = promptArg.value_or(128), genTokens = genArg.value_or(128);
    if (promptTokens < 1 || genTokens < 1)
        return fail("bench", std::string(promptTokens < 1 ? "--prompt-tokens" : "--gen-tokens") + " must be at least 1",
                    kExitUsage);
    if (promptTokens > 65536 || genTokens > 65536)
        return fail("bench", std::string(promptTokens > 65536 ? "--prompt-tokens" : "--gen-tokens") + " must be at most 65536",
                    kExitUsage);
    const int pp = int(promptTokens), tg = int(genTokens);
    // Positions the run uses: the prompt batch, then (from a fresh cache) BOS and tg + 1 decode steps.
    const int needed = std::max(pp, tg + 2);
    if (inference.ctx && *inference.ctx < needed)
        return fail("bench",
                    "--ctx " + std::to_string(*inference.ctx) + " is shorter than the " + std::to_string(needed) +
                        " positions this run uses (the larger of --prompt-tokens and --gen-tokens + 2): lower "
                        "those, or leave --ctx out (bench sizes the KV cache to the run)",
                    kExitUsage);
    InferenceSetup setup;
    // The KV cache holds what the run uses, not the trained context (an 8B's 8192 positions are 2 GiB).
    if (int rc = openInference("bench", cl.positional(), inference, needed, setup); rc != kExitOk) return rc;
    BenchFigures f;
    f.trainedContext = int(qs::engineContext(setup.model.info.hp));
    if (needed > setup.weights->config.context) {
        // Speed does not depend on the trained context: run with a longer KV cache (a shallow copy).
        auto longer = std::make_shared<qs::ModelWeights>(*setup.weights);
        longer->config.context = needed;
        setup.weights = std::move(longer);
    }
    if (int rc = measureBench(setup, pp, tg, f); rc != kExitOk) return rc;
    if (asJson) printBenchJson(cl.positional()[0], setup, f);
    else printBenchText(cl.positional()[0], setup, f);
    return kExitOk;
}

}  // namespace qscli
