// SPDX-License-Identifier: GPL-3.0-or-later
// One chat turn, run on a worker: a plain conversation with one model, or the A/B comparison of the original
// and the quantized model. Tokens go to a TokenStream, which hands them to the UI thread in batches.
//
// A/B design. Three sequences run in lock-step, one token per step:
//   original  — the unquantized model, sampled with the pane's settings and seed (the "A" column);
//   teacher   — the quantized model fed exactly the original's tokens (teacher forcing), never sampled: at
//               every position of A it gives the quantized model's distribution over the same context, so
//               KL(P_original || P_quantized) and the two top-1 choices are comparable token by token
//               (qs::compareLogits: softmax at temperature 1, independent of the sampling settings);
//   free      — the quantized model sampled on its own with the same settings and seed (the "B" column), to
//               show what it really writes. Once B drifts from A the columns differ as wholes, which is why the
//               per-token comparison is done on A's stream and not between the two texts.
// Every step also checks the progress callback: the job's Stop/cancel makes it return false, so a turn stops
// within one token.
//
// Conversation. A session keeps each sequence's KV cache and conversation between turns; a turn renders the
// whole conversation with the chat template (qs::ChatFormat) and feeds what the KV cache does not already hold
// (qs::planChatTurn). The original and the teacher share the original's conversation, the free sequence has
// its own (its own replies).
// Thread-safety: a session is used by one job at a time (the pane never runs two turns at once).
#pragma once

#include "ui/jobs/task_arena.h"  // first: hides Qt's emit macro from oneTBB

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <QPointer>

#include "core/infer/chat_format.h"
#include "core/infer/generator.h"
#include "core/infer/tokenizer.h"
#include "core/infer/transformer.h"
#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qsui {

struct ChatToken {
    int id = -1;
    std::string bytes;  // what the token decodes to (may be part of a UTF-8 character)
    // A column of an A/B turn only (kl < 0 otherwise): the comparison with the teacher-forced quantized model.
    double kl = -1;
    int top1Original = -1, top1Quantized = -1;
    double probOriginal = 0, probQuantized = 0;
    bool top1Differs() const { return kl >= 0 && top1Original != top1Quantized; }
};

// What arrived since the last batch, plus running totals of the turn.
struct ChatChunk {
    std::vector<ChatToken> a, b;  // a: the single model / the original; b: the quantized model (A/B)
    int tokensA = 0, tokensB = 0;      // turn totals so far
    double rateA = 0, rateB = 0;       // tokens per second of each (forward passes + sampling), prompt excluded
    int compared = 0, agree = 0;       // A/B: positions compared, positions whose top-1 agree
    double sumKl = 0;
    bool empty() const { return a.empty() && b.empty(); }
};

// Hands tokens from one worker to the UI thread: push() appends under a lock and, at most once per
// `intervalMs`, posts one queued call that delivers everything pending to `deliver` (UI thread). flush()
// (UI thread) delivers what is left when the job ends. Nothing is delivered once `receiver` is destroyed.
class TokenStream : public std::enable_shared_from_this<TokenStream> {
public:
    using Deliver = std::function<void(ChatChunk&&)>;
    TokenStream(QObject* receiver, Deliver deliver, int intervalMs = 30);

    // Worker side.
    void pushA(ChatToken t);
    void pushB(ChatToken t);
    void setTotals(int tokensA, double rateA, int tokensB, double rateB, int compared, int agree, double sumKl);
    void post();  // call after a step's pushes

    // UI thread.
    void flush();

private:
    QPointer<QObject> m_receiver;
    Deliver m_deliver;
    int m_intervalMs;
    std::mutex m_mutex;
    ChatChunk m_pending;
    bool m_posted = false;
    std::chrono::steady_clock::time_point m_lastPost{};
};

struct ChatSequence {
    std::unique_ptr<qs::Transformer> model;
    qs::ChatState chat;  // the conversation and the tokens in the KV cache
};

struct ChatSession {
    bool ab = false;
    std::shared_ptr<const qs::ModelWeights> originalWeights, quantizedWeights;  // what the sequences run
    ChatSequence original;         // single mode: the one model
    ChatSequence teacher, free;    // A/B only
    int turns = 0;
};

struct ChatTurnOptions {
    std::string text;
    std::string system;                             // opens a conversation (empty: none)
    std::shared_ptr<const qs::ChatFormat> format;   // the chat template; required
    qs::GenerateOptions generate;                   // its stopTokens get the template's end-of-turn ids
};

struct ChatTurnResult {
    qs::GenerateResult::Stop stopA = qs::GenerateResult::Stop::Length, stopB = qs::GenerateResult::Stop::Length;
    int tokensA = 0, tokensB = 0;
};

// Builds a session's transformers (single: `original` only; A/B: all three). arena may be null.
std::shared_ptr<ChatSession> makeChatSession(std::shared_ptr<const qs::ModelWeights> original,
                                             std::shared_ptr<const qs::ModelWeights> quantized, tbb::task_arena* arena);

// Runs one turn. Fails on a prompt that does not fit the context left (the message says to reset) or bad ids.
// A stop through `progress` is not a failure: the result says Stop::Callback.
qs::Result<ChatTurnResult> runChatTurn(ChatSession& session, const qs::Tokenizer& tokenizer,
                                       const ChatTurnOptions& options, TokenStream& stream, const qs::ProgressFn& progress);

}  // namespace qsui
