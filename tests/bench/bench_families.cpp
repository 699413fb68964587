// SPDX-License-Identifier: GPL-3.0-or-later
// The model families people quantize, at real scale: Llama-3.2-1B-, Qwen2.5-0.5B- and Gemma-2-2B-shaped bf16
// safetensors (real vocabularies: 128,256 / 151,936 / 256,000 tokens, tied heads as the real ones), written
// by `synth` (core/model/synth.h, random weights, seed 1) into a temporary folder, one at a time.
//   BM_Open/<shape>      openCheckpoint + analyzeModel: wall time per open; counters: footprint by role in
//                        percent of the stored bytes (embedding, head, body = attention + MLP, norm), GB
//                        stored, and the seconds synth took to write the model (synth_s).
//   BM_Generate/<shape>  openInferenceModel + 16 greedy tokens after an 8-token prompt fed as ids: counters
//                        load_s, tok_s (decode tokens per second) and peak_rss_MB (the peak of this benchmark
//                        alone: VmHWM is reset through /proc/self/clear_refs before it). When the float copy
//                        of the weights would exceed QS_BENCH_FLOAT_GB (default 6) the weights run in their
//                        stored bf16 form, dequantized per block of rows (WeightLoadOptions PerRowBlock, the
//                        CLI's --dequant rows); the label names the mode. An architecture the engine does not
//                        run is reported as an error carrying the engine's refusal message.
// Only one model is in memory at a time. Files are removed at exit unless QS_BENCH_KEEP=1.
//
// Run: ./tests/bench_families [--benchmark_filter=qwen]  [QS_BENCH_DIR=/path, default $TMPDIR or /tmp]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <tbb/task_arena.h>

#include "core/infer/generator.h"
#include "core/infer/inference_model.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/model/synth.h"

namespace {

namespace fs = std::filesystem;

const char* const kShapes[] = {"llama3-1B", "qwen2.5-0.5B", "gemma2-2B"};

struct Synthesized {
    std::string path, error;
    double seconds = 0;
};

std::string benchDir() {
    const char* base = std::getenv("QS_BENCH_DIR");
    if (!base) base = std::getenv("TMPDIR");
    return std::string(base ? base : "/tmp") + "/qs_bench_families";
}

int threads() {
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

// Writes the shape once per process (later calls return the same folder). The folders of other shapes are
// removed first, so that only one model occupies the disk and its cache at a time.
const Synthesized& synthesized(const std::string& shapeName) {
    static std::map<std::string, Synthesized> done;
    if (auto it = done.find(shapeName); it != done.end()) return it->second;
    static const std::string dir = benchDir();  // constructed before the exit handler is registered
    static const bool cleanupRegistered = [] {
        const char* keep = std::getenv("QS_BENCH_KEEP");
        if (!keep || std::string(keep) != "1")
            std::atexit([] {
                std::error_code ec;
                fs::remove_all(dir, ec);
            });
        return true;
    }();
    (void)cleanupRegistered;
    for (const auto& [name, old] : done) {
        std::error_code ec;
        fs::remove_all(old.path, ec);
    }
    done.clear();
    Synthesized s;
    s.path = dir + "/" + shapeName;
    const qs::SynthShape* shape = qs::findSynthShape(shapeName);
    if (!shape) {
        s.error = "no synth shape " + shapeName;
        return done[shapeName] = s;
    }
    std::error_code ec;
    fs::remove_all(s.path, ec);
    qs::SynthOptions o;
    o.format = qs::SynthFormat::Safetensors;
    o.dtype = qs::DType::BF16;
    o.seed = 1;
    tbb::task_arena arena(threads());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = qs::synthesizeCheckpoint(*shape, o, s.path, &arena);
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) s.error = r.message();
    return done[shapeName] = s;
}

// Peak resident set since the last reset, in MB (VmHWM).
double peakRssMB() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;  // kB
    return 0;
}

void resetPeakRss() {
    std::ofstream("/proc/self/clear_refs") << "5";
}  // Linux >= 4.0: resets VmHWM

double percent(uint64_t part, uint64_t total) {
    return total ? 100.0 * double(part) / double(total) : 0;
}

