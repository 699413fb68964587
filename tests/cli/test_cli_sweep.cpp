// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli sweep` and `merge` on the real binary: every point of a kld sweep equals a separate
// `ppl MODEL --rule ...` run (an independent code path at the CLI level: the engine loaded by `ppl`, the
// reference run beside it), shards merged equal the unsharded sweep, the HDF5 output, and bad input refused
// with a message and the usage/failure exit codes; an .h5 sweep resumed (after Ctrl-C, and from a half table)
// equals the uninterrupted run; `export --h5 --sweep` copies a sweep into the session, tied to the weights.
#include <csignal>

#include <QDir>
#include <QProcess>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include "core/export/session_h5.h"
#include "core/io/hdf5_writer.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_hdf5.h"

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::CliRun;
using qstest::runCli;

namespace {

QByteArray readBytes(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

// The data rows of a sweep CSV (lines after the two header lines), split into cells.
QList<QStringList> rowsOf(const QString& path) {
    QList<QStringList> rows;
    const QList<QByteArray> lines = readBytes(path).split('\n');
    for (int i = 2; i < lines.size(); ++i)
        if (!lines[i].isEmpty()) rows.push_back(QString::fromUtf8(lines[i]).split(','));
    return rows;
}

// Runs the CLI and sends it SIGINT (Ctrl-C) as soon as `marker` appears on its stderr; `sent` says whether
// the signal went out before the process ended.
CliRun interruptAfter(const QStringList& args, const QByteArray& marker, bool& sent) {
    sent = false;
    return runCli(args, {}, 120000, [&](const QByteArray& err, QProcess& p) {
        if (!sent && err.contains(marker)) {
            ::kill(pid_t(p.processId()), SIGINT);
            sent = true;
        }
    });
}

// The rows of a sweep file (.csv or .h5) as core reads them back, keyed by point.
std::map<int64_t, std::string> sweepRows(const QString& path) {
    auto f = path.endsWith(".h5") ? qs::readSweepHdf5(path.toStdString()) : qs::readSweepFile(path.toStdString());
    if (!f) qFatal("%s", f.message().c_str());
    return f->rows;
}

}  // namespace

class TestCliSweep : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void kldSweep_pointsEqualSinglePplRuns() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QString out = dir.filePath("k.csv");
        auto r = runCli({"sweep", model, "--groups", "body,embedding", "--schemes", "q4_0,int3_g64", "--measure", "kld",
                         "--text", text, "--ctx", "128", "--windows", "3", "--out", out, "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto header = QString::fromUtf8(readBytes(out).split('\n')[1]).split(',');
        QCOMPARE(header, (QStringList{"point", "groups", "scheme_body", "scheme_embedding", "bytes", "bpw", "rmse",
                                      "sqnr_db", "ppl", "kld", "kld_max", "top1"}));
        const auto rows = rowsOf(out);
        QCOMPARE(rows.size(), 4);
        for (const QStringList& row : rows) {
            // ppl takes the window count as --max-windows or, as sweep names it, --windows (alternately here).
            const QString windowsFlag = row[0].toInt() % 2 ? "--max-windows" : "--windows";
            auto p = runCli({"ppl", model, "--rule", "body=" + row[2], "--rule", "embedding=" + row[3], "--text", text,
                             "--ctx", "128", windowsFlag, "3", "--json", "--threads", "1"});
            QVERIFY2(p.exitCode == 0, p.err.constData());
            const auto j = nlohmann::json::parse(p.out.toStdString());
            QCOMPARE(row[8].toDouble(), j["ppl"].get<double>());
            QCOMPARE(row[9].toDouble(), j["kld"].get<double>());
            QCOMPARE(row[10].toDouble(), j["kld_max"].get<double>());
            QCOMPARE(row[11].toDouble(), j["top1"].get<double>());
        }
        auto both = runCli({"ppl", model, "--text", text, "--windows", "3", "--max-windows", "3"});
        QCOMPARE(both.exitCode, 2);
        QVERIFY2(both.err.contains("the same option"), both.err.constData());
    }

    void shards_mergedEqualUnshardedAndHdf5() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        const QStringList common = {"sweep", model, "--groups", "attention,mlp", "--bits", "2,3,4,8", "--threads", "2"};
        auto full = runCli(common + QStringList{"--out", dir.filePath("full.csv")});
        QVERIFY2(full.exitCode == 0, full.err.constData());
        const auto rows = rowsOf(dir.filePath("full.csv"));
        QCOMPARE(rows.size(), 16);
        // More bits never cost more error (noise band zero): with mlp fixed, rmse falls strictly as attention
        // goes 2 -> 3 -> 4 -> 8 bits (rows 4a+m, odometer order, mlp fastest), and the bytes rise.
        for (int mlp = 0; mlp < 4; ++mlp)
            for (int a = 1; a < 4; ++a) {
                const QStringList& lo = rows[4 * (a - 1) + mlp];
                const QStringList& hi = rows[4 * a + mlp];
                QCOMPARE(hi[3], lo[3]);
                QVERIFY2(hi[6].toDouble() < lo[6].toDouble(), qPrintable(hi.join(',') + " vs " + lo.join(',')));
                QVERIFY(hi[4].toLongLong() > lo[4].toLongLong());
            }
        QStringList shards;
        for (int i = 0; i < 3; ++i) {
            shards << dir.filePath(QString("s%1.csv").arg(i));
            auto s = runCli(common + QStringList{"--shard", QString("%1/3").arg(i), "--out", shards.back()});
            QVERIFY2(s.exitCode == 0, s.err.constData());
        }
        auto m = runCli(QStringList{"merge", dir.filePath("merged.csv")} + shards);
        QVERIFY2(m.exitCode == 0, m.err.constData());
        QCOMPARE(readBytes(dir.filePath("merged.csv")), readBytes(dir.filePath("full.csv")));
        auto h5 = runCli(common + QStringList{"--out", dir.filePath("full.h5"), "--json"});
        QVERIFY2(h5.exitCode == 0, h5.err.constData());
        QCOMPARE(nlohmann::json::parse(h5.out.toStdString())["measured"].get<int>(), 16);
        auto inspect = runCli({"inspect", dir.filePath("full.h5")});
        QVERIFY2(inspect.exitCode == 0 && inspect.out.contains("16 stored of 16"), inspect.out.constData());
    }

