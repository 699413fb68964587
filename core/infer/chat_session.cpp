// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/chat_session.h"

#include <algorithm>
#include <chrono>
#include <span>

#include "core/infer/logit_compare.h"
#include "core/infer/sampler.h"

namespace qs {
namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

// Tokens per second of `count` tokens, the first of which was sampled at `first`.
double rate(int count, Clock::time_point first, Clock::time_point now) {
    const double s = seconds(now - first);
    return count >= 2 && s > 0 ? double(count - 1) / s : 0.0;
}

bool isStop(const GenerateOptions& o, const Tokenizer& tok, int id, GenerateResult::Stop& why) {
    if (o.stopAtBos && id == tok.bos()) {
        why = GenerateResult::Stop::Bos;
        return true;
    }
    if (o.stopAtEos && id == tok.eos()) {
        why = GenerateResult::Stop::Eos;
        return true;
    }
    if (std::find(o.stopTokens.begin(), o.stopTokens.end(), id) != o.stopTokens.end()) {
        why = GenerateResult::Stop::EndOfTurn;
        return true;
    }
    return false;
}

// One sampled side of an A/B step: the original (column A, with the teacher beside it) or the free-running
// quantized model (column B).
struct AbSide {
    AbSide(Transformer* m, const SamplerOptions& o, int vocab, std::vector<int> prompt)
        : model(m), sampler(o), logits(size_t(vocab)), history(std::move(prompt)) {}
    Transformer* model;
    Sampler sampler;
    std::vector<float> logits;
    std::vector<int> history;  // prompt + sampled, as generate() keeps it for the repetition penalty
    std::vector<ChatToken> reply;
    std::vector<int> replyIds;  // the sampled ids, stop token excluded
    std::vector<int> fed;       // the sampled ids fed back (all but a last one nobody samples from)
    int pending = -1;           // sampled last, not fed yet
    double busy = 0;            // seconds spent sampling and in this model's forward passes
    bool done = false;
    GenerateResult::Stop stop = GenerateResult::Stop::Length;

    // Samples one token; false when it was a stop token (then the side is done).
    bool sample(const GenerateOptions& o, const Tokenizer& tok) {
        const auto t0 = Clock::now();
        const int next = sampler.sample(logits, history);
        busy += seconds(Clock::now() - t0);
        history.push_back(next);
        if (isStop(o, tok, next, stop)) {
            done = true;
            return false;
        }
        replyIds.push_back(next);
        reply.push_back(ChatToken{next, tok.piece(next)});
        pending = next;
        return true;
    }
    // Feeds the pending token to this side's model (and to `mirror`, the teacher, into `mirrorLogits`).
    Status feed(Transformer* mirror, std::vector<float>* mirrorLogits) {
        const int one[1] = {pending};
        const auto t0 = Clock::now();
        if (auto st = model->evaluate(one, logits); !st) return st;
        busy += seconds(Clock::now() - t0);
        if (mirror)
            if (auto st = mirror->evaluate(one, *mirrorLogits); !st) return st;
        fed.push_back(pending);
        pending = -1;
        return {};
    }
    double tokensPerSecond() const { return busy > 0 ? double(reply.size()) / busy : 0.0; }
};

void addComparison(ChatToken& t, const LogitComparison& c, ChatTurnTotals& totals) {
    t.kl = c.kl;
    t.top1Original = c.top1P;
    t.top1Quantized = c.top1Q;
    t.probOriginal = c.probTop1P;
    t.probQuantized = c.probTop1Q;
    if (totals.firstFlip < 0 && c.top1P != c.top1Q) totals.firstFlip = totals.compared;
    ++totals.compared;
    totals.agree += c.top1P == c.top1Q ? 1 : 0;
    totals.sumKl += c.kl;
    totals.maxKl = std::max(totals.maxKl, c.kl);
}

}  // namespace

ChatSession::ChatSession(std::shared_ptr<const ModelWeights> original,
                         std::shared_ptr<const ModelWeights> quantized, tbb::task_arena* arena)
    : m_originalWeights(std::move(original)), m_quantizedWeights(std::move(quantized)) {
    m_original.model = std::make_unique<Transformer>(m_originalWeights, arena);
    if (m_quantizedWeights) {
        m_teacher.model = std::make_unique<Transformer>(m_quantizedWeights, arena);
        m_free.model = std::make_unique<Transformer>(m_quantizedWeights, arena);
    }
}

int ChatSession::context() const {
    return m_original.model->context();
}

const ChatState& ChatSession::conversation(ChatColumn column) const {
    return column == ChatColumn::B && comparing() ? m_free.chat : m_original.chat;
}

void ChatSession::reset() {
    for (Sequence* s : {&m_original, &m_teacher, &m_free}) {
        if (s->model) s->model->reset();
        s->chat = {};
    }
    m_turns = 0;
}

// The turn of a sequence: the conversation rendered with the template, and what to feed after the tokens the
// KV cache keeps. Rewinds the cache to what is kept.
Result<ChatTurnPlan> ChatSession::plan(Sequence& s, const ChatTurnOptions& o) {
    if (!o.format) return Error{"no chat template"};
    auto plan = planChatTurn(*o.format, s.chat, o.system, o.text);
    if (!plan) return plan.error();
    if (plan->feed.empty()) return Error{"nothing to generate from: type a prompt"};
    const int ctx = s.model->context();
    if (int(plan->full.size()) >= ctx)
        return Error{"the conversation and the prompt (" + std::to_string(plan->full.size()) +
                     " tokens) do not fit the context of " + std::to_string(ctx) +
                     " tokens: reset the conversation"};
    s.model->rewind(plan->keep);
    return plan;
}

