// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli export: the exported GGUF runs to the same greedy tokens as `generate --map` on the source,
// `inspect` opens it, a SIGKILL midway leaves the old destination whole and no file beside it, and the map
// configs are written (or refused, writing nothing).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {

QJsonArray greedyIds(const QStringList& modelAndMap) {
    auto r =
        runCli(QStringList{"generate"} + modelAndMap +
               QStringList{"--prompt", "Once upon a time", "--steps", "40", "--temperature", "0", "--json"});
    if (r.exitCode != 0) qWarning("%s", r.err.constData());
    return QJsonDocument::fromJson(r.out).object()["ids"].toArray();
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// The size of a file the process holds open whose target lies in `dir` (the unnamed temporary shows as
// "<dir>/#<inode> (deleted)", a named one as its path); -1 when there is none.
qint64 openFileSizeIn(qint64 pid, const QString& dir) {
    const QString fdDir = QString("/proc/%1/fd").arg(pid);
    for (const QString& fd : QDir(fdDir).entryList(QDir::Files | QDir::System | QDir::NoDotAndDotDot)) {
        const QString target = QFile::symLinkTarget(fdDir + "/" + fd);
        if (!target.startsWith(dir + "/") || target.endsWith("/model.gguf")) continue;
        struct stat st {};
        if (::stat(QString(fdDir + "/" + fd).toLocal8Bit().constData(), &st) == 0) return qint64(st.st_size);
    }
    return -1;
}

}  // namespace

class TestCliExport : public QObject {
    Q_OBJECT
private slots:
    void export_ggufGeneratesTheSameGreedyTokens_data();
    void export_ggufGeneratesTheSameGreedyTokens();
    void export_killedMidwayLeavesTheOldDestination();
    void export_refusesByNameAndWritesNothing();
    void export_writesMapConfigs();
    void export_h5SessionOpensInInspect();
};

void TestCliExport::export_ggufGeneratesTheSameGreedyTokens_data() {
    QTest::addColumn<QString>("model");
    QTest::newRow("gguf") << "models/stories260K-gguf/stories260K.gguf";
    QTest::newRow("llama2c") << "models/stories260K-llama2c/stories260K.bin";
    QTest::newRow("safetensors") << "models/stories260K-hf/model.safetensors";
}

void TestCliExport::export_ggufGeneratesTheSameGreedyTokens() {
    QFETCH(QString, model);
    QS_REQUIRE_ASSET(src, model);
    QTemporaryDir dir;
    const QString out = dir.filePath("q.gguf");
    const QStringList map{"--rule", "body=q4_0", "--rule", "mlp=q8_0", "--rule", "embedding=q6_K"};
    auto r = runCli(QStringList{"export", src} + map + QStringList{"--gguf", out, "--json"});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject g = QJsonDocument::fromJson(r.out).object()["gguf"].toObject();
    // q4_0 on the most tensors (20 attention projections; gate/up q8_0, down f16: rows of 172): MOSTLY_Q4_0
    QCOMPARE(g["file_type"].toInt(), 2);
    const QJsonArray fromExport = greedyIds({out});
    const QJsonArray fromSource = greedyIds(QStringList{src} + map);
    QCOMPARE(fromExport.size(), 40);
    QCOMPARE(fromExport, fromSource);
    auto inspect = runCli({"inspect", out, "--json"});
    QVERIFY2(inspect.exitCode == 0, inspect.err.constData());
    QVERIFY(QJsonDocument::fromJson(inspect.out).object()["runnable"].toBool());
}

// SIGKILL after the export has written part of its data: the destination keeps its old bytes and the folder
// holds nothing else (the data went to an unnamed O_TMPFILE file).
void TestCliExport::export_killedMidwayLeavesTheOldDestination() {
    QTemporaryDir dir;
    const QString model = dir.filePath("model.gguf");
    auto synth = runCli({"synth", "--shape", "15M", "--format", "gguf", model});
    QVERIFY2(synth.exitCode == 0, synth.err.constData());
    const QString out = dir.filePath("out.gguf");
    const QByteArray old = "the previous export, which must survive";
    {
        QFile f(out);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(old);
    }
    QProcess p;
    p.start(QStringLiteral(QS_CLI_PATH),
            {"export", model, "--rule", "all=q8_0", "--gguf", out, "--threads", "1"});
    QVERIFY(p.waitForStarted());
    QElapsedTimer t;
    t.start();
    qint64 seen = -1;
    while (p.state() == QProcess::Running && t.elapsed() < 60000) {
        seen = openFileSizeIn(p.processId(), dir.path());
        if (seen > (1 << 20)) break;  // past the header: tensor data is being written
        QThread::usleep(200);
    }
    QVERIFY2(seen > (1 << 20), "the export finished before it could be killed mid-write");
    ::kill(pid_t(p.processId()), SIGKILL);
    QVERIFY(p.waitForFinished());
    QCOMPARE(p.exitStatus(), QProcess::CrashExit);
    QCOMPARE(readAll(out), old);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), (QStringList{"model.gguf", "out.gguf"}));

    // Run to completion, the same command replaces the destination.
    auto done = runCli({"export", model, "--rule", "all=q8_0", "--gguf", out});
    QVERIFY2(done.exitCode == 0, done.err.constData());
    QVERIFY(readAll(out).startsWith("GGUF"));
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), (QStringList{"model.gguf", "out.gguf"}));
}

