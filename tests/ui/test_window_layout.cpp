// SPDX-License-Identifier: GPL-3.0-or-later
// The window's layout at the sizes people use (issue 11), offscreen, with the real stories260K loaded:
// - at 960x600, 1280x720 and 1920x1080 no label or button of the central views (footprint, histogram, layers,
//   outliers, evaluations) is narrower than its own minimum (a cut-off "Protoco" or "Window"), and no
//   word-wrapped text of the outlier view is squeezed into a column one word wide;
// - raising the Chat panel gives its transcript more than two lines, visible without scrolling the panel;
// - the Summary's share / bits-per-weight cells never break inside a line ("13.4 %" split over two lines);
// - the first Add in the map editor keeps the map dock's width (and the tree's).
#include <QAbstractButton>
#include <QAction>
#include <QDockWidget>
#include <QLabel>
#include <QScrollArea>
#include <QScrollBar>
#include <QTabWidget>
#include <QTest>
#include <QTextBlock>
#include <QTextLayout>
#include <QUndoStack>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "ui/chat/chat_pane.h"
#include "ui/chat/chat_transcript.h"
#include "ui/load_controller.h"
#include "ui/main_window.h"
#include "ui/mapeditor/map_editor_dock.h"
#include "ui/stats/screenshot_defaults.h"
#include "ui/summary/summary_view.h"
#include "ui/tree/model_tree_dock.h"

using namespace qsui;

namespace {

constexpr const char* kModel = "models/stories260K-llama2c/stories260K.bin";
constexpr int kTimeoutMs = 30000;

void addSizes() {
    QTest::addColumn<QSize>("size");
    QTest::newRow("960x600") << QSize(960, 600);
    QTest::newRow("1280x720") << QSize(1280, 720);
    QTest::newRow("1920x1080") << QSize(1920, 1080);
}

// Widgets of `root` that show less than their minimum: "Name 120 < 160" lines.
QStringList cutOff(QWidget* root) {
    QStringList problems;
    for (QWidget* w : root->findChildren<QWidget*>()) {
        if (!w->isVisible()) continue;
        auto* label = qobject_cast<QLabel*>(w);
        auto* button = qobject_cast<QAbstractButton*>(w);
        if (!label && !button) continue;
        if (label && (label->wordWrap() || label->sizePolicy().horizontalPolicy() == QSizePolicy::Ignored ||
                      label->text().isEmpty() || !label->pixmap().isNull()))
            continue;
        const int need = w->minimumSizeHint().width();
        if (w->width() < need)
            problems << QStringLiteral("'%1' %2 < %3")
                            .arg(label ? label->text() : button->text())
                            .arg(w->width())
                            .arg(need);
    }
    // Word-wrapped labels squeezed to a sliver (one word per line).
    for (QLabel* l : root->findChildren<QLabel*>())
        if (l->isVisible() && l->wordWrap() && !l->text().isEmpty() && l->width() < 120)
            problems
                << QStringLiteral("wrapped '%1' only %2 px wide").arg(l->text().left(40)).arg(l->width());
    return problems;
}

}  // namespace

class TestWindowLayout : public QObject {
    Q_OBJECT

    std::unique_ptr<tbb::task_arena> m_arena;
    std::unique_ptr<JobRunner> m_runner;
    std::unique_ptr<MainWindow> m_window;

    bool open(const QSize& size, const QString& path) {
        m_window = std::make_unique<MainWindow>(m_runner.get(), MainWindowOptions{false});
        m_window->resize(size);
        m_window->show();
        if (!QTest::qWaitForWindowExposed(m_window.get())) return false;
        QSignalSpy finished(m_window->loader(), &LoadController::loadFinished);
        m_window->openPath(path);
        if (finished.isEmpty() && !finished.wait(kTimeoutMs)) return false;
        return finished.last().at(1).toBool();
    }
    bool idle() const { return m_runner->activeJobs().isEmpty(); }

private Q_SLOTS:
    void init() {
        m_arena = std::make_unique<tbb::task_arena>(2);
        m_runner = std::make_unique<JobRunner>(m_arena.get());
    }
    void cleanup() {
        m_window.reset();
        m_runner.reset();
    }

