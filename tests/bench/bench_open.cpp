// SPDX-License-Identifier: GPL-3.0-or-later
// Opening a Llama-3-8B-shaped checkpoint: openCheckpoint + analyzeModel on a bf16 safetensors model sharded
// like the real one (4 shards + model.safetensors.index.json + config.json; 32 layers, dim 4096, hidden 14336,
// 32 heads, 8 KV heads, vocab 128256, untied lm_head; ~16 GB). The shards are sparse files: only the headers
// and the first 4 KiB of every tensor (distinct bytes, so tie detection exits early as on real weights) are
// written. If the file system reports less free space than the apparent size, the layer count is scaled down
// (reported in the label). Reports wall time per open and peak RSS (counter "peak_rss_MB").
//
// Run: ./tests/bench_open  [QS_BENCH_DIR=/path, default $TMPDIR or /tmp]
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"

namespace {

namespace fs = std::filesystem;

struct Spec {
    int64_t layers = 32, dim = 4096, hidden = 14336, heads = 32, kvHeads = 8, vocab = 128256;
};

struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    uint64_t bytes() const {
        uint64_t n = 2;  // bf16
        for (int64_t d : shape) n *= uint64_t(d);
        return n;
    }
};

std::vector<Tensor> tensorsOf(const Spec& s) {
    const int64_t hd = s.dim / s.heads;
    std::vector<Tensor> t;
    t.push_back({"model.embed_tokens.weight", {s.vocab, s.dim}});
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        t.push_back({p + "input_layernorm.weight", {s.dim}});
        t.push_back({p + "self_attn.q_proj.weight", {s.heads * hd, s.dim}});
        t.push_back({p + "self_attn.k_proj.weight", {s.kvHeads * hd, s.dim}});
        t.push_back({p + "self_attn.v_proj.weight", {s.kvHeads * hd, s.dim}});
        t.push_back({p + "self_attn.o_proj.weight", {s.dim, s.heads * hd}});
        t.push_back({p + "post_attention_layernorm.weight", {s.dim}});
        t.push_back({p + "mlp.gate_proj.weight", {s.hidden, s.dim}});
        t.push_back({p + "mlp.up_proj.weight", {s.hidden, s.dim}});
        t.push_back({p + "mlp.down_proj.weight", {s.dim, s.hidden}});
    }
    t.push_back({"model.norm.weight", {s.dim}});
    t.push_back({"lm_head.weight", {s.vocab, s.dim}});
    return t;
}

void writeShard(const std::string& path, const std::vector<Tensor>& ts, size_t firstIndex) {
    nlohmann::ordered_json h;
    h["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    for (const Tensor& t : ts) {
        h[t.name] = {{"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes()}}};
        off += t.bytes();
    }
    std::string text = h.dump();
    while (text.size() % 8) text += ' ';
    const uint64_t n = text.size();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) std::abort();
    if (::write(fd, &n, 8) != 8 || ::write(fd, text.data(), text.size()) != ssize_t(text.size())) std::abort();
    const uint64_t dataStart = 8 + n;
    if (::ftruncate(fd, off_t(dataStart + off)) != 0) std::abort();  // sparse: no data blocks allocated
    // A few distinct bytes at the start of each tensor, as real weights have.
    std::vector<uint8_t> head(4096);
    off = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
        for (size_t k = 0; k < head.size(); ++k) head[k] = uint8_t((firstIndex + i) * 131 + k * 7);
        if (::pwrite(fd, head.data(), std::min<uint64_t>(head.size(), ts[i].bytes()), off_t(dataStart + off)) < 0)
            std::abort();
        off += ts[i].bytes();
    }
    ::close(fd);
}

struct Fixture {
    std::string dir;
    Spec spec;
    uint64_t apparentBytes = 0;
};