void TestCliExport::export_refusesByNameAndWritesNothing() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const QString out = dir.filePath("x.gguf");
    auto r = runCli({"export", src, "--rule", "attention=nf4", "--gguf", out});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("blk.0.attn_q.weight") && r.err.contains("nf4") && r.err.contains("--fallback"),
             r.err.constData());
    QVERIFY(!QFile::exists(out));
    auto f = runCli({"export", src, "--rule", "attention=nf4", "--gguf", out, "--fallback", "q8_0"});
    QVERIFY2(f.exitCode == 0, f.err.constData());
    QVERIFY(f.err.contains("stored as q8_0"));
    auto c = runCli({"export", src, "--rule", "attention=q4_K", "--gptqmodel-config", dir.filePath("g.json"),
                     "--torchao-config", dir.filePath("t.json")});
    QCOMPARE(c.exitCode, 1);
    QVERIFY2(c.err.contains("GPTQModel config") && c.err.contains("q5_0"), c.err.constData());
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files), QStringList{"x.gguf"});
    QCOMPARE(runCli({"export", src, "--rule", "body=q8_0"}).exitCode, 2);  // nothing to write
}

void TestCliExport::export_writesMapConfigs() {
    QS_REQUIRE_ASSET(src, "models/stories260K-llama2c/stories260K.bin");
    QTemporaryDir dir;
    auto r = runCli({"export", src, "--rule", "body=int4_g32", "--rule", "attention=int3_g16",
                     "--gptqmodel-config", dir.filePath("g.json"), "--hqq-config", dir.filePath("h.json")});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject g = QJsonDocument::fromJson(readAll(dir.filePath("g.json"))).object();
    QCOMPARE(g["bits"].toInt(), 3);
    QCOMPARE(g["group_size"].toInt(), 16);
    QCOMPARE(g["quant_method"].toString(), QString("gptq"));
    QCOMPARE(g["dynamic"].toObject()["+:^model\\.layers\\.0\\.mlp\\.gate_proj$"].toObject()["bits"].toInt(),
             4);
    const QJsonObject h = QJsonDocument::fromJson(readAll(dir.filePath("h.json"))).object();
    QCOMPARE(h["dynamic_config"].toObject()["self_attn.q_proj"].toObject()["nbits"].toInt(), 3);
}

void TestCliExport::export_h5SessionOpensInInspect() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const QString out = dir.filePath("s.h5");
    auto r = runCli({"export", src, "--rule", "body=q8_0", "--h5", out, "--h5-tensors", "--bins", "16"});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    auto i = runCli({"inspect", out, "--json"});
    QVERIFY2(i.exitCode == 0, i.err.constData());
    const QJsonObject j = QJsonDocument::fromJson(i.out).object();
    QVERIFY(j["session"].toBool());
    QCOMPARE(j["map"].toObject()["rules"].toArray()[0].toObject()["scheme"].toString(), QString("q8_0"));
    const QJsonArray tensors = j["tensors"].toArray();
    QCOMPARE(tensors.size(), 48);
    QJsonObject q;
    for (const auto& t : tensors)
        if (t.toObject()["name"] == "blk.2.attn_v.weight") q = t.toObject();
    QCOMPARE(q["scheme"].toString(), QString("q8_0"));
    QCOMPARE(q["bytes"].toInt(), 32 * 64 / 32 * 34);  // [32, 64] in q8_0 blocks of 32 values, 34 bytes each
    QVERIFY(q["tensor_stored"].toBool());
    QVERIFY(q["rmse"].toDouble() > 0);
    QCOMPARE(runCli({"export", src, "--rule", "body=q8_0", "--bins", "8"}).exitCode,
             2);  // --bins without --h5
}

QTEST_GUILESS_MAIN(TestCliExport)
#include "test_cli_export.moc"
