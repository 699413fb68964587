// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli chat MODEL: reads user lines from stdin, streams the model's replies. Works on pipes (no tty),
// EOF ends the session.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <unistd.h>

#include "app/cli/commands.h"
#include "app/cli/infer_setup.h"
#include "core/infer/generator.h"

namespace qscli {

namespace {
constexpr const char* kUsage =
    "usage: quantscope-cli chat MODEL [--map MAP.json] [--rule ROLE=SCHEME ...] [--tokenizer PATH]\n"
    "                           [--template plain|llama2] [--system TEXT] [--steps N]\n"
    "                            [--temperature T] [--seed S] [--top-k K] [--top-p P] [--repeat-penalty R]\n"
    "                            [--threads N]\n"
    "Reads one user message per line from stdin and streams each reply (at most N tokens, default 256; it ends\n"
    "at EOS). --template plain (default) continues the text as a base model would; llama2 wraps turns in\n"
    "[INST] ... [/INST] as Llama 2 chat models expect. The conversation stays in the KV cache; when the context\n"
    "is full it starts over. EOF (Ctrl-D) ends the chat.\n";
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
    const auto temperature = args.number("temperature", 0.8);
    const auto seed = args.integer("seed", (long long)(std::chrono::system_clock::now().time_since_epoch().count() & 0x7FFFFFFF));
    const auto topK = args.integer("top-k", 0);
    const auto topP = args.number("top-p", 0.9);
    const auto penalty = args.number("repeat-penalty", 1.0);
    if (!steps || !temperature || !seed || !topK || !topP || !penalty) return fail("chat", args.error(), kExitUsage);
    const std::string tmpl = args.value("template").value_or("plain");
    if (tmpl != "plain" && tmpl != "llama2") return fail("chat", "unknown --template '" + tmpl + "' (plain, llama2)", kExitUsage);
    if (*steps < 1) return fail("chat", "--steps must be at least 1", kExitUsage);
    const std::string system = args.value("system").value_or("");

    InferenceSetup setup;
    if (int rc = openInference("chat", args, 0, setup); rc != kExitOk) return rc;
    const qs::Tokenizer& tok = *setup.model.tokenizer;
    qs::Transformer model(setup.weights, setup.arena.get());
    qs::GenerateOptions o;
    o.maxNewTokens = int(*steps);
    o.sampling.temperature = float(*temperature);
    o.sampling.seed = uint64_t(*seed);
    o.sampling.topK = int(*topK);
    o.sampling.topP = float(*topP);
    o.sampling.repetitionPenalty = float(*penalty);

    const bool interactive = isatty(STDIN_FILENO);
    int pending = -1;  // the last sampled token of the previous reply, not yet in the KV cache
    bool firstTurn = true;
    std::string line;
    for (;;) {
        if (interactive) {
            std::fputs("> ", stdout);
            std::fflush(stdout);
        }
        if (!std::getline(std::cin, line)) break;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::vector<int> prompt;
        if (pending >= 0) prompt.push_back(pending);
        std::vector<int> turn;
        if (tmpl == "llama2") {
            // Llama 2 chat format (as llama2.c's chat mode): every turn starts with BOS.
            std::string text = firstTurn && !system.empty() ? "[INST] <<SYS>>\n" + system + "\n<</SYS>>\n\n" + line + " [/INST]"
                                                            : "[INST] " + line + " [/INST]";
            turn = tok.encode(text, true);
        } else {
            turn = tok.encode(firstTurn ? (system.empty() ? line : system + "\n" + line) : "\n" + line, firstTurn);
        }
        prompt.insert(prompt.end(), turn.begin(), turn.end());
        if (prompt.empty()) continue;
        if (model.position() + int(prompt.size()) + 1 >= model.context()) {
            std::fprintf(stderr, "chat: the context is full; starting a new conversation\n");
            model.reset();
            pending = -1;
            firstTurn = true;
            prompt = tmpl == "llama2" ? tok.encode("[INST] " + line + " [/INST]", true) : tok.encode(line, true);
            if (int(prompt.size()) + 1 >= model.context()) {
                std::fprintf(stderr, "chat: this message alone does not fit the context of %d tokens\n", model.context());
                continue;
            }
        }
        auto r = qs::generate(model, tok, prompt, o, [](int, std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            return true;
        });
        std::fputc('\n', stdout);
        std::fflush(stdout);
        if (!r) return fail("chat", r.message());
        firstTurn = false;
        pending = -1;
        if (!r->tokens.empty() && r->stop != qs::GenerateResult::Stop::Eos && r->stop != qs::GenerateResult::Stop::Bos)
            pending = r->tokens.back();
        if (r->stop == qs::GenerateResult::Stop::Context) {
            model.reset();
            pending = -1;
            firstTurn = true;
        }
    }
    return kExitOk;
}

}  // namespace qscli