    // An .h5 sweep stopped by Ctrl-C keeps its finished points; --resume completes it to the uninterrupted
    // run's rows, and so does a resume of a half table (merged from half of the rows).
    void hdf5Resume_afterCtrlCAndFromAHalfTable_equalsUninterrupted() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QStringList common = {"sweep", model, "--groups", "attention,mlp", "--bits", "2,3,4,8", "--measure",
                                    "kld", "--text", text, "--ctx", "128", "--windows", "4", "--threads", "1"};
        auto full = runCli(common + QStringList{"--out", dir.filePath("full.h5")});
        QVERIFY2(full.exitCode == 0, full.err.constData());
        const auto expected = sweepRows(dir.filePath("full.h5"));
        QCOMPARE(expected.size(), size_t(16));

        const QString part = dir.filePath("part.h5");
        bool sent = false;
        auto stopped = interruptAfter(common + QStringList{"--out", part}, "1/16 point", sent);
        QVERIFY2(!stopped.crashed, stopped.err.constData());
        QVERIFY2(sent, "the sweep ended before Ctrl-C could be sent");
        QVERIFY2(stopped.exitCode == 3, stopped.err.constData());
        const auto kept = sweepRows(part);
        QVERIFY2(!kept.empty() && kept.size() < 16, qPrintable(QString::number(kept.size())));
        for (const auto& [point, row] : kept) QCOMPARE(row, expected.at(point));
        auto resumed = runCli(common + QStringList{"--out", part, "--resume", "--json"});
        QVERIFY2(resumed.exitCode == 0, resumed.err.constData());
        const auto j = nlohmann::json::parse(resumed.out.toStdString());
        QCOMPARE(j["skipped"].get<size_t>(), kept.size());
        QCOMPARE(j["measured"].get<size_t>(), 16 - kept.size());
        QVERIFY(sweepRows(part) == expected);