void BM_Open(benchmark::State& state, const std::string& shape) {
    const Synthesized& s = synthesized(shape);
    if (!s.error.empty()) {
        state.SkipWithError(s.error.c_str());
        return;
    }
    qs::ModelInfo info;
    for (auto _ : state) {
        auto c = qs::openCheckpoint(s.path);
        if (!c) {
            state.SkipWithError(c.message().c_str());
            return;
        }
        info = qs::analyzeModel(**c);
        benchmark::DoNotOptimize(info.parameters);
    }
    const qs::Footprint& f = info.footprint;
    auto role = [&](qs::Role r) { return f.byRole[size_t(r)]; };
    state.counters["embedding_pct"] = percent(role(qs::Role::Embedding), f.total);
    state.counters["head_pct"] = percent(role(qs::Role::Head), f.total);
    state.counters["body_pct"] = percent(f.body(), f.total);
    state.counters["norm_pct"] = percent(role(qs::Role::Norm), f.total);
    state.counters["stored_GB"] = double(f.total) / 1e9;
    state.counters["params_M"] = double(info.parameters) / 1e6;
    state.counters["synth_s"] = s.seconds;
    state.SetLabel(info.architecture + (info.tie ? ", tied: " + info.tie->describe() : ", untied"));
}

void BM_Generate(benchmark::State& state, const std::string& shape) {
    const Synthesized& s = synthesized(shape);
    if (!s.error.empty()) {
        state.SkipWithError(s.error.c_str());
        return;
    }
    for (auto _ : state) {
        resetPeakRss();
        const qs::SynthShape& sh = *qs::findSynthShape(shape);
        auto c = qs::openCheckpoint(s.path);
        if (!c) {
            state.SkipWithError(c.message().c_str());
            return;
        }
        const uint64_t floatBytes = qs::analyzeModel(**c).parameters * 4;
        c.value().reset();
        const char* budgetEnv = std::getenv("QS_BENCH_FLOAT_GB");
        const double budgetGB = budgetEnv ? std::atof(budgetEnv) : 6.0;
        qs::InferenceLoadOptions o;
        o.weights.maxContext = 64;
        const bool rows = double(floatBytes) / 1e9 > budgetGB;
        o.weights.quantized = rows ? qs::WeightLoadOptions::Quantized::PerRowBlock
                                   : qs::WeightLoadOptions::Quantized::DequantizeOnce;
        tbb::task_arena arena(threads());
        const auto t0 = std::chrono::steady_clock::now();
        auto m = qs::openInferenceModel(s.path, o, &arena);
        if (!m) {
            state.SkipWithError(("engine refused: " + m.message()).c_str());
            return;
        }
        const double loadSeconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        qs::Transformer model(m->weights, &arena);
        std::vector<int> prompt;
        if (sh.addBos && sh.bos >= 0) prompt.push_back(sh.bos);
        while (prompt.size() < 8) prompt.push_back(int((prompt.size() * 2654435761u) % uint64_t(sh.vocab)));
        qs::GenerateOptions g;
        g.maxNewTokens = 16;
        g.sampling.temperature = 0;
        g.stopAtBos = g.stopAtEos = false;
        auto r = qs::generate(model, *m->tokenizer, prompt, g);
        if (!r) {
            state.SkipWithError(r.message().c_str());
            return;
        }
        // 16 sampled tokens take 15 forward passes after the prompt (the last token is never fed).
        const double decodeSteps = double(r->tokens.size()) - 1;
        state.counters["load_s"] = loadSeconds;
        state.counters["prompt_s"] = r->promptSeconds;
        state.counters["tok_s"] = r->generateSeconds > 0 ? decodeSteps / r->generateSeconds : 0;
        state.counters["tokens"] = double(r->tokens.size());
        state.counters["peak_rss_MB"] = peakRssMB();
        state.counters["threads"] = threads();
        state.SetLabel(std::string(rows ? "bf16 stored, per-row-block" : "float copy") + ", " +
                       m->weights->embedding->describe());
    }
}

const bool kRegistered = [] {
    for (const char* shape : kShapes) {
        benchmark::RegisterBenchmark((std::string("BM_Open/") + shape).c_str(), BM_Open, std::string(shape))
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark((std::string("BM_Generate/") + shape).c_str(), BM_Generate,
                                     std::string(shape))
            ->Unit(benchmark::kSecond)
            ->Iterations(1);
    }
    return true;
}();

}  // namespace

BENCHMARK_MAIN();
