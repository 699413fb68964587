// SPDX-License-Identifier: GPL-3.0-or-later
// Quantization throughput: MB (10^6 bytes) of float32 input per second for a representative of each
// scheme family, on 1 and 2 threads (quantizeParallel given a tbb::task_arena of that many threads).
// Input: a 4096 x 4096 N(0,1) matrix, fixed seed. The ggml figures compare with llama-quantize's F32 ->
// q8_0 / q4_0 / q4_K_M throughput on the same machine (identical bytes). Run:
//   cmake -S . -B build -DQS_BUILD_BENCHMARKS=ON && cmake --build build --target bench_quant
//   build/tests/bench_quant --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>

#include <random>
#include <vector>

#include "core/quant/quantize_parallel.h"
#include "core/quant/scheme.h"

namespace {
constexpr int64_t kRows = 4096, kCols = 4096;

const std::vector<float>& input() {
    static const std::vector<float> kX = [] {
        std::mt19937 rng(1234);
        std::normal_distribution<float> d(0.0f, 1.0f);
        std::vector<float> v(size_t(kRows * kCols));
        for (auto& x : v) x = d(rng);
        return v;
    }();
    return kX;
}

void quantize(benchmark::State& state, const char* name) {
    const auto scheme = qs::findScheme(name);
    const auto& x = input();
    tbb::task_arena arena(int(state.range(0)));
    for (auto _ : state) {
        auto q = qs::quantizeParallel(*scheme, x, kRows, kCols, "bench", &arena, nullptr);
        if (!q.ok()) state.SkipWithError(q.message().c_str());
        benchmark::DoNotOptimize(q);
    }
    const double bytes = double(x.size()) * 4.0 * double(state.iterations());
    state.counters["MB/s"] = benchmark::Counter(bytes / 1e6, benchmark::Counter::kIsRate);
}

void dequantize(benchmark::State& state, const char* name) {
    const auto scheme = qs::findScheme(name);
    const auto& x = input();
    auto q = scheme->quantize(x, kRows, kCols, "bench");
    std::vector<float> y(x.size());
    for (auto _ : state) {
        scheme->dequantize(*q, y.data());
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["MB/s"] = benchmark::Counter(double(y.size()) * 4.0 * double(state.iterations()) / 1e6,
                                               benchmark::Counter::kIsRate);
}
}  // namespace

#define QS_BENCH_QUANT(name) \
    BENCHMARK_CAPTURE(quantize, name, #name)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()

QS_BENCH_QUANT(q8_0);
QS_BENCH_QUANT(q4_0);
QS_BENCH_QUANT(q4_K);
QS_BENCH_QUANT(q6_K);
QS_BENCH_QUANT(q3_K);
QS_BENCH_QUANT(iq4_nl);
QS_BENCH_QUANT(f16);
QS_BENCH_QUANT(int8);
QS_BENCH_QUANT(int4_g128);
QS_BENCH_QUANT(int4_col);
QS_BENCH_QUANT(nf4);
QS_BENCH_QUANT(nf4_dq);
BENCHMARK_CAPTURE(dequantize, q4_K, "q4_K")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(dequantize, int4_g128, "int4_g128")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
