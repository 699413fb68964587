// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli generate MODEL --prompt TEXT --steps N --temperature T [--seed S] ...
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "app/cli/infer_setup.h"
#include "core/infer/generator.h"

namespace qscli {

namespace {
constexpr const char* kGenerateDescription =
    "Prints the prompt followed by the generated text, as llama2.c's run does: at most N new tokens (default\n"
    "256), stopping early at EOS or BOS. Temperature 0 is greedy; the default is 1.0. Without --seed the seed\n"
    "comes from the clock and is printed on stderr with the speed. With --map/--rule the model is quantized first.\n"
    "--json prints one object instead of the text: prompt_ids (the ids fed, BOS included), ids (the sampled ids,\n"
    "exactly N unless generation stopped early; a stop token that ended it is the last one), text (ids decoded),\n"
    "stop_reason: \"length\" (N ids), \"eos\" / \"bos\" (the model sampled EOS / BOS), \"context\" (the\n"
    "context is full), and seed. --logprobs K adds top_logprobs: for each sampled id, the K most likely tokens\n"
    "of the model's distribution at that position (softmax of the logits at temperature 1, before the sampling\n"
    "options), [{\"id\", \"piece\", \"logprob\"}] most likely first, as llama.cpp's n_probs reports them.";
}

int runGenerate(int argc, char** argv, int first) {
    CommandLine cl("generate", kGenerateDescription);
    cl.positionals("MODEL", "the model to run");
    InferenceArgs inference;
    SamplingArgs samplingArgs;
    std::optional<std::string> promptArg;
    std::optional<long long> stepsArg;
    std::optional<long long> logprobsArg;
    bool asJson = false;
    addText(cl.app(), "--prompt", promptArg, "TEXT", "the text to continue (default: empty, BOS only)");
    addStepsOption(cl.app(), stepsArg, "at most N new tokens (default 256)");
    addInteger(cl.app(), "--logprobs", logprobsArg, "K", "with --json: the K most likely tokens at each step (0..100, default 0)");
    addJsonFlag(cl.app(), asJson);
    addSamplingOptions(cl.app(), samplingArgs);
    addInferenceOptions(cl.app(), inference);
    addContextOption(cl.app(), inference);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    const long long steps = stepsArg.value_or(256);
    qs::SamplerOptions sampling;
    if (int rc = parseSampling("generate", samplingArgs, 1.0, 1.0, sampling); rc != kExitOk) return rc;
    if (steps < 0) return fail("generate", "--steps must not be negative", kExitUsage);
    const long long logprobs = logprobsArg.value_or(0);
    if (logprobs < 0 || logprobs > 100) return fail("generate", "--logprobs must be in 0..100", kExitUsage);
    if (logprobs > 0 && !asJson) return fail("generate", "--logprobs needs --json (it adds top_logprobs)", kExitUsage);

    InferenceSetup setup;
    if (int rc = openInference("generate", cl.positional(), inference, 0, setup); rc != kExitOk) return rc;
    const qs::Tokenizer& tok = *setup.model.tokenizer;
    const std::string prompt = promptArg.value_or("");
    // BOS only when the tokenizer's own settings add it (GGUF tokenizer.ggml.add_bos_token, the tokenizer.json
    // post-processor), as llama.cpp's llama_tokenize(add_special = true) does.
    std::vector<int> tokens = tok.encode(prompt, tok.addsBos());
    if (tokens.empty()) return fail("generate", "the tokenizer adds no BOS token; give a non-empty --prompt");
    if (int(tokens.size()) >= setup.weights->config.context)
        return fail("generate", "the prompt (" + std::to_string(tokens.size()) + " tokens) does not fit the context of " +
                                    std::to_string(setup.weights->config.context));

    qs::Transformer model(setup.weights, setup.arena.get());
    qs::GenerateOptions o;
    // Beyond the context the generator stops by itself (stop_reason "context"); the bound only keeps it an int.
    o.maxNewTokens = int(std::min<long long>(steps, setup.weights->config.context + 1ll));
    o.sampling = sampling;
    o.topLogprobs = int(logprobs);

    if (!asJson) {
        std::fwrite(prompt.data(), 1, prompt.size(), stdout);
        std::fflush(stdout);
    }
    auto r = qs::generate(model, tok, tokens, o, [asJson](int, std::string_view piece) {
        if (asJson) return true;
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
    });
    if (!asJson) std::fputc('\n', stdout);
    if (!r) return fail("generate", r.message());
    if (asJson) {
        std::string text;
        for (int id : r->tokens) text += tok.piece(id);
        nlohmann::json j = {{"prompt_ids", tokens}, {"ids", r->tokens}, {"text", text},
                                  {"stop_reason", std::string(qs::stopName(r->stop))}, {"seed", sampling.seed}, {"warnings", setup.warnings}};
        if (logprobs > 0) {
            nlohmann::json steps = nlohmann::json::array();
            for (const auto& top : r->topLogprobs) {
                nlohmann::json entries = nlohmann::json::array();
                for (const auto& t : top) entries.push_back({{"id", t.id}, {"piece", tok.piece(t.id)}, {"logprob", t.logprob}});
                steps.push_back(std::move(entries));
            }
            j["top_logprobs"] = std::move(steps);
        }
        // Invalid UTF-8 (a character cut by the step limit) is replaced rather than refused.
        std::puts(jsonText(j, -1).c_str());
    }
    const size_t n = r->tokens.size();
    std::fprintf(stderr, "generate: %zu prompt tokens in %.3f s, %zu tokens in %.3f s (%.1f tok/s), stop: %s, seed %llu\n",
                 tokens.size(), r->promptSeconds, n, r->generateSeconds,
                 r->generateSeconds > 0 ? double(n) / r->generateSeconds : 0.0, std::string(qs::stopName(r->stop)).c_str(),
                 (unsigned long long)sampling.seed);
    return kExitOk;
}

}  // namespace qscli
