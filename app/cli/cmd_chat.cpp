// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli chat MODEL [--compare]: reads user lines from stdin, streams the model's replies (with --compare
// the original's, then the quantized model's and the per-token comparison; core/infer/chat_session.h). Works on
// pipes (no tty), EOF ends the session.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <unistd.h>

#include "app/cli/commands.h"
#include "app/cli/compare_report.h"
#include "app/cli/infer_setup.h"
#include "core/infer/chat_session.h"

namespace qscli {

namespace {
constexpr const char* kChatDescription =
    "Reads one user message per line from stdin and streams each reply (at most N tokens, default 256; it ends\n"
    "at EOS or the template's end-of-turn token). The chat template is the model's own (tokenizer_config.json\n"
    "chat_template, GGUF tokenizer.chat_template) when it is one of the known families; --template NAME\n"
    "overrides it: llama3, chatml, gemma, mistral (mistral-v0, mistral-v3, mistral-v3-tekken), llama2, or plain\n"
    "(the text continued as a base model would; the default when the model has no template). The conversation\n"
    "stays in the KV cache; when the context is full it starts over. EOF (Ctrl-D) ends the chat.\n"
    "--compare (needs --map or --rule): the original model and the quantized one answer in lock-step with the\n"
    "same settings and seed. Each turn prints the original's reply (streamed), the quantized model's own reply,\n"
    "and how the quantized model fed the original's tokens compares with it: tokens compared, top-1 agreement,\n"
    "mean and max KL(P_original || P_quantized) in nats, the first token where the top-1 choices differ\n"
    "(see `quantscope-cli compare`). Without --compare a map or rule makes the quantized model chat alone.";
}

namespace {

// Starts a new conversation when the next message does not fit the context left; false when it does not fit
// even alone.
bool makeRoom(qs::ChatSession& session, const qs::ChatFormat& format, const std::string& system, const std::string& line) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        bool fits = true;
        for (qs::ChatColumn c : {qs::ChatColumn::A, qs::ChatColumn::B}) {
            auto plan = qs::planChatTurn(format, session.conversation(c), system, line);
            fits = fits && (!plan || int(plan->full.size()) + 1 < session.context());  // a refusal is reported later
        }
        if (fits) return true;
        if (attempt == 0 && session.turns() > 0) {
            std::fprintf(stderr, "quantscope-cli chat: the context is full; starting a new conversation\n");
            session.reset();
        } else {
            break;
        }
    }
    std::fprintf(stderr, "quantscope-cli chat: this message alone does not fit the context of %d tokens\n", session.context());
    return false;
}

}  // namespace

int runChat(int argc, char** argv, int first) {
    CommandLine cl("chat", kChatDescription);
    cl.positionals("MODEL", "the model to chat with");
    InferenceArgs inference;
    SamplingArgs samplingArgs;
    ChatTemplateArgs templateArgs;
    std::optional<long long> stepsArg;
    bool compare = false;
    addChatTemplateOptions(cl.app(), templateArgs);
    addStepsOption(cl.app(), stepsArg, "at most N tokens per reply (default 256)");
    addFlag(cl.app(), "--compare", compare,
            "the original and the quantized model (--map/--rule) answer in lock-step, compared per token");
    addSamplingOptions(cl.app(), samplingArgs);
    addInferenceOptions(cl.app(), inference);
    addContextOption(cl.app(), inference);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    const long long steps = stepsArg.value_or(256);
    qs::SamplerOptions sampling;
    if (int rc = parseSampling("chat", samplingArgs, 0.8, 0.9, sampling); rc != kExitOk) return rc;
    const std::string templateName = templateArgs.name.value_or("");
    if (!templateName.empty())
        if (auto t = qs::chatTemplateByName(templateName); !t) return fail("chat", t.message(), kExitUsage);
    if (steps < 1) return fail("chat", "--steps must be at least 1", kExitUsage);
    if (compare && !inference.map.given())
        return fail("chat", "--compare needs the quantization to compare with: --map FILE or --rule ROLE=SCHEME", kExitUsage);
    const std::string system = templateArgs.system.value_or("");

    InferenceSetup setup;
    if (int rc = openInference("chat", cl.positional(), inference, 0, setup); rc != kExitOk) return rc;
    const qs::Tokenizer& tok = *setup.model.tokenizer;
    std::string note;
    auto chosen = qs::chooseChatTemplate(*setup.model.checkpoint, inference.tokenizer.value_or(""), templateName, &note);
    if (!chosen) return fail("chat", chosen.message());
    if (!note.empty()) std::fprintf(stderr, "quantscope-cli chat: %s\n", note.c_str());
    auto format = std::make_shared<const qs::ChatFormat>(*chosen, tok);
    qs::ChatSession session(compare ? setup.model.weights : setup.weights, compare ? setup.weights : nullptr,
                            setup.arena.get());
    qs::ChatTurnOptions o;
    o.format = format;
    o.system = system;
    o.generate.maxNewTokens = int(steps);
    o.generate.sampling = sampling;
    qs::ChatCallbacks streamA;
    streamA.onToken = [](qs::ChatColumn column, const qs::ChatToken& t) {
        if (column != qs::ChatColumn::A) return;
        std::fwrite(t.bytes.data(), 1, t.bytes.size(), stdout);
        std::fflush(stdout);
    };

    const bool interactive = isatty(STDIN_FILENO);
    std::string line;
    for (;;) {
        if (interactive) {
            std::fputs("> ", stdout);
            std::fflush(stdout);
        }
        if (!std::getline(std::cin, line)) break;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!makeRoom(session, *format, system, line)) continue;
        auto plan = qs::planChatTurn(*format, session.conversation(qs::ChatColumn::A), system, line);
        if (!plan) return fail("chat", plan.message());
        if (plan->feed.empty()) continue;
        o.text = line;
        if (compare) std::fputs("original:  ", stdout);
        auto r = session.runTurn(tok, o, streamA);
        std::fputc('\n', stdout);
        if (!r) return fail("chat", r.message());
        if (compare) {
            std::string b;
            for (const qs::ChatToken& t : r->b) b += t.bytes;
            std::printf("quantized: %s\ncompare: %s\n", b.c_str(), comparisonSummary(*r, tok).c_str());
        }
        std::fflush(stdout);
    }
    return kExitOk;
}

}  // namespace qscli
