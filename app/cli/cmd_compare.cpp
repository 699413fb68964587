// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli compare MODEL --map M | --rule R --prompt TEXT [--tokens N] [--chat] [--json]: the original
// and the quantized model answer one prompt in lock-step (core/infer/chat_session.h); per-token KL and top-1
// flips.
#include <cstdio>
#include <memory>

#include "app/cli/commands.h"
#include "app/cli/compare_report.h"
#include "app/cli/infer_setup.h"
#include "core/infer/chat_session.h"

namespace qscli {

namespace {
constexpr const char* kCompareDescription =
    "The original model generates up to N tokens (default 128) from the prompt; at every position the "
    "quantized\n"
    "model, fed the original's own tokens (teacher forcing), is compared with it: KL(P_original || "
    "P_quantized) in\n"
    "nats and the top-1 token of each (softmax at temperature 1, whatever the sampling settings). The "
    "quantized\n"
    "model also writes its own text with the same settings and seed. Sampling defaults to greedy "
    "(temperature 0).\n"
    "The prompt is continued as raw text (BOS as the tokenizer adds it, like generate); --chat renders it as "
    "one\n"
    "user message with the model's chat template (or --template NAME, as for chat).\n"
    "Prints both texts, one line per position and a summary. --json prints one object: tokens (per position "
    "of\n"
    "the original's reply: position, id, text, kl, top1_original, top1_quantized, p_original = the "
    "original's\n"
    "probability of its top-1, p_quantized = the quantized model's probability of its top-1, flip = the "
    "top-1\n"
    "differ), compared, top1_agreement (0..1), mean_kl, max_kl, first_flip (position or null), "
    "original_text,\n"
    "quantized_text (the quantized model's free-running text), original_ids, quantized_ids, prompt_ids,\n"
    "stop_original, stop_quantized, seed, warnings. A stop token (EOS, end of turn) is not a position.";

std::shared_ptr<const qs::ChatFormat> chooseFormat(bool chat, const InferenceArgs& inference,
                                                   const ChatTemplateArgs& templateArgs, const InferenceSetup& setup,
                                                   std::string& error) {
    const qs::Tokenizer& tok = *setup.model.tokenizer;
    if (!chat)
        return std::make_shared<const qs::ChatFormat>(qs::chatTemplateByName("plain").value(), tok);
    std::string note;
    auto chosen = qs::chooseChatTemplate(*setup.model.checkpoint, inference.tokenizer.value_or(""),
                                         templateArgs.name.value_or(""), &note);
    if (!chosen) {
        error = chosen.message();
        return nullptr;
    }
    if (!note.empty()) std::fprintf(stderr, "quantscope-cli compare: %s\n", note.c_str());
    return std::make_shared<const qs::ChatFormat>(*chosen, tok);
}

void printText(const qs::ChatTurnResult& r, const qs::Tokenizer& tok, const std::string& prompt) {
    std::string a, b;
    for (const qs::ChatToken& t : r.a) a += t.bytes;
    for (const qs::ChatToken& t : r.b) b += t.bytes;
    std::printf("original:  %s%s\nquantized: %s%s\n\n", prompt.c_str(), a.c_str(), prompt.c_str(), b.c_str());
    std::printf("%5s  %-16s %10s  %-16s %-16s %s\n", "pos", "token", "KL (nats)", "top-1 original",
                "top-1 quantized", "");
    for (size_t k = 0; k < r.a.size(); ++k) {
        const qs::ChatToken& t = r.a[k];
        std::printf("%5zu  %-16s %10.4g  %-16s %-16s %s\n", k, quotedPiece(tok, t.id).c_str(), t.kl,
                    quotedPiece(tok, t.top1Original).c_str(), quotedPiece(tok, t.top1Quantized).c_str(),
                    t.top1Differs() ? "flip" : "");
    }
    std::printf("\n%s\n", comparisonSummary(r, tok).c_str());
}

}  // namespace

int runCompare(int argc, char** argv, int first) {
    CommandLine cl("compare", kCompareDescription);
    cl.positionals("MODEL", "the model; the quantized one is MODEL with --map/--rule");
    InferenceArgs inference;
    SamplingArgs samplingArgs;
    ChatTemplateArgs templateArgs;
    std::optional<std::string> promptArg;
    std::optional<long long> tokensArg;
    bool chat = false, asJson = false;
    addText(cl.app(), "--prompt", promptArg, "TEXT", "the prompt both models answer (required)");
    addStepsOption(cl.app(), tokensArg, "at most N tokens of the original's reply (default 128)", "--tokens");
    addFlag(cl.app(), "--chat", chat, "render the prompt as one user message with the chat template");
    addChatTemplateOptions(cl.app(), templateArgs);
    addJsonFlag(cl.app(), asJson);
    addSamplingOptions(cl.app(), samplingArgs);
    addInferenceOptions(cl.app(), inference);
    addContextOption(cl.app(), inference);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (!inference.map.given())
        return fail("compare", "needs the quantization to compare with: --map FILE or --rule ROLE=SCHEME",
                    kExitUsage);
    const std::string prompt = promptArg.value_or("");
    if (prompt.empty()) return fail("compare", "needs a non-empty --prompt TEXT", kExitUsage);
    const long long tokens = tokensArg.value_or(128);
    if (tokens < 1) return fail("compare", "--tokens must be at least 1", kExitUsage);
    if ((templateArgs.name || templateArgs.system) && !chat)
        return fail("compare", "--template and --system need --chat", kExitUsage);
    if (const auto& name = templateArgs.name)
        if (auto t = qs::chatTemplateByName(*name); !t) return fail("compare", t.message(), kExitUsage);
    qs::SamplerOptions sampling;
    if (int rc = parseSampling("compare", samplingArgs, 0.0, 1.0, sampling); rc != kExitOk) return rc;

    InferenceSetup setup;
    if (int rc = openInference("compare", cl.positional(), inference, 0, setup); rc != kExitOk) return rc;
    const qs::Tokenizer& tok = *setup.model.tokenizer;
    qs::ChatTurnOptions o;
    std::string error;
    o.format = chooseFormat(chat, inference, templateArgs, setup, error);
    if (!o.format) return fail("compare", error);
    o.text = prompt;
    o.system = templateArgs.system.value_or("");
    o.generate.maxNewTokens = int(std::min<long long>(tokens, setup.weights->config.context));
    o.generate.sampling = sampling;
    qs::ChatSession session(setup.model.weights, setup.weights, setup.arena.get());
    auto r = session.runTurn(tok, o);
    if (!r) return fail("compare", r.message());
    if (asJson) {
        nlohmann::json j = comparisonJson(*r);
        j["seed"] = sampling.seed;
        j["warnings"] = setup.warnings;
        // Invalid UTF-8 (a character split between tokens) is replaced rather than refused.
        std::puts(jsonText(j, -1).c_str());
    } else {
        printText(*r, tok, chat ? std::string() : prompt);
    }
    std::fprintf(stderr, "compare: %d + %d tokens, stop: %s / %s, seed %llu\n", r->totals.tokensA,
                 r->totals.tokensB, std::string(qs::stopName(r->stopA)).c_str(),
                 std::string(qs::stopName(r->stopB)).c_str(), (unsigned long long)sampling.seed);
    return kExitOk;
}

}  // namespace qscli
