// SPDX-License-Identifier: GPL-3.0-or-later
// Chat pane, offscreen, on real stories260K: replies equal the core generator's, Esc stops a long reply within a
// token, A/B figures equal a direct KL computation on the same tokens, the quantized model is cached by the
// resolved map, and models that cannot chat show why.
#include <cmath>

#include <QComboBox>
#include <QDir>
#include <QPlainTextEdit>
#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextBlock>
#include <QTextCursor>
#include <QTest>
#include <QUndoStack>

#include <oneapi/tbb/task_arena.h>

#include <nlohmann/json.hpp>

#include "common/assets.h"
#include "common/random_llama2c.h"
#include "core/infer/chat_format.h"
#include "core/infer/generator.h"
#include "core/infer/quantized_model.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "ui/chat/chat_models.h"
#include "ui/chat/chat_pane.h"
#include "ui/chat/chat_transcript.h"
#include "ui/chat/sampling_settings.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"
#include <oneapi/tbb/task_arena.h>

using namespace qsui;

namespace {

std::shared_ptr<LoadedModel> load(const QString& path) {
    auto ckpt = qs::openCheckpoint(path.toStdString());
    if (!ckpt.ok()) return nullptr;
    auto m = std::make_shared<LoadedModel>();
    m->path = path;
    m->info = qs::analyzeModel(**ckpt);
    m->checkpoint = std::shared_ptr<const qs::Checkpoint>(std::move(ckpt.value()));
    return m;
}

qs::QuantMap mapOf(std::initializer_list<const char*> specs) {
    qs::QuantMap map;
    for (const char* s : specs) map.rules.push_back(qs::parseRuleSpec(s).value());
    return map;
}

// Core reference: generate() on the given weights, stop token removed.
std::vector<int> coreGenerate(const std::shared_ptr<const qs::ModelWeights>& w, const qs::Tokenizer& tok,
                              const std::string& prompt, const qs::GenerateOptions& o) {
    qs::Transformer t(w, nullptr);
    const std::vector<int> p = tok.encode(prompt, tok.addsBos());
    auto r = qs::generate(t, tok, p, o);
    if (!r) return {};
    std::vector<int> ids = r->tokens;
    if (!ids.empty() && (r->stop == qs::GenerateResult::Stop::Bos || r->stop == qs::GenerateResult::Stop::Eos)) ids.pop_back();
    return ids;
}

std::vector<int> idsOf(const std::vector<ChatToken>& tokens) {
    std::vector<int> ids;
    for (const ChatToken& t : tokens) ids.push_back(t.id);
    return ids;
}

// log-softmax in double, written independently of core/infer/logit_compare.cpp.
std::vector<double> logProbs(const float* logits, int n) {
    double mx = logits[0];
    for (int i = 1; i < n; ++i) mx = std::max(mx, double(logits[i]));
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
    std::vector<double> out(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) out[size_t(i)] = double(logits[i]) - mx - std::log(sum);
    return out;
}

struct Fixture {
    tbb::task_arena arena{2};
    JobRunner runner{&arena};
    Document doc;
    ChatPane pane{&doc, &runner, false};
    bool open(const QString& path) {
        auto m = load(path);
        if (!m) return false;
        doc.setModel(m);
        return true;
    }
    bool waitReady() {
        return QTest::qWaitFor([&] { return pane.models()->availability() != ChatModels::Availability::Checking; }, 20000) &&
               pane.models()->availability() == ChatModels::Availability::Ready;
    }
    // Sends `prompt` and waits for the turn to end.
    Job::State turn(const QString& prompt, int timeoutMs = 120000) {
        QSignalSpy done(&pane, &ChatPane::turnFinished);
        pane.setPrompt(prompt);
        pane.send();
        if (!done.wait(timeoutMs)) return Job::State::Running;
        return done.first().first().value<Job::State>();
    }
};

}  // namespace

