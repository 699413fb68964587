// SPDX-License-Identifier: GPL-3.0-or-later
// Inference speed: prompt processing (a batch of tokens through evaluate()) and generation (one token per
// forward pass through the KV cache), in tokens per second of wall time (items_per_second), at 1 and 2 threads, on
// stories260K (from the shared assets) and on random-weight models with real shapes built in memory:
// stories15M-shaped (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000) and stories110M-shaped (dim 768,
// 12 layers, 12 heads, hidden 2048, vocab 32000).
//   build: cmake -DQS_BUILD_BENCHMARKS=ON ... && cmake --build build --target bench_infer
//   run:   QS_SHARED_DIR=/path/to/shared build/tests/bench_infer
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>

#include "core/infer/inference_model.h"
#include "core/infer/transformer.h"

#include "common/random_model_weights.h"

using namespace qs;

namespace {

ModelConfig shape(int dim, int layers, int heads, int hidden) {
    ModelConfig c;
    c.dim = dim;
    c.layers = layers;
    c.heads = heads;
    c.kvHeads = heads;
    c.headDim = dim / heads;
    c.hidden = hidden;
    c.vocab = 32000;
    c.context = 256;
    return c;
}

std::string sharedDir() {
    if (const char* d = std::getenv("QS_SHARED_DIR")) return d;
    return (std::filesystem::path(__FILE__).parent_path() / ".." / ".." / ".." / "shared").string();
}

// Models are built once and shared by every benchmark that uses them.
std::shared_ptr<const ModelWeights> model(const std::string& name) {
    static std::map<std::string, std::shared_ptr<const ModelWeights>> cache;
    auto it = cache.find(name);
    if (it != cache.end()) return it->second;
    std::shared_ptr<const ModelWeights> w;
    if (name == "stories260K") {
        static std::unique_ptr<InferenceModel> keep;  // the weights view the checkpoint's mapping
        auto m = openInferenceModel(sharedDir() + "/models/stories260K-llama2c/stories260K.bin", {}, nullptr);
        if (m) {
            keep = std::make_unique<InferenceModel>(std::move(m.value()));
            w = keep->weights;
        }
    } else if (name == "random15M") {
        w = randomModelWeights(shape(288, 6, 6, 768), 1);
    } else if (name == "random110M") {
        w = randomModelWeights(shape(768, 12, 12, 2048), 2);
    }
    cache[name] = w;
    return w;
}

std::vector<int> promptTokens(int n, int vocab) {
    std::vector<int> t(static_cast<size_t>(n));
    t[0] = 1;
    for (int i = 1; i < n; ++i) t[size_t(i)] = int((uint64_t(i) * 2654435761u) % uint64_t(vocab));
    return t;
}

void promptProcessing(benchmark::State& state, const std::string& name, int tokens) {
    auto w = model(name);
    if (!w) {
        state.SkipWithError(("model " + name + " unavailable (set QS_SHARED_DIR)").c_str());
        return;
    }
    tbb::task_arena arena(int(state.range(0)));
    Transformer t(w, &arena);
    const auto prompt = promptTokens(tokens, w->config.vocab);
    std::vector<float> logits(static_cast<size_t>(w->config.vocab));
    for (auto _ : state) {
        t.reset();
        if (!t.evaluate(prompt, logits).ok()) state.SkipWithError("evaluate failed");
        benchmark::DoNotOptimize(logits.data());
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * tokens);
    state.SetLabel(name + ", " + std::to_string(tokens) + "-token prompt");
}

void generation(benchmark::State& state, const std::string& name, int tokens) {
    auto w = model(name);
    if (!w) {
        state.SkipWithError(("model " + name + " unavailable (set QS_SHARED_DIR)").c_str());
        return;
    }
    tbb::task_arena arena(int(state.range(0)));
    Transformer t(w, &arena);
    std::vector<float> logits(static_cast<size_t>(w->config.vocab));
    for (auto _ : state) {
        t.reset();
        int token = 1;
        for (int i = 0; i < tokens; ++i) {
            const int one[1] = {token};
            if (!t.evaluate(one, logits).ok()) state.SkipWithError("evaluate failed");
            token = int(std::max_element(logits.begin(), logits.end()) - logits.begin());  // greedy
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * tokens);
    state.SetLabel(name + ", " + std::to_string(tokens) + " tokens from BOS");
}

}  // namespace

BENCHMARK_CAPTURE(promptProcessing, stories260K, std::string("stories260K"), 128)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(generation, stories260K, std::string("stories260K"), 128)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(promptProcessing, random15M, std::string("random15M"), 128)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(generation, random15M, std::string("random15M"), 128)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(promptProcessing, random110M, std::string("random110M"), 64)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(generation, random110M, std::string("random110M"), 32)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
