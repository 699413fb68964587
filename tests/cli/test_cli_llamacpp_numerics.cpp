// SPDX-License-Identifier: GPL-3.0-or-later
// The engine's default (native) path against llama.cpp on stories260K exports (tests/data/llamacpp-ppl, written
// by llama-perplexity and a greedy libllama loop, README there): each export is written by `export --rule
// all=<type>` and must be byte-identical (sha256) to the file llama.cpp ran; then `ppl --ctx 128` on the
// TinyStories sample and `generate --temperature 0` are compared with llama.cpp run with -fa off -ctk f32 -ctv
// f32 (a float KV cache and exact softmax x V, the arithmetic our engine implements). llama.cpp's defaults
// (flash attention with an f16 KV cache and an fp16 V accumulator on the CPU) are recorded beside them and not
// asserted: they differ by up to 0.25% in perplexity (README).
#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {

QJsonObject expected() {
    QFile f(qEnvironmentVariable("QS_SOURCE_DIR") + "/tests/data/llamacpp-ppl/expected.json");
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(f.fileName()));
    return QJsonDocument::fromJson(f.readAll()).object();
}

QString sha256(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return QString::fromLatin1(h.result().toHex());
}

// The final perplexity `ppl --json` prints, or NaN (never inside a band) with the CLI's stderr in `error`.
double pplOf(const QString& model, const QString& text, QByteArray& error) {
    auto r = runCli({"ppl", model, "--text", text, "--ctx", "128", "--threads", "1", "--json"});
    error = r.err;
    if (r.exitCode != 0) return std::nan("");
    return QJsonDocument::fromJson(r.out).object().value("ppl").toDouble(std::nan(""));
}

// Where greedy decoding may legitimately part from llama.cpp's: our top-2 log-probabilities closer than this.
constexpr double kTieNats = 0.02;

}  // namespace

class TestCliLlamacppNumerics : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void exportsAgreeWithLlamaCpp_data() {
        QTest::addColumn<QString>("type");
        for (const char* t : {"f16", "bf16", "q8_0", "q4_0", "q4_K"}) QTest::newRow(t) << t;
    }
    // Greedy ids and perplexity of each export against llama.cpp's on the same bytes:
    //  - greedy: the 200 ids llama.cpp generates from "Once upon a time" (f16, bf16, q4_0, q4_K), equal to ours
    //    until a near-tie, where two engines that sum in different orders may pick either token: llama.cpp's id
    //    must then be our runner-up within kTieNats (0.02) of our choice, and the sequences part there. A
    //    systematic difference shows as a divergence at a clear margin. (With the f32 activations the engine gave
    //    f16/bf16 weights before, bf16 diverged at step 181 and q4_K at 79, a 0.0018-nat tie; with the vectorised
    //    exp of the softmax, q4_K parts at step 129, a 0.0083-nat tie.) q8_0 is not asserted.
    //  - perplexity: the final value. Where activations are rounded (f16/bf16 weights, q8_0/q8_K activations) a
    //    float summation-order difference upstream flips roundings, so two correct engines differ by a noise
    //    floor (llama.cpp's own repacked and plain q4_0 kernels: 7.4679 and 7.4714, 0.047%; ours 7.4764): within
    //    5e-4 (f16/bf16) and 0.2% (q8_0/q4_0/q4_K) of llama.cpp's -- a guard against systematic differences
    //    such as llama.cpp's default flash attention (+0.25% on q4_0), not a measure of the f16 pairing.
    void exportsAgreeWithLlamaCpp() {
        QFETCH(QString, type);
        const QJsonObject e = expected();
        QS_REQUIRE_ASSET(source, e["source"].toObject()["path"].toString());
        QS_REQUIRE_ASSET(text, e["text"].toObject()["path"].toString());
        QCOMPARE(sha256(source), e["source"].toObject()["sha256"].toString());
        QCOMPARE(sha256(text), e["text"].toObject()["sha256"].toString());
        const QJsonObject x = e["exports"].toObject()[type].toObject();
        QTemporaryDir dir;
        const QString model = dir.filePath(type + ".gguf");
        auto made = runCli({"export", source, "--rule", x["rule"].toString(), "--gguf", model});
        QVERIFY2(made.exitCode == 0, made.err.constData());
        QVERIFY2(sha256(model) == x["sha256"].toString(),
                 "the export's bytes changed: llama.cpp's figures in tests/data/llamacpp-ppl are for other bytes");

        const QJsonObject ref = x["ppl_f32kv"].toObject();
        QCOMPARE(ref["chunks"].toArray().size(), 14);
        QByteArray pplErr;
        const double pplOurs = pplOf(model, text, pplErr), pplLlama = ref["final"].toDouble();
        const double band = (type == "f16" || type == "bf16" ? 5e-4 : 2e-3) * pplLlama;
        QVERIFY2(std::fabs(pplOurs - pplLlama) <= band,
                 qPrintable(QString("%1: ours %2, llama-perplexity %3 (band %4) %5").arg(type).arg(pplOurs, 0, 'f', 5)
                                .arg(pplLlama).arg(band).arg(QString::fromUtf8(pplErr))));
        if (type == "q8_0") return;

        auto gen = runCli({"generate", model, "--prompt", e["prompt"].toString(), "--steps",
                           QString::number(e["steps"].toInt()), "--temperature", "0", "--json", "--logprobs", "2"});
        QVERIFY2(gen.exitCode == 0, gen.err.constData());
        const QJsonObject g = QJsonDocument::fromJson(gen.out).object();
        const QJsonArray ours = g["ids"].toArray(), top = g["top_logprobs"].toArray();
        const QJsonArray theirs = x["greedy_f32kv"].toArray();
        QCOMPARE(theirs.size(), e["steps"].toInt());
        QVERIFY(ours.size() >= theirs.size() && top.size() == ours.size());
        for (int i = 0; i < theirs.size(); ++i) {
            if (ours[i].toInt() == theirs[i].toInt()) continue;
            // A near-tie: llama.cpp's id is our runner-up, within kTieNats of our choice.
            const QJsonArray t = top[i].toArray();
            const double gap = t[0].toObject()["logprob"].toDouble() - t[1].toObject()["logprob"].toDouble();
            QVERIFY2(t[1].toObject()["id"].toInt() == theirs[i].toInt() && gap < kTieNats,
                     qPrintable(QString("%1: greedy ids differ from llama.cpp's at step %2 (ours %3, theirs %4, our "
                                        "top-2 gap %5 nats): not a near-tie")
                                    .arg(type).arg(i).arg(ours[i].toInt()).arg(theirs[i].toInt()).arg(gap)));
            qInfo("%s: same greedy ids as llama.cpp for %d steps, then a near-tie (top-2 gap %.4f nats)",
                  qPrintable(type), i, gap);
            break;
        }
    }
};

QTEST_GUILESS_MAIN(TestCliLlamacppNumerics)
#include "test_cli_llamacpp_numerics.moc"
