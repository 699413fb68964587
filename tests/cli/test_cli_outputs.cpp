// SPDX-License-Identifier: GPL-3.0-or-later
// No command writes its output over its own model: every writer (automix, export to GGUF/HDF5/configs,
// sensitivity, quantize's side files, a sweep table) refuses a path that names a file of the model being read,
// and the model is left byte for byte as it was; `sweep --out` refuses an existing sweep file without --resume
// (a finished sweep is never replaced by accident).
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {
QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QByteArray sha(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex();
}
}  // namespace

class TestCliOutputs : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void writers_neverReplaceTheirOwnModel() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf");
        QTemporaryDir dir;
        const QString model = dir.filePath("c.gguf");
        QVERIFY(QFile::copy(gguf, model));
        const QByteArray before = sha(model);
        const QList<QStringList> commands = {
            {"automix", model, "--budget", "9bpw", "--measure", "weight-error", "--out", model},
            {"export", model, "--rule", "body=q8_0", "--gguf", model},
            {"export", model, "--h5", model},
            {"export", model, "--rule", "body=int4_g64", "--hqq-config", model},
            {"export", model, "--rule", "body=int4_g64", "--fallback", "f16", "--torchao-config", model},
            {"sensitivity", model, "--scheme", "q4_0", "--measure", "weight-error", "--out", model},
            {"quantize", model, "--rule", "body=q4_0", "--export-tensor-types", model},
            {"quantize", model, "--rule", "body=q4_0", "--save-map", model},
        };
        for (const QStringList& c : commands) {
            const auto r = runCli(c);
            QVERIFY2(r.exitCode != 0 && !r.crashed, qPrintable(c.join(' ')));
            QVERIFY2(r.err.contains("is a file of the model being read"), qPrintable(c.join(' ') + ": " + r.err));
            QCOMPARE(sha(model), before);
        }
        // A folder model: its safetensors file is protected too (the path differs from the folder given).
        const QString copy = dir.filePath("hf");
        QVERIFY(QDir().mkpath(copy));
        for (const QString& f : QDir(hf).entryList(QDir::Files)) QVERIFY(QFile::copy(hf + "/" + f, copy + "/" + f));
        const QByteArray hfBefore = sha(copy + "/model.safetensors");
        const auto r = runCli({"export", copy, "--rule", "body=int4_g64", "--hqq-config", copy + "/model.safetensors"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("is a file of the model being read"), r.err.constData());
        QCOMPARE(sha(copy + "/model.safetensors"), hfBefore);
        // Writing beside the model is fine.
        const auto beside = runCli({"export", model, "--rule", "body=int4_g64", "--hqq-config", dir.filePath("h.json")});
        QCOMPARE(beside.exitCode, 0);
    }

    // Issue 13 tryout: outputs are written to a new file renamed into place, so an output path naming a FIFO or a
    // device replaced it with a regular file (as root, `export --gguf /dev/null` replaced the device). Refused,
    // saying what the path is, and the FIFO stays a FIFO; sweep --out on a FIFO blocked forever.
    void writers_refuseFifosAndDevices() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        for (const QString& name : {QStringLiteral("fifo.gguf"), QStringLiteral("fifo.csv"), QStringLiteral("fifo.h5"),
                                    QStringLiteral("fifo.json")})
            QCOMPARE(::mkfifo(QFile::encodeName(dir.filePath(name)).constData(), 0600), 0);
        const QList<QStringList> commands = {
            {"export", gguf, "--rule", "body=q8_0", "--gguf", dir.filePath("fifo.gguf")},
            {"export", gguf, "--h5", dir.filePath("fifo.h5")},
            {"quantize", gguf, "--rule", "body=q4_0", "--save-map", dir.filePath("fifo.json")},
            {"sweep", gguf, "--groups", "body", "--bits", "4", "--measure", "weight-error", "--out", dir.filePath("fifo.csv")},
            {"merge", dir.filePath("fifo.csv"), dir.filePath("none.csv")},
        };
        for (const QStringList& c : commands) {
            const auto r = runCli(c);
            QVERIFY2(r.exitCode != 0 && !r.crashed, qPrintable(c.join(' ')));
            QVERIFY2(r.err.contains("exists and is a FIFO"), qPrintable(c.join(' ') + ": " + r.err));
        }
        for (const QString& name : {QStringLiteral("fifo.gguf"), QStringLiteral("fifo.csv"), QStringLiteral("fifo.h5"),
                                    QStringLiteral("fifo.json")}) {
            struct stat st {};
            QCOMPARE(::stat(QFile::encodeName(dir.filePath(name)).constData(), &st), 0);
            QVERIFY2(S_ISFIFO(st.st_mode), qPrintable(name));
        }
        // quant-raw / dequant-raw (second tryout): the same refusal, and OUT == IN (which replaced the input).
        const QString raw = dir.filePath("x.f32");
        {
            QFile f(raw);
            QVERIFY(f.open(QIODevice::WriteOnly));
            const QByteArray zeros(2 * 32 * 4, '\0');
            f.write(zeros);
        }
        for (const char* cmd : {"quant-raw", "dequant-raw"}) {
            const auto r = runCli({cmd, "--scheme", "q8_0", "--rows", "2", "--cols", "32", raw, dir.filePath("fifo.json")});
            QVERIFY2(r.exitCode != 0 && r.err.contains("exists and is a FIFO"), r.err.constData());
        }
        const QByteArray rawBefore = readAll(raw);
        const auto same = runCli({"quant-raw", "--scheme", "q8_0", "--rows", "2", "--cols", "32", raw, raw});
        QVERIFY2(same.exitCode != 0 && same.err.contains("is IN itself"), same.err.constData());
        QCOMPARE(readAll(raw), rawBefore);
        // A character device (read-only use here: nothing is written to it, the refusal comes first).
        const auto r = runCli({"export", gguf, "--rule", "body=q8_0", "--gguf", "/dev/null"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("/dev/null: exists and is a device"), r.err.constData());
        struct stat st {};
        QVERIFY(::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    }

    void sweep_existingFileNeedsResume() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        const QString out = dir.filePath("s.csv");
        const QStringList sweep = {"sweep", gguf, "--groups", "body", "--schemes", "q8_0,q4_0", "--out", out};
        QCOMPARE(runCli(sweep).exitCode, 0);
        const QByteArray done = sha(out);
        const auto again = runCli(sweep);
        QCOMPARE(again.exitCode, 1);
        QVERIFY2(again.err.contains("--resume continues it"), again.err.constData());
        QCOMPARE(sha(out), done);
        QCOMPARE(runCli(sweep + QStringList{"--resume"}).exitCode, 0);  // nothing left to measure
        QCOMPARE(sha(out), done);
    }

    // HDF5 shards merge like CSV shards: the merged file equals the unsharded sweep's.
    void merge_readsHdf5Shards() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        const QStringList sweep = {"sweep", gguf, "--groups", "body,embedding", "--schemes", "q8_0,q4_0"};
        QCOMPARE(runCli(sweep + QStringList{"--out", dir.filePath("all.csv")}).exitCode, 0);
        QCOMPARE(runCli(sweep + QStringList{"--shard", "0/2", "--out", dir.filePath("a.h5")}).exitCode, 0);
        QCOMPARE(runCli(sweep + QStringList{"--shard", "1/2", "--out", dir.filePath("b.h5")}).exitCode, 0);
        const auto r = runCli({"merge", dir.filePath("m.csv"), dir.filePath("a.h5"), dir.filePath("b.h5")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(sha(dir.filePath("m.csv")), sha(dir.filePath("all.csv")));
    }
};

QTEST_GUILESS_MAIN(TestCliOutputs)
#include "test_cli_outputs.moc"