    void centralViews_showEveryLabelWhole_data() { addSizes(); }
    void centralViews_showEveryLabelWhole() {
        QFETCH(QSize, size);
        QS_REQUIRE_ASSET(path, kModel);
        QVERIFY(open(size, path));
        applyExampleMapIfEmpty(m_window->document());
        selectDefaultTensorIfNone(m_window->document());
        auto* tabs = m_window->findChild<QTabWidget*>(QStringLiteral("centralTabs"));
        QVERIFY(tabs);
        for (int i = 0; i < tabs->count(); ++i) {
            tabs->setCurrentIndex(i);
            QTRY_VERIFY_WITH_TIMEOUT(idle(), kTimeoutMs);
            QTest::qWait(30);
            const QStringList problems = cutOff(tabs->widget(i));
            QVERIFY2(problems.isEmpty(), qPrintable(tabs->tabText(i) + QStringLiteral(": ") +
                                                    problems.join(QStringLiteral("; "))));
        }
        QCOMPARE(m_window->size(), size);
    }

    void chatTranscript_isMoreThanTwoLines_data() { addSizes(); }
    void chatTranscript_isMoreThanTwoLines() {
        QFETCH(QSize, size);
        QS_REQUIRE_ASSET(path, kModel);
        QVERIFY(open(size, path));
        m_window->chatDock()->show();
        m_window->chatDock()->raise();  // as a click on its tab does
        ChatTranscript* transcript = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                     transcript = nullptr;
                                     for (auto* t : m_window->chatPane()->findChildren<ChatTranscript*>())
                                         if (t->isVisible()) transcript = t;
                                     return transcript != nullptr;
                                 }()),
                                 kTimeoutMs);
        const int line = transcript->fontMetrics().lineSpacing();
        QTRY_VERIFY2_WITH_TIMEOUT(
            transcript->viewport()->height() > 3 * line,
            qPrintable(QStringLiteral("%1 px, line %2").arg(transcript->viewport()->height()).arg(line)),
            2000);
        // Visible without scrolling the panel: the pane fits its scroll area.
        auto* area = qobject_cast<QScrollArea*>(m_window->chatDock()->widget());
        QVERIFY(area);
        QTRY_VERIFY2_WITH_TIMEOUT(
            area->verticalScrollBar()->maximum() == 0,
            qPrintable(
                QStringLiteral("the chat panel scrolls by %1 px").arg(area->verticalScrollBar()->maximum())),
            2000);
        QCOMPARE(m_window->size(), size);
    }

    void summaryShares_neverBreakInsideALine_data() { addSizes(); }
    void summaryShares_neverBreakInsideALine() {
        QFETCH(QSize, size);
        QS_REQUIRE_ASSET(path, kModel);
        QVERIFY(open(size, path));
        m_window->document()->setQuantMap(qstest::mapOf({"body=q4_0", "embedding=q8_0"}),
                                          QStringLiteral("map"));
        m_window->views().show(QStringLiteral("summary"));
        QTest::qWait(50);
        SummaryView* summary = m_window->summaryView();
        QTextDocument* doc = summary->document();
        int checked = 0;
        for (QTextBlock b = doc->begin(); b.isValid(); b = b.next()) {
            if (!b.text().contains(QStringLiteral("→")) || !b.text().contains(QLatin1Char('%'))) continue;
            const int lines = int(b.text().count(QChar::LineSeparator)) + 1;  // <br> inside the cell
            QVERIFY2(
                b.layout()->lineCount() == lines,
                qPrintable(
                    QStringLiteral("'%1' laid out in %2 lines").arg(b.text()).arg(b.layout()->lineCount())));
            ++checked;
        }
        QVERIFY(checked >= 6);  // embedding, head, body, norm, other, total
        QVERIFY2(
            summary->horizontalScrollBar()->maximum() == 0,
            qPrintable(
                QStringLiteral("summary overflows by %1 px").arg(summary->horizontalScrollBar()->maximum())));
    }

    void mapEditorAdd_keepsTheDockWidth() {
        QS_REQUIRE_ASSET(path, kModel);
        QVERIFY(open(QSize(1280, 720), path));
        MapEditorDock* editor = m_window->mapEditor();
        editor->show();
        editor->raise();
        QTest::qWait(50);
        const int mapWidth = editor->width(), treeWidth = m_window->treeDock()->width();
        QAction* add = nullptr;
        for (QAction* a : editor->findChildren<QAction*>())
            if (a->text() == QStringLiteral("Add")) add = a;
        QVERIFY(add);
        for (int i = 0; i < 3; ++i) {
            add->trigger();
            QTest::qWait(50);
            QCOMPARE(editor->width(), mapWidth);
            QCOMPARE(m_window->treeDock()->width(), treeWidth);
        }
        QVERIFY(!m_window->document()->quantMap().rules.empty());
        m_window->document()->undoStack()->setClean();
    }
};

QTEST_MAIN(TestWindowLayout)
#include "test_window_layout.moc"