const Fixture& fixture() {
    static Fixture f = [] {
        Fixture fx;
        const char* base = std::getenv("QS_BENCH_DIR");
        if (!base) base = std::getenv("TMPDIR");
        fx.dir = std::string(base ? base : "/tmp") + "/qs_bench_llama3_8b";
        fs::remove_all(fx.dir);
        fs::create_directories(fx.dir);
        std::vector<Tensor> all = tensorsOf(fx.spec);
        for (const auto& t : all) fx.apparentBytes += t.bytes();
        struct statvfs sv {};
        if (::statvfs(fx.dir.c_str(), &sv) == 0) {
            const uint64_t freeBytes = uint64_t(sv.f_bavail) * sv.f_frsize;
            while (fx.apparentBytes > freeBytes && fx.spec.layers > 1) {  // scale down when short of space
                fx.spec.layers /= 2;
                all = tensorsOf(fx.spec);
                fx.apparentBytes = 0;
                for (const auto& t : all) fx.apparentBytes += t.bytes();
            }
        }
        // Shard like transformers' save_pretrained: fill each shard up to ~5 GB.
        constexpr uint64_t kShardLimit = 5'000'000'000ull;
        std::vector<std::vector<Tensor>> shards(1);
        uint64_t cur = 0;
        for (const Tensor& t : all) {
            if (cur + t.bytes() > kShardLimit && !shards.back().empty()) {
                shards.emplace_back();
                cur = 0;
            }
            shards.back().push_back(t);
            cur += t.bytes();
        }
        nlohmann::ordered_json weightMap;
        size_t index = 0;
        for (size_t s = 0; s < shards.size(); ++s) {
            char name[64];
            std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
            writeShard(fx.dir + "/" + name, shards[s], index);
            index += shards[s].size();
            for (const auto& t : shards[s]) weightMap[t.name] = name;
        }
        nlohmann::ordered_json idx = {{"metadata", {{"total_size", fx.apparentBytes}}}, {"weight_map", weightMap}};
        std::ofstream(fx.dir + "/model.safetensors.index.json") << idx.dump(2);
        nlohmann::ordered_json cfg = {
            {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", fx.spec.dim},
            {"intermediate_size", fx.spec.hidden}, {"num_hidden_layers", fx.spec.layers},
            {"num_attention_heads", fx.spec.heads}, {"num_key_value_heads", fx.spec.kvHeads},
            {"vocab_size", fx.spec.vocab}, {"max_position_embeddings", 8192}, {"rms_norm_eps", 1e-5},
            {"rope_theta", 500000.0}, {"tie_word_embeddings", false}, {"torch_dtype", "bfloat16"},
            {"bos_token_id", 128000}, {"eos_token_id", 128001}};
        std::ofstream(fx.dir + "/config.json") << cfg.dump(2);
        static const std::string cleanupDir = fx.dir;
        std::atexit([] { std::error_code ec; fs::remove_all(cleanupDir, ec); });
        return fx;
    }();
    return f;
}

double peakRssMB() {
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void setCounters(benchmark::State& state, const Fixture& fx, size_t tensors) {
    state.counters["tensors"] = double(tensors);
    state.counters["layers"] = double(fx.spec.layers);
    state.counters["apparent_GB"] = double(fx.apparentBytes) / 1e9;
    state.counters["peak_rss_MB"] = peakRssMB();
    if (fx.spec.layers != 32) state.SetLabel("scaled down to " + std::to_string(fx.spec.layers) + " layers (disk)");
}

void BM_OpenCheckpoint(benchmark::State& state) {
    const Fixture& fx = fixture();
    size_t tensors = 0;
    for (auto _ : state) {
        auto r = qs::openCheckpoint(fx.dir);
        if (!r) {
            state.SkipWithError(r.message().c_str());
            return;
        }
        tensors = r.value()->tensors.size();
        benchmark::DoNotOptimize(r.value()->tensors.data());
    }
    setCounters(state, fx, tensors);
}
BENCHMARK(BM_OpenCheckpoint)->Unit(benchmark::kMillisecond);

void BM_OpenAndAnalyze(benchmark::State& state) {
    const Fixture& fx = fixture();
    size_t tensors = 0;
    for (auto _ : state) {
        auto r = qs::openCheckpoint(fx.dir);
        if (!r) {
            state.SkipWithError(r.message().c_str());
            return;
        }
        qs::ModelInfo info = qs::analyzeModel(*r.value());
        if (info.hp.layers != fx.spec.layers || info.tie.has_value()) {
            state.SkipWithError("analyzeModel did not recognise the Llama-3 layout");
            return;
        }
        tensors = r.value()->tensors.size();
        benchmark::DoNotOptimize(info.parameters);
    }
    setCounters(state, fx, tensors);
}
BENCHMARK(BM_OpenAndAnalyze)->Unit(benchmark::kMillisecond);

// A GGUF with a Llama-3-sized vocabulary (128,256 tokens, scores and token types): the metadata path of the
// GGUF reader, which turns every token into a JSON string.
const std::string& ggufVocabFile() {
    static const std::string path = [] {
        const char* base = std::getenv("QS_BENCH_DIR");
        if (!base) base = std::getenv("TMPDIR");
        const std::string p = std::string(base ? base : "/tmp") + "/qs_bench_vocab128k.gguf";
        std::string b;
        auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
        auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
        auto str = [&](const std::string& v) { u64(v.size()); b += v; };
        constexpr uint64_t kVocab = 128256;
        b += "GGUF";
        u32(3), u64(1), u64(4);
        str("general.architecture"), u32(8), str("llama");
        str("tokenizer.ggml.tokens"), u32(9), u32(8), u64(kVocab);
        for (uint64_t i = 0; i < kVocab; ++i) str("\xC4\xA0token" + std::to_string(i));
        str("tokenizer.ggml.scores"), u32(9), u32(6), u64(kVocab);
        for (uint64_t i = 0; i < kVocab; ++i) u32(0);
        str("tokenizer.ggml.token_type"), u32(9), u32(5), u64(kVocab);
        for (uint64_t i = 0; i < kVocab; ++i) u32(1);
        str("token_embd.weight"), u32(2), u64(32), u64(8), u32(0), u64(0);
        while (b.size() % 32) b += '\0';
        b += std::string(32 * 8 * 4, '\0');
        std::ofstream(p, std::ios::binary) << b;
        static const std::string cleanup = p;
        std::atexit([] { std::error_code ec; fs::remove(cleanup, ec); });
        return p;
    }();
    return path;
}

void BM_OpenGgufVocab128K(benchmark::State& state) {
    const std::string& path = ggufVocabFile();
    for (auto _ : state) {
        auto r = qs::openCheckpoint(path);
        if (!r || r.value()->metadata["tokenizer.ggml.tokens"].size() != 128256) {
            state.SkipWithError(r ? "token array not read" : r.message().c_str());
            return;
        }
        benchmark::DoNotOptimize(r.value()->metadata.size());
    }
    state.counters["peak_rss_MB"] = peakRssMB();
}
BENCHMARK(BM_OpenGgufVocab128K)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