class TestChatPane : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void greedyReply_equalsCoreGenerate() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Fixture f;
        QVERIFY(f.open(path));
        QVERIFY(f.waitReady());
        QVERIFY(!f.pane.showsEmptyState());
        qs::GenerateOptions o;
        o.maxNewTokens = 120;
        o.sampling.temperature = 0;
        f.pane.sampling()->setOptions(o);
        QCOMPARE(f.turn(QStringLiteral("Once upon a time")), Job::State::Succeeded);

        auto ckpt = qs::openCheckpoint(path.toStdString()).value();
        const qs::ModelInfo info = qs::analyzeModel(*ckpt);
        auto tok = qs::loadTokenizerFor(*ckpt).value();
        auto w = qs::loadModelWeights(*ckpt, info, nullptr, {}, nullptr).value();
        const std::vector<int> expected = coreGenerate(w, *tok, "Once upon a time", o);
        QVERIFY(expected.size() > 20);
        QCOMPARE(idsOf(f.pane.lastTokensA()), expected);
        std::string text;
        for (int id : expected) text += tok->piece(id);
        QCOMPARE(f.pane.lastReplyA(), QString::fromStdString(text));
        QVERIFY(f.pane.transcriptA()->toPlainText().contains(QString::fromStdString(text)));
        QVERIFY(f.pane.transcriptA()->toPlainText().startsWith(QStringLiteral("Once upon a time")));
        QVERIFY2(f.pane.statusText().contains(QStringLiteral("tok/s")), qPrintable(f.pane.statusText()));

        // A second prompt continues the conversation (the KV cache is kept) and still streams.
        QCOMPARE(f.turn(QStringLiteral(" The end.")), Job::State::Succeeded);
        QVERIFY(!f.pane.lastTokensA().empty());
        f.pane.resetConversation();
        QVERIFY(f.pane.transcriptA()->toPlainText().isEmpty());
        QCOMPARE(f.turn(QStringLiteral("Once upon a time")), Job::State::Succeeded);
        QCOMPARE(idsOf(f.pane.lastTokensA()), expected);  // a reset conversation starts afresh
    }

    void escape_stopsLongReplyWithinATokenAndUiStaysResponsive() {
        QS_REQUIRE_ASSET(tokenizer, "models/llama2-tokenizer/tokenizer.bin");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QString error;
        const QString path = qstest::writeRandomLlama2c(dir.path(), {}, tokenizer, 5, &error);
        QVERIFY2(!path.isEmpty(), qPrintable(error));
        Fixture f;
        QVERIFY(f.open(path));
        QVERIFY(f.waitReady());
        qs::GenerateOptions o;
        o.maxNewTokens = 2000;
        o.sampling.temperature = 1.0f;
        o.sampling.topK = 0;
        o.sampling.topP = 1.0f;
        f.pane.sampling()->setOptions(o);
        QSignalSpy started(&f.pane, &ChatPane::turnStarted);
        QSignalSpy done(&f.pane, &ChatPane::turnFinished);
        f.pane.setPrompt(QStringLiteral("Hello"));
        f.pane.send();
        QCOMPARE(started.count(), 1);
        // Tokens arrive in several batches while the job runs: the event loop keeps turning.
        QTRY_VERIFY_WITH_TIMEOUT(f.pane.lastTokensA().size() >= 20, 60000);
        QVERIFY(f.pane.isBusy());
        QVERIFY(f.pane.currentJob());
        QElapsedTimer timer;
        timer.start();
        QTest::keyClick(f.pane.findChild<QPlainTextEdit*>(), Qt::Key_Escape);
        QVERIFY(done.wait(10000));
        const qint64 stopMs = timer.elapsed();
        QCOMPARE(done.first().first().value<Job::State>(), Job::State::Cancelled);
        QVERIFY2(f.pane.lastTokensA().size() < 2000, qPrintable(QString::number(f.pane.lastTokensA().size())));
        QVERIFY(!f.pane.isBusy());
        QVERIFY2(f.pane.statusText().startsWith(QStringLiteral("Stopped")), qPrintable(f.pane.statusText()));
        qInfo("stopped after %zu tokens, %lld ms after Esc", f.pane.lastTokensA().size(), stopMs);
        // The pane takes the next prompt at once.
        o.maxNewTokens = 5;
        f.pane.sampling()->setOptions(o);
        QCOMPARE(f.turn(QStringLiteral(" again")), Job::State::Succeeded);
        QCOMPARE(f.pane.lastTokensA().size(), size_t(5));
    }

    // The model's chat template (tokenizer_config.json chat_template: here Llama 2's) formats the turn: the reply
    // equals the core generator's from "<s>[INST] Hello [/INST]" (the reference template's rendering). A
    // template QuantScope does not know is refused with its source named until one is chosen.
    void chatTemplate_modelTemplateFormatsTurnsAndUnknownOnesAreNamed() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        const char* llama2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
                             "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}"
                             "{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
                             "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
                             "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
                             "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
                             "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
                             "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
        for (const char* tmpl : {llama2, "{% for m in messages %}### {{ m['content'] }}{% endfor %}"}) {
            QTemporaryDir dir;
            for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"})
                QVERIFY(QFile::copy(src + "/" + f, dir.filePath(f)));
            QFile cfg(dir.filePath("tokenizer_config.json"));
            QVERIFY(cfg.open(QIODevice::WriteOnly));
            cfg.write(QByteArray::fromStdString(nlohmann::json{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"chat_template", tmpl}}.dump()));
            cfg.close();
            Fixture f;
            QVERIFY(f.open(dir.path()));
            QVERIFY(f.waitReady());
            if (tmpl != llama2) {
                QVERIFY(!f.pane.models()->chatFormat());
                QVERIFY2(f.pane.statusText().startsWith(QStringLiteral("Choose a chat template")), qPrintable(f.pane.statusText()));
                QVERIFY(f.pane.models()->templateProblem().contains(QStringLiteral("tokenizer_config.json chat_template")));
                auto* combo = f.pane.findChild<QComboBox*>();
                QVERIFY(combo);
                combo->setCurrentIndex(combo->findData(QStringLiteral("plain")));
                QVERIFY(f.pane.models()->chatFormat());
                QCOMPARE(f.pane.models()->chatFormat()->chatTemplate().family, qs::ChatTemplate::Family::Plain);
                continue;
            }
            QVERIFY(f.pane.models()->chatFormat());
            QCOMPARE(f.pane.models()->chatFormat()->chatTemplate().family, qs::ChatTemplate::Family::Llama2);
            QVERIFY2(f.pane.statusText().contains(QStringLiteral("Llama 2")), qPrintable(f.pane.statusText()));
            qs::GenerateOptions o;
            o.maxNewTokens = 12;
            o.sampling.temperature = 0;
            f.pane.sampling()->setOptions(o);
            QCOMPARE(f.turn(QStringLiteral("Hello")), Job::State::Succeeded);
            auto ckpt = qs::openCheckpoint(dir.path().toStdString()).value();
            const qs::ModelInfo info = qs::analyzeModel(*ckpt);
            auto tok = qs::loadTokenizerFor(*ckpt).value();
            auto w = qs::loadModelWeights(*ckpt, info, nullptr, {}, nullptr).value();
            QCOMPARE(idsOf(f.pane.lastTokensA()), coreGenerate(w, *tok, "[INST] Hello [/INST]", o));
        }
    }

    void abMode_figuresEqualDirectKlOnTheSameTokens() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Fixture f;
        QVERIFY(f.open(path));
        const qs::QuantMap map = mapOf({"body=q4_0"});
        f.doc.setQuantMap(map, QStringLiteral("body q4_0"));
        QVERIFY(f.waitReady());
        f.pane.setAbMode(true);
        qs::GenerateOptions o;
        o.maxNewTokens = 100;
        o.sampling.temperature = 0.9f;
        o.sampling.topK = 40;
        o.sampling.seed = 7;
        f.pane.sampling()->setOptions(o);
        const std::string prompt = "Once upon a time";
        QCOMPARE(f.turn(QString::fromStdString(prompt)), Job::State::Succeeded);
        const std::vector<ChatToken>& a = f.pane.lastTokensA();
        const std::vector<ChatToken>& b = f.pane.lastTokensB();
        QVERIFY(!a.empty() && !b.empty());
        QVERIFY(!f.pane.transcriptA()->toPlainText().isEmpty());
        QVERIFY(f.pane.transcriptB()->toPlainText().contains(f.pane.lastReplyB()));

        // Direct computation: both models over prompt + A's tokens, every prediction at once.
        auto ckpt = qs::openCheckpoint(path.toStdString()).value();
        const qs::ModelInfo info = qs::analyzeModel(*ckpt);
        auto tok = qs::loadTokenizerFor(*ckpt).value();
        auto wo = qs::loadModelWeights(*ckpt, info, nullptr, {}, nullptr).value();
        auto q = qs::quantizeForInference(*ckpt, info, map, nullptr).value();
        auto wq = qs::loadModelWeights(*ckpt, info, &q.tensors, {}, nullptr).value();
        QCOMPARE(idsOf(a), coreGenerate(wo, *tok, prompt, o));  // column A: the original's own sample
        QCOMPARE(idsOf(b), coreGenerate(wq, *tok, prompt, o));  // column B: the quantized model's own sample
        std::vector<int> seq = tok->encode(prompt, true);
        const int promptLen = int(seq.size());
        for (const ChatToken& t : a) seq.push_back(t.id);
        const int vocab = wo->config.vocab;
        std::vector<float> lo(seq.size() * size_t(vocab)), lq(seq.size() * size_t(vocab));
        qs::Transformer to(wo, nullptr), tq(wq, nullptr);
        QVERIFY(to.evaluate(seq, lo, true).ok());
        QVERIFY(tq.evaluate(seq, lq, true).ok());
        double sumKl = 0;
        int agree = 0;
        for (size_t k = 0; k < a.size(); ++k) {
            const size_t row = size_t(promptLen - 1) + k;  // prediction of token k of the reply
            const auto p = logProbs(&lo[row * size_t(vocab)], vocab);
            const auto qq = logProbs(&lq[row * size_t(vocab)], vocab);
            double kl = 0;
            int topP = 0, topQ = 0;
            for (int i = 0; i < vocab; ++i) {
                kl += std::exp(p[size_t(i)]) * (p[size_t(i)] - qq[size_t(i)]);
                if (p[size_t(i)] > p[size_t(topP)]) topP = i;
                if (qq[size_t(i)] > qq[size_t(topQ)]) topQ = i;
            }
            QVERIFY2(std::abs(kl - a[k].kl) <= 1e-6 + 1e-4 * kl, qPrintable(QStringLiteral("token %1: %2 vs %3").arg(k).arg(kl).arg(a[k].kl)));
            QCOMPARE(a[k].top1Original, topP);
            QCOMPARE(a[k].top1Quantized, topQ);
            sumKl += kl;
            agree += topP == topQ ? 1 : 0;
        }
        const ChatPane::AbFigures fig = f.pane.abFigures();
        QCOMPARE(fig.compared, int(a.size()));
        QCOMPARE(fig.agree, agree);
        QVERIFY(std::isfinite(fig.meanKl) && fig.meanKl > 0);  // q4_0 changes the distributions
        QVERIFY(std::abs(fig.meanKl - sumKl / double(a.size())) <= 1e-6 + 1e-4 * fig.meanKl);
        QVERIFY(agree > 0 && agree <= int(a.size()));
        QVERIFY(fig.rateA > 0 && fig.rateB > 0);

        // Hovering a highlighted token of column A shows its KL; the highlighted tokens are exactly those whose
        // top-1 differ.
        f.pane.resize(1000, 500);
        f.pane.show();
        QVERIFY(QTest::qWaitForWindowExposed(&f.pane));
        ChatTranscript* view = f.pane.transcriptA();
        int highlighted = 0;
        QString hovered;
        for (QTextBlock block = view->document()->begin(); block.isValid(); block = block.next()) {
            for (auto it = block.begin(); !it.atEnd(); ++it) {
                const QTextFragment frag = it.fragment();
                if (!frag.charFormat().hasProperty(QTextFormat::BackgroundBrush)) continue;
                ++highlighted;
                if (!hovered.isEmpty()) continue;
                QTextCursor c(view->document());
                c.setPosition(frag.position());
                view->setTextCursor(c);
                view->ensureCursorVisible();
                const QRect r = view->cursorRect(c);
                hovered = view->toolTipAt(QPoint(r.right() + 3, r.center().y()));
            }
        }
        const int differing = int(std::count_if(a.begin(), a.end(), [](const ChatToken& t) { return t.top1Differs(); }));
        QVERIFY(differing > 0);
        QVERIFY2(highlighted >= 1 && highlighted <= differing, qPrintable(QStringLiteral("%1 vs %2").arg(highlighted).arg(differing)));
        QVERIFY2(hovered.contains(QStringLiteral("KL")) && hovered.contains(QStringLiteral("differ")), qPrintable(hovered));
    }

    void quantizedModel_cachedByResolvedMap() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Fixture f;
        QVERIFY(f.open(path));
        f.doc.setQuantMap(mapOf({"body=q4_0"}), QStringLiteral("body q4_0"));
        QVERIFY(f.waitReady());
        f.pane.setAbMode(true);
        qs::GenerateOptions o;
        o.maxNewTokens = 8;
        f.pane.sampling()->setOptions(o);
        ChatModels* models = f.pane.models();
        QCOMPARE(models->quantizeJobsStarted(), 0);
        QCOMPARE(f.turn(QStringLiteral("Hi")), Job::State::Succeeded);
        QCOMPARE(models->quantizeJobsStarted(), 1);
        QVERIFY(models->quantized());
        QCOMPARE(f.turn(QStringLiteral("Hi")), Job::State::Succeeded);
        QCOMPARE(models->quantizeJobsStarted(), 1);  // same map: reused

        // An edit that changes no tensor's resolved scheme keeps the model.
        auto kept = models->quantized();
        f.doc.setQuantMap(mapOf({"body=q4_0", "norm=keep"}), QStringLiteral("keep norms"));
        QCOMPARE(models->quantized(), kept);

        // A scheme change invalidates it: the next reply builds again.
        QSignalSpy changed(models, &ChatModels::quantizedChanged);
        f.doc.setQuantMap(mapOf({"body=q8_0"}), QStringLiteral("body q8_0"));
        QCOMPARE(changed.count(), 1);
        QVERIFY(!models->quantized());
        QCOMPARE(f.turn(QStringLiteral("Hi")), Job::State::Succeeded);
        QCOMPARE(models->quantizeJobsStarted(), 2);
        QVERIFY(models->quantized() && models->quantized() != kept);

        // Undo back to q4_0: the cached model is current again at once, no new build.
        f.doc.undoStack()->undo();
        QCOMPARE(models->quantized(), kept);
        QCOMPARE(f.turn(QStringLiteral("Hi")), Job::State::Succeeded);
        QCOMPARE(models->quantizeJobsStarted(), 2);
    }

    void emptyState_namesWhyAModelCannotChat_data() {
        QTest::addColumn<QString>("asset");
        QTest::addColumn<bool>("withoutTokenizer");
        QTest::addColumn<QString>("expected");
        QTest::newRow("keras lstm: not llama") << "models/keras-h5-lstm/lstm.h5" << false << "not implemented: architecture 'keras'";
        QTest::newRow("stories260K without tok512.bin") << "models/stories260K-llama2c/stories260K.bin" << true
                                                        << "no usable tokenizer";
    }
    void emptyState_namesWhyAModelCannotChat() {
        QFETCH(QString, asset);
        QFETCH(bool, withoutTokenizer);
        QFETCH(QString, expected);
        QS_REQUIRE_ASSET(source, asset);
        QTemporaryDir dir;
        QString path = source;
        if (withoutTokenizer) {
            path = QDir(dir.path()).filePath(QStringLiteral("model.bin"));
            QVERIFY(QFile::copy(source, path));
        }
        Fixture f;
        QVERIFY(f.pane.showsEmptyState());  // no model yet
        QVERIFY(f.open(path));
        QVERIFY(!f.waitReady());
        QVERIFY(f.pane.showsEmptyState());
        QVERIFY2(f.pane.emptyStateText().contains(expected), qPrintable(f.pane.emptyStateText()));
    }
};

QTEST_MAIN(TestChatPane)
#include "test_chat_pane.moc"
