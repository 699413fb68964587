// SPDX-License-Identifier: GPL-3.0-or-later
// The main window end to end, offscreen: the empty state, a checkpoint dropped through the real drag-and-drop
// event path fills the model tree, the summary and the footprint; a broken file lands in the log and keeps
// the previous model; the filter narrows the tree; Esc cancels a load without changing the model; selection
// is shared; recent files and the dock layout persist; --screenshot's task writes a PNG.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QLineEdit>
#include <QMimeData>
#include <QScopeGuard>
#include <QSemaphore>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeView>
#include <QUndoStack>
#include <QUrl>
#include <QWindow>

#include <atomic>
#include <memory>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "ui/document.h"
#include "ui/empty_state_view.h"
#include "ui/eval/evaluations_view.h"
#include "ui/footprint/footprint_view.h"
#include "ui/jobs/job_runner.h"
#include "ui/jobs/job_status_widget.h"
#include <oneapi/tbb/task_arena.h>
#include "ui/load_controller.h"
#include "ui/log/log_dock.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"
#include "ui/plot/stacked_bar_chart.h"
#include "ui/recent_files.h"
#include "ui/screenshot_task.h"
#include "ui/session_controller.h"
#include "ui/summary/summary_view.h"
#include "ui/tree/model_tree_dock.h"
#include "ui/tree/model_tree_model.h"
#include "ui/tree/model_tree_proxy.h"

using namespace qsui;

namespace {

constexpr int kTimeoutMs = 15000;
constexpr const char* kLlama2c = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kGguf = "models/stories260K-gguf/stories260K.gguf";

// stories260K.bin (llama2.c legacy): tok_embeddings, 5 layers x 9 tensors, norm, freq_cis_real/imag.
constexpr int kLlama2cLayers = 5;
constexpr int kLlama2cTensors = 1 + 5 * 9 + 1 + 2;

// Drops `path` on the window the way a window system does: DragEnter then Drop delivered to the QWindow,
// which routes them to the widget under the cursor that accepts drops (QWidgetWindow's DnD handling).
void dropFile(QWidget* window, const QString& path) {
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(path)});
    QWindow* handle = window->windowHandle();
    QVERIFY(handle);
    const QPoint pos = window->rect().center();
    QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(handle, &enter);
    QVERIFY2(enter.isAccepted(), "the window refused the drag");
    QDropEvent drop(QPointF(pos), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(handle, &drop);
    QVERIFY2(drop.isAccepted(), "the window refused the drop");
}

