// SPDX-License-Identifier: GPL-3.0-or-later
// The Sweep view (issue 10), offscreen, on the real stories260K:
// - a weight-error sweep of two groups over four schemes fills the plot and the table with every point
//   (4 x 4 = 16), in point order, each point's schemes the odometer order of core/sweep/sweep.h;
// - the frontier (the "frontier" column and the plot's step line) is exactly the set of non-dominated points,
//   checked by a brute-force dominance test on the table's own numbers (bytes, RMSE); paretoFrontier itself
//   on a hand-made set with a duplicate and a tie;
// - a click on a frontier point (a mouse click at its pixel on the plot) applies its map as ONE undoable
//   edit: every tensor of each group is governed by the point's scheme; undo restores the previous map;
// - a KLD sweep's unquantized point ("keep") has the stored model's reference NLL (ASSETS.md), KLD 0 and
//   top-1 1;
// - the exported CSV is a sweep file core reads back with every point; cancel stops the job (fewer points
//   than the sweep has, none arriving after it) and a new run then completes; the main window has the tab
//   and the "sweep" view;
// - "Save plot" as SVG writes a well-formed SVG document (root <svg>) holding the axis labels;
// - resuming a half-written sweep file (7 rows and half a line) completes it to the uninterrupted run's file,
//   row for row, and the view shows those points; so does a half HDF5 table; another model's file is refused;
// - Resume sets the setup (groups, schemes, measure, context, windows) from the file, and its errors (a missing
//   file, another model's file) reach the log, not only the status line;
// - a saved session carries the Sweep tab's points; opening it in a new window shows them again, row for row.
#include <QFile>
#include <QFileInfo>
#include <QComboBox>
#include <QScopeGuard>
#include <QScrollArea>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>
#include <QXmlStreamReader>

#include "ui/plot/qcustomplot_include.h"

#include <set>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_hdf5.h"
#include "ui/chat/chat_models.h"
#include "ui/jobs/job.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"
#include "ui/session_controller.h"
#include "ui/sweep/sweep_view.h"

using namespace qsui;

namespace {

constexpr const char* kModel = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kStories = "data/tinystories/tinystories_sample.txt";
constexpr int kTimeoutMs = 120000;
constexpr double kReferenceNll =
    1.2664;  // ASSETS.md, "Reference perplexity" (documents protocol, 4 decimals)

struct Fixture : qstest::AnalysisFixture {
    std::unique_ptr<ChatModels> models;
    std::unique_ptr<SweepView> view;
    explicit Fixture(const QString& modelPath) {
        doc.setModel(qstest::loadModel(modelPath));
        models = std::make_unique<ChatModels>(&doc, &runner);
        view = std::make_unique<SweepView>(&doc, &runner, models.get());
        view->resize(1100, 700);
        view->show();
    }
    ~Fixture() {
        view.reset();
        models.reset();
        runner.cancelAll();
    }
    bool run() {
        QSignalSpy done(view.get(), &SweepView::sweepFinished);
        view->start();
        if (!done.wait(kTimeoutMs) && done.isEmpty()) return false;
        return done.first().first().toBool();
    }
};

int column(const QTableWidget* t, const QString& name) {
    for (int c = 0; c < t->columnCount(); ++c)
        if (t->horizontalHeaderItem(c)->text() == name) return c;
    return -1;
}

const QStringList kSchemes{"q4_0", "q8_0", "int4_g32", "int8_g64"};

// The text of the Preset box (the combo box whose last item is "custom").
QString presetShown(const SweepView& view) {
    for (const QComboBox* box : view.findChildren<QComboBox*>())
        if (box->count() > 0 && box->itemText(box->count() - 1) == QLatin1String("custom")) return box->currentText();
    return {};
}

QSet<QString> setOf(const QStringList& list) {
    return QSet<QString>(list.begin(), list.end());
}

}  // namespace

