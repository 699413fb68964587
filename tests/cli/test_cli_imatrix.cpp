// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli --imatrix FILE (llama.cpp importance matrix) with the importance-weighted _im schemes:
// quantize and export run with it, refuse the _im schemes by name without it, and refuse a bad file by name.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cstdint>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {
// A legacy imatrix (int32 n; {int32 len, name, int32 ncall, int32 nval, float[nval]}) for the attention
// weights of stories260K's 5 layers (64 input columns each), importance 1 + ((j + shift) % 5).
QString writeAttentionImatrix(const QTemporaryDir& dir, const QString& name = "attn.imatrix", int shift = 0) {
    QByteArray b;
    auto i32 = [&](int32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
    i32(20);
    for (int layer = 0; layer < 5; ++layer)
        for (const char* n : {"attn_k", "attn_output", "attn_q", "attn_v"}) {
            const QByteArray name = QByteArray("blk.") + QByteArray::number(layer) + "." + n + ".weight";
            i32(int32_t(name.size()));
            b.append(name);
            i32(1);
            i32(64);
            for (int j = 0; j < 64; ++j) {
                const float v = 1.0f + float((j + shift) % 5);
                b.append(reinterpret_cast<const char*>(&v), 4);
            }
        }
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return {};
    f.write(b);
    return path;
}
}  // namespace

class TestCliImatrix : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void quantize_imSchemesRunWithImatrix_refusedWithout() {
        QS_REQUIRE_ASSET(model, "models/stories260K-hf");
        QTemporaryDir dir;
        const QString im = writeAttentionImatrix(dir);
        auto r = runCli({"quantize", model, "--rule", "attention=q4_0_im", "--imatrix", im, "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonArray tensors = QJsonDocument::fromJson(r.out).object()["tensors"].toArray();
        int im4 = 0;
        for (const auto& t : tensors) im4 += t.toObject()["scheme"].toString() == "q4_0_im";
        QCOMPARE(im4, 20);
        auto without = runCli({"quantize", model, "--rule", "attention=q4_0_im"});
        QCOMPARE(without.exitCode, 1);
        QVERIFY2(without.err.contains("q4_0_im on '") && without.err.contains("needs calibration data"),
                 without.err.constData());
        // The MLP has no entries in this file: refused by name, not quantized without importance.
        auto partial = runCli({"quantize", model, "--rule", "mlp=q4_0_im", "--imatrix", im});
        QCOMPARE(partial.exitCode, 1);
        QVERIFY2(partial.err.contains("has none for this tensor"), partial.err.constData());
    }

    void export_writesThePlainGgmlType() {
        QS_REQUIRE_ASSET(model, "models/stories260K-hf");
        QTemporaryDir dir;
        const QString im = writeAttentionImatrix(dir);
        const QString weighted = dir.filePath("im.gguf"), plain = dir.filePath("plain.gguf");
        auto r = runCli({"export", model, "--rule", "attention=q4_0_im", "--imatrix", im, "--gguf", weighted, "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonArray tensors = QJsonDocument::fromJson(r.out).object()["gguf"].toObject()["tensors"].toArray();
        int q40 = 0;
        for (const auto& t : tensors)
            if (t.toObject()["scheme"].toString() == "q4_0_im") q40 += t.toObject()["type"].toString() == "q4_0";
        QCOMPARE(q40, 20);
        QCOMPARE(runCli({"export", model, "--rule", "attention=q4_0", "--gguf", plain}).exitCode, 0);
        QFile a(weighted), b(plain);
        QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
        QCOMPARE(a.size(), b.size());  // same types and sizes, other bytes (the importance changed the blocks)
        QVERIFY(a.readAll() != b.readAll());
    }

    // sweep takes --imatrix as the other evaluators do: the importance reaches the _im points (their weights
    // differ from the plain type's, their bytes do not), and a resume with another imatrix file is refused.
    void sweep_imSchemesRunWithImatrix_resumeChecksTheFile() {
        QS_REQUIRE_ASSET(model, "models/stories260K-hf");
        QTemporaryDir dir;
        const QString im = writeAttentionImatrix(dir), other = writeAttentionImatrix(dir, "other.imatrix", 2);
        const QString out = dir.filePath("sweep.csv");
        const QStringList sweep{"sweep", model, "--groups", "attention", "--schemes", "q4_0,q4_0_im", "--out", out};
        auto r = runCli(sweep + QStringList{"--imatrix", im});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QVERIFY2(lines.size() == 4, lines.join('\n').constData());  // spec, column names, two points
        const QList<QByteArray> head = lines[1].split(',');
        const qsizetype bytesAt = head.indexOf("bytes"), rmseAt = head.indexOf("rmse");
        QVERIFY2(bytesAt >= 0 && rmseAt >= 0, lines[1].constData());
        const QList<QByteArray> plain = lines[2].split(','), weighted = lines[3].split(',');
        QVERIFY2(lines[3].contains("q4_0_im"), lines[3].constData());
        QCOMPARE(weighted[bytesAt], plain[bytesAt]);
        QVERIFY2(weighted[rmseAt] != plain[rmseAt], lines.join('\n').constData());
        QVERIFY2(lines[0].contains("\"calibration\":\"data:"), lines[0].constData());

        auto again = runCli(sweep + QStringList{"--imatrix", other, "--resume"});
        QCOMPARE(again.exitCode, 1);
        QVERIFY2(again.err.contains("calibration"), again.err.constData());
        auto without = runCli({"sweep", model, "--groups", "attention", "--schemes", "q4_0_im", "--out",
                               dir.filePath("none.csv")});
        QCOMPARE(without.exitCode, 1);
        QVERIFY2(without.err.contains("needs calibration data"), without.err.constData());
    }

    void badImatrix_refusedNamingTheFile() {
        QS_REQUIRE_ASSET(model, "models/stories260K-hf");
        QTemporaryDir dir;
        const QString bad = dir.filePath("bad.imatrix");
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray("\x05\x00\x00\x00\x03\x00", 6));
        f.close();
        auto r = runCli({"quantize", model, "--rule", "attention=q4_0_im", "--imatrix", bad});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(bad.toUtf8()), r.err.constData());
    }

    // QuantScope's own statistics file given to --imatrix: the message names the option that reads it.
    void hdf5Statistics_pointToCalib() {
        QS_REQUIRE_ASSET(model, "models/stories260K-hf");
        QTemporaryDir dir;
        const QString h5 = dir.filePath("stats.h5");
        QFile f(h5);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray("\x89HDF\r\n\x1a\n\x00\x00\x00\x00", 12));  // the HDF5 format signature
        f.close();
        auto r = runCli({"quantize", model, "--rule", "attention=q4_0_im", "--imatrix", h5});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("pass it with --calib"), r.err.constData());
        QVERIFY2(r.err.contains(h5.toUtf8()), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestCliImatrix)
#include "test_cli_imatrix.moc"
