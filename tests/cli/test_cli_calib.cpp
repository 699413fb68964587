// SPDX-License-Identifier: GPL-3.0-or-later
// --calib on the command line: `calibrate` writes the statistics (the same for any thread count), the option
// errors are usage errors (exit 2), and a calibrated scheme is refused by name without --calib (exit 1) and runs
// with it (exit 0), on the real stories260K with WikiText-2 as the calibration text.
#include <algorithm>
#include <cmath>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include "cli/cli_runner.h"
#include "common/assets.h"
#include "core/calib/calibration_h5.h"
#include "core/calib/imatrix_file.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/scheme.h"

using qstest::runCli;

namespace {
constexpr const char* kModel = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kWiki = "data/wikitext-2-raw/wiki.test.raw";
// A registry scheme that needs calibration: the importance-weighted q4_0 (blocks of 32 take the 64 columns of
// stories260K's attention weights; q4_K_im would fall back there).
constexpr const char* kCalibrated = "q4_0_im";
}  // namespace

class TestCliCalib : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void calibrate_writesStatsSameForAnyThreadCount() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(wiki, kWiki);
        QTemporaryDir dir;
        QJsonArray inputs[2];
        for (int t = 0; t < 2; ++t) {
            const QString out = dir.filePath(QString("stats%1.h5").arg(t));
            auto r = runCli({"calibrate", model, "--calib", wiki, "--calib-tokens", "1024", "--calib-ctx", "256",
                             "--threads", QString::number(t + 1), "--out", out, "--json"});
            QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
            QVERIFY(QFileInfo::exists(out));
            const QJsonObject j = QJsonDocument::fromJson(r.out).object();
            QCOMPARE(j["tokens"].toInt(), 1024);
            QCOMPARE(j["sequences"].toInt(), 4);
            QCOMPARE(j["sequence_length"].toInt(), 256);
            inputs[t] = j["inputs"].toArray();
        }
        // stories260K: 5 blocks x 4 inputs (the head is tied: no head tensor).
        QCOMPARE(inputs[0].size(), 20);
        QCOMPARE(inputs[0], inputs[1]);
        QCOMPARE(inputs[0][0].toObject()["tensors"].toArray().size(), 3);  // q, k, v share their input
        QVERIFY(inputs[0][0].toObject()["mean_importance"].toDouble() > 0);
    }

    void calib_readsSavedStatisticsOfTheSameWeightsOnly() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(wiki, kWiki);
        QTemporaryDir dir;
        const QString stats = dir.filePath("stats.h5");
        auto made = runCli({"calibrate", model, "--calib", wiki, "--calib-tokens", "512", "--out", stats});
        QVERIFY2(made.exitCode == 0, made.err.constData());
        auto used = runCli({"quantize", model, "--rule", "body=q8_0", "--calib", stats});
        QVERIFY2(used.exitCode == 0, used.err.constData());
        QVERIFY(used.err.contains("calibration read from"));
        auto other = runCli({"quantize", gguf, "--rule", "body=q8_0", "--calib", stats});
        QCOMPARE(other.exitCode, 1);
        QVERIFY2(other.err.contains("the statistics were collected on other weights"), other.err.constData());
    }

    void calibOptions_misuseIsAUsageError() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(wiki, kWiki);
        auto noCalib = runCli({"quantize", model, "--rule", "body=q8_0", "--calib-tokens", "100"});
        QCOMPARE(noCalib.exitCode, 2);
        QVERIFY(noCalib.err.contains("--calib-tokens and --calib-ctx need --calib FILE"));
        auto badCtx = runCli({"quantize", model, "--rule", "body=q8_0", "--calib", wiki, "--calib-ctx", "1"});
        QCOMPARE(badCtx.exitCode, 2);
        auto pplNoMap = runCli({"ppl", model, "--text", wiki, "--calib", wiki});
        QCOMPARE(pplNoMap.exitCode, 2);
        QVERIFY(pplNoMap.err.contains("--calib calibrates the schemes of --map/--rule"));
        QTemporaryDir dir;
        auto imatrix = runCli({"calibrate", model, "--calib", wiki, "--out", dir.filePath("x.imatrix"), "--samples", "4"});
        QCOMPARE(imatrix.exitCode, 2);
        QVERIFY2(imatrix.err.contains("a llama.cpp imatrix holds only the sums of squares"), imatrix.err.constData());
        auto badFormat = runCli({"calibrate", model, "--calib", wiki, "--out", dir.filePath("x.dat"),
                                 "--output-format", "bin"});
        QCOMPARE(badFormat.exitCode, 2);
        auto h5Format = runCli({"calibrate", model, "--calib", wiki, "--out", dir.filePath("x.h5"),
                                "--output-format", "dat"});
        QCOMPARE(h5Format.exitCode, 2);
        auto missing = runCli({"calibrate", model, "--out", dir.filePath("x.h5")});
        QCOMPARE(missing.exitCode, 2);
        auto badFile = runCli({"quantize", model, "--rule", "body=q8_0", "--calib", dir.filePath("absent.txt")});
        QCOMPARE(badFile.exitCode, 1);
        QVERIFY2(badFile.err.contains("absent.txt: no such file (a calibration text)"), badFile.err.constData());
        // A GGUF (a model, or an imatrix meant for --imatrix) and a folder are refused, not read as text.
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        auto ggufText = runCli({"quantize", model, "--rule", "body=q8_0", "--calib", gguf});
        QCOMPARE(ggufText.exitCode, 1);
        QVERIFY2(ggufText.err.contains("is a GGUF file, not a calibration text"), qPrintable(ggufText.err));
        auto folder = runCli({"quantize", model, "--rule", "body=q8_0", "--calib", dir.path()});
        QCOMPARE(folder.exitCode, 1);
        QVERIFY2(folder.err.contains("is a folder"), qPrintable(folder.err));
    }

    // `calibrate --out` a llama.cpp imatrix: GGUF for .gguf/.imatrix (llama-imatrix's default whatever the name),
    // legacy for .dat or --output-format dat; each read back (the reader checks the format by its bytes) gives
    // the importance of the .h5 statistics of the same run exactly, for every tensor.
    void calibrate_writesImatrixFilesReadBackExactly() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(wiki, kWiki);
        QTemporaryDir dir;
        const QStringList common = {"calibrate", model, "--calib", wiki, "--calib-tokens", "1024", "--calib-ctx", "256"};
        const QString h5 = dir.filePath("s.h5");
        auto made = runCli(QStringList(common) << "--out" << h5);
        QVERIFY2(made.exitCode == 0, made.err.constData());
        auto stats = qs::readCalibrationH5(h5.toStdString());
        QVERIFY(stats.ok() && stats->has_value());
        const qs::CalibrationSet& set = **stats;
        auto ck = qs::openCheckpoint(model.toStdString());
        QVERIFY(ck.ok());
        const qs::ModelInfo info = qs::analyzeModel(**ck);
        const struct {
            const char* file;
            QStringList extra;
            qs::ImatrixFormat format;
        } cases[] = {{"a.gguf", {}, qs::ImatrixFormat::Gguf},
                     {"a.imatrix", {}, qs::ImatrixFormat::Gguf},
                     {"a.dat", {}, qs::ImatrixFormat::Legacy},
                     {"b.imatrix", {"--output-format", "dat"}, qs::ImatrixFormat::Legacy},
                     {"b.dat", {"--output-format", "gguf"}, qs::ImatrixFormat::Gguf}};
        for (const auto& c : cases) {
            const QString out = dir.filePath(c.file);
            auto r = runCli(QStringList(common) << c.extra << "--out" << out << "--json");
            QVERIFY2(r.exitCode == 0, r.err.constData());
            const QJsonObject j = QJsonDocument::fromJson(r.out).object();
            QCOMPARE(j["format"].toString(), QString(c.format == qs::ImatrixFormat::Gguf ? "imatrix-gguf" : "imatrix-dat"));
            auto file = qs::readImatrix(out.toStdString());
            if (!file.ok()) QFAIL(file.message().c_str());
            QCOMPARE(file->format, c.format);
            QCOMPARE(file->entries.size(), size_t(35));  // 5 blocks x 7 matrices, llama.cpp's names
            QCOMPARE(file->entries[0].name, std::string("blk.0.attn_k.weight"));
            auto back = qs::imatrixToCalibration(*file, **ck, info, out.toStdString());
            if (!back.ok()) QFAIL(back.message().c_str());
            QCOMPARE(back->tensors.size(), set.tensors.size());
            for (const auto& [name, orig] : set.tensors) {
                const qs::TensorCalibration* got = back->find(name);
                QVERIFY2(got, name.c_str());
                const std::vector<float> want = orig->importance();
                QVERIFY(!want.empty());
                QVERIFY2(got->importance() == want, name.c_str());
            }
        }
    }

    // The same text through --calib or through the imatrix GGUF that `calibrate` wrote gives the same bytes for
    // the importance-weighted schemes: q4_0_im on stories260K's 64-column matrices (blocks of 32), and q4_K_im,
    // which falls back there to q5_0_im (64 is not a multiple of 256; llama.cpp's fallback). The 172-column
    // ffn_down takes no block of 32 and falls back unweighted.
    void imatrixFromCalibrate_sameBytesAsCalib() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(wiki, kWiki);
        QTemporaryDir dir;
        const QString im = dir.filePath("w.gguf");
        const QStringList calib = {"--calib", wiki, "--calib-tokens", "1024", "--calib-ctx", "256"};
        auto made = runCli(QStringList{"calibrate", model} << calib << "--out" << im);
        QVERIFY2(made.exitCode == 0, made.err.constData());
        const QString viaCalib = dir.filePath("c.gguf"), viaImatrix = dir.filePath("i.gguf"),
                      plain = dir.filePath("p.gguf");
        for (const char* rule : {"body=q4_0_im", "body=q4_K_im"}) {
            auto a = runCli(QStringList{"export", model, "--rule", rule} << calib << "--gguf" << viaCalib);
            QVERIFY2(a.exitCode == 0, a.err.constData());
            auto b = runCli({"export", model, "--rule", rule, "--imatrix", im, "--gguf", viaImatrix});
            QVERIFY2(b.exitCode == 0, b.err.constData());
            auto p = runCli({"export", model, "--rule", QString(rule).remove("_im"), "--gguf", plain});
            QVERIFY2(p.exitCode == 0, p.err.constData());
            auto ca = qs::openCheckpoint(viaCalib.toStdString());
            auto cb = qs::openCheckpoint(viaImatrix.toStdString());
            auto cp = qs::openCheckpoint(plain.toStdString());
            QVERIFY(ca.ok() && cb.ok() && cp.ok());
            QCOMPARE((*ca)->tensors.size(), (*cb)->tensors.size());
            int weighted = 0;
            for (size_t i = 0; i < (*ca)->tensors.size(); ++i) {
                auto da = (*ca)->data(i), db = (*cb)->data(i), dp = (*cp)->data(i);
                QVERIFY(da.ok() && db.ok() && dp.ok());
                QVERIFY2(std::equal(da->bytes.begin(), da->bytes.end(), db->bytes.begin(), db->bytes.end()),
                         (*ca)->tensors[i].name.c_str());
                // Tensors the importance changed (the test would pass trivially if none did).
                weighted += std::equal(da->bytes.begin(), da->bytes.end(), dp->bytes.begin(), dp->bytes.end()) ? 0 : 1;
            }
            QVERIFY2(weighted >= 20, qPrintable(QString("%1: %2 weighted").arg(rule).arg(weighted)));
        }
    }

    // Our engine's statistics against llama-imatrix's on the same model, text and chunks (tests/data/llama-imatrix,
    // written by llama.cpp): the same 35 matrices with the same counts, every column's importance within 0.5%
    // (measured: at most 0.15%, float accumulation and kernel order; a chunking shifted by one token, as
    // before the text was tokenized with BOS first, differs by up to 24%).
    void calibrate_importanceAgreesWithLlamaImatrix() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(wiki, kWiki);
        const QString reference = qEnvironmentVariable("QS_SOURCE_DIR") +
                                  "/tests/data/llama-imatrix/stories260K-wiki-4x256.imatrix.gguf";
        QVERIFY2(QFileInfo::exists(reference), qPrintable(reference));
        QTemporaryDir dir;
        const QString out = dir.filePath("ours.gguf");
        auto r = runCli({"calibrate", gguf, "--calib", wiki, "--calib-tokens", "1024", "--calib-ctx", "256", "--out", out});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        auto ours = qs::readImatrix(out.toStdString());
        auto llama = qs::readImatrix(reference.toStdString());
        QVERIFY(ours.ok() && llama.ok());
        QCOMPARE(llama->entries.size(), size_t(35));
        double worst = 0;
        for (const qs::ImatrixEntry& want : llama->entries) {
            const auto it = std::find_if(ours->entries.begin(), ours->entries.end(),
                                         [&](const qs::ImatrixEntry& e) { return e.name == want.name; });
            QVERIFY2(it != ours->entries.end(), want.name.c_str());
            QCOMPARE(it->tokens, want.tokens);
            QCOMPARE(it->sumSquares.size(), want.sumSquares.size());
            for (size_t j = 0; j < want.sumSquares.size(); ++j) {
                const double a = qs::importanceOf(it->sumSquares[j], it->tokens);
                const double b = qs::importanceOf(want.sumSquares[j], want.tokens);
                QVERIFY(b > 0);
                worst = std::max(worst, std::fabs(a - b) / b);
            }
        }
        qInfo("largest relative difference of a column's importance: %.3g", worst);
        QVERIFY2(worst < 5e-3, qPrintable(QString::number(worst)));
    }

    void calibrate_sequentialModeRunsOnTheQuantizedBlocks() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(wiki, kWiki);
        QTemporaryDir dir;
        QJsonArray inputs[2];
        for (int k = 0; k < 2; ++k) {
            QStringList a = {"calibrate", model, "--calib", wiki, "--calib-tokens", "512", "--calib-ctx", "256",
                             "--rule", "body=q4_0", "--out", dir.filePath("s.h5"), "--json"};
            if (k == 1) a << "--calib-sequential";
            auto r = runCli(a);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            inputs[k] = QJsonDocument::fromJson(r.out).object()["inputs"].toArray();
        }
        // Block 0 sees the same inputs; the last block's inputs come from four q4_0 blocks in sequential mode.
        QCOMPARE(inputs[0][0], inputs[1][0]);
        QVERIFY(inputs[0][19] != inputs[1][19]);
        auto noMap = runCli({"calibrate", model, "--calib", wiki, "--calib-sequential", "--out", dir.filePath("t.h5")});
        QCOMPARE(noMap.exitCode, 2);
    }

    void quantize_calibratedSchemeRefusedWithoutCalibAndRunsWithIt() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(wiki, kWiki);
        // The registry's calibrated schemes come with the importance-weighted K-quants (branch kqim); without one
        // there is nothing to refuse, and this says so instead of passing.
        QVERIFY2(qs::findScheme(kCalibrated), "q4_0_im is missing from the registry");
        const QString rule = QString("body=%1").arg(kCalibrated);
        auto refused = runCli({"quantize", model, "--rule", rule});
        QCOMPARE(refused.exitCode, 1);  // a failed operation, named
        QVERIFY2(refused.err.contains(QByteArray(kCalibrated) + " on 'layers.0.attention.wq.weight' needs calibration "
                                                                "data (pass --calib FILE or --imatrix FILE)"),
                 refused.err.constData());
        auto ran = runCli({"quantize", model, "--rule", rule, "--calib", wiki, "--calib-tokens", "1024", "--json"});
        QVERIFY2(ran.exitCode == 0 && !ran.crashed, ran.err.constData());
        QVERIFY(ran.err.contains("calibrated on"));
        // A calibrated scheme on the embedding: it has no input activations, refused by name even with --calib.
        auto embd = runCli({"quantize", model, "--rule", QString("embedding=%1").arg(kCalibrated), "--calib", wiki,
                            "--calib-tokens", "512"});
        QCOMPARE(embd.exitCode, 1);
        QVERIFY2(embd.err.contains("the calibration set has none for this tensor"), embd.err.constData());
    }

    // LLM.int8 through the CLI: refused without --calib on a linear layer, and with it `quantize --json` says per
    // tensor how many columns were kept, what they cost (index + fp16 column: 4 + 2 x rows bytes each) and by
    // which rule; the embedding takes the weight-magnitude rule without calibration.
    void quantize_llmint8ReportsKeptColumns() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(wiki, kWiki);
        auto refused = runCli({"quantize", model, "--rule", "body=llmint8"});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.err.contains("llmint8 on 'layers.0.attention.wq.weight' needs calibration"),
                 refused.err.constData());
        auto embdOnly = runCli({"quantize", model, "--rule", "embedding=llmint8", "--json"});
        QVERIFY2(embdOnly.exitCode == 0, embdOnly.err.constData());
        auto ran = runCli({"quantize", model, "--rule", "body=llmint8", "--rule", "embedding=llmint8", "--calib", wiki,
                           "--calib-tokens", "4096", "--calib-ctx", "256", "--json"});
        QVERIFY2(ran.exitCode == 0 && !ran.crashed, ran.err.constData());
        const QJsonArray tensors = QJsonDocument::fromJson(ran.out).object()["tensors"].toArray();
        int llm = 0, kept = 0;
        for (const auto& v : tensors) {
            const QJsonObject t = v.toObject();
            if (t["scheme"].toString() != "llmint8") continue;
            ++llm;
            const QJsonArray shape = t["shape"].toArray();
            const qint64 rows = shape[0].toInteger(), cols = shape[1].toInteger(), k = t["kept_columns"].toInteger(-1);
            QVERIFY2(k >= 0, qPrintable(t["name"].toString()));
            QCOMPARE(t["kept_columns_bytes"].toInteger(), k * (4 + 2 * rows));
            QCOMPARE(t["bytes"].toInteger(), rows * cols + 4 * rows + k * (4 + 2 * rows));
            const QString rule = t["outlier_rule"].toString();
            if (t["role"].toString() == "embedding") QVERIFY2(rule.startsWith("embedding"), qPrintable(rule));
            else QVERIFY2(rule.startsWith("activation max|x_j| >= 6 over 4096 calibration tokens"), qPrintable(rule));
            kept += int(k);
        }
        QCOMPARE(llm, 1 + 5 * 7);
        QVERIFY(kept > 0);
    }
};

QTEST_GUILESS_MAIN(TestCliCalib)
#include "test_cli_calib.moc"
