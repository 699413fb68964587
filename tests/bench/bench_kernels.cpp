// SPDX-License-Identifier: GPL-3.0-or-later
// Native matmul kernels per weight type and SIMD level (PackedLinearWeights, single thread): decode (one
// activation row; bytes_per_second = GB/s of weights streamed) and prompt tiles (32 rows; items = dot products),
// and the float32 GEMM (kernels::gemmF32) per path.
// The matrix (4096 x 4096) is larger than the caches. Levels the CPU cannot run are not registered.
//   build: cmake --build build --target bench_kernels
//   run:   build/tests/bench_kernels [--benchmark_filter=q4_0]
//   also:  build/tests/bench_kernels --write-gguf DIR [TYPE...]   writes random 110M-shaped Llama GGUFs (default
//          F32, Q8_0, Q4_0, Q4_K; e.g. IQ4_XS; fixed seed) for `quantscope-cli bench DIR/llama110M-Q4_0.gguf --tokenizer <llama2 tokenizer.model>`
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_quantize.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/infer/float_gemm.h"
#include "core/infer/linear_weights.h"
#include "core/tensor/half.h"
#include "random_llama_gguf.h"

using namespace qs;

namespace {

constexpr int64_t kRows = 4096, kCols = 4096;

std::vector<std::byte> packedMatrix(DType t) {
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 0.02f);
    std::vector<float> v(size_t(kRows * kCols));
    for (float& x : v) x = d(rng);
    std::vector<std::byte> b(size_t(*dtypeBytes(t, uint64_t(v.size()))));
    if (t == DType::F16 || t == DType::BF16) {
        auto* h = reinterpret_cast<uint16_t*>(b.data());
        for (size_t i = 0; i < v.size(); ++i) h[i] = t == DType::F16 ? floatToHalf(v[i]) : floatToBf16(v[i]);
    } else if (!ggml::quantize(t, v.data(), b.data(), int64_t(v.size()))) {
        // No quantizer (iq4_xs): random codes and scales, a fixed small fp16 scale; the speed does not depend
        // on the values.
        for (size_t i = 0; i < b.size(); ++i) b[i] = std::byte(rng() & 0xFF);
        auto* blocks = reinterpret_cast<ggml::BlockIq4Xs*>(b.data());
        if (t == DType::IQ4_XS)
            for (size_t i = 0; i < b.size() / sizeof(ggml::BlockIq4Xs); ++i) blocks[i].d = floatToHalf(0.001f);
    }
    return b;
}

