// SPDX-License-Identifier: GPL-3.0-or-later
// Time from "Quantize done" to "chat ready": the chat's quantized model (quantizeForInference + loadModelWeights,
// what ChatModels::requestQuantized runs) built after a Quantize run (applyMap with statistics) of the same
// map, without and with the quantized-tensor cache the GUI shares between them. The Quantize run itself is
// outside the timing (it fills the cache once; the cached build reuses it every iteration, as the chat would
// after one Quantize). Model: QS_BENCH_MODEL (default /tmp/m110/f32.gguf, e.g. from
//   build/app/quantscope-cli synth --shape 110M --format gguf /tmp/m110/f32.gguf); map: body q4_K, embedding
// and head q8_0. Run (2 threads, as the GUI's arena on this machine):
//   cmake --build build --target bench_quant_cache && build/tests/bench_quant_cache --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>

#include <cstdlib>
#include <memory>

#include "core/infer/memory_plan.h"
#include "core/infer/model_weights.h"
#include "core/infer/quantized_model.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quantized_tensor_cache.h"

namespace {

struct Model {
    std::unique_ptr<qs::Checkpoint> ckpt;
    qs::ModelInfo info;
    qs::QuantMap map;
    std::string error;
};

const Model& model() {
    static const Model m = [] {
        Model m;
        const char* env = std::getenv("QS_BENCH_MODEL");
        auto c = qs::openCheckpoint(env ? env : "/tmp/m110/f32.gguf");
        if (!c) {
            m.error = c.message();
            return m;
        }
        m.ckpt = std::move(c.value());
        m.info = qs::analyzeModel(*m.ckpt);
        auto map = qs::parseQuantMap(
            R"({"version":1,"rules":[{"role":"body","scheme":"q4_K"},{"role":"embedding","scheme":"q8_0"},{"role":"head","scheme":"q8_0"}]})");
        m.map = *map;
        return m;
    }();
    return m;
}

// state.range(0): 0 = no cache (every tensor quantized again), 1 = the cache Quantize filled.
void chatReadyAfterQuantize(benchmark::State& state) {
    const Model& m = model();
    if (!m.ckpt) return state.SkipWithError(m.error.c_str());
    tbb::task_arena arena(2);
    const bool cached = state.range(0) != 0;
    auto cache = std::make_shared<qs::QuantizedTensorCache>(qs::defaultQuantizedCacheBytes());
    {
        auto resolved = qs::resolveMap(m.map, m.ckpt->tensors, m.info);
        qs::ApplyOptions o;
        o.cache = cached ? cache.get() : nullptr;
        auto q = qs::applyMap(*m.ckpt, m.info, *resolved, o, &arena);
        if (!q) return state.SkipWithError(q.message().c_str());
    }
    int fromCache = 0;
    for (auto _ : state) {
        auto q = qs::quantizeForInference(*m.ckpt, m.info, m.map, &arena, {}, nullptr, cached ? cache.get() : nullptr);
        if (!q) return state.SkipWithError(q.message().c_str());
        auto w = qs::loadModelWeights(*m.ckpt, m.info, &q->tensors, {}, &arena);
        if (!w) return state.SkipWithError(w.message().c_str());
        fromCache = q->fromCache;
        benchmark::DoNotOptimize(w);
    }
    state.counters["from_cache"] = fromCache;
}

}  // namespace

BENCHMARK(chatReadyAfterQuantize)->ArgName("cached")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
