// SPDX-License-Identifier: GPL-3.0-or-later
// ChatSession on real stories260K: the A/B turn's teacher-forced KL, top-1s and probabilities at every
// position equal compareLogits of two independent forward passes from scratch over the same tokens (across
// turns, so the KV-cache reuse is checked too); columns A and B are what generate() samples from each model;
// a map that keeps every tensor gives KL 0 and no flips; a progress callback that says stop ends the turn
// within one token.
#include "core/infer/chat_session.h"
#include "core/infer/inference_model.h"
#include "core/infer/logit_compare.h"
#include "core/infer/quantized_model.h"
#include "core/quant/quant_map.h"

#include <QTest>

#include "common/assets.h"

using namespace qs;

namespace {

struct Models {
    InferenceModel model;
    std::shared_ptr<const ModelWeights> quantized;
};

Models open(const QString& path, std::initializer_list<const char*> rules) {
    auto m = openInferenceModel(path.toStdString(), {}, nullptr);
    if (!m) qFatal("%s", m.message().c_str());
    Models out{std::move(m.value()), nullptr};
    QuantMap map;
    for (const char* r : rules) map.rules.push_back(parseRuleSpec(r).value());
    auto q = quantizeForInference(*out.model.checkpoint, out.model.info, map, nullptr);
    if (!q) qFatal("%s", q.message().c_str());
    auto w = loadModelWeights(*out.model.checkpoint, out.model.info, &q->tensors, {}, nullptr);
    if (!w) qFatal("%s", w.message().c_str());
    out.quantized = std::move(w.value());
    return out;
}

std::shared_ptr<const ChatFormat> format(const char* name, const Tokenizer& tok) {
    return std::make_shared<const ChatFormat>(chatTemplateByName(name).value(), tok);
}

// The next-token logits after `tokens`, from a fresh transformer fed them in one batch.
std::vector<float> fromScratch(const std::shared_ptr<const ModelWeights>& w, const std::vector<int>& tokens) {
    Transformer t(w, nullptr);
    std::vector<float> logits(size_t(w->config.vocab));
    if (auto s = t.evaluate(tokens, logits); !s) qFatal("%s", s.message().c_str());
    return logits;
}

// generate() from a fresh transformer, the stop token removed: what a column must show on a first turn.
std::vector<int> generated(const std::shared_ptr<const ModelWeights>& w, const Tokenizer& tok,
                           const std::vector<int>& prompt, const GenerateOptions& o) {
    Transformer t(w, nullptr);
    auto r = generate(t, tok, prompt, o);
    if (!r) qFatal("%s", r.message().c_str());
    std::vector<int> ids = r->tokens;
    if (stoppedOnToken(r->stop)) ids.pop_back();
    return ids;
}

std::vector<int> idsOf(const std::vector<ChatToken>& tokens) {
    std::vector<int> ids;
    for (const ChatToken& t : tokens) ids.push_back(t.id);
    return ids;
}

}  // namespace

