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
private Q_SLOTS:
    void export_ggufGeneratesTheSameGreedyTokens_data();
    void export_ggufGeneratesTheSameGreedyTokens();
    void export_killedMidwayLeavesTheOldDestination();
    void export_refusesByNameAndWritesNothing();
    void export_writesMapConfigs();
    void export_h5SessionOpensInInspect();
    void export_configFallbacksPrintedListedAndRefusedWhereInexpressible();
    void export_ggufFallbacksPrintedAndListed();
    void export_badFallbackIsUsageError();
    void mapOption_readsTheMapOfAnH5Session();
    void inspectSession_showsKeptTensorsWithoutError();
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
    // inspect shows what the export wrote for llama.cpp's loader.
    QCOMPARE(QJsonDocument::fromJson(inspect.out).object()["file_type"].toInt(), 2);
    QCOMPARE(QJsonDocument::fromJson(inspect.out).object()["quantization_version"].toInt(), 2);
    auto text = runCli({"inspect", out});
    QVERIFY2(text.out.contains("gguf keys     file_type 2, quantization_version 2"), text.out.constData());
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

namespace {

int countLines(const QByteArray& text, const QByteArray& needle) {
    int n = 0;
    for (const QByteArray& line : text.split('\n')) n += line.contains(needle);
    return n;
}

}  // namespace

// stories260K's MLP down projection has 172 columns, which groups of 64 do not divide: the map falls back
// (quant_map_resolve.h fallbackChain) in each of the 5 layers. HQQ writes the fallback's group and says so;
// torchao cannot express it and refuses by name unless --fallback f16 leaves those modules unquantized.
void TestCliExport::export_configFallbacksPrintedListedAndRefusedWhereInexpressible() {
    QS_REQUIRE_ASSET(src, "models/stories260K-llama2c/stories260K.bin");
    QTemporaryDir dir;
    const QString h = dir.filePath("h.json");
    auto r = runCli({"export", src, "--rule", "body=int4_g64", "--hqq-config", h, "--json"});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QCOMPARE(countLines(r.err, "fallback: "), 5);
    const QJsonObject report = QJsonDocument::fromJson(r.out).object();
    const QJsonObject hqq = report["configs"].toObject()["hqq-config"].toObject();
    QCOMPARE(hqq["modules"].toInt(), 35);  // 5 layers x 7 linear modules; the tied head is the embedding
    QCOMPARE(hqq["quantized"].toInt(), 35);
    const QJsonArray fallbacks = hqq["fallbacks"].toArray();
    QCOMPARE(fallbacks.size(), 5);
    const QString written = fallbacks[0].toObject()["written"].toString();
    QCOMPARE(fallbacks[0].toObject()["requested"].toString(), QString("int4_g64"));
    QVERIFY2(written.startsWith("int4_g") && written != "int4_g64", qPrintable(written));
    QVERIFY(r.err.contains("requested int4_g64, written as " + written.toUtf8()));
    // The config carries the fallback's group, not the requested 64, for the down projection only.
    const QJsonObject dyn = QJsonDocument::fromJson(readAll(h)).object()["dynamic_config"].toObject();
    QCOMPARE(dyn["mlp.down_proj"].toObject()["group_size"].toInt(), written.mid(6).toInt());
    QCOMPARE(dyn["mlp.up_proj"].toObject()["group_size"].toInt(), 64);
    // Without --json: a one-line summary of what was written.
    auto text = runCli({"export", src, "--rule", "body=int4_g64", "--hqq-config", h});
    QVERIFY2(text.out.contains("HQQ config, 35 modules (35 quantized, 0 unquantized), 5 fallbacks"), text.out.constData());

    const QString t = dir.filePath("t.json");
    auto refused = runCli({"export", src, "--rule", "body=int4_g64", "--torchao-config", t});
    QCOMPARE(refused.exitCode, 1);
    QVERIFY2(refused.err.contains("falls back from int4_g64 to " + written.toUtf8()) &&
                 refused.err.contains("--fallback f16"),
             refused.err.constData());
    QVERIFY(!QFile::exists(t));
    auto kept = runCli({"export", src, "--rule", "body=int4_g64", "--torchao-config", t, "--fallback", "f16", "--json"});
    QVERIFY2(kept.exitCode == 0, kept.err.constData());
    const QJsonObject ao = QJsonDocument::fromJson(kept.out).object()["configs"].toObject()["torchao-config"].toObject();
    QCOMPARE(ao["quantized"].toInt(), 30);
    QCOMPARE(ao["fallbacks"].toArray()[0].toObject()["written"].toString(), QString("keep"));
    const QJsonObject fqn = QJsonDocument::fromJson(readAll(t)).object()["_data"].toObject()["fqn_to_config"].toObject();
    QVERIFY(fqn.contains("model.layers.0.mlp.down_proj") && fqn["model.layers.0.mlp.down_proj"].isNull());
}

