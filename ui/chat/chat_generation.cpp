// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chat/chat_generation.h"

#include <QCoreApplication>
#include <QMetaObject>

#include "core/infer/logit_compare.h"
#include "core/infer/sampler.h"

#include <algorithm>
#include <span>

namespace qsui {
namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The turn of a sequence: the conversation rendered with the template, and what to feed after the tokens the
// KV cache keeps. Rewinds the cache to what is kept.
qs::Result<qs::ChatTurnPlan> planFor(ChatSequence& s, const ChatTurnOptions& o) {
    if (!o.format) return qs::Error{"no chat template"};
    auto plan = qs::planChatTurn(*o.format, s.chat, o.system, o.text);
    if (!plan) return plan.error();
    if (plan->feed.empty()) return qs::Error{"nothing to generate from: type a prompt"};
    const int context = s.model->context();
    if (int(plan->full.size()) >= context)
        return qs::Error{"the conversation and the prompt (" + std::to_string(plan->full.size()) +
                         " tokens) do not fit the context of " + std::to_string(context) +
                         " tokens: reset the conversation"};
    s.model->rewind(plan->keep);
    return plan;
}

// Tokens per second of `count` tokens, the first of which was sampled at `first`.
double rate(int count, Clock::time_point first, Clock::time_point now) {
    const double s = seconds(now - first);
    return count >= 2 && s > 0 ? double(count - 1) / s : 0.0;
}

bool isStop(const qs::GenerateOptions& o, const qs::Tokenizer& tok, int id, qs::GenerateResult::Stop& why) {
    if (o.stopAtBos && id == tok.bos()) {
        why = qs::GenerateResult::Stop::Bos;
        return true;
    }
    if (o.stopAtEos && id == tok.eos()) {
        why = qs::GenerateResult::Stop::Eos;
        return true;
    }
    if (std::find(o.stopTokens.begin(), o.stopTokens.end(), id) != o.stopTokens.end()) {
        why = qs::GenerateResult::Stop::EndOfTurn;
        return true;
    }
    return false;
}

qs::Result<ChatTurnResult> runSingle(ChatSession& session, const qs::Tokenizer& tok, const ChatTurnOptions& options,
                                     TokenStream& stream, const qs::ProgressFn& progress) {
    ChatSequence& seq = session.original;
    auto plan = planFor(seq, options);
    if (!plan) return plan.error();
    const std::vector<int>& prompt = plan->feed;
    qs::GenerateOptions o = options.generate;
    o.stopTokens = options.format->stopTokens();
    o.maxNewTokens = std::min(o.maxNewTokens, seq.model->context() - seq.model->position() - int(prompt.size()));
    int count = 0;
    Clock::time_point first;
    auto r = qs::generate(*seq.model, tok, prompt, o, [&](int id, std::string_view piece) {
        const auto now = Clock::now();
        if (count == 0) first = now;
        ++count;
        stream.pushA(ChatToken{id, std::string(piece)});
        stream.setTotals(count, rate(count, first, now), 0, 0, 0, 0, 0);
        stream.post();
        return progress(o.maxNewTokens > 0 ? double(count) / o.maxNewTokens : 1.0, "generating");
    });
    if (!r) return r.error();
    // Every returned token except the last was fed (generator.h); a stop token is no part of the reply.
    const std::span<const int> all(r->tokens);
    const auto fed = all.empty() ? all : all.first(all.size() - 1);
    qs::finishChatTurn(seq.chat, tok, *plan, options.system, options.text, qs::stoppedOnToken(r->stop) ? fed : all, fed);
    ChatTurnResult out;
    out.stopA = r->stop;
    out.tokensA = count;
    return out;
}

// One model's side of an A/B step.
struct Side {
    ChatSequence* seq;
    qs::Sampler sampler;
    std::vector<float> logits;
    std::vector<int> history;  // prompt + sampled, as qs::generate keeps it for the repetition penalty
    std::vector<int> reply;    // the sampled ids, stop token excluded
    std::vector<int> fed;      // the sampled ids fed back (all but the last)
    int count = 0;
    double busy = 0;           // seconds spent sampling and in this model's forward passes
    bool done = false;
    qs::GenerateResult::Stop stop = qs::GenerateResult::Stop::Length;
};

qs::Result<ChatTurnResult> runAb(ChatSession& session, const qs::Tokenizer& tok, const ChatTurnOptions& options,
                                 TokenStream& stream, const qs::ProgressFn& progress) {
    auto planA = planFor(session.original, options);
    if (!planA) return planA.error();
    auto planB = planFor(session.free, options);
    if (!planB) return planB.error();
    session.teacher.model->rewind(planA->keep);  // the teacher holds what the original holds
    const std::vector<int>& promptA = planA->feed;
    const std::vector<int>& promptB = planB->feed;
    qs::GenerateOptions o = options.generate;
    o.stopTokens = options.format->stopTokens();
    const int vocab = session.original.model->config().vocab;
    if (session.free.model->config().vocab != vocab) return qs::Error{"the two models have different vocabularies"};

    Side a{&session.original, qs::Sampler(o.sampling), std::vector<float>(size_t(vocab)), planA->full, {}, {}};
    Side b{&session.free, qs::Sampler(o.sampling), std::vector<float>(size_t(vocab)), planB->full, {}, {}};
    std::vector<float> teacherLogits(static_cast<size_t>(vocab));
    if (auto s = session.original.model->evaluate(promptA, a.logits); !s) return s.error();
    if (auto s = session.teacher.model->evaluate(promptA, teacherLogits); !s) return s.error();
    if (auto s = session.free.model->evaluate(promptB, b.logits); !s) return s.error();
    int pendingA = -1, pendingB = -1;  // the token each side sampled last, not fed yet

    const int maxNew = std::min({o.maxNewTokens, session.original.model->context() - session.original.model->position(),
                                 session.free.model->context() - session.free.model->position()});
    int compared = 0, agree = 0;
    double sumKl = 0;
    // Samples one token for `s`; false when it was a stop token (not shown, not fed).
    auto sample = [&](Side& s, bool isA, const qs::LogitComparison* cmp) {
        int& pending = isA ? pendingA : pendingB;
        const auto t0 = Clock::now();
        const int next = s.sampler.sample(s.logits, s.history);
        s.busy += seconds(Clock::now() - t0);
        s.history.push_back(next);
        if (isStop(o, tok, next, s.stop)) {
            s.done = true;
            return;
        }
        ++s.count;
        s.reply.push_back(next);
        pending = next;
        ChatToken t{next, tok.piece(next)};
        if (cmp) {
            t.kl = cmp->kl;
            t.top1Original = cmp->top1P;
            t.top1Quantized = cmp->top1Q;
            t.probOriginal = cmp->probTop1P;
            t.probQuantized = cmp->probTop1Q;
        }
        isA ? stream.pushA(std::move(t)) : stream.pushB(std::move(t));
    };
    auto feed = [&](Side& s, ChatSequence* mirror, std::vector<float>* mirrorLogits) -> qs::Status {
        int& pending = mirror ? pendingA : pendingB;
        const int one[1] = {pending};
        const auto t0 = Clock::now();
        if (auto st = s.seq->model->evaluate(one, s.logits); !st) return st;
        s.busy += seconds(Clock::now() - t0);
        if (mirror) {
            if (auto st = mirror->model->evaluate(one, *mirrorLogits); !st) return st;
        }
        s.fed.push_back(pending);
        pending = -1;
        return {};
    };

    for (int i = 0; i < maxNew && !(a.done && b.done); ++i) {
        if (!a.done) {
            const qs::LogitComparison cmp = qs::compareLogits(a.logits, teacherLogits);
            sample(a, true, &cmp);
            if (!a.done) {
                ++compared;
                agree += cmp.top1P == cmp.top1Q ? 1 : 0;
                sumKl += cmp.kl;
            }
        }
        if (!b.done) sample(b, false, nullptr);
        stream.setTotals(a.count, a.busy > 0 ? a.count / a.busy : 0, b.count, b.busy > 0 ? b.count / b.busy : 0,
                         compared, agree, sumKl);
        stream.post();
        if (!progress(double(i + 1) / maxNew, "generating A/B")) {
            for (Side* s : {&a, &b})
                if (!s->done) s->stop = qs::GenerateResult::Stop::Callback;
            break;
        }
        if (i + 1 == maxNew) break;  // no forward pass for a token nobody samples from
        if (!a.done)
            if (auto st = feed(a, &session.teacher, &teacherLogits); !st) return st.error();
        if (!b.done)
            if (auto st = feed(b, nullptr, nullptr); !st) return st.error();
    }
    qs::finishChatTurn(session.original.chat, tok, *planA, options.system, options.text, a.reply, a.fed);
    qs::finishChatTurn(session.free.chat, tok, *planB, options.system, options.text, b.reply, b.fed);
    ChatTurnResult out;
    out.stopA = a.stop;
    out.stopB = b.stop;
    out.tokensA = a.count;
    out.tokensB = b.count;
    return out;
}

}  // namespace

