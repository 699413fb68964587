// SPDX-License-Identifier: GPL-3.0-or-later
// Text generation: feeds a prompt, then samples one token at a time and streams each one (id and the bytes it
// decodes to) through a callback that may stop generation at any point. Continues from the transformer's
// current position, so a chat keeps its KV cache between turns.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/infer/sampler.h"
#include "core/infer/tokenizer.h"
#include "core/infer/transformer.h"
#include "core/util/result.h"

namespace qs {

struct GenerateOptions {
    int maxNewTokens = 256;  // at most this many sampled tokens
    SamplerOptions sampling;
    bool stopAtEos = true;
    bool stopAtBos = true;   // llama2.c's run stops when the model emits BOS
    // More stop ids: a chat template's end-of-turn tokens (<|eot_id|>, <|im_end|>, <end_of_turn>; see
    // chat_template.h). Stop::EndOfTurn when one is sampled (EOS/BOS keep their own reasons).
    std::vector<int> stopTokens;
    // Record the topLogprobs most likely tokens (topLogprobs() in sampler.h) of every distribution a token is
    // sampled from; 0 = none (nothing is computed).
    int topLogprobs = 0;
};

struct GenerateResult {
    std::vector<int> tokens;   // the sampled tokens, in order (a stop token is included when it ended generation)
    // With GenerateOptions::topLogprobs > 0: [tokens.size()][min(topLogprobs, vocab)], the model's most likely
    // tokens at each sampled position (most likely first); empty otherwise.
    std::vector<std::vector<TokenLogprob>> topLogprobs;
    // Length: maxNewTokens sampled; Eos/Bos: the vocabulary's EOS/BOS was sampled; EndOfTurn: one of
    // GenerateOptions::stopTokens; Callback: the token callback returned false; Context: the context is full.
    enum class Stop { Length, Eos, Bos, Callback, Context, EndOfTurn } stop = Stop::Length;
    int promptTokens = 0;
    double promptSeconds = 0, generateSeconds = 0;  // wall time of prompt processing and of sampling
    std::vector<std::string> warnings;
};
// "length", "eos", "bos", "callback", "context", "end_of_turn" (the `stop_reason` of `generate --json`).
std::string_view stopName(GenerateResult::Stop s);
// True when `stop` ended generation on a sampled stop token (which is the last of GenerateResult::tokens).
bool stoppedOnToken(GenerateResult::Stop stop);

// Called for every sampled token that is not a stop token; return false to stop.
using TokenCallback = std::function<bool(int token, std::string_view piece)>;

// Feeds `prompt` (at least one token: BOS for an empty text) at the transformer's position and generates.
// Afterwards the KV cache holds the prompt and every returned token except the last one, which was never fed
// (no forward pass is spent on a token nobody samples from): a chat continues by putting that token (unless it
// is a stop token) in front of its next prompt. Fails on bad token ids or when the prompt does not fit.
Result<GenerateResult> generate(Transformer& model, const Tokenizer& tokenizer, std::span<const int> prompt,
                                const GenerateOptions& options, const TokenCallback& onToken = {});

}  // namespace qs
