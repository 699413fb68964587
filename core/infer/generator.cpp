// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/generator.h"

#include <algorithm>
#include <chrono>

namespace qs {

std::string_view stopName(GenerateResult::Stop s) {
    switch (s) {
        case GenerateResult::Stop::Length: return "length";
        case GenerateResult::Stop::Eos: return "eos";
        case GenerateResult::Stop::Bos: return "bos";
        case GenerateResult::Stop::Callback: return "callback";
        case GenerateResult::Stop::Context: return "context";
        case GenerateResult::Stop::EndOfTurn: return "end_of_turn";
    }
    return "?";
}

bool stoppedOnToken(GenerateResult::Stop stop) {
    return stop == GenerateResult::Stop::Eos || stop == GenerateResult::Stop::Bos || stop == GenerateResult::Stop::EndOfTurn;
}

Result<GenerateResult> generate(Transformer& model, const Tokenizer& tokenizer, std::span<const int> prompt,
                                const GenerateOptions& options, const TokenCallback& onToken) {
    using Clock = std::chrono::steady_clock;
    GenerateResult result;
    result.promptTokens = int(prompt.size());
    if (prompt.empty()) return Error{"generation needs at least one prompt token (BOS for an empty prompt)"};
    const int vocab = model.config().vocab;
    std::vector<float> logits(static_cast<size_t>(vocab));
    std::vector<int> history(prompt.begin(), prompt.end());

    const auto t0 = Clock::now();
    if (auto s = model.evaluate(prompt, logits); !s) return s.error();
    const auto t1 = Clock::now();
    result.promptSeconds = std::chrono::duration<double>(t1 - t0).count();

    Sampler sampler(options.sampling);
    for (int i = 0; i < options.maxNewTokens; ++i) {
        if (options.topLogprobs > 0) result.topLogprobs.push_back(topLogprobs(logits, options.topLogprobs));
        const int next = sampler.sample(logits, history);
        history.push_back(next);
        if (options.stopAtBos && next == tokenizer.bos()) {
            result.tokens.push_back(next);
            result.stop = GenerateResult::Stop::Bos;
            break;
        }
        if (options.stopAtEos && next == tokenizer.eos()) {
            result.tokens.push_back(next);
            result.stop = GenerateResult::Stop::Eos;
            break;
        }
        if (std::find(options.stopTokens.begin(), options.stopTokens.end(), next) != options.stopTokens.end()) {
            result.tokens.push_back(next);
            result.stop = GenerateResult::Stop::EndOfTurn;
            break;
        }
        result.tokens.push_back(next);
        if (onToken && !onToken(next, tokenizer.piece(next))) {
            result.stop = GenerateResult::Stop::Callback;
            break;
        }
        if (i + 1 == options.maxNewTokens) break;  // no forward pass for a token nobody will sample from
        if (model.position() >= model.context()) {
            result.stop = GenerateResult::Stop::Context;
            break;
        }
        const int one[1] = {next};
        if (auto s = model.evaluate(one, logits); !s) return s.error();
    }
    result.generateSeconds = std::chrono::duration<double>(Clock::now() - t1).count();
    return result;
}

}  // namespace qs
