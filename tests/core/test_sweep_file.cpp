// SPDX-License-Identifier: GPL-3.0-or-later
// Sweep runs and sweep files on stories260K: odometer point order, resume after a cancel (between and inside
// points) and after a truncated last line gives the uninterrupted file byte for byte, shards merged equal the
// unsharded sweep, and the refusals (different spec on resume or merge, conflicting duplicates, bad shard,
// too many points). The HDF5 table is read back through the HDF5 checkpoint reader (an independent path).
// An HDF5 session carries a sweep's rows exactly and is never rewritten as a sweep table.
#include <hdf5.h>
#include <nlohmann/json.hpp>
#include "common/test_arena.h"
#include "core/export/session_h5.h"
#include "core/infer/inference_model.h"
#include "core/io/checkpoint.h"
#include "core/io/hdf5_reader.h"
#include "core/io/hdf5_writer.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_resolve.h"
#include "core/sweep/map_evaluator.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_hdf5.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <cstring>
#include <thread>
#include <limits>
#include <mutex>

#include <sys/wait.h>
#include <unistd.h>

#include "common/assets.h"

using namespace qs;

namespace {

QByteArray readBytes(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

struct Fixture {
    InferenceModel model;
    SweepSpec spec;
    std::unique_ptr<MapEvaluator> evaluator;
};

// A 12-point weight-error sweep over disjoint groups (runSweep refuses overlaps): attention x
// {int2,int4,int8}_g64, embedding x {q4_0,q8_0}, layer1.mlp x {keep,q4_0}.
Fixture makeFixture(const QString& path) {
    Fixture f;
    auto m = openInferenceModel(path.toStdString(), {}, nullptr);
    if (!m) qFatal("%s", m.message().c_str());
    f.model = std::move(*m);
    f.spec.modelPath = path.toStdString();
    auto groups = expandGroups(f.model.info, {"attention", "embedding", "layer1.mlp"});
    if (!groups) qFatal("%s", groups.message().c_str());
    f.spec.groups = *groups;
    f.spec.schemes = {{"int2_g64", "int4_g64", "int8_g64"}, {"q4_0", "q8_0"}, {"keep", "q4_0"}};
    auto ev = MapEvaluator::create(*f.model.checkpoint, f.model.info, nullptr, nullptr, {});
    if (!ev) qFatal("%s", ev.message().c_str());
    f.evaluator = std::move(*ev);
    return f;
}

Result<SweepFileRun> run(Fixture& f, const QString& out, bool resume, SweepShard shard = {}, ProgressFn progress = {}) {
    SweepRunOptions o;
    o.shard = shard;
    o.progress = std::move(progress);
    return runSweepToCsv(*f.evaluator, f.model.info, f.spec, out.toStdString(), resume, o);
}

}  // namespace

class TestSweepFile : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // One split for every reader of sweep lines (the CSV's JSON form, the HDF5 table): cells never hold a comma, so
    // every comma splits, empty cells included; an empty line has no cell (a missing column line).
    void sweepCells_splitAtEveryComma() {
        using Cells = std::vector<std::string>;
        QCOMPARE(qs::sweepCells("point,bytes,ppl"), (Cells{"point", "bytes", "ppl"}));
        QCOMPARE(qs::sweepCells("a,,b"), (Cells{"a", "", "b"}));
        QCOMPARE(qs::sweepCells("a,"), (Cells{"a", ""}));
        QCOMPARE(qs::sweepCells(",a"), (Cells{"", "a"}));
        QCOMPARE(qs::sweepCells(","), (Cells{"", ""}));
        QCOMPARE(qs::sweepCells(""), Cells{});
    }

    void points_odometerOrderAndShards() {
        SweepSpec s;
        s.schemes = {{"a", "b"}, {"x", "y", "z"}};
        QCOMPARE(s.pointCount(), int64_t(6));
        QCOMPARE(s.pointSchemes(0), (std::vector<std::string>{"a", "x"}));
        QCOMPARE(s.pointSchemes(1), (std::vector<std::string>{"a", "y"}));
        QCOMPARE(s.pointSchemes(3), (std::vector<std::string>{"b", "x"}));
        QCOMPARE(s.pointSchemes(5), (std::vector<std::string>{"b", "z"}));
        auto sh = parseShard("2/4");
        QVERIFY(sh.ok() && sh->takes(6) && !sh->takes(7));
        for (const char* bad : {"3/2", "2/2", "-1/2", "1/0", "1", "a/b", "1/2/3", ""}) {
            auto r = parseShard(bad);
            QVERIFY2(!r.ok(), bad);
            QVERIFY2(r.message().find("expected I/N") != std::string::npos, r.message().c_str());
        }
        QVERIFY(!schemeForBits(1).ok() && !schemeForBits(9).ok());
        QCOMPARE(*schemeForBits(3), std::string("int3_g64"));
    }

