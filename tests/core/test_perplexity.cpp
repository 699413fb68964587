// SPDX-License-Identifier: GPL-3.0-or-later
// Perplexity protocols: the documents protocol reproduces the reference figures of stories260K on the
// TinyStories sample (NLL 1.2664, PPL 3.548, 1,804 tokens) from every encoding; llamacpp and gptq windows
// follow their definitions; KL divergence and top-1 agreement against a reference; cancellation.
#include "core/infer/inference_model.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer_loader.h"

#include <QFile>
#include <QTest>

#include <cmath>

#include "common/assets.h"

using namespace qs;

namespace {

std::string readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll().toStdString();
}

InferenceModel open(const QString& path) {
    auto m = openInferenceModel(path.toStdString(), {}, nullptr);
    if (!m) qFatal("%s", m.message().c_str());
    return std::move(m.value());
}

}  // namespace

class TestPerplexity : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void documents_matchReferenceFigures_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("llama2.c v0") << "models/stories260K-llama2c/stories260K.bin";
        QTest::newRow("gguf") << "models/stories260K-gguf/stories260K.gguf";
        QTest::newRow("hf") << "models/stories260K-hf";
    }
    void documents_matchReferenceFigures() {
        QFETCH(QString, model);
        QS_REQUIRE_ASSET(path, model);
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto m = open(path);
        tbb::task_arena arena(2);
        Transformer t(m.weights, &arena);
        PerplexityOptions o;
        o.protocol = PplProtocol::Documents;
        o.separator = "<|endoftext|>";
        o.context = 512;
        auto r = evaluatePerplexity(t, *m.tokenizer, readAll(textPath), o);
        QVERIFY2(r.ok(), r ? "" : r.message().c_str());
        QCOMPARE(r->protocol, std::string("documents"));
        QCOMPARE(r->windows, 5);
        QCOMPARE(r->tokens, int64_t(1804));
        QVERIFY2(std::fabs(r->nll - 1.2664) < 1e-3, qPrintable(QString::number(r->nll, 'f', 6)));
        QVERIFY2(std::fabs(r->ppl - 3.548) < 1e-3, qPrintable(QString::number(r->ppl, 'f', 6)));
        QVERIFY(!r->compared);
    }

    void llamacpp_scoresSecondHalfOfBosChunks() {
        QS_REQUIRE_ASSET(tokPath, "models/stories260K-llama2c/tok512.bin");
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        auto tok = loadTokenizerFile(tokPath.toStdString());
        QVERIFY(tok.ok());
        const std::string text = readAll(wiki).substr(0, 20000);
        const auto all = (*tok)->encode(text, true);
        PerplexityOptions o;
        o.protocol = PplProtocol::LlamaCpp;
        o.context = 128;
        std::vector<std::string> warnings;
        auto w = buildEvalWindows(**tok, text, o, warnings);
        QVERIFY(w.ok());
        QCOMPARE(w->size(), all.size() / 128);
        for (size_t i = 0; i < w->size(); ++i) {
            const auto& win = (*w)[i];
            QCOMPARE(win.tokens.size(), size_t(128));
            QCOMPARE(win.tokens[0], 1);  // BOS replaces the chunk's first token
            QVERIFY(std::equal(win.tokens.begin() + 1, win.tokens.end(), all.begin() + std::ptrdiff_t(i * 128 + 1)));
            QCOMPARE(win.firstScored, 64);
        }
        QVERIFY(!warnings.empty());  // CRLF line ends are reported
        // Fewer than 2 x context tokens: refused, as llama-perplexity does.
        o.context = int(all.size() / 2 + 1);
        auto tooShort = buildEvalWindows(**tok, text, o, warnings);
        QVERIFY(!tooShort.ok());
        QVERIFY(QString::fromStdString(tooShort.message()).contains("at least"));
    }

    void gptq_windowsAreConsecutiveAndFullyScored() {
        QS_REQUIRE_ASSET(tokPath, "models/stories260K-llama2c/tok512.bin");
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        auto tok = loadTokenizerFile(tokPath.toStdString());
        QVERIFY(tok.ok());
        const std::string text = readAll(wiki).substr(0, 5000);
        const auto all = (*tok)->encode(text, true);
        PerplexityOptions o;
        o.protocol = PplProtocol::Gptq;
        o.context = 100;
        std::vector<std::string> warnings;
        auto w = buildEvalWindows(**tok, text, o, warnings);
        QVERIFY(w.ok());
        QCOMPARE(w->size(), all.size() / 100);
        for (size_t i = 0; i < w->size(); ++i) {
            QCOMPARE((*w)[i].firstScored, 0);
            QVERIFY(std::equal((*w)[i].tokens.begin(), (*w)[i].tokens.end(), all.begin() + std::ptrdiff_t(i * 100)));
        }
    }

    void documents_trimSkipEmptyAndTruncate() {
        QS_REQUIRE_ASSET(tokPath, "models/stories260K-llama2c/tok512.bin");
        auto tok = loadTokenizerFile(tokPath.toStdString());
        QVERIFY(tok.ok());
        PerplexityOptions o;
        o.protocol = PplProtocol::Documents;
        o.separator = "##";
        o.context = 6;
        std::vector<std::string> warnings;
        auto w = buildEvalWindows(**tok, "  Once upon a time  ##\n\n##  \t ## a long long long long long long story\n", o, warnings);
        QVERIFY(w.ok());
        QCOMPARE(w->size(), size_t(2));
        QCOMPARE((*w)[0].tokens, (*tok)->encode("Once upon a time", true));
        QCOMPARE((*w)[1].tokens.size(), size_t(6));
        QCOMPARE((*w)[1].tokens[0], 1);
        QCOMPARE(warnings.size(), size_t(1));  // one document truncated
        auto none = buildEvalWindows(**tok, " ## \n##", o, warnings);
        QVERIFY(!none.ok());
    }

    void kld_zeroAgainstItselfPositiveForQ8() {
        QS_REQUIRE_ASSET(fp32, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(q8, "models/stories260K-llama2c/stories260K-q8.bin");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto a = open(fp32), b = open(q8);
        const std::string text = readAll(textPath);
        PerplexityOptions o;
        o.protocol = PplProtocol::Documents;
        Transformer ta(a.weights, nullptr), tb(b.weights, nullptr), ref(a.weights, nullptr);
        auto same = evaluatePerplexity(ta, *a.tokenizer, text, o, {}, &ref);
        QVERIFY(same.ok());
        QVERIFY(same->compared);
        QVERIFY(same->kld < 1e-12);
        QCOMPARE(same->top1, 1.0);
        QCOMPARE(same->referencePpl, same->ppl);
        auto q = evaluatePerplexity(tb, *b.tokenizer, text, o, {}, &ref);
        QVERIFY(q.ok());
        QCOMPARE(q->tokens, int64_t(1804));
        QVERIFY(q->kld > 1e-6 && q->kld < 0.05);
        QVERIFY(q->top1 > 0.9 && q->top1 < 1.0);
        QVERIFY(std::fabs(q->referencePpl - same->ppl) < 1e-9);
        QVERIFY(std::fabs(q->ppl - same->ppl) < 0.05 * same->ppl);
        qInfo("Q8_0 v2 vs fp32: ppl %.4f vs %.4f, KLD %.6f, top-1 %.4f", q->ppl, same->ppl, q->kld, q->top1);
    }

    void evaluate_cancelsWhenProgressSaysSo() {
        QS_REQUIRE_ASSET(fp32, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto a = open(fp32);
        Transformer t(a.weights, nullptr);
        PerplexityOptions o;
        o.protocol = PplProtocol::Documents;
        int calls = 0;
        auto r = evaluatePerplexity(t, *a.tokenizer, readAll(textPath), o, [&](double, std::string_view) { return ++calls < 3; });
        QVERIFY(!r.ok());
        QCOMPARE(r.message(), std::string(kCancelledMessage));
        // A window longer than the model's context is refused up front.
        o.context = 100000;
        o.protocol = PplProtocol::Gptq;
        std::string longText;
        for (int i = 0; i < 60; ++i) longText += readAll(textPath);
        auto tooLong = evaluatePerplexity(t, *a.tokenizer, longText, o);
        QVERIFY(!tooLong.ok());
    }
};

QTEST_GUILESS_MAIN(TestPerplexity)
#include "test_perplexity.moc"
