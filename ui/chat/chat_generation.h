// SPDX-License-Identifier: GPL-3.0-or-later
// The chat pane's adapter over core's qs::ChatSession (core/infer/chat_session.h: the single-model
// conversation and the A/B lock-step of original, teacher-forced and free-running quantized model). A turn
// runs on a JobRunner worker; its tokens go to a TokenStream, which hands them to the UI thread in batches.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <QPointer>

#include "core/infer/chat_session.h"
#include "core/infer/tokenizer.h"
#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qsui {

// One token of a reply and, in column A of an A/B turn, its comparison (core/infer/chat_session.h).
using ChatToken = qs::ChatToken;
using ChatSession = qs::ChatSession;
using ChatTurnOptions = qs::ChatTurnOptions;
using ChatTurnResult = qs::ChatTurnResult;

// What arrived since the last batch, plus the running totals of the turn.
struct ChatChunk {
    std::vector<ChatToken> a, b;  // a: the single model / the original; b: the quantized model (A/B)
    qs::ChatTurnTotals totals;
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
    void push(qs::ChatColumn column, const ChatToken& t);
    void setTotals(const qs::ChatTurnTotals& totals);
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

// A session (single: `quantized` null; A/B otherwise). arena may be null.
std::shared_ptr<ChatSession> makeChatSession(std::shared_ptr<const qs::ModelWeights> original,
                                             std::shared_ptr<const qs::ModelWeights> quantized,
                                             tbb::task_arena* arena);

// Runs one turn of qs::ChatSession::runTurn (its failures; a stop through `progress` is not one), its tokens
// and totals pushed to `stream`. Worker thread.
qs::Result<ChatTurnResult> runChatTurn(ChatSession& session, const qs::Tokenizer& tokenizer,
                                       const ChatTurnOptions& options, TokenStream& stream,
                                       const qs::ProgressFn& progress);

}  // namespace qsui