TokenStream::TokenStream(QObject* receiver, Deliver deliver, int intervalMs)
    : m_receiver(receiver), m_deliver(std::move(deliver)), m_intervalMs(intervalMs) {}

void TokenStream::pushA(ChatToken t) {
    std::lock_guard lock(m_mutex);
    m_pending.a.push_back(std::move(t));
}

void TokenStream::pushB(ChatToken t) {
    std::lock_guard lock(m_mutex);
    m_pending.b.push_back(std::move(t));
}

void TokenStream::setTotals(int tokensA, double rateA, int tokensB, double rateB, int compared, int agree, double sumKl) {
    std::lock_guard lock(m_mutex);
    m_pending.tokensA = tokensA;
    m_pending.rateA = rateA;
    m_pending.tokensB = tokensB;
    m_pending.rateB = rateB;
    m_pending.compared = compared;
    m_pending.agree = agree;
    m_pending.sumKl = sumKl;
}

void TokenStream::post() {
    {
        std::lock_guard lock(m_mutex);
        const auto now = Clock::now();
        // One queued call in flight at a time, and at most one per interval: a fast model cannot flood the
        // UI thread's event queue. What arrives meanwhile rides with the next batch (or flush()).
        if (m_posted || now - m_lastPost < std::chrono::milliseconds(m_intervalMs)) return;
        m_posted = true;
        m_lastPost = now;
    }
    QMetaObject::invokeMethod(QCoreApplication::instance(), [self = shared_from_this()] { self->flush(); },
                              Qt::QueuedConnection);
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
                                             std::shared_ptr<const qs::ModelWeights> quantized, tbb::task_arena* arena) {
    auto s = std::make_shared<ChatSession>();
    s->ab = quantized != nullptr;
    s->originalWeights = original;
    s->quantizedWeights = quantized;
    s->original.model = std::make_unique<qs::Transformer>(original, arena);
    if (quantized) {
        s->teacher.model = std::make_unique<qs::Transformer>(quantized, arena);
        s->free.model = std::make_unique<qs::Transformer>(quantized, arena);
    }
    return s;
}

qs::Result<ChatTurnResult> runChatTurn(ChatSession& session, const qs::Tokenizer& tokenizer,
                                       const ChatTurnOptions& options, TokenStream& stream, const qs::ProgressFn& progress) {
    auto r = session.ab ? runAb(session, tokenizer, options, stream, progress)
                        : runSingle(session, tokenizer, options, stream, progress);
    if (r) ++session.turns;
    return r;
}

}  // namespace qsui