    void checkSpec_refusesTooManyPointsAndUnknownSchemes() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        Fixture f = makeFixture(path);
        QVERIFY(checkSweepSpec(f.spec, 12).ok());
        auto s = checkSweepSpec(f.spec, 11);
        QVERIFY(!s.ok());
        QVERIFY2(s.message().find("12 points") != std::string::npos && s.message().find("sensitivity") != std::string::npos,
                 s.message().c_str());
        f.spec.schemes[1].push_back("q4_Z");
        auto u = checkSweepSpec(f.spec, 1000);
        QVERIFY(!u.ok());
        QVERIFY2(u.message().find("group 'embedding'") != std::string::npos, u.message().c_str());
    }

    void resume_afterCancelAndTruncation_equalsUninterrupted() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        Fixture f = makeFixture(path);
        const QString full = dir.filePath("full.csv"), part = dir.filePath("part.csv");
        auto a = run(f, full, false);
        QVERIFY2(a.ok(), a ? "" : a.message().c_str());
        QCOMPARE(a->stored, int64_t(12));
        const QByteArray expected = readBytes(full);
        QCOMPARE(expected.count('\n'), 2 + 12);

        // Cancel inside point 5 (some of its tensors quantized), then between points 8 and 9.
        Fixture g = makeFixture(path);  // a fresh evaluator: nothing cached
        auto cancelled = run(g, part, false, {}, [](double fraction, std::string_view) { return fraction < 4.5 / 12; });
        QVERIFY(!cancelled.ok());
        QCOMPARE(cancelled.message(), std::string(kCancelledMessage));
        QVERIFY(readBytes(part).count('\n') < 2 + 12);
        QVERIFY(expected.startsWith(readBytes(part)));
        auto second = run(g, part, true, {}, [](double fraction, std::string_view) { return fraction < 0.5; });
        QVERIFY(!second.ok());
        auto done = run(g, part, true);
        QVERIFY2(done.ok(), done ? "" : done.message().c_str());
        QVERIFY(done->run.skipped > 0 && done->run.measured > 0);
        QCOMPARE(done->run.skipped + done->run.measured, int64_t(12));
        QCOMPARE(readBytes(part), expected);

        // A kill in the middle of a row: the partial line is cut off and the point measured again.
        QFile::remove(part);
        QVERIFY(QFile::copy(full, part));
        QVERIFY(QFile::resize(part, expected.size() - 7));
        auto again = run(g, part, true);
        QVERIFY(again.ok());
        QCOMPARE(again->truncatedBytes, uint64_t(expected.size() - 7 - expected.lastIndexOf('\n', expected.size() - 2) - 1));
        QCOMPARE(again->run.measured, int64_t(1));
        QCOMPARE(readBytes(part), expected);
    }

    void specAndRows_readBackFromTheFile() {
        // sweepSpecFromJson / parseSweepFileRow (the GUI's Resume) invert toJson / sweepFileRow: the spec
        // rebuilt from a written file has the same JSON, each row parsed back prints as the same line.
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        Fixture f = makeFixture(path);
        f.spec.baseline.rules.push_back(*parseRuleSpec("norm=keep"));
        f.spec.measure = SweepMeasure::Kld;  // the evaluation fields and the ppl/kld columns too
        f.spec.textHash = "0123456789abcdef";
        f.spec.textBytes = 1234;
        f.spec.perplexity.protocol = PplProtocol::Documents;
        f.spec.perplexity.context = 96;
        f.spec.perplexity.maxWindows = 3;
        auto back = sweepSpecFromJson(f.model.info, f.spec.toJson());
        QVERIFY2(back, back ? "" : back.message().c_str());
        QCOMPARE(back->toJson().dump(), f.spec.toJson().dump());
        QCOMPARE(back->groups.size(), size_t(3));
        QCOMPARE(back->groups[2].name, std::string("layer1.mlp"));
        SweepRow row;
        row.point = 7;
        row.schemes = f.spec.pointSchemes(7);
        row.measure.bytes = 123456;
        row.measure.bpw = 5.0 / 3.0;
        row.measure.rmse = 0.1;
        row.measure.sqnrDb = std::numeric_limits<double>::infinity();
        row.measure.ppl = 12.345678901234567;
        row.measure.kld = 1e-17;
        row.measure.kldMax = 2.5;
        row.measure.top1 = 0.75;
        const std::string line = sweepFileRow(f.spec, row);
        auto parsed = parseSweepFileRow(*back, line.substr(0, line.size() - 1));
        QVERIFY2(parsed, parsed ? "" : parsed.message().c_str());
        QCOMPARE(sweepFileRow(*back, *parsed), line);
        QCOMPARE(parsed->measure.ppl, row.measure.ppl);  // %.17g: exact
        QCOMPARE(parsed->schemes, row.schemes);
        QVERIFY(!parseSweepFileRow(*back, "7,x,a,b").ok());  // too few fields
        const size_t comma = line.find(',');
        auto bad = parseSweepFileRow(*back, line.substr(0, comma) + "x" + line.substr(comma, line.size() - comma - 1));
        QVERIFY(!bad.ok());
        QVERIFY2(bad.message().find("point") != std::string::npos, bad.message().c_str());
        // A group this model lacks, and a missing field, are named.
        auto j = f.spec.toJson();
        j["groups"][2] = "layer9.mlp";
        j["schemes"]["layer9.mlp"] = j["schemes"]["layer1.mlp"];
        auto g = sweepSpecFromJson(f.model.info, j);
        QVERIFY2(!g.ok() && g.message().find("groups") != std::string::npos, g ? "" : g.message().c_str());
        auto k = f.spec.toJson();
        k.erase("context");
        auto c = sweepSpecFromJson(f.model.info, k);
        QVERIFY2(!c.ok() && c.message().find("context") != std::string::npos, c ? "" : c.message().c_str());
    }

    void hdf5Resume_afterCancel_equalsUninterruptedCsv() {
        // readSweepHdf5 gives back the CSV's row texts exactly; runSweepToHdf5 keeps the points finished before
        // a cancel and a resume completes the table to the uninterrupted run's rows.
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        Fixture f = makeFixture(path);
        const QString csv = dir.filePath("full.csv"), part = dir.filePath("part.h5");
        auto a = run(f, csv, false);
        QVERIFY2(a.ok(), a ? "" : a.message().c_str());
        auto expected = readSweepFile(csv.toStdString());
        QVERIFY(expected.ok());
        Fixture g = makeFixture(path);
        SweepRunOptions o;
        o.progress = [](double fraction, std::string_view) { return fraction < 4.5 / 12; };
        auto cancelled = runSweepToHdf5(*g.evaluator, g.model.info, g.spec, part.toStdString(), false, o);
        QVERIFY(!cancelled.ok());
        auto stored = readSweepHdf5(part.toStdString());
        QVERIFY2(stored.ok(), stored ? "" : stored.message().c_str());
        QVERIFY(!stored->rows.empty() && stored->rows.size() < 12);
        for (const auto& [point, row] : stored->rows) QCOMPARE(row, expected->rows.at(point));
        auto done = runSweepToHdf5(*g.evaluator, g.model.info, g.spec, part.toStdString(), true, {});
        QVERIFY2(done.ok(), done ? "" : done.message().c_str());
        QCOMPARE(done->run.skipped, int64_t(stored->rows.size()));
        auto whole = readSweepHdf5(part.toStdString());
        QVERIFY(whole.ok());
        QVERIFY(whole->rows == expected->rows);
        QCOMPARE(whole->headerText, expected->headerText);
        // Another spec is refused by the same check as a CSV's.
        g.spec.schemes[2] = {"keep", "q8_0"};
        auto other = runSweepToHdf5(*g.evaluator, g.model.info, g.spec, part.toStdString(), true, {});
        QVERIFY(!other.ok());
        QVERIFY2(other.message().find("different sweep") != std::string::npos, other.message().c_str());
        QVERIFY(!readSweepHdf5(csv.toStdString()).ok());  // a CSV is not an HDF5 table
    }

    // The whole-checkpoint fingerprint is computed once per opened checkpoint: a second call (a second GUI job)
    // reads no tensor and reports no progress; concurrent calls wait for one computation; another opening of
    // the same file computes afresh and agrees; a cancelled computation is not kept.
    void fingerprint_computedOncePerOpenedCheckpoint() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto first = openCheckpoint(path.toStdString());
        QVERIFY(first.ok());
        auto cancelled = checkpointFingerprint(**first, nullptr, [](double, std::string_view) { return false; });
        QVERIFY(!cancelled.ok());
        std::atomic<int> reports{0};
        auto counting = [&](double, std::string_view what) {
            if (what == "fingerprinting the weights") ++reports;
            return true;
        };
        std::string value[2];
        std::thread other([&] { value[1] = checkpointFingerprint(**first, nullptr, counting).value(); });
        value[0] = checkpointFingerprint(**first, nullptr, counting).value();
        other.join();
        QCOMPARE(value[0], value[1]);
        QCOMPARE(reports.load(), int((*first)->tensors.size()));  // one computation for the two calls
        reports = 0;
        QCOMPARE(checkpointFingerprint(**first, nullptr, counting).value(), value[0]);
        QCOMPARE(reports.load(), 0);
        auto second = openCheckpoint(path.toStdString());
        QVERIFY(second.ok());
        QCOMPARE(checkpointFingerprint(**second, nullptr, counting).value(), value[0]);
        QCOMPARE(reports.load(), int((*second)->tensors.size()));
    }

    void session_carriesTheSweepRowsExactly() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        Fixture f = makeFixture(path);
        auto fingerprint = checkpointFingerprint(*f.model.checkpoint, nullptr);
        QVERIFY(fingerprint.ok());
        f.spec.modelFingerprint = *fingerprint;
        const QString csv = dir.filePath("s.csv"), session = dir.filePath("session.h5");
        QVERIFY(run(f, csv, false).ok());
        auto file = readSweepFile(csv.toStdString());
        QVERIFY(file.ok());
        QCOMPARE(file->rows.size(), size_t(12));
        // Tied to the weights by the fingerprint: another fingerprint, or none, is refused by name.
        QVERIFY(checkSweepFingerprint(*file, *fingerprint, "s.csv").ok());
        auto other = checkSweepFingerprint(*file, "0123456789abcdef", "s.csv");
        QVERIFY(!other.ok());
        QVERIFY2(other.message().find("other weights") != std::string::npos, other.message().c_str());
        SweepFile unmarked = *file;
        unmarked.header["spec"]["model_fingerprint"] = "";
        QVERIFY(!checkSweepFingerprint(unmarked, *fingerprint, "s.csv").ok());

        auto resolved = resolveMap(QuantMap{}, f.model.checkpoint->tensors, f.model.info);
        QVERIFY(resolved.ok());
        SessionOptions so;
        so.histogramBins = 0;
        auto built = buildSession(*f.model.checkpoint, f.model.info, *resolved, qstest::testArena(), so);
        QVERIFY(built.ok());
        QVERIFY(!built->sweep);
        built->sweep = *file;
        QVERIFY(writeSessionH5(session.toStdString(), *built).ok());
        auto back = readSessionH5(session.toStdString());
        QVERIFY2(back.ok(), back ? "" : back.message().c_str());
        QVERIFY(back->sweep.has_value());
        QVERIFY(back->sweep->rows == file->rows);  // every row's text, so every number bit for bit
        QCOMPARE(back->sweep->headerText, file->headerText);
        QVERIFY(back->sweep->header == file->header);
        QVERIFY(sessionSummaryText(*back).find("12 points") != std::string::npos);
        // The same /sweep group as a table file: readSweepHdf5 reads it from the session too.
        auto asTable = readSweepHdf5(session.toStdString());
        QVERIFY(asTable.ok() && asTable->rows == file->rows);
        // A sweep never rewrites a session as a table (it would drop the map and the tensors).
        const QByteArray before = readBytes(session);
        for (bool resume : {true, false}) {
            auto r = runSweepToHdf5(*f.evaluator, f.model.info, f.spec, session.toStdString(), resume, {});
            QVERIFY(!r.ok());
            QVERIFY2(r.message().find("HDF5 session") != std::string::npos, r.message().c_str());
        }
        QCOMPARE(readBytes(session), before);
        // A session without a sweep reads back without one.
        built->sweep.reset();
        QVERIFY(writeSessionH5(session.toStdString(), *built).ok());
        auto plain = readSessionH5(session.toStdString());
        QVERIFY(plain.ok() && !plain->sweep);
    }

    void resume_refusesAnotherSpecOrShard() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        Fixture f = makeFixture(path);
        const QString out = dir.filePath("s.csv");
        QVERIFY(run(f, out, false, *parseShard("1/3")).ok());
        auto shard = run(f, out, true, *parseShard("2/3"));
        QVERIFY(!shard.ok());
        QVERIFY2(shard.message().find("holds shard \"1/3\"") != std::string::npos, shard.message().c_str());
        f.spec.schemes[0] = {"int3_g64", "int4_g64", "int8_g64"};
        auto other = run(f, out, true, *parseShard("1/3"));
        QVERIFY(!other.ok());
        QVERIFY2(other.message().find("different sweep") != std::string::npos, other.message().c_str());
        // The message names the field that differs with both values, and no other field.
        QVERIFY2(other.message().find("(schemes." + f.spec.groups[0].name +
                                      ": [\"int2_g64\",\"int4_g64\",\"int8_g64\"] in the file, "
                                      "[\"int3_g64\",\"int4_g64\",\"int8_g64\"] in this run)") != std::string::npos,
                 other.message().c_str());
        QFile bad(dir.filePath("bad.csv"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("point,bytes\n0,1\n");
        bad.close();
        auto notSweep = readSweepFile(dir.filePath("bad.csv").toStdString());
        QVERIFY(!notSweep.ok());
        QVERIFY2(notSweep.message().find("not a QuantScope sweep file") != std::string::npos, notSweep.message().c_str());
        for (const char* header : {"# quantscope-sweep {\"version\":1,\"spec\":{},\"shard\":3}\n",
                                   "# quantscope-sweep {\"version\":\"1\",\"spec\":{},\"shard\":\"0/1\"}\n",
                                   "# quantscope-sweep [1,2]\n", "# quantscope-sweep {\"version\":1,\"spec\":"}) {
            QVERIFY(bad.open(QIODevice::WriteOnly | QIODevice::Truncate));
            bad.write(QByteArray(header) + "point,bytes\n0,1\n");
            bad.close();
            auto r = readSweepFile(dir.filePath("bad.csv").toStdString());
            QVERIFY2(!r.ok(), header);
            QVERIFY2(r.message().find("line 1") != std::string::npos || r.message().find("not a QuantScope") != std::string::npos,
                     r.message().c_str());
        }
        QVERIFY(bad.open(QIODevice::WriteOnly | QIODevice::Truncate));
        bad.write(readBytes(out).left(readBytes(out).indexOf('\n') + 1) + "point,bytes\n1,1\n1,2\n1\n");
        bad.close();
        auto twice = readSweepFile(dir.filePath("bad.csv").toStdString());
        QVERIFY(!twice.ok());
        QVERIFY2(twice.message().find("line 4: point 1 is stored twice") != std::string::npos, twice.message().c_str());
        // A row of another shard, of a point past the sweep, or whose schemes are not its point's: edited or damaged.
        const QByteArray head = readBytes(out).left(readBytes(out).indexOf('\n') + 1);
        QVERIFY2(head.contains("\"shard\":\"1/3\""), head.constData());
        for (const auto& [rows, message] : std::vector<std::pair<QByteArray, std::string>>{
                 {"point,bytes\n0,1\n", "line 3: point 0 does not belong to shard 1/3"},
                 {"point,bytes\n999999999997,1\n", "line 3: point 999999999997 is not one of the sweep's "}}) {
            QVERIFY(bad.open(QIODevice::WriteOnly | QIODevice::Truncate));
            bad.write(head + rows);
            bad.close();
            auto r = readSweepFile(dir.filePath("bad.csv").toStdString());
            QVERIFY(!r.ok());
            QVERIFY2(r.message().find(message) != std::string::npos, r.message().c_str());
        }
        QList<QByteArray> lines = readBytes(out).split('\n');
        QVERIFY(lines.size() > 3 && lines[1].startsWith("point,groups,scheme_"));
        QList<QByteArray> cells = lines[2].split(',');
        const QByteArray stored = cells[2], edited = stored == "int2_g64" ? "int8_g64" : "int2_g64";
        cells[2] = edited;
        lines[2] = cells.join(',');
        QVERIFY(bad.open(QIODevice::WriteOnly | QIODevice::Truncate));
        bad.write(lines.join('\n'));
        bad.close();
        auto mislabelled = readSweepFile(dir.filePath("bad.csv").toStdString());
        QVERIFY(!mislabelled.ok());
        const std::string expected = ": scheme_" + f.spec.groups[0].name + " '" + edited.toStdString() +
                                     "' is not the point's scheme '" + stored.toStdString() + "'";
        QVERIFY2(mislabelled.message().find("line 3: point ") != std::string::npos &&
                     mislabelled.message().find(expected) != std::string::npos,
                 mislabelled.message().c_str());
    }

    // A damaged measured cell (here the rmse of a stored point edited to "X.0095") is refused when the file
    // is read: a resume would have skipped the point, and a merge into HDF5 turned it into RMSE 0 (tryout
    // bug).
    void damagedCell_refusedByResumeAndMerge() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        Fixture f = makeFixture(path);
        const QString out = dir.filePath("s.csv");
        QVERIFY(run(f, out, false).ok());
        QByteArray text = readBytes(out);
        const QList<QByteArray> lines = text.split('\n');
        const QList<QByteArray> columns = lines[1].split(',');
        const int rmse = int(columns.indexOf("rmse"));
        QVERIFY(rmse > 0);
        QList<QByteArray> cells = lines[2].split(',');
        cells[rmse] = "X" + cells[rmse].mid(1);
        text.replace(lines[2], cells.join(','));
        QFile damaged(out);
        QVERIFY(damaged.open(QIODevice::WriteOnly | QIODevice::Truncate));
        damaged.write(text);
        damaged.close();
        auto resumed = run(f, out, true);
        QVERIFY(!resumed.ok());
        QVERIFY2(resumed.message().find("line 3: point ") != std::string::npos &&
                     resumed.message().find(": rmse (column " + std::to_string(rmse + 1) + ") 'X") != std::string::npos,
                 resumed.message().c_str());
        QVERIFY2(resumed.message().find("is not a number") != std::string::npos, resumed.message().c_str());
        auto merged = mergeSweepFilesToHdf5({out.toStdString()}, dir.filePath("m.h5").toStdString(), {});
        QVERIFY(!merged.ok());
        QVERIFY2(merged.message().find("is not a number") != std::string::npos, merged.message().c_str());
        QVERIFY(!QFile::exists(dir.filePath("m.h5")));
    }

    // An HDF5 table passes the CSV's row checks (the same PointLayout): /sweep/point edited to 3,2,1,0 on rows
    // measured as 0..3, a point past the sweep, a point of another shard were accepted by inspect, merge and
    // resume (tryout S6), which then kept or copied mislabelled rows.
    void hdf5Rows_editedPointsRefusedAsInTheCsv() {
        QTemporaryDir dir;
        const nlohmann::json spec = {{"groups", {"attention", "mlp"}},
                                     {"schemes", {{"attention", {"int4_g64", "int8_g64"}}, {"mlp", {"int4_g64", "int8_g64"}}}}};
        const char* schemes[4][2] = {{"int4_g64", "int4_g64"}, {"int4_g64", "int8_g64"}, {"int8_g64", "int4_g64"},
                                     {"int8_g64", "int8_g64"}};  // points 0..3 in odometer order
        auto table = [&](const QString& name, const std::string& shard, std::vector<int64_t> points) {
            SweepFile file;
            file.header = {{"version", 1}, {"spec", spec}, {"shard", shard}};
            file.headerText = "# quantscope-sweep " + file.header.dump() +
                              "\npoint,groups,scheme_attention,scheme_mlp,bytes,bpw,rmse,sqnr_db\n";
            for (int k = 0; k < 4; ++k)  // the schemes of point k stored under points[k] (rows sorted by point)
                file.rows[points[size_t(k)]] = std::to_string(points[size_t(k)]) + ",attention+mlp," + schemes[k][0] +
                                               "," + schemes[k][1] + ",1000," + std::to_string(4 + k) + ",0.5,20";
            const std::string path = dir.filePath(name).toStdString();
            auto w = io::Hdf5Writer::create(path);
            if (!w || !writeSweepGroup(**w, file).ok() || !(*w)->commit().ok()) qFatal("cannot write %s", path.c_str());
            return path;
        };
        auto good = readSweepFile(table("good.h5", "0/1", {0, 1, 2, 3}));
        QVERIFY2(good.ok(), good.ok() ? "" : good.message().c_str());
        QCOMPARE(good->rows.size(), size_t(4));
        const std::string swapped = table("swap.h5", "0/1", {3, 2, 1, 0});
        for (const auto& [path, message] : std::vector<std::pair<std::string, std::string>>{
                 {swapped, ": /sweep row 0: point 0: scheme_mlp 'int8_g64' is not the point's scheme 'int4_g64'"},
                 {table("huge.h5", "0/1", {0, 1, 2, 999999999999}), ": /sweep row 3: point 999999999999 is not one of the sweep's 4"},
                 {table("shard.h5", "1/2", {0, 1, 2, 3}), ": /sweep row 0: point 0 does not belong to shard 1/2"},
                 {table("neg.h5", "0/1", {0, 1, 2, -5}), ": /sweep row 0: bad point index '-5'"}}) {
            auto r = readSweepFile(path);
            QVERIFY2(!r.ok(), path.c_str());
            QVERIFY2(r.message().rfind(path + message, 0) == 0, r.message().c_str());
        }
        // merge reads its inputs the same way, so it refuses the table and writes nothing.
        const std::string out = dir.filePath("m.csv").toStdString();
        auto merged = mergeSweepFiles({swapped}, out, {});
        QVERIFY(!merged.ok());
        QVERIFY2(merged.message().find("/sweep row 0: point 0: scheme_mlp") != std::string::npos, merged.message().c_str());
        QVERIFY(!QFile::exists(QString::fromStdString(out)));
    }

    void shards_mergedEqualUnsharded() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        Fixture f = makeFixture(path);
        const QString full = dir.filePath("full.csv");
        QVERIFY(run(f, full, false).ok());
        std::vector<std::string> shards;
        for (int i = 0; i < 5; ++i) {  // 5 shards of 12 points: 3,3,2,2,2
            const QString s = dir.filePath(QString("shard%1.csv").arg(i));
            auto r = run(f, s, false, SweepShard{i, 5});
            QVERIFY(r.ok());
            QCOMPARE(r->stored, int64_t(i < 2 ? 3 : 2));
            shards.push_back(s.toStdString());
        }
        const QString merged = dir.filePath("merged.csv");
        auto n = mergeSweepFiles({shards[3], shards[0], shards[4], shards[2], shards[1]}, merged.toStdString());
        QVERIFY2(n.ok(), n ? "" : n.message().c_str());
        QCOMPARE(*n, int64_t(12));
        QCOMPARE(readBytes(merged), readBytes(full));
        // Identical duplicates are accepted; a conflicting one and another sweep are refused.
        QVERIFY(mergeSweepFiles({full.toStdString(), shards[0]}, merged.toStdString()).ok());
        QCOMPARE(readBytes(merged), readBytes(full));
        QByteArray changed = readBytes(shards[0].c_str());
        QVERIFY(changed.contains(",int2_g64,q4_0,keep,"));
        changed.replace(",int2_g64,q4_0,keep,", ",int2_g64,q4_0,keep,9");  // a different byte count for point 0
        const QString conflict = dir.filePath("conflict.csv");
        QFile c(conflict);
        QVERIFY(c.open(QIODevice::WriteOnly));
        c.write(changed);
        c.close();
        auto dup = mergeSweepFiles({full.toStdString(), conflict.toStdString()}, dir.filePath("x.csv").toStdString());
        QVERIFY(!dup.ok());
        QVERIFY2(dup.message().find("with different values") != std::string::npos, dup.message().c_str());
        QVERIFY(!QFile::exists(dir.filePath("x.csv")));
        f.spec.schemes[2] = {"keep", "q8_0"};
        const QString other = dir.filePath("other.csv");
        QVERIFY(run(f, other, false).ok());
        auto diff = mergeSweepFiles({full.toStdString(), other.toStdString()}, dir.filePath("y.csv").toStdString());
        QVERIFY(!diff.ok());
        QVERIFY2(diff.message().find("a different sweep") != std::string::npos, diff.message().c_str());
    }

    // The HDF5 table holds the CSV's numbers bit for bit, read back with plain libhdf5 calls as h5py would
    // (datasets /sweep/bpw as float64 and /sweep/bytes as int64, one element per point in point order). The
    // checkpoint reader refuses the table by name: it is not a model.
    void hdf5_tableReadsBackExactly() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        Fixture f = makeFixture(path);
        const QString csv = dir.filePath("s.csv"), h5 = dir.filePath("s.h5");
        QVERIFY(run(f, csv, false).ok());
        auto n = mergeSweepFilesToHdf5({csv.toStdString()}, h5.toStdString());
        QVERIFY2(n.ok(), n ? "" : n.message().c_str());
        auto file = readSweepFile(csv.toStdString());
        QVERIFY(file.ok());
        auto ck = openCheckpoint(h5.toStdString());
        QVERIFY(!ck.ok());
        QVERIFY2(ck.message().find("a QuantScope sweep table") != std::string::npos, ck.message().c_str());

        std::vector<double> bpw(12);
        std::vector<int64_t> bytes(12);
        {
            std::lock_guard lock(io::hdf5Mutex());
            const hid_t h = H5Fopen(h5.toUtf8().constData(), H5F_ACC_RDONLY, H5P_DEFAULT);
            QVERIFY(h >= 0);
            auto read = [&](const char* name, hid_t memType, H5T_class_t wantClass, void* out) {
                const hid_t set = H5Dopen2(h, name, H5P_DEFAULT);
                const hid_t space = H5Dget_space(set), type = H5Dget_type(set);
                hsize_t count = 0;
                H5Sget_simple_extent_dims(space, &count, nullptr);
                const bool ok = set >= 0 && H5Sget_simple_extent_ndims(space) == 1 && count == 12 &&
                                H5Tget_class(type) == wantClass && H5Tget_size(type) == 8 &&
                                H5Dread(set, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
                H5Tclose(type);
                H5Sclose(space);
                H5Dclose(set);
                return ok;
            };
            const bool ok = read("/sweep/bpw", H5T_NATIVE_DOUBLE, H5T_FLOAT, bpw.data()) &&
                            read("/sweep/bytes", H5T_NATIVE_INT64, H5T_INTEGER, bytes.data());
            H5Fclose(h);
            QVERIFY(ok);
        }
        int k = 0;
        for (const auto& [point, row] : file->rows) {
            QStringList cells = QString::fromStdString(row).split(',');
            // Exactly (QCOMPARE of doubles is fuzzy): the CSV prints %.17g, which reads back to the same double.
            QVERIFY2(bpw[size_t(k)] == cells[6].toDouble(), qPrintable(cells[6]));
            QCOMPARE(bytes[size_t(k)], cells[5].toLongLong());
            ++k;
        }
    }

    // A writer killed outright leaves ".NAME.tmp<PID>"; the next writer of NAME removes the files of dead
    // processes and keeps those of live ones (another writer may be busy).
    // The shared overlap check: runSweep refuses groups that share a tensor, naming them, before measuring.
    void runSweep_refusesOverlappingGroups() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        Fixture f = makeFixture(path);
        auto groups = expandGroups(f.model.info, {"body", "layer1"});
        QVERIFY(groups.ok());
        f.spec.groups = *groups;
        f.spec.schemes = {{"int4_g64"}, {"q4_0"}};
        int points = 0;
        SweepRunOptions o;
        o.onPoint = [&](const SweepRow&) -> Status {
            ++points;
            return {};
        };
        auto r = runSweep(*f.evaluator, f.model.info, f.spec, o);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("groups 'body' and 'layer1' overlap (7 tensors in both)") != std::string::npos,
                 r.message().c_str());
        QCOMPARE(points, 0);
        QVERIFY(checkDisjointGroups(f.model.info, *expandGroups(f.model.info, {"attention", "mlp", "embedding"})).ok());
        QVERIFY(!checkDisjointGroups(f.model.info, *expandGroups(f.model.info, {"layer-parts", "layer0"})).ok());
        // Of several overlapping pairs, the first in the groups' order is named: (layer3, body) before
        // (layer2.mlp, body), (layer2.mlp, layer2) and (body, layer2).
        const Status several =
            checkDisjointGroups(f.model.info, *expandGroups(f.model.info, {"layer3", "layer2.mlp", "body", "layer2"}));
        QVERIFY2(several.message().find("groups 'layer3' and 'body' overlap (7 tensors in both)") != std::string::npos,
                 several.message().c_str());
        const Status two = checkDisjointGroups(f.model.info, *expandGroups(f.model.info, {"layer2.mlp", "layer2"}));
        QVERIFY2(two.message().find("groups 'layer2.mlp' and 'layer2' overlap (3 tensors in both)") != std::string::npos,
                 two.message().c_str());
    }

    void hdf5Writer_removesTemporariesOfDeadWriters() {
        QTemporaryDir dir;
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        QVERIFY(child > 0);
        int status = 0;
        QCOMPARE(::waitpid(child, &status, 0), child);  // reaped: the pid names no process now
        const QString dead = dir.filePath(".t.h5.tmp" + QString::number(child));
        const QString live = dir.filePath(".t.h5.tmp" + QString::number(::getppid()));
        const QString other = dir.filePath(".u.h5.tmp" + QString::number(child));
        for (const QString& f : {dead, live, other}) {
            QFile q(f);
            QVERIFY(q.open(QIODevice::WriteOnly));
            q.write("half");
        }
        auto w = qs::io::Hdf5Writer::create(dir.filePath("t.h5").toStdString());
        QVERIFY(w.ok());
        QVERIFY(!QFile::exists(dead));
        QVERIFY(QFile::exists(live));
        QVERIFY(QFile::exists(other));  // another destination's
        QVERIFY((*w)->commit().ok());
        QVERIFY(QFile::exists(dir.filePath("t.h5")));
    }
};

QTEST_GUILESS_MAIN(TestSweepFile)
#include "test_sweep_file.moc"