Result<ChatTurnResult> ChatSession::runTurn(const Tokenizer& tokenizer, const ChatTurnOptions& options,
                                            const ChatCallbacks& callbacks, const ProgressFn& progress) {
    auto r = comparing() ? runAb(tokenizer, options, callbacks, progress)
                         : runSingle(tokenizer, options, callbacks, progress);
    if (r) ++m_turns;
    return r;
}

Result<ChatTurnResult> ChatSession::runSingle(const Tokenizer& tok, const ChatTurnOptions& options,
                                              const ChatCallbacks& cb, const ProgressFn& progress) {
    Sequence& seq = m_original;
    auto plan = this->plan(seq, options);
    if (!plan) return plan.error();
    GenerateOptions o = options.generate;
    o.stopTokens = options.format->stopTokens();
    const int room = seq.model->context() - seq.model->position() - int(plan->feed.size());
    const bool contextLimited = room < o.maxNewTokens;
    o.maxNewTokens = std::min(o.maxNewTokens, room);
    ChatTurnResult out;
    out.promptA = plan->full;
    Clock::time_point first;
    auto r = generate(*seq.model, tok, plan->feed, o, [&](int id, std::string_view piece) {
        const auto now = Clock::now();
        if (out.a.empty()) first = now;
        out.a.push_back(ChatToken{id, std::string(piece)});
        out.totals.tokensA = int(out.a.size());
        out.totals.rateA = rate(out.totals.tokensA, first, now);
        if (cb.onToken) cb.onToken(ChatColumn::A, out.a.back());
        if (cb.onStep) cb.onStep(out.totals);
        return !progress ||
               progress(o.maxNewTokens > 0 ? double(out.a.size()) / o.maxNewTokens : 1.0, "generating");
    });
    if (!r) return r.error();
    // Every returned token except the last was fed (generator.h); a stop token is no part of the reply.
    const std::span<const int> all(r->tokens);
    const auto fed = all.empty() ? all : all.first(all.size() - 1);
    finishChatTurn(seq.chat, tok, *plan, options.system, options.text, stoppedOnToken(r->stop) ? fed : all,
                   fed);
    out.stopA = r->stop;
    // The turn ended because the KV cache is full, not because the requested count was reached.
    if (contextLimited && out.stopA == GenerateResult::Stop::Length) out.stopA = GenerateResult::Stop::Context;
    return out;
}

Result<ChatTurnResult> ChatSession::runAb(const Tokenizer& tok, const ChatTurnOptions& options,
                                          const ChatCallbacks& cb, const ProgressFn& progress) {
    const int vocab = m_original.model->config().vocab;
    if (m_free.model->config().vocab != vocab) return Error{"the two models have different vocabularies"};
    auto planA = plan(m_original, options);
    if (!planA) return planA.error();
    auto planB = plan(m_free, options);
    if (!planB) return planB.error();
    m_teacher.model->rewind(planA->keep);  // it holds what A holds
    GenerateOptions o = options.generate;
    o.stopTokens = options.format->stopTokens();

    AbSide a(m_original.model.get(), o.sampling, vocab, planA->full);
    AbSide b(m_free.model.get(), o.sampling, vocab, planB->full);
    std::vector<float> teacherLogits(static_cast<size_t>(vocab));
    if (auto s = a.model->evaluate(planA->feed, a.logits); !s) return s.error();
    if (auto s = m_teacher.model->evaluate(planA->feed, teacherLogits); !s) return s.error();
    if (auto s = b.model->evaluate(planB->feed, b.logits); !s) return s.error();

    const int maxNew = std::min(
        {o.maxNewTokens, a.model->context() - a.model->position(), b.model->context() - b.model->position()});
    ChatTurnTotals totals;
    for (int i = 0; i < maxNew && !(a.done && b.done); ++i) {
        if (!a.done) {
            const LogitComparison cmp = compareLogits(a.logits, teacherLogits);
            if (a.sample(o, tok)) {
                addComparison(a.reply.back(), cmp, totals);
                if (cb.onToken) cb.onToken(ChatColumn::A, a.reply.back());
            }
        }
        if (!b.done && b.sample(o, tok) && cb.onToken) cb.onToken(ChatColumn::B, b.reply.back());
        totals.tokensA = int(a.reply.size());
        totals.tokensB = int(b.reply.size());
        totals.rateA = a.tokensPerSecond();
        totals.rateB = b.tokensPerSecond();
        if (cb.onStep) cb.onStep(totals);
        if (progress && !progress(double(i + 1) / maxNew, "generating A/B")) {
            for (AbSide* s : {&a, &b})
                if (!s->done) s->stop = GenerateResult::Stop::Callback;
            break;
        }
        if (i + 1 == maxNew) break;  // no forward pass for a token nobody samples from
        if (!a.done)
            if (auto st = a.feed(m_teacher.model.get(), &teacherLogits); !st) return st.error();
        if (!b.done)
            if (auto st = b.feed(nullptr, nullptr); !st) return st.error();
    }
    finishChatTurn(m_original.chat, tok, *planA, options.system, options.text, a.replyIds, a.fed);
    finishChatTurn(m_free.chat, tok, *planB, options.system, options.text, b.replyIds, b.fed);
    ChatTurnResult out;
    // A side that ran until the shorter of the two contexts was full stopped for the context, not the count.
    if (maxNew < o.maxNewTokens)
        for (AbSide* side : {&a, &b})
            if (side->stop == GenerateResult::Stop::Length) side->stop = GenerateResult::Stop::Context;
    out.stopA = a.stop;
    out.stopB = b.stop;
    out.a = std::move(a.reply);
    out.b = std::move(b.reply);
    out.promptA = planA->full;
    out.totals = totals;
    return out;
}

}  // namespace qs