// q4_K needs rows of 256 values; stories260K's rows are 64 or 172 long, so every body tensor falls back: each
// one is printed and listed, with the type the file really holds.
void TestCliExport::export_ggufFallbacksPrintedAndListed() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const QString out = dir.filePath("o.gguf");
    auto r = runCli({"export", src, "--rule", "body=q4_K", "--gguf", out, "--json"});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QCOMPARE(countLines(r.err, "fallback: "), 35);
    const QJsonObject g = QJsonDocument::fromJson(r.out).object()["gguf"].toObject();
    const QJsonArray fallbacks = g["fallbacks"].toArray();
    QCOMPARE(fallbacks.size(), 35);
    QHash<QString, QString> typeOf;
    for (const auto& t : g["tensors"].toArray()) typeOf[t.toObject()["source"].toString()] = t.toObject()["type"].toString();
    for (const auto& f : fallbacks) {
        const QJsonObject o = f.toObject();
        QCOMPARE(o["requested"].toString(), QString("q4_K"));
        QCOMPARE(typeOf.value(o["tensor"].toString()), o["written"].toString());
        QVERIFY(o["written"].toString() != "q4_K");
    }
    auto text = runCli({"export", src, "--rule", "body=q4_K", "--gguf", out});
    QVERIFY2(text.out.contains(", 35 fallbacks"), text.out.constData());
    QCOMPARE(countLines(text.err, "fallback: "), 35);
    // The HDF5 session holds the same fallback schemes: listed too.
    auto h5 = runCli({"export", src, "--rule", "body=q4_K", "--h5", dir.filePath("s.h5"), "--json"});
    QVERIFY2(h5.exitCode == 0, h5.err.constData());
    QCOMPARE(QJsonDocument::fromJson(h5.out).object()["h5_fallbacks"].toArray().size(), 35);
    QCOMPARE(countLines(h5.err, "fallback: "), 35);
}

void TestCliExport::export_badFallbackIsUsageError() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    auto bogus = runCli({"export", src, "--rule", "attention=nf4", "--gguf", dir.filePath("x.gguf"), "--fallback", "bogus"});
    QCOMPARE(bogus.exitCode, 2);
    QVERIFY2(bogus.err.contains("--fallback bogus"), bogus.err.constData());
    auto config = runCli({"export", src, "--rule", "body=int4_g64", "--hqq-config", dir.filePath("h.json"),
                          "--fallback", "q8_0"});
    QCOMPARE(config.exitCode, 2);
    QVERIFY2(config.err.contains("--fallback f16"), config.err.constData());
    QVERIFY(QDir(dir.path()).entryList(QDir::Files).isEmpty());
}

// --map takes an HDF5 session's map (the /map rules_json), and refuses another HDF5 file by name instead of
// a JSON parse error.
void TestCliExport::mapOption_readsTheMapOfAnH5Session() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const QString session = dir.filePath("s.h5");
    QCOMPARE(runCli({"export", src, "--rule", "attention=q8_0", "--rule", "mlp=q4_0", "--h5", session}).exitCode, 0);
    auto fromSession = runCli({"quantize", src, "--map", session, "--json"});
    QVERIFY2(fromSession.exitCode == 0, fromSession.err.constData());
    auto fromRules = runCli({"quantize", src, "--rule", "attention=q8_0", "--rule", "mlp=q4_0", "--json"});
    QVERIFY2(fromRules.exitCode == 0, fromRules.err.constData());
    const QJsonObject a = QJsonDocument::fromJson(fromSession.out).object();
    const QJsonObject b = QJsonDocument::fromJson(fromRules.out).object();
    QCOMPARE(a["roles"].toObject()["total"].toObject()["bytes"].toInteger(),
             b["roles"].toObject()["total"].toObject()["bytes"].toInteger());
    QCOMPARE(a["tensors"].toArray()[3].toObject()["scheme"], b["tensors"].toArray()[3].toObject()["scheme"]);

    const QString table = dir.filePath("sweep.h5");
    QCOMPARE(runCli({"sweep", src, "--groups", "body", "--bits", "4", "--out", table}).exitCode, 0);
    auto notSession = runCli({"quantize", src, "--map", table});
    QCOMPARE(notSession.exitCode, 1);
    QVERIFY2(notSession.err.contains("not a QuantScope session"), notSession.err.constData());
}

// A tensor the map keeps has no quantization error: inspect shows "–" (kept), not SQNR 0.00, and null in JSON.
void TestCliExport::inspectSession_showsKeptTensorsWithoutError() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const QString session = dir.filePath("s.h5");
    QCOMPARE(runCli({"export", src, "--rule", "attention=q8_0", "--h5", session}).exitCode, 0);
    auto text = runCli({"inspect", session});
    QVERIFY2(text.exitCode == 0, text.err.constData());
    for (const QByteArray& line : text.out.split('\n')) {
        if (line.contains("blk.0.ffn_up.weight")) {
            QVERIFY2(line.contains("keep") && line.contains("\u2013 (kept)") && !line.contains("0.00"), line.constData());
        }
        if (line.contains("blk.0.attn_q.weight")) QVERIFY2(!line.contains("kept"), line.constData());
    }
    auto json = runCli({"inspect", session, "--json"});
    for (const auto& t : QJsonDocument::fromJson(json.out).object()["tensors"].toArray()) {
        const QJsonObject o = t.toObject();
        if (o["scheme"] == "keep") QVERIFY(o["sqnr_db"].isNull() && o["rmse"].isNull());
        else QVERIFY(o["sqnr_db"].toDouble() > 0);
    }
}

QTEST_GUILESS_MAIN(TestCliExport)
#include "test_cli_export.moc"
