// SPDX-License-Identifier: GPL-3.0-or-later
// Bits per weight has one definition (core/quant/footprint_after.h): every command prints the same number for
// the same map. An all-f32 model is exactly 32.00 bpw in quantize, sweep, sensitivity, automix and
// embed-head-study, also the llama2.c file whose stored RoPE tables (freq_cis) are bytes but no weights; a
// `--budget Nbpw` is the bpw sweep and quantize print for the chosen map.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {

nlohmann::json parseJson(const QByteArray& out) {
    auto j = nlohmann::json::parse(out.constData(), nullptr, false);
    if (j.is_discarded()) qFatal("not JSON: %s", out.constData());
    return j;
}

// The bpw column of a sweep CSV's data rows, in point order.
QList<double> sweepBpw(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QList<QByteArray> lines = f.readAll().split('\n');
    const QStringList header = QString::fromUtf8(lines.value(1)).split(',');
    const int col = int(header.indexOf("bpw"));
    QList<double> r;
    for (int i = 2; i < lines.size(); ++i)
        if (!lines[i].isEmpty()) r.push_back(QString::fromUtf8(lines[i]).split(',').value(col).toDouble());
    return r;
}

double quantizeTotalBpw(const QString& model, const QString& rule) {
    auto q = runCli({"quantize", model, "--rule", rule, "--json"});
    if (q.exitCode != 0) qFatal("quantize failed: %s", q.err.constData());
    return parseJson(q.out)["roles"]["total"]["bits_per_weight"].get<double>();
}

}  // namespace

class TestCliBpw : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void f32Model_is32BitsPerWeightInEveryCommand_data() {
        QTest::addColumn<QString>("asset");
        QTest::newRow("llama2.c with freq_cis") << "models/stories260K-llama2c/stories260K.bin";
        QTest::newRow("gguf f32") << "models/stories260K-gguf/stories260K.gguf";
    }
    void f32Model_is32BitsPerWeightInEveryCommand() {
        QFETCH(QString, asset);
        QS_REQUIRE_ASSET(model, asset);
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        QCOMPARE(quantizeTotalBpw(model, "body=keep"), 32.0);

        const QString csv = dir.filePath("s.csv");
        auto s = runCli({"sweep", model, "--groups", "body", "--schemes", "keep,int4", "--out", csv});
        QVERIFY2(s.exitCode == 0, s.err.constData());
        const QList<double> bpw = sweepBpw(csv);
        QCOMPARE(bpw.size(), 2);
        QCOMPARE(bpw[0], 32.0);
        // The quantized point: the sweep and quantize print the same bpw for the same map.
        QCOMPARE(bpw[1], quantizeTotalBpw(model, "body=int4"));

        auto sens = runCli({"sensitivity", model, "--scheme", "int4", "--measure", "weight-error", "--json"});
        QVERIFY2(sens.exitCode == 0, sens.err.constData());
        QCOMPARE(parseJson(sens.out)["baseline"]["bpw"].get<double>(), 32.0);

        auto mix = runCli({"automix", model, "--budget", "4.5bpw", "--schemes", "int4,int8", "--measure",
                           "weight-error", "--out", dir.filePath("m.json"), "--json"});
        QVERIFY2(mix.exitCode == 0, mix.err.constData());
        const auto mj = parseJson(mix.out);
        QCOMPARE(mj["baseline"]["bpw"].get<double>(), 32.0);

        auto study = runCli({"embed-head-study", model, "--text", text, "--ctx", "64", "--windows", "1",
                             "--schemes", "q8_0", "--measure", "ppl", "--json"});
        QVERIFY2(study.exitCode == 0, study.err.constData());
        const auto sj = parseJson(study.out);
        QCOMPARE(sj["rows"][0]["scheme"].get<std::string>(), std::string("baseline"));
        QCOMPARE(sj["rows"][0]["bpw"].get<double>(), 32.0);
        QCOMPARE(sj["rows"][0]["target_bpw"].get<double>(), 32.0);
    }

    // --budget Nbpw is the bpw the other commands print: the chosen map's bpw (budget basis) is the evaluator's
    // point bpw, quantize's total for the written map, and within the budget.
    void automixBudget_isTheBpwSweepAndQuantizePrint() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        const QString map = dir.filePath("m.json");
        auto mix = runCli({"automix", model, "--budget", "4.5bpw", "--schemes", "int2,int4,int8", "--measure",
                           "weight-error", "--out", map, "--json"});
        QVERIFY2(mix.exitCode == 0, mix.err.constData());
        const auto j = parseJson(mix.out);
        const double bpw = j["measured"]["bpw"].get<double>();
        QVERIFY(bpw <= 4.5);
        QVERIFY(bpw > 4.0);  // the budget is used
        QCOMPARE(j["measured"]["point"]["bpw"].get<double>(), bpw);
        auto q = runCli({"quantize", model, "--map", map, "--json"});
        QVERIFY2(q.exitCode == 0, q.err.constData());
        QCOMPARE(parseJson(q.out)["roles"]["total"]["bits_per_weight"].get<double>(), bpw);
        // 8 x budget bytes / weight elements: 260,032 weights of stories260K (embedding/head tied, counted once).
        QCOMPARE(j["budget"]["weight_elements"].get<uint64_t>(), uint64_t(260032));
        QCOMPARE(j["budget"]["bytes"].get<uint64_t>(), uint64_t(4.5 * 260032 / 8));
    }
};

QTEST_GUILESS_MAIN(TestCliBpw)
#include "test_cli_bpw.moc"
