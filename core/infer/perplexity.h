// SPDX-License-Identifier: GPL-3.0-or-later
// Perplexity, and KL divergence / top-1 agreement of a model against a reference (the unquantized model), on
// one of three protocols. The protocol is part of every result: numbers from different protocols are not
// comparable.
//   llamacpp  — exactly llama.cpp's llama-perplexity (tools/perplexity/perplexity.cpp, perplexity()): the whole
//               text tokenized once with BOS; chunks of n consecutive tokens, the first token of each chunk
//               replaced by BOS (special tokens written in the text stay text, llama.cpp's parse_special=false;
//               non-special added tokens are matched); only the predictions of the second half of each chunk are scored (positions
//               n/2 .. n-2 predict tokens n/2+1 .. n-1, i.e. n-1-n/2 tokens per chunk). Needs >= 2n tokens.
//   gptq      — the GPTQ/AutoGPTQ evaluation: the text tokenized once (with BOS when the tokenizer adds it),
//               cut into non-overlapping windows of n tokens fed as they are; every prediction inside a window
//               is scored (n-1 per window). A trailing partial window is dropped. Special tokens written in
//               the text are matched, as Hugging Face tokenizers do.
//   documents — the text split on a separator; each document trimmed of surrounding whitespace, empty ones
//               skipped, encoded with BOS (special tokens in the text matched, as Hugging Face), truncated to n tokens; every token after BOS is scored.
// Long job: options in, ProgressFn (cancel by returning false), result with warnings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/infer/tokenizer.h"
#include "core/infer/transformer.h"
#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qs {

enum class PplProtocol { LlamaCpp, Gptq, Documents };
std::string_view pplProtocolName(PplProtocol p);  // "llamacpp", "gptq", "documents"
std::optional<PplProtocol> pplProtocolFromName(std::string_view name);

struct PerplexityOptions {
    PplProtocol protocol = PplProtocol::LlamaCpp;
    int context = 512;                       // n: chunk / window / truncation length in tokens
    std::string separator = "<|endoftext|>"; // documents protocol
    int maxWindows = 0;                      // evaluate at most this many windows (0 = all)
};

// One forward pass: predictions at positions j in [firstScored, tokens.size() - 1) score tokens[j + 1].
struct EvalWindow {
    std::vector<int> tokens;
    int firstScored = 0;
};

// The windows a protocol evaluates (tokenization included). Fails when the text is too short for the protocol.
Result<std::vector<EvalWindow>> buildEvalWindows(const Tokenizer& tokenizer, std::string_view text,
                                                 const PerplexityOptions& options, std::vector<std::string>& warnings);

struct PerplexityResult {
    std::string protocol;
    int context = 0;
    int windows = 0;
    int64_t tokens = 0;  // predictions scored
    double nll = 0;      // mean negative log-likelihood (nats)
    double ppl = 0;      // exp(nll)
    // Against the reference model (when one was given): mean KL(reference || model) over the scored
    // positions (nats), the fraction of positions whose argmax agrees, and the reference's own figures.
    bool compared = false;
    double kld = 0, kldMax = 0, top1 = 0, referenceNll = 0, referencePpl = 0;
    double seconds = 0;
    std::vector<std::string> warnings;
};

// Evaluates `model` (and `reference`, when given, on exactly the same windows). The windows must fit the
// models' contexts. Both transformers are reset before use. The reference runs window by window beside the
// model (memory: one window of logits each); for many models against one reference see ReferenceScores.
Result<PerplexityResult> evaluatePerplexity(Transformer& model, const Tokenizer& tokenizer, std::string_view text,
                                            const PerplexityOptions& options, const ProgressFn& progress = {},
                                            Transformer* reference = nullptr);

// The reference (unquantized) model's logits at every scored position of a set of windows, computed once and
// reused for any number of models (a sweep): evaluatePerplexity against it gives exactly the numbers of the
// overload above with the same reference (same scoring code, same summation order).
// Memory: bytesFor() = 4 x vocab x scored positions (floats; e.g. vocab 32000, 4 llamacpp windows of 256:
// 4 x 127 positions -> 65 MB). Raw logits are kept, not log-probabilities, so KL and argmax see the same rows.
struct ReferenceScores {
    std::string protocol;
    int context = 0;
    int vocab = 0;
    std::vector<EvalWindow> windows;
    std::vector<float> logits;          // [scored positions in window order, vocab]
    std::vector<std::string> warnings;  // from building the windows

    static int64_t scoredPositions(const std::vector<EvalWindow>& windows);
    static uint64_t bytesFor(const std::vector<EvalWindow>& windows, int vocab);
};

// Runs `reference` over `windows` (built by buildEvalWindows with `options`). Fails when a window exceeds the
// model's context, on a bad token, or with kCancelledMessage.
Result<ReferenceScores> computeReferenceScores(Transformer& reference, std::vector<EvalWindow> windows,
                                               const PerplexityOptions& options, std::vector<std::string> warnings,
                                               const ProgressFn& progress = {});

// Evaluates `model` on the reference's windows and compares it with the stored reference logits.
Result<PerplexityResult> evaluatePerplexity(Transformer& model, const ReferenceScores& reference,
                                            const ProgressFn& progress = {});

}  // namespace qs
