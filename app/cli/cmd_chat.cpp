// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli chat MODEL: reads user lines from stdin, streams the model's replies. Works on pipes (no tty),
// EOF ends the session.
#include <cstdio>
#include <algorithm>
#include <iostream>
#include <span>
#include <string>

#include <unistd.h>

#include "app/cli/commands.h"
#include "app/cli/infer_setup.h"
#include "core/infer/chat_format.h"
#include "core/infer/generator.h"

namespace qscli {

namespace {
constexpr const char* kUsage =
    "usage: quantscope-cli chat MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] [--tokenizer PATH]\n"
    "                           [--template NAME] [--system TEXT] [--steps N]\n"
    "                            [--temperature T] [--seed S] [--top-k K] [--top-p P] [--repeat-penalty R]\n"
    "                            [--threads N]\n"
    "Reads one user message per line from stdin and streams each reply (at most N tokens, default 256; it ends\n"
    "at EOS or the template's end-of-turn token). The chat template is the model's own (tokenizer_config.json\n"
    "chat_template, GGUF tokenizer.chat_template) when it is one of the known families; --template NAME\n"
    "overrides it: llama3, chatml, gemma, mistral (mistral-v0, mistral-v3, mistral-v3-tekken), llama2, or plain\n"
    "(the text continued as a base model would; the default when the model has no template). The conversation\n"
    "stays in the KV cache; when the context is full it starts over. EOF (Ctrl-D) ends the chat.\n";
}

int runChat(int argc, char** argv, int first) {
    Args args(inferenceValueOptions({"template", "system", "steps", "temperature", "seed", "top-k", "top-p", "repeat-penalty"}),
              {"help"});
    if (!args.parse(argc, argv, first)) return fail("chat", args.error(), kExitUsage);
    if (args.flag("help")) {
        std::fputs(kUsage, stdout);
        std::fputs(kInferenceOptionsHelp, stdout);
        return kExitOk;
    }
    const auto steps = args.integer("steps", 256);
    if (!steps) return fail("chat", args.error(), kExitUsage);
    qs::SamplerOptions sampling;
    if (int rc = parseSampling("chat", args, 0.8, 0.9, sampling); rc != kExitOk) return rc;
    const std::string templateName = args.value("template").value_or("");
    if (!templateName.empty())
        if (auto t = qs::chatTemplateByName(templateName); !t) return fail("chat", t.message(), kExitUsage);
    if (*steps < 1) return fail("chat", "--steps must be at least 1", kExitUsage);
    const std::string system = args.value("system").value_or("");

    InferenceSetup setup;
    if (int rc = openInference("chat", args, 0, setup); rc != kExitOk) return rc;
    const qs::Tokenizer& tok = *setup.model.tokenizer;
    std::string note;
    auto chosen = qs::chooseChatTemplate(*setup.model.checkpoint, args.value("tokenizer").value_or(""), templateName, &note);
    if (!chosen) return fail("chat", chosen.message());
    if (!note.empty()) std::fprintf(stderr, "quantscope-cli chat: %s\n", note.c_str());
    const qs::ChatFormat format(*chosen, tok);
    qs::Transformer model(setup.weights, setup.arena.get());
    qs::GenerateOptions o;
    o.maxNewTokens = int(*steps);
    o.sampling = sampling;
    o.stopTokens = format.stopTokens();

    const bool interactive = isatty(STDIN_FILENO);
    qs::ChatState state;
    std::string line;
    for (;;) {
        if (interactive) {
            std::fputs("> ", stdout);
            std::fflush(stdout);
        }
        if (!std::getline(std::cin, line)) break;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto plan = qs::planChatTurn(format, state, system, line);
        if (!plan) return fail("chat", plan.message());
        if (int(plan->full.size()) + 1 >= model.context()) {
            std::fprintf(stderr, "chat: the context is full; starting a new conversation\n");
            state = {};
            plan = qs::planChatTurn(format, state, system, line);
            if (!plan) return fail("chat", plan.message());
            if (int(plan->full.size()) + 1 >= model.context()) {
                std::fprintf(stderr, "chat: this message alone does not fit the context of %d tokens\n", model.context());
                continue;
            }
        }
        if (plan->feed.empty()) continue;
        model.rewind(plan->keep);
        qs::GenerateOptions turn = o;
        turn.maxNewTokens = std::min(o.maxNewTokens, model.context() - int(plan->full.size()));
        auto r = qs::generate(model, tok, plan->feed, turn, [](int, std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            return true;
        });
        std::fputc('\n', stdout);
        std::fflush(stdout);
        if (!r) return fail("chat", r.message());
        // The reply without a stop token; every sampled id but the last was fed (generator.h).
        const std::span<const int> all(r->tokens);
        const auto reply = qs::stoppedOnToken(r->stop) ? all.first(all.size() - 1) : all;
        qs::finishChatTurn(state, tok, *plan, system, line, reply, all.empty() ? all : all.first(all.size() - 1));
    }
    return kExitOk;
}

}  // namespace qscli
