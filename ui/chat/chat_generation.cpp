// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chat/chat_generation.h"

#include <QCoreApplication>
#include <QMetaObject>

namespace qsui {

TokenStream::TokenStream(QObject* receiver, Deliver deliver, int intervalMs)
    : m_receiver(receiver), m_deliver(std::move(deliver)), m_intervalMs(intervalMs) {}

void TokenStream::push(qs::ChatColumn column, const ChatToken& t) {
    std::lock_guard lock(m_mutex);
    (column == qs::ChatColumn::A ? m_pending.a : m_pending.b).push_back(t);
}

void TokenStream::setTotals(const qs::ChatTurnTotals& totals) {
    std::lock_guard lock(m_mutex);
    m_pending.totals = totals;
}

void TokenStream::post() {
    {
        std::lock_guard lock(m_mutex);
        const auto now = std::chrono::steady_clock::now();
        // One queued call in flight at a time, and at most one per interval: a fast model cannot flood the
        // UI thread's event queue. What arrives meanwhile rides with the next batch (or flush()).
        if (m_posted || now - m_lastPost < std::chrono::milliseconds(m_intervalMs)) return;
        m_posted = true;
        m_lastPost = now;
    }
    QMetaObject::invokeMethod(
        QCoreApplication::instance(), [self = shared_from_this()] { self->flush(); }, Qt::QueuedConnection);
}

void TokenStream::flush() {
    ChatChunk chunk;
    {
        std::lock_guard lock(m_mutex);
        m_posted = false;
        chunk = m_pending;
        m_pending.a.clear();
        m_pending.b.clear();
    }
    if (m_receiver && m_deliver) m_deliver(std::move(chunk));
}

std::shared_ptr<ChatSession> makeChatSession(std::shared_ptr<const qs::ModelWeights> original,
                                             std::shared_ptr<const qs::ModelWeights> quantized,
                                             tbb::task_arena* arena) {
    return std::make_shared<ChatSession>(std::move(original), std::move(quantized), arena);
}

qs::Result<ChatTurnResult> runChatTurn(ChatSession& session, const qs::Tokenizer& tokenizer,
                                       const ChatTurnOptions& options, TokenStream& stream,
                                       const qs::ProgressFn& progress) {
    qs::ChatCallbacks callbacks;
    callbacks.onToken = [&stream](qs::ChatColumn column, const ChatToken& t) { stream.push(column, t); };
    callbacks.onStep = [&stream](const qs::ChatTurnTotals& totals) {
        stream.setTotals(totals);
        stream.post();
    };
    return session.runTurn(tokenizer, options, callbacks, progress);
}

}  // namespace qsui
