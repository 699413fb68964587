// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli ppl MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] --text FILE [--ctx N]
//                    [--protocol llamacpp|gptq|documents] [--separator S] [--json]
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "core/io/utf8.h"
#include "app/cli/infer_setup.h"
#include "core/infer/perplexity.h"

namespace qscli {

namespace {
constexpr const char* kUsage =
    "usage: quantscope-cli ppl MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] --text FILE [--tokenizer PATH]\n"
    "                           [--ctx N] [--protocol llamacpp|gptq|documents] [--separator S] [--max-windows N]\n"
    "                           [--threads N] [--json]\n"
    "Perplexity of MODEL on FILE. Protocols (the result names its protocol; figures from different ones are not\n"
    "comparable):\n"
    "  llamacpp   llama.cpp's llama-perplexity: chunks of N tokens starting with BOS, second half scored (default)\n"
    "  gptq       non-overlapping windows of N tokens of the whole text, every prediction scored\n"
    "  documents  split on --separator (default <|endoftext|>), trimmed, BOS + document truncated to N, all scored\n"
    "--ctx N is the window length (default 512). --max-windows N scores only the first N windows (0: all);\n"
    "--windows N is the same option under the name sweep, automix and embed-head-study use. --json prints one object with ppl, nll, tokens, protocol, ...\n"
    "With --map/--rule the quantized model is scored and compared with the unquantized one on the same windows:\n"
    "kld (mean KL divergence, nats), top1 (argmax agreement), reference_ppl.\n";
}

int runPpl(int argc, char** argv, int first) {
    Args args(inferenceValueOptions({"text", "ctx", "protocol", "separator", "max-windows", "windows"}), {"json", "help"});
    if (!args.parse(argc, argv, first)) return fail("ppl", args.error(), kExitUsage);
    if (args.flag("help")) {
        std::fputs(kUsage, stdout);
        std::fputs(kInferenceOptionsHelp, stdout);
        return kExitOk;
    }
    const auto textPath = args.value("text");
    if (!textPath) return fail("ppl", "--text FILE is required", kExitUsage);
    const auto ctx = args.integer("ctx", 512);
    if (args.has("max-windows") && args.has("windows"))
        return fail("ppl", "--windows and --max-windows are the same option; give one", kExitUsage);
    const auto maxWindows = args.integer(args.has("windows") ? "windows" : "max-windows", 0);
    if (!ctx || !maxWindows) return fail("ppl", args.error(), kExitUsage);
    if (*ctx < 2 || *ctx > (1 << 20)) return fail("ppl", "--ctx must be between 2 and 1048576", kExitUsage);
    qs::PerplexityOptions o;
    o.context = int(*ctx);
    o.maxWindows = int(std::max(0LL, *maxWindows));
    const std::string protocol = args.value("protocol").value_or("llamacpp");
    const auto p = qs::pplProtocolFromName(protocol);
    if (!p) return fail("ppl", "unknown --protocol '" + protocol + "' (llamacpp, gptq, documents)", kExitUsage);
    o.protocol = *p;
    if (auto sep = args.value("separator")) o.separator = *sep;

    std::ifstream in(*textPath, std::ios::binary);
    if (!in) return fail("ppl", *textPath + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::string textWarning;
    if (auto bad = qs::io::firstInvalidUtf8(text)) {
        textWarning = *textPath + " is not valid UTF-8 (byte " + std::to_string(*bad) +
                      "); the tokenizer is given its bytes as they are";
        std::fprintf(stderr, "quantscope-cli ppl: warning: %s\n", textWarning.c_str());
    }

    InferenceSetup setup;
    if (int rc = openInference("ppl", args, 0, setup); rc != kExitOk) return rc;
    qs::Transformer model(setup.weights, setup.arena.get());
    // With a map: the quantized model is scored, and compared with the unquantized one on the same windows.
    std::unique_ptr<qs::Transformer> reference;
    if (setup.quantized) reference = std::make_unique<qs::Transformer>(setup.model.weights, setup.arena.get());
    auto r = qs::evaluatePerplexity(model, *setup.model.tokenizer, text, o, {}, reference.get());
    if (!r) return fail("ppl", r.message());
    for (const auto& w : r->warnings) std::fprintf(stderr, "quantscope-cli ppl: warning: %s\n", w.c_str());
    if (args.flag("json")) {
        nlohmann::json j = {{"model", args.positional()[0]}, {"text", *textPath},    {"protocol", r->protocol},
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
        std::printf("%s\n", j.dump(1).c_str());
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
