// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chat/chat_generation.h"

#include <QCoreApplication>
#include <QMetaObject>

#include "core/infer/logit_compare.h"
#include "core/infer/sampler.h"

namespace qsui {
namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The tokens a sequence is fed for `text`: a fresh sequence starts with BOS (when the vocabulary wants one);
// a continued one starts with the token it sampled last and never fed.
std::vector<int> promptFor(const ChatSequence& s, const qs::Tokenizer& tok, const std::string& text) {
    if (s.fresh()) return tok.encode(text, tok.addsBos());
    std::vector<int> p;
    if (s.pending >= 0) p.push_back(s.pending);
    const std::vector<int> t = tok.encode(text, false);
    p.insert(p.end(), t.begin(), t.end());
    return p;
}

qs::Status checkFits(const ChatSequence& s, const std::vector<int>& prompt) {
    if (prompt.empty()) return qs::Error{"nothing to generate from: type a prompt"};
    const int context = s.model->context();
    if (s.model->position() + int(prompt.size()) >= context)
        return qs::Error{"the conversation (" + std::to_string(s.model->position()) + " tokens) and the prompt (" +
                         std::to_string(prompt.size()) + " tokens) do not fit the context of " +
                         std::to_string(context) + " tokens: reset the conversation"};
    return {};
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
    return false;
}

qs::Result<ChatTurnResult> runSingle(ChatSession& session, const qs::Tokenizer& tok, const ChatTurnOptions& options,
                                     TokenStream& stream, const qs::ProgressFn& progress) {
    ChatSequence& seq = session.original;
    const std::vector<int> prompt = promptFor(seq, tok, options.text);
    if (auto s = checkFits(seq, prompt); !s) return s.error();
    qs::GenerateOptions o = options.generate;
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
    seq.history.insert(seq.history.end(), prompt.begin(), prompt.end());
    seq.pending = -1;
    if (!r->tokens.empty()) {
        // Every returned token except the last was fed; the last one was not (generator.h).
        seq.history.insert(seq.history.end(), r->tokens.begin(), r->tokens.end() - 1);
        const bool stopToken = r->stop == qs::GenerateResult::Stop::Bos || r->stop == qs::GenerateResult::Stop::Eos;
        if (!stopToken) seq.pending = r->tokens.back();
    }
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
    int count = 0;
    double busy = 0;           // seconds spent sampling and in this model's forward passes
    bool done = false;
    qs::GenerateResult::Stop stop = qs::GenerateResult::Stop::Length;
};

qs::Result<ChatTurnResult> runAb(ChatSession& session, const qs::Tokenizer& tok, const ChatTurnOptions& options,
                                 TokenStream& stream, const qs::ProgressFn& progress) {
    const std::vector<int> promptA = promptFor(session.original, tok, options.text);
    const std::vector<int> promptB = promptFor(session.free, tok, options.text);
    if (auto s = checkFits(session.original, promptA); !s) return s.error();
    if (auto s = checkFits(session.free, promptB); !s) return s.error();
    const qs::GenerateOptions& o = options.generate;
    const int vocab = session.original.model->config().vocab;
    if (session.free.model->config().vocab != vocab) return qs::Error{"the two models have different vocabularies"};

    Side a{&session.original, qs::Sampler(o.sampling), std::vector<float>(size_t(vocab)), promptA};
    Side b{&session.free, qs::Sampler(o.sampling), std::vector<float>(size_t(vocab)), promptB};
    std::vector<float> teacherLogits(static_cast<size_t>(vocab));
    if (auto s = session.original.model->evaluate(promptA, a.logits); !s) return s.error();
    if (auto s = session.teacher.model->evaluate(promptA, teacherLogits); !s) return s.error();
    if (auto s = session.free.model->evaluate(promptB, b.logits); !s) return s.error();
    for (Side* s : {&a, &b}) {
        s->seq->history.insert(s->seq->history.end(), s->history.begin(), s->history.end());
        s->seq->pending = -1;
    }
    session.teacher.pending = -1;

    const int maxNew = std::min({o.maxNewTokens, session.original.model->context() - session.original.model->position(),
                                 session.free.model->context() - session.free.model->position()});
    int compared = 0, agree = 0;
    double sumKl = 0;
    // Samples one token for `s`; false when it was a stop token (not shown, not fed).
    auto sample = [&](Side& s, bool isA, const qs::LogitComparison* cmp) {
        const auto t0 = Clock::now();
        const int next = s.sampler.sample(s.logits, s.history);
        s.busy += seconds(Clock::now() - t0);
        s.history.push_back(next);
        if (isStop(o, tok, next, s.stop)) {
            s.done = true;
            return;
        }
        ++s.count;
        s.seq->pending = next;
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
        const int one[1] = {s.seq->pending};
        const auto t0 = Clock::now();
        if (auto st = s.seq->model->evaluate(one, s.logits); !st) return st;
        s.busy += seconds(Clock::now() - t0);
        if (mirror) {
            if (auto st = mirror->model->evaluate(one, *mirrorLogits); !st) return st;
        }
        s.seq->history.push_back(s.seq->pending);
        s.seq->pending = -1;
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
    session.teacher.pending = session.original.pending;
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