class TestSweepView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void paretoFrontier_keepsOnlyNonDominatedPoints() {
        // (size, measure): (3,1) dominated by (2,1); (2,1) duplicate kept once; (1,5) and (4,0.5) on it.
        const std::vector<std::pair<double, double>> xy{{3, 1},   {2, 1},   {1, 5}, {2, 1},
                                                        {4, 0.5}, {4, 0.7}, {1, 6}};
        QCOMPARE(paretoFrontier(xy), (std::vector<int>{2, 1, 4}));
        QVERIFY(paretoFrontier({}).empty());
    }

    void weightErrorSweep_fillsPlotAndTable_frontierIsTheNonDominatedSet() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        f.view->setGroups({"body", "embedding"});
        f.view->setSchemes(kSchemes);
        f.view->setMeasure(qs::SweepMeasure::WeightError);
        QVERIFY2(f.run(), qPrintable(f.view->statusText()));
        const int n = 16;
        QCOMPARE(int(f.view->points().size()), n);
        QCOMPARE(f.view->plot()->graph(0)->dataCount(), n);
        QCOMPARE(f.view->table()->rowCount(), n);
        // The groups in the setup's order (embedding before body); odometer order: the last varies fastest.
        QCOMPARE(f.view->spec().groups.size(), size_t(2));
        QCOMPARE(f.view->spec().groups[1].name, std::string("body"));
        for (int p = 0; p < n; ++p) {
            const auto& row = f.view->points()[size_t(p)];
            QCOMPARE(row.point, p);
            QCOMPARE(QString::fromStdString(row.schemes[0]), kSchemes[p / 4]);
            QCOMPARE(QString::fromStdString(row.schemes[1]), kSchemes[p % 4]);
        }
        // More bits on the body (q8_0, point 1, against q4_0, point 0) at the same embedding scheme: strictly
        // smaller error and more bytes.
        const auto& pts = f.view->points();
        QVERIFY(pts[1].measure.rmse < pts[0].measure.rmse && pts[1].measure.bytes > pts[0].measure.bytes);

        // The frontier column against a brute-force dominance test on the table's numbers.
        const QTableWidget* t = f.view->table();
        const int cBytes = column(t, "bytes"), cRmse = column(t, "RMSE"), cFront = column(t, "frontier");
        QVERIFY(cBytes >= 0 && cRmse >= 0 && cFront >= 0);
        std::vector<double> bytes, rmse;
        std::set<int> marked;
        for (int r = 0; r < t->rowCount(); ++r) {
            bytes.push_back(t->item(r, cBytes)->text().toDouble());
            rmse.push_back(t->item(r, cRmse)->data(Qt::UserRole + 1).toDouble());
            if (t->item(r, cFront)->text() == "yes") marked.insert(r);
        }
        std::set<int> expected;
        for (int i = 0; i < n; ++i) {
            bool dominated = false;
            for (int j = 0; j < n && !dominated; ++j)
                dominated = j != i && bytes[j] <= bytes[i] && rmse[j] <= rmse[i] &&
                            (bytes[j] < bytes[i] || rmse[j] < rmse[i] || j < i);
            if (!dominated) expected.insert(i);
        }
        QCOMPARE(marked, expected);
        QVERIFY(expected.size() >= 2 && int(expected.size()) < n);
        QCOMPARE(f.view->plot()->graph(1)->dataCount(), int(expected.size()));
        QCOMPARE(f.view->plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);

        // Export: core reads the CSV back as a sweep file with every point.
        QTemporaryDir dir;
        const QString csv = dir.filePath("sweep.csv");
        QCOMPARE(f.view->exportTable(csv), QString());
        auto file = qs::readSweepFile(csv.toStdString());
        QVERIFY2(file, file ? "" : file.message().c_str());
        QCOMPARE(int(file->rows.size()), n);
        // The spec line carries the model's content fingerprint, as the CLI's does (merge compares it).
        auto fingerprint = qs::checkpointFingerprint(*f.doc.checkpoint(), nullptr);
        QVERIFY(fingerprint && !fingerprint->empty());
        QCOMPARE(file->header["spec"]["model_fingerprint"].get<std::string>(), *fingerprint);
        QCOMPARE(f.view->savePlot(dir.filePath("sweep.png")), QString());
        QVERIFY(QFileInfo(dir.filePath("sweep.png")).size() > 1000);
        QVERIFY(!f.view->savePlot(dir.filePath("sweep.bmp")).isEmpty());  // refused by name
        QVERIFY(!QFileInfo::exists(dir.filePath("sweep.bmp")));

        // SVG: a well-formed document whose root is <svg>, holding the plot's axis labels as text.
        const QString svgPath = dir.filePath("sweep.svg");
        QCOMPARE(f.view->savePlot(svgPath), QString());
        QFile svg(svgPath);
        QVERIFY(svg.open(QIODevice::ReadOnly));
        QXmlStreamReader xml(&svg);
        QString root, texts;
        while (!xml.atEnd()) {
            const auto token = xml.readNext();
            if (token == QXmlStreamReader::StartElement && root.isEmpty()) root = xml.name().toString();
            if (token == QXmlStreamReader::Characters) texts += xml.text().toString();
        }
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QCOMPARE(root, QString("svg"));
        QVERIFY2(texts.contains(f.view->plot()->xAxis->label()), qPrintable(texts.left(400)));
        QVERIFY2(texts.contains(f.view->plot()->yAxis->label()), qPrintable(texts.left(400)));
        QVERIFY(texts.contains("bits per weight") && texts.contains("RMSE"));
    }

    void resume_fromAHalfFile_equalsAnUninterruptedRun() {
        QS_REQUIRE_ASSET(path, kModel);
        QTemporaryDir dir;
        const QString full = dir.filePath("full.csv"), half = dir.filePath("half.csv");
        std::vector<qs::SweepRow> uninterrupted;
        {
            Fixture f(path);
            f.view->setGroups({"body", "embedding"});
            f.view->setSchemes(kSchemes);
            QVERIFY2(f.run(), qPrintable(f.view->statusText()));
            uninterrupted = f.view->points();
            QCOMPARE(f.view->exportTable(full), QString());
        }
        // The first 7 rows and half of the 8th (a run killed mid-write).
        QFile in(full);
        QVERIFY(in.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = in.readAll().split('\n');
        QCOMPARE(lines.size(), 2 + 16 + 1);  // header, column line, rows, "" after the last '\n'
        QByteArray part;
        for (int i = 0; i < 2 + 7; ++i) part += lines[i] + '\n';
        part += lines[9].left(lines[9].size() / 2);
        QFile out(half);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(part);
        out.close();

        Fixture f(path);
        QVERIFY(!f.view->resumeFrom(dir.filePath("missing.csv")).isEmpty());  // refused, named
        QSignalSpy done(f.view.get(), &SweepView::sweepFinished);
        QCOMPARE(f.view->resumeFrom(half), QString());
        QCOMPARE(int(f.view->points().size()), 7);  // the stored points, shown at once
        QVERIFY(done.wait(kTimeoutMs) || !done.isEmpty());
        QVERIFY2(done.first().first().toBool(), qPrintable(f.view->statusText()));
        // The file is the uninterrupted run's, row for row, and so are the view's points.
        auto a = qs::readSweepFile(full.toStdString()), b = qs::readSweepFile(half.toStdString());
        QVERIFY2(b, b ? "" : b.message().c_str());
        QCOMPARE(b->truncatedBytes, uint64_t(0));
        QCOMPARE(int(b->rows.size()), 16);
        QVERIFY(a->rows == b->rows);
        QCOMPARE(a->headerText, b->headerText);
        QCOMPARE(int(f.view->points().size()), 16);
        for (size_t i = 0; i < uninterrupted.size(); ++i) {
            const auto& p = f.view->points()[i];
            QCOMPARE(p.point, uninterrupted[i].point);
            QCOMPARE(p.schemes, uninterrupted[i].schemes);
            QCOMPARE(p.measure.bytes, uninterrupted[i].measure.bytes);
            QCOMPARE(p.measure.rmse, uninterrupted[i].measure.rmse);
        }
        // The same from an HDF5 table holding the first 5 points: completed to the uninterrupted run's rows.
        const QString h5 = dir.filePath("half.h5");
        const qs::Status written =
            qs::writeSweepHdf5(h5.toStdString(), f.view->spec(), qs::SweepShard{},
                               std::vector<qs::SweepRow>(uninterrupted.begin(), uninterrupted.begin() + 5));
        QVERIFY2(written.ok(), written ? "" : written.message().c_str());
        QSignalSpy doneH5(f.view.get(), &SweepView::sweepFinished);
        QCOMPARE(f.view->resumeFrom(h5), QString());
        QCOMPARE(int(f.view->points().size()), 5);
        QVERIFY(doneH5.wait(kTimeoutMs) || !doneH5.isEmpty());
        QVERIFY2(doneH5.first().first().toBool(), qPrintable(f.view->statusText()));
        auto table = qs::readSweepHdf5(h5.toStdString());
        QVERIFY2(table, table ? "" : table.message().c_str());
        QVERIFY(table->rows == a->rows);
        QCOMPARE(int(f.view->points().size()), 16);
        // Another model's file (its fingerprint differs) is refused before any point is measured.
        QFile edit(full);
        QVERIFY(edit.open(QIODevice::ReadOnly));
        QByteArray text = edit.readAll();
        edit.close();
        const QByteArray fp =
            QByteArray::fromStdString(a->header["spec"]["model_fingerprint"].get<std::string>());
        text.replace(fp, QByteArray(fp.size(), '0'));
        QFile other(dir.filePath("other.csv"));
        QVERIFY(other.open(QIODevice::WriteOnly));
        other.write(text);
        other.close();
        // (A complete file is shown after its fingerprint check, so it is refused there.)
        QCOMPARE(f.view->resumeFrom(dir.filePath("other.csv")), QString());
        QTRY_VERIFY2_WITH_TIMEOUT(f.view->statusText().contains("measured on other weights"),
                                  qPrintable(f.view->statusText()), kTimeoutMs);
        QVERIFY(f.view->points().empty());
    }

    void resume_setsTheSetupFromTheFile_errorsReachTheLog() {
        QS_REQUIRE_ASSET(path, kModel);
        QS_REQUIRE_ASSET(text, kStories);
        QTemporaryDir dir;
        const QString full = dir.filePath("full.csv");
        {
            Fixture f(path);
            f.view->setGroups({"attention", "embedding"});
            f.view->setSchemes({"q8_0", "int4_g32"});
            f.view->setMeasure(qs::SweepMeasure::Kld);
            f.view->setTextPath(text);
            f.view->setContext(64);
            f.view->setMaxWindows(2);
            QVERIFY2(f.run(), qPrintable(f.view->statusText()));
            QCOMPARE(int(f.view->points().size()), 4);
            QCOMPARE(f.view->exportTable(full), QString());
        }
        {  // the exported spec names the text it was measured on (hash and size), as the CLI's does
            QFile t(text);
            QVERIFY(t.open(QIODevice::ReadOnly));
            const std::string bytes = t.readAll().toStdString();
            auto written = qs::readSweepFile(full.toStdString());
            QVERIFY(written.ok());
            QCOMPARE(written->header["spec"]["text_fnv1a"].get<std::string>(), qs::fnv1aHex(bytes));
            QCOMPARE(written->header["spec"]["text_bytes"].get<uint64_t>(), uint64_t(bytes.size()));
        }
        // A complete file is shown, not run: no text is needed (the fixture has none), nothing is an error.
        {
            Fixture f(path);
            QSignalSpy log(f.view.get(), &SweepView::logMessage);
            QCOMPARE(f.view->resumeFrom(full), QString());
            QTRY_COMPARE_WITH_TIMEOUT(int(f.view->points().size()), 4, kTimeoutMs);
            QVERIFY(!f.view->isRunning());
            for (const auto& entry : log) QVERIFY2(!entry.at(0).toBool(), qPrintable(entry.at(2).toString()));
            QVERIFY2(log.first().at(2).toString().contains("is complete"), qPrintable(log.first().at(2).toString()));
            QCOMPARE(presetShown(*f.view), QString("custom"));  // q8_0,int4_g32 is no preset
            f.view->setSchemes({"q4_0", "q4_1", "q5_0", "q5_1", "q8_0"});
            QCOMPARE(presetShown(*f.view), QString("legacy ggml"));
        }
        // Resuming needs a file with a point left: the last row removed.
        QString half = dir.filePath("half.csv");
        {
            QFile in(full), out(half);
            QVERIFY(in.open(QIODevice::ReadOnly) && out.open(QIODevice::WriteOnly));
            QByteArray bytes = in.readAll();
            bytes.chop(1);
            out.write(bytes.left(bytes.lastIndexOf('\n') + 1));
        }
        const QString half2 = dir.filePath("half2.csv");  // the first resume completes `half` in place
        QVERIFY(QFile::copy(half, half2));
        Fixture f(path);  // the default setup: body, the first preset, weight-error
        QSignalSpy log(f.view.get(), &SweepView::logMessage);
        const QString missing = dir.filePath("missing.csv");
        QVERIFY(!f.view->resumeFrom(missing).isEmpty());
        QCOMPARE(log.size(), 1);
        QCOMPARE(log.first().at(0).toBool(), true);  // an error
        QVERIFY2(log.first().at(2).toString().contains(missing), qPrintable(log.first().at(2).toString()));
        // The file's setup is shown before the job needs the text.
        f.view->setTextPath(text);
        QSignalSpy done(f.view.get(), &SweepView::sweepFinished);
        QCOMPARE(f.view->resumeFrom(half), QString());
        QCOMPARE(setOf(f.view->groups()),
                 (QSet<QString>{"attention", "embedding"}));
        QCOMPARE(f.view->schemes(), (QStringList{"q8_0", "int4_g32"}));
        QCOMPARE(f.view->measure(), qs::SweepMeasure::Kld);
        QCOMPARE(f.view->spec().perplexity.context, 64);
        QCOMPARE(f.view->spec().perplexity.maxWindows, 2);
        QVERIFY(done.wait(kTimeoutMs) || !done.isEmpty());
        QVERIFY2(done.first().first().toBool(), qPrintable(f.view->statusText()));
        // A run from the form now repeats the file's sweep: the same points.
        const auto resumed = f.view->points();
        QVERIFY2(f.run(), qPrintable(f.view->statusText()));
        QCOMPARE(f.view->points().size(), resumed.size());
        for (size_t i = 0; i < resumed.size(); ++i) {
            QCOMPARE(f.view->points()[i].schemes, resumed[i].schemes);
            QCOMPARE(f.view->points()[i].measure.kld, resumed[i].measure.kld);
        }
        // Another text: the job refuses the file, and the log says so.
        QFile other(dir.filePath("other.txt"));
        QVERIFY(other.open(QIODevice::WriteOnly));
        other.write(QByteArray("Once upon a time there was a different text. ").repeated(200));
        other.close();
        f.view->setTextPath(dir.filePath("other.txt"));
        log.clear();
        QSignalSpy failed(f.view.get(), &SweepView::sweepFinished);
        const QString resumed2 = f.view->resumeFrom(half2);
        QVERIFY2(resumed2.isEmpty(), qPrintable(resumed2));
        QVERIFY2(failed.wait(kTimeoutMs) || !failed.isEmpty(), qPrintable(f.view->statusText()));
        QCOMPARE(failed.first().first().toBool(), false);
        bool logged = false;
        for (const auto& entry : log)
            logged = logged || (entry.at(0).toBool() && entry.at(2).toString().contains("different sweep"));
        QVERIFY2(logged, qPrintable(f.view->statusText()));
    }

    // A file refused as measured on other weights leaves nothing on screen: the points shown before it are
    // not its points.
    void refusedSweepFile_clearsThePointsShown() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        f.view->setGroups({"attention"});
        f.view->setSchemes({"q8_0", "int4_g32"});
        QVERIFY2(f.run(), qPrintable(f.view->statusText()));
        QCOMPARE(int(f.view->points().size()), 2);
        auto file = f.view->sweepFile();
        QVERIFY(file.has_value());
        file->header["spec"]["model_fingerprint"] = "0123456789abcdef";
        QSignalSpy log(f.view.get(), &SweepView::logMessage);
        QCOMPARE(f.view->showSweepFile(*file, QStringLiteral("other.csv"), {}), QString());
        QTRY_VERIFY_WITH_TIMEOUT(!log.isEmpty(), kTimeoutMs);
        QVERIFY2(log.last().at(0).toBool() && log.last().at(2).toString().contains("measured on other weights"),
                 qPrintable(log.last().at(2).toString()));
        QVERIFY(f.view->points().empty());
    }

    void narrowView_putsTheSetupAboveThePlot_wideBesideIt() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        auto* area = f.view->findChild<QScrollArea*>(QStringLiteral("setupArea"));
        auto* plot = f.view->findChild<QCustomPlot*>();
        QVERIFY(area && plot);
        // Inside a host without a layout (as in the main window's tabs, the view gets the width there is, below
        // its side-by-side minimum too).
        QWidget host;
        host.resize(1000, 700);
        f.view->setParent(&host);
        const auto release = qScopeGuard([&] { f.view->setParent(nullptr); });  // the fixture owns the view
        f.view->setGeometry(0, 0, 1000, 700);
        host.show();
        QVERIFY(QTest::qWaitForWindowExposed(&host));
        const auto beside = [&] { return plot->mapTo(f.view.get(), QPoint(0, 0)).x() >= area->geometry().right(); };
        const auto above = [&] { return plot->mapTo(f.view.get(), QPoint(0, 0)).y() >= area->geometry().bottom(); };
        QTRY_VERIFY(beside());
        f.view->setGeometry(0, 0, 420, 700);  // a small window with both side panels open
        QTRY_VERIFY(above());
        QVERIFY2(area->width() > 300 && area->height() <= 700 / 3,
                 qPrintable(QString("setup %1x%2").arg(area->width()).arg(area->height())));
        f.view->setGeometry(0, 0, 1000, 700);
        QTRY_VERIFY(beside());
    }

    void session_savesAndRestoresTheSweep() {
        QS_REQUIRE_ASSET(path, kModel);
        QTemporaryDir dir;
        const QString file = dir.filePath("s.qsession.json");
        std::optional<qs::SweepFile> saved;
        auto load = [&](MainWindow& w) {
            QSignalSpy finished(w.loader(), &LoadController::loadFinished);
            w.openPath(path);
            return (!finished.isEmpty() || finished.wait(kTimeoutMs)) && finished.last().at(1).toBool();
        };
        {
            tbb::task_arena arena(2);
            JobRunner runner(&arena);
            MainWindow w(&runner, MainWindowOptions{false});
            QVERIFY(load(w));
            SweepView* view = w.sweepView();
            view->setGroups({"body", "embedding"});
            view->setSchemes({"q4_0", "int8_g64"});
            QSignalSpy done(view, &SweepView::sweepFinished);
            view->start();
            QVERIFY(done.wait(kTimeoutMs) || !done.isEmpty());
            QVERIFY2(done.first().first().toBool(), qPrintable(view->statusText()));
            saved = view->sweepFile();
            QVERIFY(saved && saved->rows.size() == 4);
            QVERIFY(w.session()->saveSession(file));
            runner.cancelAll();
        }
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        auto session = sessionFromJson(f.readAll(), file);
        QVERIFY2(session.ok(), session ? "" : session.message().c_str());
        auto inFile = qs::parseSweepFileText(session->sweep, "session");
        QVERIFY2(inFile.ok(), inFile ? "" : inFile.message().c_str());
        QVERIFY(inFile->rows == saved->rows);

        tbb::task_arena arena(2);
        JobRunner runner(&arena);
        MainWindow w(&runner, MainWindowOptions{false});
        QVERIFY(w.sweepView()->points().empty());
        QSignalSpy finished(w.loader(), &LoadController::loadFinished);
        QVERIFY(w.session()->openSession(file));  // opens the session's model, then applies the session
        QVERIFY(!finished.isEmpty() || finished.wait(kTimeoutMs));
        QTRY_COMPARE_WITH_TIMEOUT(int(w.sweepView()->points().size()), 4, kTimeoutMs);
        const auto restored = w.sweepView()->sweepFile();
        QVERIFY(restored.has_value());
        QVERIFY(restored->rows == saved->rows);  // row for row, every number's %.17g text
        QCOMPARE(restored->headerText, saved->headerText);
        QCOMPARE(w.sweepView()->table()->rowCount(), 4);
        QCOMPARE(setOf(w.sweepView()->groups()),
                 (QSet<QString>{"body", "embedding"}));
        int logged = 0;
        for (const LogEntry& e : w.logModel()->entries())
            logged += e.message.contains(QStringLiteral("Restored the session's sweep: 4 point(s)"));
        QCOMPARE(logged, 1);
        // A damaged sweep in a session is refused in the log, naming the session.
        Session broken = *session;
        broken.sweep.replace(broken.sweep.find("\n0,") + 1, 1, "X");
        QFile out(dir.filePath("broken.qsession.json"));
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(sessionToJson(broken));
        out.close();
        QVERIFY(w.session()->openSession(out.fileName()));
        int errors = 0;
        for (const LogEntry& e : w.logModel()->entries())
            errors += e.severity == Severity::Error && e.message.contains(QStringLiteral("broken.qsession.json"));
        QCOMPARE(errors, 1);
        // A sweep measured on other weights (its fingerprint changed) is refused, never shown as this model's.
        Session other = *session;
        const std::string key = "\"model_fingerprint\":\"";
        const size_t at = other.sweep.find(key);
        QVERIFY(at != std::string::npos);
        other.sweep[at + key.size()] = other.sweep[at + key.size()] == '0' ? '1' : '0';
        QFile otherOut(dir.filePath("other.qsession.json"));
        QVERIFY(otherOut.open(QIODevice::WriteOnly));
        otherOut.write(sessionToJson(other));
        otherOut.close();
        MainWindow w2(&runner, MainWindowOptions{false});
        QSignalSpy loaded2(w2.loader(), &LoadController::loadFinished);
        QVERIFY(w2.session()->openSession(otherOut.fileName()));
        QVERIFY(!loaded2.isEmpty() || loaded2.wait(kTimeoutMs));
        auto refused = [&] {
            for (const LogEntry& e : w2.logModel()->entries())
                if (e.severity == Severity::Error && e.message.contains(QStringLiteral("measured on other weights")))
                    return true;
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(refused(), kTimeoutMs);
        QVERIFY(w2.sweepView()->points().empty());
        runner.cancelAll();
    }

    // Where a scheme fell back (stories260K's rows of 64 take no q4_K), the table and the hover name the
    // scheme used; the warnings the page shows reach the log.
    void fallback_namedInTableAndHover_warningsLogged() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        f.view->setGroups({"attention"});
        f.view->setSchemes({"q8_0", "q4_K"});
        QSignalSpy log(f.view.get(), &SweepView::logMessage);
        QVERIFY2(f.run(), qPrintable(f.view->statusText()));
        QCOMPARE(int(f.view->points().size()), 2);
        const QTableWidget* t = f.view->table();
        const int col = column(t, "attention");
        QVERIFY(col >= 0);
        QStringList cells;
        for (int r = 0; r < t->rowCount(); ++r) cells << t->item(r, col)->text();
        cells.sort();
        QCOMPARE(cells, (QStringList{"q4_K\u2192q5_0 (fallback)", "q8_0"}));
        int warnings = 0;
        for (const auto& entry : log) warnings += !entry.at(0).toBool();
        QVERIFY(warnings > 0);
        QVERIFY(f.view->statusText().contains("Warning"));
        // Hover text of the q4_K point.
        const int q4k = f.view->points()[0].schemes[0] == "q4_K" ? 0 : 1;
        QVERIFY(f.view->pointToolTip(q4k).contains("attention = q4_K\u2192q5_0 (fallback)"));
    }

    void clickOnFrontierPoint_appliesItsMap_undoRestores() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        f.doc.setQuantMap(qstest::mapOf({"attention=q8_0"}), "baseline");
        QCOMPARE(int(f.doc.quantMap().rules.size()), 1);
        const qs::QuantMap before = f.doc.quantMap();
        f.view->setGroups({"body", "embedding"});
        f.view->setSchemes(kSchemes);
        QVERIFY2(f.run(), qPrintable(f.view->statusText()));
        const std::vector<int> front = f.view->frontier();
        QVERIFY(front.size() >= 2);
        QCustomPlot* plot = f.view->plot();
        plot->replot();
        auto pixelOf = [&](int i) {
            const qs::SweepRow& p = f.view->points()[size_t(i)];
            return QPointF(plot->xAxis->coordToPixel(f.view->sizeOf(p)),
                           plot->yAxis->coordToPixel(f.view->measureOf(p)));
        };
        // A frontier point (not the first) no other frontier point is within 2 px of: the click at its
        // rounded pixel is nearest to it (the embedding's schemes move a point by ~3 px only).
        int index = -1;
        for (size_t k = 1; k < front.size() && index < 0; ++k) {
            bool alone = true;
            for (int other : front)
                alone =
                    alone && (other == front[k] || QLineF(pixelOf(other), pixelOf(front[k])).length() > 2);
            if (alone) index = front[k];
        }
        QVERIFY(index >= 0);
        const qs::SweepRow point = f.view->points()[size_t(index)];
        QCOMPARE(f.view->spec().groups[0].name, std::string("embedding"));  // the setup's order of groups
        QCOMPARE(f.view->spec().groups[1].name, std::string("body"));
        const QPoint pixel = pixelOf(index).toPoint();
        const int undoBefore = f.doc.undoStack()->count();
        QTest::mouseClick(plot, Qt::LeftButton, {}, pixel);
        QCOMPARE(f.doc.undoStack()->count(), undoBefore + 1);
        // Every attention/MLP matrix is governed by the point's body scheme (the rule after the baseline's
        // attention rule), the embedding by its embedding scheme.
        const qs::ResolvedMap* resolved = f.doc.resolvedMap();
        QVERIFY(resolved);
        const qs::ModelInfo& info = *f.doc.info();
        int body = 0, embedding = 0;
        for (size_t i = 0; i < info.entries.size(); ++i) {
            const auto role = info.entries[i].role;
            if (role == qs::Role::Embedding) {
                QCOMPARE(QString::fromStdString(resolved->tensors[i].requested(resolved->map)),
                         QString::fromStdString(point.schemes[0]));
                ++embedding;
            } else if ((role == qs::Role::Attention || role == qs::Role::Mlp) &&
                       f.doc.checkpoint()->tensors[i].shape.size() == 2) {
                QCOMPARE(QString::fromStdString(resolved->tensors[i].requested(resolved->map)),
                         QString::fromStdString(point.schemes[1]));
                ++body;
            }
        }
        QVERIFY(body > 0 && embedding == 1);
        QVERIFY(f.doc.quantMap().rules.size() == before.rules.size() + 2);
        f.doc.undoStack()->undo();
        QCOMPARE(qs::quantMapToJson(f.doc.quantMap()).dump(), qs::quantMapToJson(before).dump());
    }

    void cancel_stopsTheJob() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        f.view->setGroups({"layers"});  // 5 blocks x 3 schemes: 243 points
        f.view->setSchemes({"q4_0", "q8_0", "int4_g32"});
        QSignalSpy done(f.view.get(), &SweepView::sweepFinished);
        f.view->start();
        QVERIFY(f.view->isRunning());
        auto sweepJobs = [&] {
            int n = 0;
            for (Job* job : f.runner.activeJobs()) n += job->title().startsWith("Sweep");
            return n;
        };
        QCOMPARE(sweepJobs(), 1);
        f.view->cancel();  // before the worker measured anything: it stops at its first progress report
        QVERIFY(done.wait(kTimeoutMs) || !done.isEmpty());
        QCOMPARE(done.first().first().toBool(), false);
        QVERIFY(!f.view->isRunning());
        QCOMPARE(sweepJobs(), 0);
        QVERIFY(int64_t(f.view->points().size()) < f.view->spec().pointCount());
        QVERIFY2(f.view->statusText().contains("cancelled"), qPrintable(f.view->statusText()));
        const size_t got = f.view->points().size();
        QTest::qWait(200);
        QCOMPARE(f.view->points().size(), got);
        // The view runs again after a cancel, to the end.
        QVERIFY2(f.run(), qPrintable(f.view->statusText()));
        QCOMPARE(int64_t(f.view->points().size()), f.view->spec().pointCount());
    }

    void kldSweep_unquantizedPointIsTheReferenceModel() {
        QS_REQUIRE_ASSET(path, kModel);
        QS_REQUIRE_ASSET(text, kStories);
        Fixture f(path);
        QTRY_VERIFY_WITH_TIMEOUT(f.models->availability() != ChatModels::Availability::Checking, kTimeoutMs);
        QCOMPARE(f.models->availability(), ChatModels::Availability::Ready);
        f.view->setGroups({"body"});
        f.view->setSchemes({"keep", "q4_0"});
        f.view->setMeasure(qs::SweepMeasure::Kld);
        f.view->setTextPath(text);
        f.view->setProtocol(qs::PplProtocol::Documents);
        f.view->setMaxWindows(0);
        QVERIFY2(f.run(), qPrintable(f.view->statusText()));
        QCOMPARE(int(f.view->points().size()), 2);
        // "keep": the stored model, whose NLL ASSETS.md gives from llama2.c's own forward pass over the same
        // 1,804 tokens; against itself KLD 0 and top-1 100 %.
        const qs::PointMeasure keep = f.view->points()[0].measure;
        QVERIFY(keep.hasPpl && keep.hasKld);
        QCOMPARE(keep.tokens, int64_t(1804));
        QVERIFY2(std::fabs(std::log(keep.ppl) - kReferenceNll) < 5e-4,
                 qPrintable(QString::number(std::log(keep.ppl), 'f', 6)));
        QCOMPARE(keep.kld, 0.0);
        QCOMPARE(keep.top1, 1.0);
        const qs::PointMeasure q4 = f.view->points()[1].measure;
        QVERIFY2(q4.kld > 0 && q4.kld < 1.0, qPrintable(QString::number(q4.kld)));
        QVERIFY(q4.top1 > 0.5 && q4.top1 < 1.0);
        QVERIFY(q4.bytes < keep.bytes);
        // The plot's measure is the KLD: both points are on the frontier (smaller, or better), linear axis (a
        // 0).
        QCOMPARE(f.view->measureOf(f.view->points()[1]), q4.kld);
        QCOMPARE(f.view->frontier(), (std::vector<int>{1, 0}));
        QCOMPARE(f.view->plot()->yAxis->scaleType(), QCPAxis::stLinear);
    }

    void mainWindow_hasTheSweepTabAndView() {
        tbb::task_arena arena(1);
        JobRunner runner(&arena);
        MainWindow w(&runner, MainWindowOptions{false});
        QVERIFY(w.sweepView());
        QVERIFY(w.views().contains("sweep"));
    }
};

QTEST_MAIN(TestSweepView)
#include "test_sweep_view.moc"