void run(benchmark::State& state, DType t, cpu::SimdLevel level, int64_t batch) {
    static std::map<DType, std::vector<std::byte>> cache;
    auto& bytes = cache[t];
    if (bytes.empty()) bytes = packedMatrix(t);
    const PackedLinearWeights w(kRows, kCols, t, bytes, nullptr, 0, level);
    std::vector<float> x(size_t(batch * kCols), 0.5f), y(size_t(batch * kRows));
    for (auto _ : state) {
        matmul(w, x.data(), batch, y.data(), nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
    state.SetItemsProcessed(int64_t(state.iterations()) * kRows * batch);
    state.SetLabel(w.describe());
}

// The float32 GEMM (kernels::gemmF32) on the same 4096 x 4096 matrix.
void runF32(benchmark::State& state, cpu::SimdLevel level, int64_t batch) {
    static std::vector<float> w;
    if (w.empty()) {
        std::mt19937 rng(1);
        std::normal_distribution<float> d(0.0f, 0.02f);
        w.resize(size_t(kRows * kCols));
        for (float& v : w) v = d(rng);
    }
    std::vector<float> x(size_t(batch * kCols), 0.5f), y(size_t(batch * kRows));
    for (auto _ : state) {
        kernels::gemmF32(w.data(), kCols, kRows, x.data(), batch, kCols, y.data(), kRows, level);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size() * sizeof(float)));
    state.SetItemsProcessed(int64_t(state.iterations()) * kRows * batch);
    state.SetLabel(std::string("gemmF32 ") + kernels::gemmF32PathName(level));
}

// Issue 9: the per-pair prompt tiles (DotTileFn, the path before repacking: 4-row x 4-column tiles of the
// eight-lane contract over 64-column tiles) against the repacked 16-row GEMM (PackedLinearWeights at the same
// level), q8_0/q4_0 and (issue 9, K-quants) q4_K/q6_K against their per-row dots, [rows, cols] = 768 x 768 and 2048 x 768 with 128 columns; and decode (one column) with the
// per-pair row kernel (DotRowsFn) against the repacked GEMM on 4096 x 4096. bytes_per_second: weight bytes.
std::vector<std::byte> randomMatrix(DType t, int64_t rows, int64_t cols) {
    std::mt19937 rng(2);
    std::normal_distribution<float> d(0.0f, 0.02f);
    std::vector<float> v(size_t(rows * cols));
    for (float& x : v) x = d(rng);
    std::vector<std::byte> b(size_t(*dtypeBytes(t, uint64_t(v.size()))));
    ggml::quantize(t, v.data(), b.data(), int64_t(v.size()));
    return b;
}

void runPairTiles(benchmark::State& state, DType t, int64_t rows, int64_t cols, int64_t batch) {
    const auto bytes = randomMatrix(t, rows, cols);
    const ggml::DotKernel* k = ggml::findDotKernel(t, cpu::SimdLevel::Avx512Vnni);
    const size_t rowBytes = bytes.size() / size_t(rows), actRow = ggml::activationBytes(k->act(), cols);
    std::vector<float> x(size_t(batch * cols), 0.5f), y(size_t(batch * rows));
    for (int64_t i = 0; i < batch * cols; ++i) x[size_t(i)] = float(i % 97) * 0.01f - 0.4f;
    std::vector<std::byte> act(size_t(batch) * actRow);
    for (auto _ : state) {
        for (int64_t b = 0; b < batch; ++b)
            ggml::quantizeActivations(k->act(), x.data() + b * cols, act.data() + size_t(b) * actRow, cols);
        if (batch == 1) {
            k->rows(cols, bytes.data(), rowBytes, rows, act.data(), y.data());
        } else {
            if (!k->tile) {  // the K-quants: 4 tokens per weight row (DotFn), as tiledRowDots runs them
                float out[4];
                for (int64_t b0 = 0; b0 < batch; b0 += 64)
                    for (int64_t r = 0; r < rows; ++r)
                        for (int64_t b = b0; b < std::min(batch, b0 + 64); b += 4) {
                            const int nc = int(std::min<int64_t>(4, batch - b));
                            k->dot(cols, bytes.data() + size_t(r) * rowBytes, act.data() + size_t(b) * actRow, actRow, nc, out);
                            for (int c = 0; c < nc; ++c) y[size_t((b + c) * rows + r)] = out[c];
                        }
            } else
            for (int64_t b0 = 0; b0 < batch; b0 += 64)
                for (int64_t r = 0; r + k->tileRows <= rows; r += k->tileRows)
                    for (int64_t b = b0; b < std::min(batch, b0 + 64); b += 4)
                        k->tile(cols, bytes.data() + size_t(r) * rowBytes, rowBytes, act.data() + size_t(b) * actRow,
                                actRow, int(std::min<int64_t>(4, batch - b)), y.data() + b * rows + r, size_t(rows));
        }
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
    state.SetItemsProcessed(int64_t(state.iterations()) * rows * batch);
    state.SetLabel(std::string(batch == 1 ? "per-pair rows " : "per-pair tiles ") + std::string(cpu::simdLevelName(k->level)));
}

void runRepacked(benchmark::State& state, DType t, int64_t rows, int64_t cols, int64_t batch) {
    const auto bytes = randomMatrix(t, rows, cols);
    const PackedLinearWeights w(rows, cols, t, bytes, nullptr, 0, cpu::SimdLevel::Avx512Vnni);
    std::vector<float> x(size_t(batch * cols), 0.5f), y(size_t(batch * rows));
    for (int64_t i = 0; i < batch * cols; ++i) x[size_t(i)] = float(i % 97) * 0.01f - 0.4f;
    for (auto _ : state) {
        matmul(w, x.data(), batch, y.data(), nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
    state.SetItemsProcessed(int64_t(state.iterations()) * rows * batch);
    state.SetLabel(w.describe());
}

void registerGemm() {
    if (!cpu::canRun(cpu::SimdLevel::Avx512Vnni)) return;
    struct Shape {
        int64_t rows, cols, batch;
    };
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K})
        for (const Shape sh : {Shape{768, 768, 128}, Shape{2048, 768, 128}, Shape{4096, 4096, 1}, Shape{768, 768, 1}}) {
            const std::string base = "Gemm/" + std::string(dtypeName(t)) + "/" + std::to_string(sh.rows) + "x" +
                                     std::to_string(sh.cols) + "/cols" + std::to_string(sh.batch);
            benchmark::RegisterBenchmark((base + "/per_pair").c_str(), [=](benchmark::State& s) {
                runPairTiles(s, t, sh.rows, sh.cols, sh.batch);
            })->Unit(benchmark::kMillisecond);
            benchmark::RegisterBenchmark((base + "/repacked").c_str(), [=](benchmark::State& s) {
                runRepacked(s, t, sh.rows, sh.cols, sh.batch);
            })->Unit(benchmark::kMillisecond);
        }
}

// f16/bf16 prompts (128 tokens, single thread): the per-pair dots as the prompt ran them before the half GEMM
// (DotFn, 4 tokens per call over 64-token tiles: tiledRowDots) against PackedLinearWeights (widened row blocks
// and core/infer/half_gemm.h), and the float32 GEMM on the same shape for comparison; items = dot products.
std::vector<float> randomFloats(int64_t count) {
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 0.02f);
    std::vector<float> v(static_cast<size_t>(count));
    for (float& x : v) x = d(rng);
    return v;
}

std::vector<std::byte> halfMatrix(DType t, int64_t rows, int64_t cols) {
    const auto v = randomFloats(rows * cols);
    std::vector<std::byte> b(v.size() * 2);
    auto* h = reinterpret_cast<uint16_t*>(b.data());
    for (size_t i = 0; i < v.size(); ++i) h[i] = t == DType::F16 ? floatToHalf(v[i]) : floatToBf16(v[i]);
    return b;
}

void runHalfPairs(benchmark::State& state, DType t, int64_t rows, int64_t cols, int64_t batch) {
    const auto bytes = halfMatrix(t, rows, cols);
    const ggml::DotKernel* k = ggml::findDotKernel(t, cpu::simdLevel());
    const size_t rowBytes = size_t(cols) * 2, actRow = ggml::activationBytes(k->act(), cols);
    const auto x = randomFloats(batch * cols);
    std::vector<float> y(size_t(batch * rows));
    std::vector<std::byte> act(size_t(batch) * actRow);
    float out[4];
    for (auto _ : state) {
        for (int64_t b = 0; b < batch; ++b)
            ggml::quantizeActivations(k->act(), x.data() + b * cols, act.data() + size_t(b) * actRow, cols);
        for (int64_t b0 = 0; b0 < batch; b0 += 64)
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t b = b0; b < std::min(batch, b0 + 64); b += 4) {
                    const int nc = int(std::min<int64_t>(4, batch - b));
                    k->dot(cols, bytes.data() + size_t(r) * rowBytes, act.data() + size_t(b) * actRow, actRow, nc, out);
                    for (int c = 0; c < nc; ++c) y[size_t((b + c) * rows + r)] = out[c];
                }
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
    state.SetItemsProcessed(int64_t(state.iterations()) * rows * batch);
    state.SetLabel(std::string("per-pair dots ") + std::string(cpu::simdLevelName(k->level)));
}

void runHalfGemm(benchmark::State& state, DType t, int64_t rows, int64_t cols, int64_t batch) {
    const auto bytes = halfMatrix(t, rows, cols);
    const PackedLinearWeights w(rows, cols, t, bytes, nullptr, 0);
    const auto x = randomFloats(batch * cols);
    std::vector<float> y(size_t(batch * rows));
    for (auto _ : state) {
        matmul(w, x.data(), batch, y.data(), nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes.size()));
    state.SetItemsProcessed(int64_t(state.iterations()) * rows * batch);
    state.SetLabel(w.describe() + ", prompt: half GEMM");
}

void runF32Shape(benchmark::State& state, int64_t rows, int64_t cols, int64_t batch) {
    const auto w = randomFloats(rows * cols), x = randomFloats(batch * cols);
    std::vector<float> y(size_t(batch * rows));
    for (auto _ : state) {
        kernels::gemmF32(w.data(), cols, rows, x.data(), batch, cols, y.data(), rows);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size() * sizeof(float)));
    state.SetItemsProcessed(int64_t(state.iterations()) * rows * batch);
    state.SetLabel(std::string("gemmF32 ") + kernels::gemmF32PathName(cpu::simdLevel()));
}

