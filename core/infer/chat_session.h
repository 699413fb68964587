// SPDX-License-Identifier: GPL-3.0-or-later
// ChatSession: a conversation with one model, or the A/B comparison of the original and the quantized model,
// turn by turn, with its KV caches kept between turns. Used by the GUI chat pane (ui/chat, which batches the
// tokens to the UI thread), `quantscope-cli chat [--compare]` and `quantscope-cli compare`.
//
// A/B design. Three sequences run in lock-step, one token per step:
//   original  — the unquantized model, sampled with the turn's settings and seed (column A);
//   teacher   — the quantized model fed exactly the original's tokens (teacher forcing), never sampled: at
//               every position of A it gives the quantized model's distribution over the same context, so
//               KL(P_original || P_quantized) and the two top-1 choices are comparable token by token
//               (compareLogits: softmax at temperature 1, independent of the sampling settings; the same
//               quantities as llama.cpp's `perplexity --kl-divergence`, but on generated text);
//   free      — the quantized model sampled on its own with the same settings and seed (column B), to show
//               what it really writes. Once B drifts from A the two texts differ as wholes, which is why the
//               per-token comparison is made on A's stream and not between the two texts.
// With identical weights the teacher's logits are the original's bit for bit (the forward pass does not
// depend on the batch size: transformer.h), so KL is exactly 0 and no top-1 differs.
//
// Conversation. A turn renders the whole conversation with the chat template (ChatFormat; the plain template
// continues raw text, as `generate` encodes it) and feeds only what the KV cache does not already hold
// (planChatTurn). The original and the teacher share the original's conversation; the free sequence has its
// own (its own replies).
//
// Threads: a session is not thread-safe; one thread runs one turn at a time (any thread: the GUI runs turns
// on a worker). The callbacks and the progress function run on that thread, synchronously inside runTurn().
// The transformers run their matrix work inside the task_arena given at construction (serial when null).
// Cancel: runTurn() calls `progress` once per generated token (after the step's tokens were reported); when
// it returns false the turn ends before the next forward pass, i.e. within one token, and the result says
// Stop::Callback (not an error). The prompt's forward pass itself is not interruptible.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/infer/chat_format.h"
#include "core/infer/generator.h"
#include "core/infer/model_weights.h"
#include "core/infer/tokenizer.h"
#include "core/infer/transformer.h"
#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qs {

// One token of a reply (a stop token is never one).
struct ChatToken {
    int id = -1;
    std::string bytes;  // what the token decodes to (may be part of a UTF-8 character)
    // Column A of an A/B turn only (kl < 0 otherwise): the comparison with the teacher-forced quantized model
    // at the position that sampled this token. probOriginal = p(top1Original), probQuantized =
    // q(top1Quantized).
    double kl = -1;  // KL(P_original || P_quantized), nats
    int top1Original = -1, top1Quantized = -1;
    double probOriginal = 0, probQuantized = 0;
    bool compared() const { return kl >= 0; }
    bool top1Differs() const { return compared() && top1Original != top1Quantized; }
};

// A: the single model, or the original of an A/B turn; B: the quantized model running free (A/B only).
enum class ChatColumn { A, B };

// Running figures of one turn.
struct ChatTurnTotals {
    int tokensA = 0, tokensB = 0;
    // Tokens per second of each column, prompt excluded: single model, from the first sampled token on; A/B,
    // the time each side spent in its own forward passes and sampling (the teacher's passes are not counted).
    double rateA = 0, rateB = 0;
    int compared = 0, agree = 0;  // A/B: positions of A compared, positions whose top-1 agree
    double sumKl = 0, maxKl = 0;  // nats
    int firstFlip = -1;  // A/B: index in A's reply of the first position whose top-1 differ (-1: none)
    double meanKl() const { return compared > 0 ? sumKl / compared : 0.0; }
    double agreement() const { return compared > 0 ? double(agree) / compared : 0.0; }
};

struct ChatTurnOptions {
    std::string text;    // the user's message
    std::string system;  // opens a conversation (empty: none)
    std::shared_ptr<const ChatFormat>
        format;                // the chat template; required (the plain one continues raw text)
    GenerateOptions generate;  // its stopTokens are replaced by the template's end-of-turn ids
};

struct ChatTurnResult {
    GenerateResult::Stop stopA = GenerateResult::Stop::Length, stopB = GenerateResult::Stop::Length;
    std::vector<ChatToken> a, b;  // the replies, stop tokens excluded (b: A/B only)
    std::vector<int> promptA;     // the whole rendered prompt of A (the conversation so far + this message)
    ChatTurnTotals totals;
};

// Called on the thread running the turn. onToken: every reply token as it is sampled (per step, A's before
// B's); onStep: after each step's tokens, with the totals so far. Either may be empty.
struct ChatCallbacks {
    std::function<void(ChatColumn column, const ChatToken& token)> onToken;
    std::function<void(const ChatTurnTotals& totals)> onStep;
};

class ChatSession {
public:
    // `quantized` null: a conversation with `original`; otherwise the A/B comparison (both share one
    // vocabulary and context). The weights are shared, never copied. `arena` may be null and must outlive the
    // session.
    ChatSession(std::shared_ptr<const ModelWeights> original, std::shared_ptr<const ModelWeights> quantized,
                tbb::task_arena* arena);
    ChatSession(const ChatSession&) = delete;
    ChatSession& operator=(const ChatSession&) = delete;

    bool comparing() const { return m_quantizedWeights != nullptr; }
    const std::shared_ptr<const ModelWeights>& originalWeights() const { return m_originalWeights; }
    const std::shared_ptr<const ModelWeights>& quantizedWeights() const { return m_quantizedWeights; }
    int context() const;
    int turns() const { return m_turns; }  // turns finished since construction or reset()
    // Column A's conversation (the original's, which the teacher shares) or column B's (the free sequence's).
    const ChatState& conversation(ChatColumn column) const;
    void reset();  // forgets the conversation and the KV caches

    // Runs one turn. Fails on a missing template, a prompt that does not fit the context left (the message
    // says to reset), models with different vocabularies or bad token ids; the session is then unchanged
    // except that the KV caches may have to be re-fed next turn. A stop through `progress` is not a failure.
    Result<ChatTurnResult> runTurn(const Tokenizer& tokenizer, const ChatTurnOptions& options,
                                   const ChatCallbacks& callbacks = {}, const ProgressFn& progress = {});

private:
    struct Sequence {
        std::unique_ptr<Transformer> model;
        ChatState chat;  // the conversation and the tokens in the KV cache
    };
    Result<ChatTurnPlan> plan(Sequence& s, const ChatTurnOptions& o);
    Result<ChatTurnResult> runSingle(const Tokenizer& tok, const ChatTurnOptions& o, const ChatCallbacks& cb,
                                     const ProgressFn& progress);
    Result<ChatTurnResult> runAb(const Tokenizer& tok, const ChatTurnOptions& o, const ChatCallbacks& cb,
                                 const ProgressFn& progress);

    std::shared_ptr<const ModelWeights> m_originalWeights, m_quantizedWeights;
    Sequence m_original;         // single mode: the one model
    Sequence m_teacher, m_free;  // A/B only
    int m_turns = 0;
};

}  // namespace qs
