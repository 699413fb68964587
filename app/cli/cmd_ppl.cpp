// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli ppl MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] --text FILE [--ctx N]
//                    [--protocol llamacpp|gptq|documents] [--separator S] [--json]
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "core/io/bounded_text.h"
#include "core/io/utf8.h"
#include "app/cli/infer_setup.h"
#include "core/infer/perplexity.h"

namespace qscli {

namespace {
constexpr const char* kPplDescription =
    "Perplexity of MODEL on FILE. Protocols (the result names its protocol; figures from different ones are not\n"
    "comparable):\n"
    "  llamacpp   llama.cpp's llama-perplexity: chunks of N tokens starting with BOS, second half scored (default)\n"
    "  gptq       non-overlapping windows of N tokens of the whole text, every prediction scored\n"
    "  documents  split on --separator (default <|endoftext|>), trimmed, BOS + document truncated to N, all scored\n"
    "--ctx N is the window length (default 512). --max-windows N scores only the first N windows (0: all);\n"
    "--windows N is the same option under the name sweep, automix and embed-head-study use. --json prints one\n"
    "object with ppl, nll, tokens, protocol, ...\n"
    "With --map/--rule the quantized model is scored and compared with the unquantized one on the same windows:\n"
    "kld (mean KL divergence, nats), top1 (argmax agreement), reference_ppl.";

// The perplexity options from the parsed arguments; a bad value prints the message and returns the exit code.
int pplOptions(const TextEvalArgs& t, const std::optional<long long>& maxWindowsArg, qs::PerplexityOptions& o) {
    if (maxWindowsArg && t.windows)
        return fail("ppl", "--windows and --max-windows are the same option; give one", kExitUsage);
    if (int rc = parseTextEval("ppl", t, o); rc != kExitOk) return rc;
    return t.windows ? parseWindows("ppl", "--windows", t.windows, o) : parseWindows("ppl", "--max-windows", maxWindowsArg, o);
}
}  // namespace

int runPpl(int argc, char** argv, int first) {
    CommandLine cl("ppl", kPplDescription);
    cl.positionals("MODEL", "the model to score");
    InferenceArgs inference;
    TextEvalArgs textArgs;
    std::optional<long long> maxWindowsArg;
    bool asJson = false;
    addTextEvalOptions(cl.app(), textArgs);
    addInteger(cl.app(), "--max-windows", maxWindowsArg, "N", "the same as --windows, under ppl's first name")
        ->group("Evaluation text");
    addJsonFlag(cl.app(), asJson);
    addInferenceOptions(cl.app(), inference);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    const auto& textPath = textArgs.text;
    if (!textPath) return fail("ppl", "--text FILE is required", kExitUsage);
    qs::PerplexityOptions o;
    if (int rc = pplOptions(textArgs, maxWindowsArg, o); rc != kExitOk) return rc;

    auto read = qs::io::readBoundedFile(*textPath, qs::io::kMaxTextFileBytes, "an evaluation text");
    if (!read) return fail("ppl", read.message());
    const std::string text = std::move(*read);

    InferenceSetup setup;
    // The KV cache holds one window (and its BOS), not the trained context: the memory check sizes it so.
    if (int rc = openInference("ppl", cl.positional(), inference, o.context + 1, setup); rc != kExitOk) return rc;
    std::string textWarning;  // says what this tokenizer does with the bytes, so it comes after loading it
    if (auto bad = qs::io::firstInvalidUtf8(text)) {
        textWarning = qs::invalidUtf8Warning(*textPath, *bad, *setup.model.tokenizer);
        warn("ppl", textWarning);
    }
    qs::Transformer model(setup.weights, setup.arena.get());
    // With a map: the quantized model is scored, and compared with the unquantized one on the same windows.
    std::unique_ptr<qs::Transformer> reference;
    if (setup.quantized) reference = std::make_unique<qs::Transformer>(setup.model.weights, setup.arena.get());
    auto r = qs::evaluatePerplexity(model, *setup.model.tokenizer, text, o, {}, reference.get());
    if (!r) return fail("ppl", r.message());
    warn("ppl", r->warnings);
    if (asJson) {
        nlohmann::json j = {{"model", cl.positional()[0]}, {"text", *textPath},    {"protocol", r->protocol},
                            {"context", r->context},         {"windows", r->windows}, {"tokens", r->tokens},
                            {"nll", r->nll},                 {"ppl", r->ppl},         {"seconds", r->seconds},
                            {"threads", setup.threads},      {"warnings", r->warnings}};
        if (r->compared) {
            j["kld"] = r->kld;
            j["kld_max"] = r->kldMax;
            j["top1"] = r->top1;
            j["reference_nll"] = r->referenceNll;
            j["reference_ppl"] = r->referencePpl;
        }
        // The run's own warnings first, then the model's, tokenizer's and the text's.
        for (const auto& w : setup.warnings) j["warnings"].push_back(w);
        if (!textWarning.empty()) j["warnings"].push_back(textWarning);
        std::printf("%s\n", jsonText(j).c_str());
    } else {
        std::printf("protocol %s, context %d: %d windows, %lld tokens scored\n", r->protocol.c_str(), r->context,
                    r->windows, (long long)r->tokens);
        std::printf("nll %.6f  ppl %.4f  (%.2f s)\n", r->nll, r->ppl, r->seconds);
        if (r->compared)
            std::printf("reference ppl %.4f  kld %.6f (max %.4f)  top-1 agreement %.2f%%\n", r->referencePpl, r->kld,
                        r->kldMax, 100.0 * r->top1);
    }
    return kExitOk;
}

}  // namespace qscli
