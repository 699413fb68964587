// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli synth --shape NAME --format gguf|safetensors|llama2c [--dtype f32|bf16] [--seed N]
//                      [--threads N] [--quiet] OUT
// Random-weight checkpoints with real shapes, for benchmarks (see core/model/synth.h).
#include <chrono>
#include <cstdio>
#include <thread>

#include <tbb/task_arena.h>

#include "app/cli/shared_options.h"
#include "app/cli/commands.h"
#include "core/model/synth.h"

namespace qscli {

namespace {
std::string description() {
    std::string text =
        "Writes a random-weight checkpoint with a real model's shapes (vocabulary included) and a\n"
        "synthetic tokenizer of the same size. OUT is a .gguf file, or a folder for safetensors\n"
        "(model.safetensors, config.json, tokenizer.json) and llama2c (model.bin, tokenizer.bin).\n"
        "Same shape and seed give the same model in every format. Shapes:";
    char line[256];
    for (const qs::SynthShape& s : qs::synthShapes()) {
        std::snprintf(line, sizeof line, "\n  %-14s %s", s.name.c_str(), s.source.c_str());
        text += line;
    }
    return text;
}
}  // namespace

int runSynth(int argc, char** argv, int first) {
    CommandLine cl("synth", description());
    cl.positionals("OUT", "the .gguf file or the folder to write");
    std::optional<std::string> shapeArg, formatArg, dtypeArg;
    std::optional<long long> seedArg, threadsArg;
    bool quiet = false;
    addText(cl.app(), "--shape", shapeArg, "NAME", "the model shape (listed above)");
    addText(cl.app(), "--format", formatArg, "gguf|safetensors|llama2c", "the checkpoint format");
    addText(cl.app(), "--dtype", dtypeArg, "f32|bf16", "the weights' type (default f32)");
    addInteger(cl.app(), "--seed", seedArg, "N", "random seed, >= 0 (default 1)");
    addThreadsOption(cl.app(), threadsArg);
    addFlag(cl.app(), "--quiet", quiet, "no progress on stderr");
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (cl.positional().size() != 1) return fail("synth", "expects exactly one OUT path", kExitUsage);
    const std::string shapeName = shapeArg.value_or("");
    const qs::SynthShape* shape = qs::findSynthShape(shapeName);
    if (!shape) {
        std::string names;
        for (const auto& s : qs::synthShapes()) names += (names.empty() ? "" : ", ") + s.name;
        return fail("synth",
                    shapeName.empty() ? "--shape is required (" + names + ")"
                                      : "unknown shape '" + shapeName + "' (known: " + names + ")",
                    kExitUsage);
    }
    qs::SynthOptions o;
    const std::string format = formatArg.value_or("");
    if (format == "gguf")
        o.format = qs::SynthFormat::Gguf;
    else if (format == "safetensors")
        o.format = qs::SynthFormat::Safetensors;
    else if (format == "llama2c")
        o.format = qs::SynthFormat::Llama2c;
    else
        return fail("synth", "--format must be gguf, safetensors or llama2c", kExitUsage);
    const std::string dtype = dtypeArg.value_or("f32");
    if (dtype == "f32")
        o.dtype = qs::DType::F32;
    else if (dtype == "bf16")
        o.dtype = qs::DType::BF16;
    else
        return fail("synth", "--dtype must be f32 or bf16", kExitUsage);
    const long long seed = seedArg.value_or(1);
    if (seed < 0) return fail("synth", "--seed must be non-negative", kExitUsage);
    int threads = 1;
    if (int rc = resolveThreads("synth", threadsArg, threads); rc != kExitOk) return rc;
    o.seed = uint64_t(seed);

    tbb::task_arena arena{threads};
    int lastPercent = -1;
    auto progress = [&](double f, std::string_view) {
        const int p = int(f * 100);
        if (!quiet && p / 10 != lastPercent / 10) std::fprintf(stderr, "\rquantscope-cli synth: %3d%%", p);
        lastPercent = p;
        return true;
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto r = qs::synthesizeCheckpoint(*shape, o, cl.positional()[0], &arena, progress);
    if (!quiet && lastPercent >= 0) std::fputc('\n', stderr);
    if (!r) return fail("synth", r.message());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: shape %s, %s, %s, seed %llu: %llu parameters, %.1f MB of weights in %.1f s\n",
                r->modelPath.c_str(), shape->name.c_str(), format.c_str(), dtype.c_str(),
                (unsigned long long)o.seed, (unsigned long long)r->parameters, double(r->tensorBytes) / 1e6,
                secs);
    return kExitOk;
}

}  // namespace qscli
