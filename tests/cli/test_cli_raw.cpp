// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli quant-raw` / `dequant-raw` on ggml reference vectors: byte-for-byte output, round trips,
// and one-line failures with the documented exit codes (1 bad input, 2 usage).
// The K-quant .q files of ../shared/refvectors/ggml were generated without ggml_init() (see
// tests/core/test_ggml_refvectors.cpp), so the byte comparison uses the types those assets are right for.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {
QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}
bool oneLine(const QByteArray& err) { return err.count('\n') == 1 && err.startsWith("quantscope-cli "); }
}  // namespace

class TestCliRaw : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void quantRaw_matchesGgmlBytes_data() {
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<QString>("caseName");
        for (const char* s : {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl", "f16", "bf16"})
            for (const char* c : {"gaussian", "real_stories260K"})
                QTest::newRow((std::string(c) + "/" + s).c_str()) << s << c;
    }
    void quantRaw_matchesGgmlBytes() {
        QFETCH(QString, scheme);
        QFETCH(QString, caseName);
        QS_REQUIRE_ASSET(input, "refvectors/ggml/" + caseName + ".input.f32");
        QS_REQUIRE_ASSET(expected, "refvectors/ggml/" + caseName + "." + scheme + ".q");
        QTemporaryDir dir;
        const QString out = dir.filePath("out.q");
        auto r = runCli({"quant-raw", "--scheme", scheme, "--rows", "4", "--cols", "512", input, out});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        QCOMPARE(readAll(out), readAll(expected));
    }

    void dequantRaw_matchesGgmlFloatsAndRoundTrips() {
        QS_REQUIRE_ASSET(q, "refvectors/ggml/gaussian.bf16.q");
        QS_REQUIRE_ASSET(expected, "refvectors/ggml/gaussian.bf16.dequant.f32");
        QS_REQUIRE_ASSET(input, "refvectors/ggml/gaussian.input.f32");
        QTemporaryDir dir;
        auto r = runCli({"dequant-raw", "--scheme", "bf16", "--rows", "4", "--cols", "512", q, dir.filePath("y.f32")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(readAll(dir.filePath("y.f32")), readAll(expected));
        // A non-ggml scheme through both commands: right size, close to the input.
        r = runCli({"quant-raw", "--scheme", "nf4_dq", "--rows", "4", "--cols", "512", input, dir.filePath("n.q")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        r = runCli({"dequant-raw", "--scheme", "nf4_dq", "--rows", "4", "--cols", "512", dir.filePath("n.q"),
                    dir.filePath("n.f32")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QByteArray x = readAll(input), y = readAll(dir.filePath("n.f32"));
        QCOMPARE(y.size(), x.size());
        double e = 0, n = 0;
        for (int i = 0; i < 2048; ++i) {
            float a, b;
            std::memcpy(&a, x.constData() + 4 * i, 4);
            std::memcpy(&b, y.constData() + 4 * i, 4);
            e += (a - b) * double(a - b);
            n += a * double(a);
        }
        QVERIFY(std::sqrt(e / n) < 0.15);
    }

    // `--scheme list` (which the help points to) prints every scheme name of the registry's pickers.
    void schemeList_namesEveryRegisteredScheme() {
        auto r = runCli({"quant-raw", "--scheme", "list"});
        QCOMPARE(r.exitCode, 0);
        for (const char* name : {"q4_0", "q8_0", "q4_K", "q6_K", "iq4_nl", "nf4", "int4_g128"})
            QVERIFY2(r.out.contains(QByteArray("\n") + name + " ") || r.out.startsWith(QByteArray(name) + " "), name);
        auto help = runCli({"quant-raw", "--help"});
        QVERIFY(help.out.contains("--scheme list"));
    }

    void failures_oneLineAndExitCode_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("mentions");
        const QString in = qstest::assetPath("refvectors/ggml/gaussian.input.f32");
        QTest::newRow("size mismatch") << QStringList{"quant-raw", "--scheme", "q8_0", "--rows", "4", "--cols", "256", in, "o"}
                                       << 1 << "expected 4096";
        QTest::newRow("unknown scheme") << QStringList{"quant-raw", "--scheme", "q4_9", "--rows", "4", "--cols", "512", in, "o"}
                                        << 2 << "int<2-8>";  // a usage error, as a bad --rule
        QTest::newRow("rejected shape") << QStringList{"quant-raw", "--scheme", "q4_0", "--rows", "2", "--cols", "1000", in, "o"}
                                        << 1 << "row length 1000 is not a multiple of q4_0's block of 32";
        QTest::newRow("row not multiple") << QStringList{"quant-raw", "--scheme", "q4_K", "--rows", "16", "--cols", "128", in, "o"}
                                          << 1 << "not a multiple of q4_K's block of 256";
        QTest::newRow("packed size mismatch") << QStringList{"dequant-raw", "--scheme", "q4_0", "--rows", "4", "--cols", "512", in, "o"}
                                              << 1 << "expected 1152";
        QTest::newRow("missing input") << QStringList{"quant-raw", "--scheme", "q4_0", "--rows", "4", "--cols", "512", "/nonexistent.f32", "o"}
                                       << 1 << "/nonexistent.f32";
        QTest::newRow("missing option") << QStringList{"quant-raw", "--rows", "4", "--cols", "512", in, "o"} << 2 << "--scheme";
        QTest::newRow("bad integer") << QStringList{"quant-raw", "--scheme", "q4_0", "--rows", "four", "--cols", "512", in, "o"}
                                     << 2 << "--rows";
        QTest::newRow("negative rows") << QStringList{"dequant-raw", "--scheme", "q4_0", "--rows", "-4", "--cols", "512", in, "o"}
                                       << 2 << "positive";
        QTest::newRow("one path") << QStringList{"quant-raw", "--scheme", "q4_0", "--rows", "4", "--cols", "512", in} << 2 << "OUT";
    }
    void failures_oneLineAndExitCode() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, mentions);
        QS_REQUIRE_ASSET(in, "refvectors/ggml/gaussian.input.f32");
        QTemporaryDir dir;
        args.last() = args.last() == "o" ? dir.filePath("o") : args.last();
        auto r = runCli(args);
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY(!r.crashed);
        QVERIFY2(oneLine(r.err), r.err.constData());
        QVERIFY2(r.err.contains(mentions.toUtf8()), r.err.constData());
        QVERIFY2(!QFile::exists(dir.filePath("o")) && !QFile::exists(dir.filePath("o.part")), "no output on failure");
    }
};

QTEST_GUILESS_MAIN(TestCliRaw)
#include "test_cli_raw.moc"