int entriesWith(const LogModel* log, Severity severity, const QString& text) {
    int n = 0;
    for (const LogEntry& e : log->entries()) n += e.severity == severity && e.message.contains(text);
    return n;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

    std::unique_ptr<tbb::task_arena> m_arena;
    std::unique_ptr<JobRunner> m_runner;
    std::unique_ptr<MainWindow> m_window;

    void makeWindow() {
        m_window = std::make_unique<MainWindow>(m_runner.get());
        m_window->resize(1280, 720);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }

    // Drops a file and waits for its load to end; returns whether it succeeded.
    bool dropAndWait(const QString& path) {
        QSignalSpy finished(m_window->loader(), &LoadController::loadFinished);
        dropFile(m_window.get(), path);
        if (!finished.wait(kTimeoutMs) && finished.isEmpty()) return false;
        return finished.last().at(1).toBool();
    }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // QSettings go to a test location, not the user's
        QCoreApplication::setOrganizationName(QStringLiteral("QuantScopeTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_main_window"));
        QSettings().clear();
    }

    void init() {
        m_arena = std::make_unique<tbb::task_arena>(2);
        m_runner = std::make_unique<JobRunner>(m_arena.get());
        makeWindow();
    }

    void cleanup() {
        m_window.reset();
        m_runner.reset();
        m_arena.reset();
    }

    void emptyWindow_showsDropHint() {
        QVERIFY(m_window->showsEmptyState());
        QVERIFY(m_window->emptyState()->isVisible());
        QVERIFY(m_window->emptyState()->message().startsWith(QStringLiteral("Drop a checkpoint here")));
        QVERIFY(m_window->emptyState()->message().contains(QStringLiteral("GGUF")));
        QVERIFY(!m_window->document()->hasModel());
        QCOMPARE(m_window->treeDock()->model()->rowCount(), 0);
        for (const char* view : {"tree", "summary", "footprint", "map", "log"})
            QVERIFY2(m_window->views().contains(QString::fromLatin1(view)), view);
    }

    void dropLlama2c_fillsTreeSummaryAndFootprint() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        dropFile(m_window.get(), path);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->document()->hasModel(), kTimeoutMs);
        QVERIFY(!m_window->showsEmptyState());

        ModelTreeModel* tree = m_window->treeDock()->model();
        QCOMPARE(tree->layerRowCount(), kLlama2cLayers);
        QCOMPARE(tree->tensorCount(), kLlama2cTensors);
        QCOMPARE(m_window->treeDock()->visibleTensorCount(), kLlama2cTensors);
        // 5 layer rows + tok_embeddings, norm and the two RoPE tables at the top level.
        QCOMPARE(tree->rowCount(), kLlama2cLayers + 4);
        int layerRows = 0;
        for (int r = 0; r < tree->rowCount(); ++r) {
            const QModelIndex top = tree->index(r, 0);
            if (top.data(ModelTreeModel::TensorIndexRole).toInt() >= 0) continue;
            ++layerRows;
            QCOMPARE(tree->rowCount(top), 9);
        }
        QCOMPARE(layerRows, kLlama2cLayers);

        // The embedding row carries the tie badge; sizes are in binary units.
        const int emb = m_window->document()->checkpoint()->find("tok_embeddings.weight");
        QVERIFY(emb >= 0);
        const QModelIndex embRow = tree->indexOfTensor(emb);
        QVERIFY(embRow.siblingAtColumn(ModelTreeModel::TieColumn).data().toString().startsWith(QStringLiteral("tied")));
        QCOMPARE(embRow.siblingAtColumn(ModelTreeModel::SizeColumn).data().toString(), QStringLiteral("128.00 KiB"));
        QCOMPARE(embRow.siblingAtColumn(ModelTreeModel::ShapeColumn).data().toString(), QStringLiteral("512 × 64"));
        QCOMPARE(embRow.siblingAtColumn(ModelTreeModel::RoleColumn).data().toString(), QStringLiteral("embedding"));

        // Footprint bars per role group (embedding, head, body, norm, other), before and after; no map yet, so
        // after == before.
        FootprintView* fp = m_window->footprintView();
        StackedBarChart* chart = fp->chart();
        QCOMPARE(chart->groupCount(), int(FootprintView::GroupCount));
        QVERIFY(chart->plottedTotal(FootprintView::EmbeddingGroup, FootprintView::BeforeBar) > 0);
        QCOMPARE(chart->plottedTotal(FootprintView::HeadGroup, FootprintView::BeforeBar), 0.0);  // tied
        QVERIFY(chart->plottedTotal(FootprintView::BodyGroup, FootprintView::BeforeBar) >
                chart->plottedTotal(FootprintView::EmbeddingGroup, FootprintView::BeforeBar));
        QVERIFY(chart->plottedTotal(FootprintView::NormGroup, FootprintView::BeforeBar) > 0);
        for (int g = 0; g < FootprintView::GroupCount; ++g)
            QCOMPARE(chart->plottedTotal(g, FootprintView::AfterBar), chart->plottedTotal(g, FootprintView::BeforeBar));
        QVERIFY(fp->note().contains(QStringLiteral("128.00 KiB")));
        QTableWidget* table = fp->table();
        QCOMPARE(table->rowCount(), int(FootprintView::GroupCount) + 1);
        QCOMPARE(table->item(FootprintView::GroupCount, 0)->text(), QStringLiteral("total"));
        QCOMPARE(table->item(FootprintView::GroupCount, FootprintView::RatioColumn)->text(), QStringLiteral("1.00×"));

        const QString summary = m_window->summaryView()->summaryHtml();
        QVERIFY(summary.contains(QStringLiteral("260,032")));
        QVERIFY(summary.contains(QStringLiteral("llama2c")));
        QVERIFY(summary.contains(QStringLiteral("llama2.c header")));
        QVERIFY(m_window->windowTitle().contains(QStringLiteral("stories260K.bin")));
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Info, QStringLiteral("Loaded")), 1);
        QCOMPARE(m_window->logModel()->count(Severity::Error), 0);
    }

    void dropTruncatedFile_logsErrorAndKeepsPreviousModel() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(dropAndWait(path));
        const auto before = m_window->document()->model();

        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QFile source(path);
        QVERIFY(source.open(QIODevice::ReadOnly));
        const QString broken = dir.filePath(QStringLiteral("stories260K-truncated.bin"));
        QFile out(broken);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(source.read(source.size() / 2));  // header intact, half the weights missing
        out.close();

        QVERIFY(!dropAndWait(broken));
        QCOMPARE(m_window->logModel()->count(Severity::Error), 1);
        QVERIFY(entriesWith(m_window->logModel(), Severity::Error, QStringLiteral("stories260K-truncated.bin")) == 1);
        QCOMPARE(m_window->document()->model(), before);  // the previous model stays
        QCOMPARE(m_window->treeDock()->model()->tensorCount(), kLlama2cTensors);
        QVERIFY(m_window->windowTitle().contains(QStringLiteral("stories260K.bin")));
        QVERIFY(m_window->logDock()->isVisible());

        // A file that is no checkpoint at all: also an error, still no crash.
        const QString text = dir.filePath(QStringLiteral("notes.txt"));
        QFile notes(text);
        QVERIFY(notes.open(QIODevice::WriteOnly));
        notes.write("just some text, not weights\n");
        notes.close();
        QVERIFY(!dropAndWait(text));
        QCOMPARE(m_window->logModel()->count(Severity::Error), 2);
        QCOMPARE(m_window->document()->model(), before);
    }

    // An error in the status bar stops short of the permanent widgets on the right (elided, the full text in the
    // tooltip), and a model that then loads clears it: it used to stay, saying "Could not open" over the new one.
    void statusError_elided_clearedByTheNextLoad() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(dropAndWait(path));  // the permanent model label now has its text
        QTemporaryDir dir;
        const QString sub = dir.filePath(QString(150, QLatin1Char('d')));
        QVERIFY(QDir().mkpath(sub));
        const QString broken = sub + QStringLiteral("/not-a-model.bin");
        QFile out(broken);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write("just some text, not weights\n");
        out.close();
        QVERIFY(!dropAndWait(broken));
        QStatusBar* bar = m_window->statusBar();
        const QString shown = bar->currentMessage();
        QVERIFY(shown.startsWith(QStringLiteral("Could not open")));
        QVERIFY2(shown.contains(QChar(0x2026)), qPrintable(shown));  // elided
        int permanentLeft = bar->width();
        for (QWidget* w : bar->findChildren<QWidget*>(Qt::FindDirectChildrenOnly))
            if (w->isVisible() && w->geometry().left() > 0)
                permanentLeft = std::min(permanentLeft, w->geometry().left());
        QVERIFY(permanentLeft < bar->width());
        QVERIFY2(bar->fontMetrics().horizontalAdvance(shown) < permanentLeft,
                 qPrintable(QStringLiteral("%1 px of text, the permanent widgets start at %2")
                                .arg(bar->fontMetrics().horizontalAdvance(shown))
                                .arg(permanentLeft)));
        QVERIFY(bar->toolTip().contains(broken));

        QVERIFY(dropAndWait(path));
        QCOMPARE(bar->currentMessage(), QString());
    }

    // A session file dropped on the window (or given on the command line: both call openPath) opens as a session:
    // its model loads and its map applies. It used to be read as a sharded safetensors index ("no weight_map").
    void droppedSessionFile_opensAsSession() {
        QS_REQUIRE_ASSET(llama2c, kLlama2c);
        QS_REQUIRE_ASSET(gguf, kGguf);
        // Leaving a model remembers its map in QSettings, which later tests' models would carry: forget it.
        const auto forget = qScopeGuard([] { QSettings().clear(); });
        QVERIFY(dropAndWait(llama2c));
        m_window->document()->setQuantMap(qstest::mapOf({"body=q4_0"}), QStringLiteral("test"));
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("s.qsession.json"));
        QVERIFY(m_window->session()->saveSession(file));
        QVERIFY(dropAndWait(gguf));  // another model, the map saved so no prompt
        m_window->document()->setQuantMap(qstest::mapOf({"body=q8_0", "embedding=q8_0"}), QStringLiteral("test"));
        m_window->document()->undoStack()->setClean();  // nothing to save: opening the session does not ask

        const int errorsBefore = m_window->logModel()->count(Severity::Error);
        QVERIFY(dropAndWait(file));  // the session's model loads
        QCOMPARE(QFileInfo(m_window->document()->path()), QFileInfo(llama2c));
        QTRY_COMPARE(m_window->document()->quantMap().rules.size(), size_t(1));
        QCOMPARE(m_window->document()->quantMap().rules[0].scheme, std::string("q4_0"));
        QCOMPARE(m_window->logModel()->count(Severity::Error), errorsBefore);
    }

    void filter_narrowsTree_data() {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<bool>("regex");
        QTest::addColumn<QString>("role");
        QTest::addColumn<int>("visible");
        QTest::newRow("substring") << "attention.wq" << false << "" << 5;
        QTest::newRow("substring, case-insensitive") << "FEED_FORWARD" << false << "" << 15;
        QTest::newRow("layer label") << "layer 3" << false << "" << 9;
        QTest::newRow("regex") << "w[13]\\.weight$" << true << "" << 10;
        QTest::newRow("invalid regex hides nothing") << "w[" << true << "" << kLlama2cTensors;
        QTest::newRow("role norm") << "" << false << "norm" << 11;
        QTest::newRow("role and name") << "layers.0." << false << "attention" << 4;
        QTest::newRow("no match") << "no-such-tensor" << false << "" << 0;
    }
    void filter_narrowsTree() {
        QFETCH(QString, pattern);
        QFETCH(bool, regex);
        QFETCH(QString, role);
        QFETCH(int, visible);
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(dropAndWait(path));
        ModelTreeDock* dock = m_window->treeDock();
        dock->regexCheck()->setChecked(regex);
        if (!role.isEmpty()) {
            const int i = dock->roleCombo()->findText(role);
            QVERIFY(i > 0);
            dock->roleCombo()->setCurrentIndex(i);
        }
        QTest::keyClicks(dock->filterEdit(), pattern);
        QCOMPARE(dock->filterEdit()->text(), pattern);
        QCOMPARE(dock->visibleTensorCount(), visible);
        QCOMPARE(dock->proxy()->patternError().isEmpty(), pattern != QStringLiteral("w["));
        dock->filterEdit()->clear();
        dock->roleCombo()->setCurrentIndex(0);
        QCOMPARE(dock->visibleTensorCount(), kLlama2cTensors);
    }

    void sortBySize_ordersRowsAndChildrenBySize() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(dropAndWait(path));
        QTreeView* view = m_window->treeDock()->view();
        QAbstractItemModel* m = view->model();
        view->sortByColumn(ModelTreeModel::SizeColumn, Qt::DescendingOrder);
        // A layer (~180 KiB: three 43 KiB MLP matrices, 48 KiB of attention) outweighs the 128 KiB embedding,
        // which outweighs the RoPE tables (8 KiB each) and the final norm (256 B).
        const int rows = m->rowCount();
        QCOMPARE(m->index(0, 0).data(ModelTreeModel::TensorIndexRole).toInt(), -1);
        QCOMPARE(m->index(kLlama2cLayers, 0).data().toString(), QStringLiteral("tok_embeddings.weight"));
        QCOMPARE(m->index(rows - 1, 0).data().toString(), QStringLiteral("norm.weight"));
        const QModelIndex firstLayer = m->index(0, 0);
        QCOMPARE(m->index(0, ModelTreeModel::RoleColumn, firstLayer).data().toString(), QStringLiteral("mlp"));
        QCOMPARE(m->index(0, ModelTreeModel::SizeColumn, firstLayer).data().toString(), QStringLiteral("43.00 KiB"));
        QCOMPARE(m->index(8, ModelTreeModel::RoleColumn, firstLayer).data().toString(), QStringLiteral("norm"));
        // Natural order by name: "layer 2" before "layer 10"-style keys, tensors by name within a layer.
        view->sortByColumn(ModelTreeModel::NameColumn, Qt::AscendingOrder);
        QStringList names;
        for (int r = 0; r < rows; ++r) names << m->index(r, 0).data().toString();
        QCOMPARE(names, (QStringList{"freq_cis_imag", "freq_cis_real", "layer 0", "layer 1", "layer 2", "layer 3",
                                     "layer 4", "norm.weight", "tok_embeddings.weight"}));
    }

    void escape_cancelsRunningLoad_andKeepsModel() {
        QS_REQUIRE_ASSET(llama2c, kLlama2c);
        QS_REQUIRE_ASSET(gguf, kGguf);
        QVERIFY(dropAndWait(llama2c));
        const auto before = m_window->document()->model();

        // Hold the next load at its first progress report until the test has pressed Esc.
        auto entered = std::make_shared<QSemaphore>();
        auto release = std::make_shared<QSemaphore>();
        auto once = std::make_shared<std::atomic<bool>>(false);
        m_window->loader()->setProgressHook([=](double, std::string_view) {
            if (!once->exchange(true)) {
                entered->release();
                release->tryAcquire(1, kTimeoutMs);
            }
            return true;
        });
        QSignalSpy finished(m_window->loader(), &LoadController::loadFinished);
        QSignalSpy modelChanged(m_window->document(), &Document::modelChanged);
        dropFile(m_window.get(), gguf);
        QVERIFY(m_window->loader()->isLoading());
        QVERIFY(entered->tryAcquire(1, kTimeoutMs));
        QTRY_VERIFY_WITH_TIMEOUT(!m_window->jobRunner()->activeJobs().isEmpty() &&
                                     m_window->jobRunner()->activeJobs().first()->state() == Job::State::Running,
                                 kTimeoutMs);

        QVERIFY(m_window->jobStatus()->isVisible());  // progress bar and cancel button in the status bar

        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QTest::keyClick(m_window.get(), Qt::Key_Escape);
        QVERIFY(m_window->jobRunner()->activeJobs().first()->isCancelRequested());
        release->release();

        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, kTimeoutMs);
        QCOMPARE(finished.first().at(1).toBool(), false);
        QCOMPARE(modelChanged.size(), 0);
        QCOMPARE(m_window->document()->model(), before);
        QCOMPARE(entriesWith(m_window->logModel(), Severity::Info, QStringLiteral("cancelled")), 1);
        QCOMPARE(m_window->logModel()->count(Severity::Error), 0);
        QTRY_VERIFY_WITH_TIMEOUT(!m_window->jobStatus()->isVisible(), kTimeoutMs);
    }

    void selection_isSharedBetweenTreeAndDocument() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(dropAndWait(path));
        Document* doc = m_window->document();
        const int wq3 = doc->checkpoint()->find("layers.3.attention.wq.weight");
        QVERIFY(wq3 >= 0);
        doc->selectTensor(wq3);
        QTreeView* view = m_window->treeDock()->view();
        QCOMPARE(view->currentIndex().data(ModelTreeModel::TensorIndexRole).toInt(), wq3);
        QVERIFY(m_window->summaryView()->summaryHtml().contains(QStringLiteral("layers.3.attention.wq.weight")));

        const int norm = doc->checkpoint()->find("norm.weight");
        const QModelIndex row = qobject_cast<QSortFilterProxyModel*>(view->model())
                                    ->mapFromSource(m_window->treeDock()->model()->indexOfTensor(norm));
        view->setCurrentIndex(row);
        QCOMPARE(doc->selectedTensor(), norm);
    }

    void recentFilesAndLayout_persistAcrossWindows() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(dropAndWait(path));
        QCOMPARE(m_window->recentFiles()->paths().value(0), QFileInfo(path).absoluteFilePath());
        m_window->logDock()->close();
        m_window->close();  // saves geometry and dock state
        m_window.reset();

        makeWindow();
        QCOMPARE(m_window->recentFiles()->paths().value(0), QFileInfo(path).absoluteFilePath());
        QVERIFY(m_window->logDock()->isHidden());
        QVERIFY(!m_window->treeDock()->isHidden());
        m_window->logDock()->show();
        m_window->close();
    }

    void screenshotTask_writesPngOfTheRequestedView() {
        QS_REQUIRE_ASSET(path, kGguf);
        QTemporaryDir dir;
        const QString png = dir.filePath(QStringLiteral("footprint.png"));
        ScreenshotTask task(m_window.get(), png, QStringLiteral("footprint"), path);
        QSignalSpy done(&task, &ScreenshotTask::finished);
        task.start();
        QTRY_COMPARE_WITH_TIMEOUT(done.size(), 1, kTimeoutMs);
        QCOMPARE(done.first().at(0).toInt(), 0);
        const QImage image(png);
        QCOMPARE(image.size(), m_window->size());

        ScreenshotTask bad(m_window.get(), png, QStringLiteral("no-such-view"), QString());
        QSignalSpy badDone(&bad, &ScreenshotTask::finished);
        bad.start();
        QTRY_COMPARE_WITH_TIMEOUT(badDone.size(), 1, kTimeoutMs);
        QCOMPARE(badDone.first().at(0).toInt(), 2);
        QVERIFY(badDone.first().at(1).toString().contains(QStringLiteral("footprint")));

        makeWindow();  // a fresh window, as --screenshot starts with: no model, so no Save prompt
        // A session PATH that fails to open starts no load, so no loadFinished came and --screenshot never
        // exited (tryout H6): the task ends with 1 and the log's error. A session without a model is applied at once and captured.
        const QString garbage = dir.filePath(QStringLiteral("garbage.qsession.json"));
        const QString noModel = dir.filePath(QStringLiteral("nomodel.qsession.json"));
        for (const auto& [file, text] : {std::pair{garbage, QByteArray("garbage\n")},
                                         std::pair{noModel, QByteArray(R"({"quantscope_session":1,"model":"","map":{"version":1,"rules":[]}})")}}) {
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text);
        }
        ScreenshotTask failed(m_window.get(), png, QStringLiteral("log"), garbage);
        QSignalSpy failedDone(&failed, &ScreenshotTask::finished);
        failed.start();
        QTRY_COMPARE_WITH_TIMEOUT(failedDone.size(), 1, kTimeoutMs);
        QCOMPARE(failedDone.first().at(0).toInt(), 1);
        QVERIFY2(failedDone.first().at(1).toString().contains(QStringLiteral("garbage.qsession.json")),
                 qPrintable(failedDone.first().at(1).toString()));
        QVERIFY(QFile::remove(png));
        ScreenshotTask empty(m_window.get(), png, QStringLiteral("log"), noModel);
        QSignalSpy emptyDone(&empty, &ScreenshotTask::finished);
        empty.start();
        QTRY_COMPARE_WITH_TIMEOUT(emptyDone.size(), 1, kTimeoutMs);
        QCOMPARE(emptyDone.first().at(0).toInt(), 0);
        QCOMPARE(QImage(png).size(), m_window->size());

        // A view whose computation for the picture fails (here the evaluation of a one-word text, shorter than a
        // window): the PNG shows the failure, and the task ends with 1 and the error instead of 0 (tryout).
        makeWindow();
        const QString word = dir.filePath(QStringLiteral("word.txt"));
        {
            QFile f(word);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("Once");
        }
        m_window->evaluationsView()->setTextPath(word);
        QVERIFY(QFile::remove(png));
        ScreenshotTask evalFails(m_window.get(), png, QStringLiteral("evaluations"), path);
        QSignalSpy evalDone(&evalFails, &ScreenshotTask::finished);
        evalFails.start();
        QTRY_COMPARE_WITH_TIMEOUT(evalDone.size(), 1, kTimeoutMs);
        const QString message = evalDone.first().at(1).toString();
        QCOMPARE(evalDone.first().at(0).toInt(), 1);
        QVERIFY2(message.contains(QStringLiteral("but the view reported an error: Evaluation failed: ")) &&
                     message.contains(QStringLiteral("word.txt: the text tokenizes to 2 tokens")),
                 qPrintable(message));
        QCOMPARE(QImage(png).size(), m_window->size());
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