void registerHalfGemm() {
    struct Shape {
        int64_t rows, cols;
    };
    for (const Shape sh : {Shape{768, 768}, Shape{2048, 768}, Shape{768, 2048}}) {
        const std::string shape = std::to_string(sh.rows) + "x" + std::to_string(sh.cols) + "/cols128";
        for (DType t : {DType::F16, DType::BF16}) {
            const std::string base = "HalfGemm/" + std::string(dtypeName(t)) + "/" + shape;
            benchmark::RegisterBenchmark((base + "/per_pair").c_str(), [=](benchmark::State& s) {
                runHalfPairs(s, t, sh.rows, sh.cols, 128);
            })->Unit(benchmark::kMillisecond);
            benchmark::RegisterBenchmark((base + "/gemm").c_str(), [=](benchmark::State& s) {
                runHalfGemm(s, t, sh.rows, sh.cols, 128);
            })->Unit(benchmark::kMillisecond);
        }
        benchmark::RegisterBenchmark(("HalfGemm/F32/" + shape + "/gemmF32").c_str(), [=](benchmark::State& s) {
            runF32Shape(s, sh.rows, sh.cols, 128);
        })->Unit(benchmark::kMillisecond);
    }
}

void registerAll() {
    registerGemm();
    registerHalfGemm();
    for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512}) {
        if (!cpu::canRun(level)) continue;
        for (int64_t batch : {int64_t(1), int64_t(32)}) {
            const std::string name = "F32/" + std::string(cpu::simdLevelName(level)) + (batch == 1 ? "/decode" : "/prompt32");
            benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { runF32(s, level, batch); })
                ->Unit(benchmark::kMillisecond);
        }
    }
    const DType types[] = {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                           DType::IQ4_NL, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};
    for (DType t : types)
        for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512Vnni}) {
            if (!cpu::canRun(level)) continue;
            for (int64_t batch : {int64_t(1), int64_t(32)}) {
                const std::string name = std::string(dtypeName(t)) + "/" + std::string(cpu::simdLevelName(level)) +
                                         (batch == 1 ? "/decode" : "/prompt32");
                benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { run(s, t, level, batch); })
                    ->Unit(benchmark::kMillisecond);
            }
        }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::strcmp(argv[1], "--write-gguf") == 0) {
        const std::string dir = argv[2];
        std::vector<std::pair<DType, std::string>> types = {
            {DType::F32, "F32"}, {DType::Q8_0, "Q8_0"}, {DType::Q4_0, "Q4_0"}, {DType::Q4_K, "Q4_K"}};
        if (argc > 3) types.clear();
        for (int i = 3; i < argc; ++i) {
            std::optional<DType> t;
            for (int k = 0; k < int(DType::Count); ++k)
                if (dtypeName(DType(k)) == argv[i]) t = DType(k);
            if (!t) {
                std::fprintf(stderr, "unknown type %s\n", argv[i]);
                return 1;
            }
            types.emplace_back(*t, argv[i]);
        }
        for (const auto& [t, name] : types) {
            const std::string path = dir + "/llama110M-" + name + ".gguf";
            if (!qsbench::writeRandomLlamaGguf(path, qsbench::kShape110M, t, 110)) {
                std::fprintf(stderr, "cannot write %s\n", path.c_str());
                return 1;
            }
            std::printf("%s\n", path.c_str());
        }
        return 0;
    }
    registerAll();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