        // A half table: the first 8 rows of the CSV run, merged into .h5, resumed.
        const QString csv = dir.filePath("full.csv"), halfCsv = dir.filePath("half.csv"), half = dir.filePath("half.h5");
        QVERIFY(runCli(common + QStringList{"--out", csv}).exitCode == 0);
        QVERIFY(sweepRows(csv) == expected);
        const QList<QByteArray> lines = readBytes(csv).split('\n');
        QFile h(halfCsv);
        QVERIFY(h.open(QIODevice::WriteOnly));
        for (int i = 0; i < 2 + 8; ++i) h.write(lines[i] + '\n');
        h.close();
        QCOMPARE(runCli({"merge", half, halfCsv, "--allow-partial"}).exitCode, 0);
        QCOMPARE(sweepRows(half).size(), size_t(8));
        auto fromHalf = runCli(common + QStringList{"--out", half, "--resume", "--json"});
        QVERIFY2(fromHalf.exitCode == 0, fromHalf.err.constData());
        QCOMPARE(nlohmann::json::parse(fromHalf.out.toStdString())["skipped"].get<int>(), 8);
        QVERIFY(sweepRows(half) == expected);
        // Another sweep's table is refused before anything is measured, and left as it was.
        const QByteArray before = readBytes(half);
        auto other = runCli({"sweep", model, "--groups", "attention,mlp", "--bits", "2,8", "--out", half, "--resume"});
        QCOMPARE(other.exitCode, 1);
        QVERIFY2(other.err.contains("different sweep"), other.err.constData());
        QCOMPARE(readBytes(half), before);
    }

    // export --h5 --sweep: the session carries the sweep's rows exactly (from a CSV or an .h5 table); a sweep
    // of other weights under the same file name is refused by name and nothing is written.
    void exportH5_carriesTheSweep_refusedForOtherWeights() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkdir("b"));
        const QString other = dir.filePath("b/stories260K.bin");
        QVERIFY(QFile::copy(model, other));
        {
            QFile f(other);
            QVERIFY(f.open(QIODevice::ReadWrite));
            QVERIFY(f.seek(f.size() / 2 & ~qint64(3)));  // one float inside the weights
            const float v = 0.125f;
            QCOMPARE(f.write(reinterpret_cast<const char*>(&v), 4), qint64(4));
        }
        const QString csv = dir.filePath("s.csv"), table = dir.filePath("s.h5");
        const QStringList spec{"--groups", "body,embedding", "--bits", "3,4,8"};
        QCOMPARE(runCli(QStringList{"sweep", model, "--out", csv} + spec).exitCode, 0);
        QCOMPARE(runCli(QStringList{"sweep", model, "--out", table} + spec).exitCode, 0);
        const auto expected = sweepRows(csv);
        QCOMPARE(expected.size(), size_t(9));
        for (const QString& sweep : {csv, table}) {
            const QString session = dir.filePath("session.h5");
            auto r = runCli({"export", model, "--rule", "body=q8_0", "--h5", session, "--sweep", sweep, "--json"});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            QCOMPARE(nlohmann::json::parse(r.out.toStdString())["h5_sweep"]["points"].get<int>(), 9);
            auto back = qs::readSessionH5(session.toStdString());
            QVERIFY2(back.ok(), back ? "" : back.message().c_str());
            QVERIFY(back->sweep.has_value());
            QVERIFY(back->sweep->rows == expected);
            auto inspect = runCli({"inspect", session});
            QVERIFY2(inspect.out.contains("sweep") && inspect.out.contains("9 points"), inspect.out.constData());
            QVERIFY(QFile::remove(session));
        }
        auto refused = runCli({"export", other, "--h5", dir.filePath("o.h5"), "--sweep", csv});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.err.contains("measured on other weights"), refused.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("o.h5")));
        auto noH5 = runCli({"export", model, "--gguf", dir.filePath("o.gguf"), "--sweep", csv});
        QCOMPARE(noH5.exitCode, 2);
        QVERIFY2(noH5.err.contains("--sweep apply to --h5 only"), noH5.err.constData());
        auto missing = runCli({"export", model, "--h5", dir.filePath("o.h5"), "--sweep", dir.filePath("none.csv")});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains("none.csv"), missing.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("o.h5")));
    }

    void badInput_isRefused_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown group") << QStringList{"--groups", "body,bdy", "--bits", "4"} << 2 << "unknown group 'bdy'";
        QTest::newRow("unknown scheme") << QStringList{"--groups", "body", "--schemes", "q4_0,q3_X"} << 2 << "--schemes";
        QTest::newRow("bits out of range") << QStringList{"--groups", "body", "--bits", "4,9"} << 2 << "2..8 bits";
        QTest::newRow("bits and schemes") << QStringList{"--groups", "body", "--bits", "4", "--schemes", "q4_0"} << 2 << "exactly one";
        QTest::newRow("shard 3/2") << QStringList{"--groups", "body", "--bits", "4", "--shard", "3/2"} << 2 << "--shard '3/2'";
        QTest::newRow("too many points") << QStringList{"--groups", "layers", "--bits", "2,3,4,8"} << 2 << "1024 points";
        QTest::newRow("kld without text") << QStringList{"--groups", "body", "--bits", "4", "--measure", "kld"} << 2 << "needs --text";
        QTest::newRow("text unused by weight-error")
            << QStringList{"--groups", "body", "--bits", "4", "--text", "/nonexistent.txt"} << 2 << "not weight-error";
        QTest::newRow("unknown dequant") << QStringList{"--groups", "body", "--bits", "4", "--dequant", "fast"} << 2
                                         << "--dequant must be";
        QTest::newRow("candidate twice") << QStringList{"--groups", "body", "--bits", "4,4"} << 2 << "given twice";
        QTest::newRow("max-points 0") << QStringList{"--groups", "body", "--bits", "4", "--max-points", "0"} << 2
                                      << "--max-points must be";
        QTest::newRow("tied pair") << QStringList{"--groups", "embedding,head", "--bits", "4"} << 2 << "ties them";
        QTest::newRow("overlapping groups") << QStringList{"--groups", "body,attention", "--bits", "4"} << 2
                                            << "groups 'body' and 'attention' overlap";
        QTest::newRow("layers and mlp overlap") << QStringList{"--groups", "layers,mlp", "--bits", "4"} << 2
                                                << "groups 'layer0' and 'mlp' overlap";
        QTest::newRow("out folder missing")
            << QStringList{"--groups", "body", "--bits", "4", "--out", "/nonexistent-qs-dir/x.csv"} << 1
            << "/nonexistent-qs-dir does not exist";
    }
    void badInput_isRefused() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        auto r = runCli(QStringList{"sweep", model, "--out", dir.filePath("x.csv")} + args);
        QVERIFY(!r.crashed);
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("x.csv")));
    }

    void resumeAndMerge_refuseAnotherSweep() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        const QString a = dir.filePath("a.csv"), b = dir.filePath("b.csv");
        QCOMPARE(runCli({"sweep", model, "--groups", "body", "--bits", "2,4", "--out", a}).exitCode, 0);
        QCOMPARE(runCli({"sweep", model, "--groups", "body", "--bits", "2,8", "--out", b}).exitCode, 0);
        const QByteArray before = readBytes(a);
        auto r = runCli({"sweep", model, "--groups", "body", "--bits", "2,8", "--out", a, "--resume"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("different sweep"), r.err.constData());
        QCOMPARE(readBytes(a), before);
        auto same = runCli({"sweep", model, "--groups", "body", "--bits", "2,4", "--out", a, "--resume", "--json"});
        QVERIFY2(same.exitCode == 0, same.err.constData());
        QCOMPARE(nlohmann::json::parse(same.out.toStdString())["skipped"].get<int>(), 2);
        QCOMPARE(readBytes(a), before);
        auto m = runCli({"merge", dir.filePath("m.csv"), a, b});
        QCOMPARE(m.exitCode, 1);
        QVERIFY2(m.err.contains("a different sweep"), m.err.constData());
        QVERIFY2(m.err.contains("(schemes.body: [\"int2_g64\",\"int8_g64\"] in the file, "
                                "[\"int2_g64\",\"int4_g64\"] in " +
                                a.toUtf8() + ")"),
                 m.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("m.csv")));
    }

    // A resume that cannot continue the file is refused before the reference pass of a kld sweep (the stage
    // lines of MapEvaluator::create never appear), and a file whose column line does not match the spec's
    // groups is refused even when its spec line matches.
    void resume_mismatchRefusedBeforeTheReferencePass() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QString a = dir.filePath("a.csv");
        const QStringList kld{"--measure", "kld", "--text", text, "--ctx", "64", "--windows", "2"};
        auto first = runCli(QStringList{"sweep", model, "--groups", "body", "--bits", "2,4", "--out", a} + kld);
        QVERIFY2(first.exitCode == 0, first.err.constData());
        QVERIFY2(first.err.contains("reference"), first.err.constData());  // the stage line this test relies on
        auto other = runCli(QStringList{"sweep", model, "--groups", "body", "--bits", "2,8", "--out", a, "--resume"} + kld);
        QCOMPARE(other.exitCode, 1);
        QVERIFY2(other.err.contains("different sweep"), other.err.constData());
        QVERIFY2(!other.err.contains("reference"), other.err.constData());

        // Same spec line, column line edited: refused by name.
        QByteArray bytes = readBytes(a);
        const int nl = int(bytes.indexOf('\n'));
        QVERIFY(bytes.mid(nl + 1).startsWith("point,groups,scheme_body,"));
        bytes.replace(nl + 1 + int(qstrlen("point,groups,")), int(qstrlen("scheme_body")), "scheme_mlp_");
        {
            QFile f(a);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(bytes);
        }
        auto cols = runCli(QStringList{"sweep", model, "--groups", "body", "--bits", "2,4", "--out", a, "--resume"} + kld);
        QCOMPARE(cols.exitCode, 1);
        QVERIFY2(cols.err.contains("column line does not match"), cols.err.constData());
        QVERIFY2(!cols.err.contains("reference"), cols.err.constData());
        QCOMPARE(readBytes(a), bytes);
    }

    // merge names the shards no input holds (0/3 and 2/3 given: 1/3), unless --allow-partial; a shard stopped
    // before its end is refused as missing points.
    void merge_refusesMissingShardsUnlessAllowPartial() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        const QStringList common = {"sweep", model, "--groups", "attention,mlp", "--bits", "2,4,8"};
        QStringList shards;
        for (int i = 0; i < 3; ++i) {
            shards << dir.filePath(QString("s%1.csv").arg(i));
            auto s = runCli(common + QStringList{"--shard", QString("%1/3").arg(i), "--out", shards.back()});
            QVERIFY2(s.exitCode == 0, s.err.constData());
        }
        const QString out = dir.filePath("m.csv");
        auto gap = runCli({"merge", out, shards[0], shards[2]});
        QCOMPARE(gap.exitCode, 1);
        QVERIFY2(gap.err.contains("shard 1/3 not given"), gap.err.constData());
        QVERIFY2(gap.err.contains("3 of 9 points are missing"), gap.err.constData());
        QVERIFY(!QFile::exists(out));
        auto h5 = runCli({"merge", dir.filePath("m.h5"), shards[0], shards[2]});
        QCOMPARE(h5.exitCode, 1);
        QVERIFY(!QFile::exists(dir.filePath("m.h5")));
        auto partial = runCli({"merge", out, shards[0], shards[2], "--allow-partial"});
        QVERIFY2(partial.exitCode == 0, partial.err.constData());
        QCOMPARE(rowsOf(out).size(), 6);
        // OUT forgotten (the first shard taken as OUT) or given twice: an existing file is never replaced.
        const QByteArray shard0 = readBytes(shards[0]);
        auto forgotten = runCli({"merge", shards[0], shards[2], "--allow-partial"});
        QCOMPARE(forgotten.exitCode, 1);
        QVERIFY2(forgotten.err.contains("exists") && forgotten.err.contains("never replaced"), forgotten.err.constData());
        QCOMPARE(readBytes(shards[0]), shard0);
        QCOMPARE(runCli({"merge", out, shards[0], shards[2], "--allow-partial"}).exitCode, 1);
        QCOMPARE(rowsOf(out).size(), 6);

        // Every shard given, one cut short (its last row removed): the missing point is counted.
        QByteArray s1 = readBytes(shards[1]);
        s1.chop(1);
        s1.truncate(s1.lastIndexOf('\n') + 1);
        {
            QFile f(shards[1]);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(s1);
        }
        auto shortShard = runCli({"merge", dir.filePath("m2.csv"), shards[0], shards[1], shards[2]});
        QCOMPARE(shortShard.exitCode, 1);
        QVERIFY2(shortShard.err.contains("1 of 9 points are missing"), shortShard.err.constData());
        QVERIFY2(shortShard.err.contains("--resume"), shortShard.err.constData());
    }

    // Two files with the same name and size whose weights differ in one value: shards of them never merge and a
    // resume never mixes them (the spec carries a content fingerprint, not only the file name and size).
    void resumeAndMerge_refuseOtherWeightsUnderTheSameName() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkdir("a") && QDir(dir.path()).mkdir("b"));
        const QString a = dir.filePath("a/stories260K.bin"), b = dir.filePath("b/stories260K.bin");
        QVERIFY(QFile::copy(model, a) && QFile::copy(model, b));
        {
            QFile f(b);
            QVERIFY(f.open(QIODevice::ReadWrite));
            QVERIFY(f.seek(f.size() / 2 & ~qint64(3)));  // one float inside the weights
            const float v = 0.125f;
            QCOMPARE(f.write(reinterpret_cast<const char*>(&v), 4), qint64(4));
        }
        const QStringList spec{"--groups", "body,embedding", "--bits", "3,4"};
        const QString sa = dir.filePath("sa.csv"), sb = dir.filePath("sb.csv");
        QCOMPARE(runCli(QStringList{"sweep", a, "--out", sa, "--shard", "0/2"} + spec).exitCode, 0);
        QCOMPARE(runCli(QStringList{"sweep", b, "--out", sb, "--shard", "1/2"} + spec).exitCode, 0);
        auto m = runCli({"merge", dir.filePath("m.csv"), sa, sb});
        QCOMPARE(m.exitCode, 1);
        QVERIFY2(m.err.contains("a different sweep"), m.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("m.csv")));
        const QByteArray before = readBytes(sa);
        auto r = runCli(QStringList{"sweep", b, "--out", sa, "--shard", "0/2", "--resume"} + spec);
        QCOMPARE(r.exitCode, 1);
        QCOMPARE(readBytes(sa), before);
        // The same weights in the other shard still merge.
        const QString sc = dir.filePath("sc.csv");
        QCOMPARE(runCli(QStringList{"sweep", a, "--out", sc, "--shard", "1/2"} + spec).exitCode, 0);
        QCOMPARE(runCli({"merge", dir.filePath("m2.csv"), sa, sc}).exitCode, 0);
    }

    // `inspect` shows a sweep table (CSV or HDF5) as its spec and rows; QuantScope's own HDF5 outputs (sweep
    // table, session, calibration statistics) are refused as checkpoints by name instead of being read as a
    // model of unknown architecture whose "tensors" are their columns.
    void inspect_showsSweepTables_ourHdf5OutputsAreNotCheckpoints() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        QTemporaryDir dir;
        const QString h5 = dir.filePath("s.h5"), csv = dir.filePath("s.csv");
        for (const QString& out : {h5, csv})
            QCOMPARE(runCli({"sweep", model, "--groups", "body", "--bits", "2,4", "--out", out}).exitCode, 0);
        for (const QString& table : {h5, csv}) {
            auto text = runCli({"inspect", table});
            QVERIFY2(text.exitCode == 0, text.err.constData());
            QVERIFY2(text.out.contains("QuantScope sweep table (shard 0/1)") && text.out.contains("2 stored of 2") &&
                         text.out.contains("\n1,body,int4_g64,"),
                     text.out.constData());
            auto json = runCli({"inspect", table, "--json"});
            QVERIFY2(json.exitCode == 0, json.err.constData());
            const auto j = nlohmann::json::parse(json.out.toStdString());
            QCOMPARE(j["points_stored"].get<int>(), 2);
            QCOMPARE(j["rows"][1][2].get<std::string>(), std::string("int4_g64"));
            QCOMPARE(j["columns"][0].get<std::string>(), std::string("point"));
        }
        // The table with its two rows' points swapped (as h5py would edit /sweep/point): inspect names the row
        // the CSV reader would refuse instead of showing point 0 labelled int4_g64 (tryout S6).
        auto stored = qs::readSweepHdf5(h5.toStdString());
        QVERIFY(stored.ok() && stored->rows.size() == 2);
        qs::SweepFile swapped = *stored;
        swapped.rows = {{0, "0" + stored->rows.at(1).substr(1)}, {1, "1" + stored->rows.at(0).substr(1)}};
        const QString edited = dir.filePath("edited.h5");
        auto w = qs::io::Hdf5Writer::create(edited.toStdString());
        QVERIFY(w.ok() && qs::writeSweepGroup(**w, swapped).ok() && (*w)->commit().ok());
        auto refused = runCli({"inspect", edited});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.err.contains(edited.toUtf8() + ": /sweep row 0: point 0: scheme_body 'int4_g64' is not the "
                                                        "point's scheme 'int2_g64'"),
                 refused.err.constData());
        const QString session = dir.filePath("session.h5"), stats = dir.filePath("stats.h5");
        QCOMPARE(runCli({"export", model, "--rule", "body=q8_0", "--h5", session}).exitCode, 0);
        auto made = runCli({"calibrate", model, "--calib", wiki, "--calib-tokens", "256", "--calib-ctx", "128", "--out", stats});
        QVERIFY2(made.exitCode == 0, made.err.constData());
        const std::pair<QString, QByteArray> ours[] = {{h5, "a QuantScope sweep table"},
                                                       {csv, "a QuantScope sweep table"},
                                                       {session, "a QuantScope session"},
                                                       {stats, "a QuantScope calibration file"}};
        for (const auto& [file, what] : ours) {
            auto r = runCli({"quantize", file, "--rule", "all=q8_0"});
            QCOMPARE(r.exitCode, 1);
            QVERIFY2(r.err.contains(what + " (written by"), r.err.constData());
        }
    }
};

QTEST_GUILESS_MAIN(TestCliSweep)
#include "test_cli_sweep.moc"
