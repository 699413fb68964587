// SPDX-License-Identifier: GPL-3.0-or-later
// The statistics passes, single thread, per SIMD level (levels the CPU cannot run are not registered):
//   error/<level>       computeErrorStats over one 4096 x 4096 tensor and its q4_0-like rounding (clip block
//                       32); bytes_per_second = GB/s of original + dequantized floats read
//   weights/<level>     range + moment + threshold passes (computeWeightStats without histogram); GB/s of floats
//   histogram/<level>   fillHistogram with 128 bins; GB/s of floats
//   fused/<scheme>      quantizeWithErrorStats (quantize, dequantize and compare per chunk; current level);
//                       GB/s of original floats
//   build: cmake --build build --target bench_stats
//   run:   build/tests/bench_stats [--benchmark_filter=error]
#include <benchmark/benchmark.h>

#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/quant/apply_map.h"
#include "core/quant/quantize_parallel.h"
#include "core/stats/error_stats.h"
#include "core/stats/histogram.h"
#include "core/stats/stat_passes.h"
#include "core/stats/weight_stats.h"

using namespace qs;

namespace {

constexpr int64_t kRows = 4096, kCols = 4096;

struct Data {
    std::vector<float> w, q;
};

const Data& data() {
    static const Data d = [] {
        Data out;
        std::mt19937 rng(1);
        std::normal_distribution<float> nd(0.0f, 0.02f);
        out.w.resize(size_t(kRows * kCols));
        for (float& x : out.w) x = nd(rng);
        out.q.resize(out.w.size());
        for (size_t b = 0; b < out.w.size(); b += 32) {
            float amax = 0;
            for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(out.w[i]));
            const float s = amax / 8.0f;
            for (size_t i = b; i < b + 32; ++i) out.q[i] = s > 0 ? std::clamp(std::round(out.w[i] / s), -8.0f, 7.0f) * s : 0;
        }
        return out;
    }();
    return d;
}

// One worker: the passes are measured per thread (they scale over threads through fixed_reduce).
tbb::task_arena* singleThread() {
    static tbb::task_arena arena(1);
    return &arena;
}

void errorPass(benchmark::State& state, cpu::SimdLevel level) {
    const Data& d = data();
    ErrorStatsOptions o;
    o.clipBlock = 32;
    o.simdLevel = level;
    for (auto _ : state)
        benchmark::DoNotOptimize(computeErrorStats(d.w, d.q, kRows, kCols, singleThread(), o));
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(2 * d.w.size() * sizeof(float)));
}

void weightPasses(benchmark::State& state, cpu::SimdLevel level) {
    const Data& d = data();
    for (auto _ : state) {
        const auto r = stats::rangePass(d.w, singleThread(), level);
        const double mean = r.sum / double(r.count);
        const auto m = stats::momentPass(d.w, mean, singleThread(), level);
        std::vector<uint64_t> counts(1, 0);
        stats::countAbovePass(d.w, {6.0 * std::sqrt(m.m2 / double(r.count))}, counts, singleThread(), level);
        benchmark::DoNotOptimize(counts.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(d.w.size() * sizeof(float)));
}

void histogramPass(benchmark::State& state, cpu::SimdLevel level) {
    const Data& d = data();
    for (auto _ : state) {
        Histogram h = makeHistogram(-0.1, 0.1, 128);
        fillHistogram(h, d.w, singleThread(), level);
        benchmark::DoNotOptimize(h.counts.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(d.w.size() * sizeof(float)));
}

void fused(benchmark::State& state, std::string schemeName) {
    const Data& d = data();
    auto scheme = findScheme(schemeName);
    ErrorStatsOptions o;
    o.clipBlock = clipBlockOf(*scheme);
    for (auto _ : state) {
        auto r = quantizeWithErrorStats(*scheme, d.w, kRows, kCols, "bench", o, singleThread(), nullptr);
        if (!r) state.SkipWithError(r.message().c_str());
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(d.w.size() * sizeof(float)));
    state.SetLabel(std::string(cpu::simdLevelName(cpu::simdLevel())));
}

void registerAll() {
    for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512}) {
        if (!cpu::canRun(level)) continue;
        const std::string name(cpu::simdLevelName(level));
        benchmark::RegisterBenchmark(("error/" + name).c_str(), errorPass, level)->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("weights/" + name).c_str(), weightPasses, level)->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("histogram/" + name).c_str(), histogramPass, level)->Unit(benchmark::kMillisecond);
    }
    for (const char* s : {"q8_0", "q4_0", "q4_K"})
        benchmark::RegisterBenchmark((std::string("fused/") + s).c_str(), fused, std::string(s))
            ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
    registerAll();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