class TestChatSession : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void abTurns_klEqualsIndependentForwardPassesFromScratch_data() {
        QTest::addColumn<QString>("rule");
        QTest::addColumn<QString>("chatTemplate");
        QTest::addColumn<float>("temperature");
        QTest::newRow("body q4_0, plain, greedy") << "body=q4_0"
                                                  << "plain" << 0.0f;
        QTest::newRow("body q4_0, llama2, T=0.9") << "body=q4_0"
                                                  << "llama2" << 0.9f;
        QTest::newRow("all q8_0, plain, T=1") << "all=q8_0"
                                              << "plain" << 1.0f;
    }
    void abTurns_klEqualsIndependentForwardPassesFromScratch() {
        QFETCH(QString, rule);
        QFETCH(QString, chatTemplate);
        QFETCH(float, temperature);
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const std::string ruleText = rule.toStdString();
        Models m = open(path, {ruleText.c_str()});
        const Tokenizer& tok = *m.model.tokenizer;
        const std::shared_ptr<const ModelWeights>& wo = m.model.weights;
        tbb::task_arena arena(2);
        ChatSession session(wo, m.quantized, &arena);
        QVERIFY(session.comparing());
        ChatTurnOptions o;
        o.format = format(chatTemplate.toUtf8().constData(), tok);
        o.generate.maxNewTokens = 40;
        o.generate.sampling.temperature = temperature;
        o.generate.sampling.topK = 40;
        o.generate.sampling.seed = 11;
        int flips = 0;
        for (const char* text : {"Once upon a time", " Then the cat"}) {
            o.text = text;
            const ChatState before = session.conversation(ChatColumn::A);
            std::vector<ChatToken> streamedA;
            int steps = 0;
            ChatCallbacks cb;
            cb.onToken = [&](ChatColumn c, const ChatToken& t) {
                if (c == ChatColumn::A) streamedA.push_back(t);
            };
            cb.onStep = [&](const ChatTurnTotals&) { ++steps; };
            auto r = session.runTurn(tok, o, cb);
            QVERIFY2(r.ok(), r ? "" : r.message().c_str());
            QCOMPARE(r->promptA, planChatTurn(*o.format, before, "", text).value().full);
            QVERIFY(r->a.size() >= 5 && !r->b.empty());
            QCOMPARE(idsOf(streamedA), idsOf(r->a));
            QVERIFY(steps >= int(r->a.size()));
            if (before.messages.empty()) {  // first turn: each column is its model's own sample
                o.generate.stopTokens = o.format->stopTokens();
                QCOMPARE(idsOf(r->a), generated(wo, tok, r->promptA, o.generate));
                QCOMPARE(idsOf(r->b), generated(m.quantized, tok, r->promptA, o.generate));
            }
            std::vector<int> prefix = r->promptA;
            double sumKl = 0, maxKl = 0;
            int agree = 0, firstFlip = -1;
            for (size_t k = 0; k < r->a.size(); ++k) {
                const ChatToken& t = r->a[k];
                const LogitComparison c =
                    compareLogits(fromScratch(wo, prefix), fromScratch(m.quantized, prefix));
                // Bit for bit: the engine's numbers do not depend on the batch split (transformer.h).
                QVERIFY2(t.kl == c.kl, qPrintable(QStringLiteral("token %1: %2 vs %3")
                                                      .arg(k)
                                                      .arg(t.kl, 0, 'g', 17)
                                                      .arg(c.kl, 0, 'g', 17)));
                QCOMPARE(t.top1Original, c.top1P);
                QCOMPARE(t.top1Quantized, c.top1Q);
                QCOMPARE(t.probOriginal, c.probTop1P);
                QCOMPARE(t.probQuantized, c.probTop1Q);
                QCOMPARE(t.top1Differs(), c.top1P != c.top1Q);
                if (temperature == 0.0f) QCOMPARE(t.id, c.top1P);
                sumKl += c.kl;
                maxKl = std::max(maxKl, c.kl);
                agree += c.top1P == c.top1Q ? 1 : 0;
                if (firstFlip < 0 && c.top1P != c.top1Q) firstFlip = int(k);
                prefix.push_back(t.id);
            }
            QCOMPARE(r->totals.compared, int(r->a.size()));
            QCOMPARE(r->totals.agree, agree);
            QCOMPARE(r->totals.firstFlip, firstFlip);
            QCOMPARE(r->totals.maxKl, maxKl);
            QVERIFY(std::abs(r->totals.meanKl() - sumKl / double(r->a.size())) <= 1e-12);
            QVERIFY(maxKl > 0);  // quantization changes the distributions
            for (const ChatToken& t : r->b) QVERIFY(!t.compared());
            flips += int(r->a.size()) - agree;
        }
        QCOMPARE(session.turns(), 2);
        qInfo("%d top-1 flips over two turns", flips);
    }

    void identicalModel_klIsZeroAndNothingFlips() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Models m = open(path, {"all=keep"});
        QVERIFY(m.quantized != m.model.weights);  // a second model, built through the map
        const Tokenizer& tok = *m.model.tokenizer;
        ChatSession session(m.model.weights, m.quantized, nullptr);
        ChatTurnOptions o;
        o.format = format("plain", tok);
        o.text = "Once upon a time";
        o.generate.maxNewTokens = 60;
        o.generate.sampling.temperature = 1.0f;
        o.generate.sampling.seed = 3;
        auto r = session.runTurn(tok, o);
        QVERIFY2(r.ok(), r ? "" : r.message().c_str());
        QVERIFY(r->a.size() >= 10);
        for (const ChatToken& t : r->a) {
            QCOMPARE(t.kl, 0.0);
            QVERIFY(!t.top1Differs());
            QCOMPARE(t.probOriginal, t.probQuantized);
        }
        QCOMPARE(idsOf(r->b), idsOf(r->a));  // same seed, same distributions: the same text
        QCOMPARE(r->totals.agree, r->totals.compared);
        QCOMPARE(r->totals.firstFlip, -1);
        QCOMPARE(r->totals.maxKl, 0.0);
        QCOMPARE(r->totals.agreement(), 1.0);
    }

    void progressSaysStop_turnEndsWithinOneToken_data() {
        QTest::addColumn<bool>("ab");
        QTest::newRow("single") << false;
        QTest::newRow("A/B") << true;
    }
    void progressSaysStop_turnEndsWithinOneToken() {
        QFETCH(bool, ab);
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Models m = open(path, {"body=q4_0"});
        const Tokenizer& tok = *m.model.tokenizer;
        ChatSession session(m.model.weights, ab ? m.quantized : nullptr, nullptr);
        ChatTurnOptions o;
        o.format = format("plain", tok);
        o.text = "Once upon a time";
        o.generate.maxNewTokens = 200;
        o.generate.sampling.temperature = 0;
        std::atomic<bool> cancel{false};  // as the GUI's Stop sets it from another thread
        int tokens = 0, calls = 0;
        ChatCallbacks cb;
        cb.onToken = [&](ChatColumn c, const ChatToken&) {
            if (c == ChatColumn::A && ++tokens == 7) cancel = true;
        };
        auto r = session.runTurn(tok, o, cb, [&](double, std::string_view) {
            ++calls;
            return !cancel.load();
        });
        QVERIFY2(r.ok(), r ? "" : r.message().c_str());
        QCOMPARE(r->stopA, GenerateResult::Stop::Callback);
        QCOMPARE(int(r->a.size()), 7);  // the token that asked to stop is the last one
        QCOMPARE(calls, 7);
        if (ab) {
            QCOMPARE(r->stopB, GenerateResult::Stop::Callback);
            QCOMPARE(int(r->b.size()), 7);
        }
        // The stopped reply is part of the conversation; the next turn continues it.
        QCOMPARE(session.turns(), 1);
        o.text = " The end.";
        o.generate.maxNewTokens = 5;
        auto next = session.runTurn(tok, o);
        QVERIFY2(next.ok(), next ? "" : next.message().c_str());
        QCOMPARE(int(next->a.size()), 5);
        QCOMPARE(session.turns(), 2);
    }

    void badTurns_failWithAMessage() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Models m = open(path, {"body=q4_0"});
        const Tokenizer& tok = *m.model.tokenizer;
        ChatSession session(m.model.weights, m.quantized, nullptr);
        ChatTurnOptions o;
        o.text = "Hello";
        auto none = session.runTurn(tok, o);
        QVERIFY(!none.ok());
        QVERIFY(none.message().find("no chat template") != std::string::npos);
        o.format = format("plain", tok);
        o.text.clear();
        for (int i = 0; i < 600; ++i) o.text += " dog";  // beyond stories260K's 512-token context
        auto tooLong = session.runTurn(tok, o);
        QVERIFY(!tooLong.ok());
        QVERIFY2(tooLong.message().find("do not fit the context of 512") != std::string::npos,
                 tooLong.message().c_str());
        QCOMPARE(session.turns(), 0);
        o.text = "Hello";
        o.generate.maxNewTokens = 3;
        QVERIFY(session.runTurn(tok, o).ok());  // the session is still usable
    }
};

QTEST_MAIN(TestChatSession)
#include "test_chat_session.moc"
