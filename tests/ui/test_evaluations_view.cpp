// SPDX-License-Identifier: GPL-3.0-or-later
// The Evaluations view (issue 11), offscreen, on the real stories260K:
// - the stored model on the documents protocol gives the independent reference of ASSETS.md (a float64
//   reimplementation and llama2.c's own forward pass: 1,804 tokens scored, mean NLL 1.2664) with no KLD;
// - a second map is a second row (quantized against stored: KLD > 0, top-1 below 100 %, the reference NLL
//   again the stored model's), rows survive map edits and undo, the current map's rows are highlighted, an
//   evaluation with the same map and settings replaces its row, a new model clears the rows;
// - the defaults (llamacpp, context 512 or the model's if smaller, 4 windows); bad input (a missing file, a
//   text too short for the protocol) is a status naming the problem, never a row; a running evaluation is
//   cancelled from the view (no row, the UI never waited); the main window has the tab (Ctrl+5).
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>

#include <cmath>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "ui/chat/chat_models.h"
#include "ui/eval/evaluations_view.h"
#include "ui/jobs/job.h"
#include "ui/main_window.h"

using namespace qsui;

namespace {

constexpr const char* kModel = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kStories = "data/tinystories/tinystories_sample.txt";
constexpr int kTimeoutMs = 60000;
constexpr double kReferenceNll = 1.2664;  // ASSETS.md, "Reference perplexity" (4 decimals)
constexpr int kPplColumn = 3, kKldColumn = 4, kTop1Column = 5;

struct Fixture : qstest::AnalysisFixture {
    std::unique_ptr<ChatModels> models;
    std::unique_ptr<EvaluationsView> view;
    explicit Fixture(const QString& modelPath) {
        doc.setModel(qstest::loadModel(modelPath));
        models = std::make_unique<ChatModels>(&doc, &runner);
        view = std::make_unique<EvaluationsView>(&doc, &runner, models.get());
        view->resize(900, 400);
        view->show();
    }
    ~Fixture() {
        view.reset();
        runner.cancelAll();
    }
    bool evaluate() {
        QSignalSpy done(view.get(), &EvaluationsView::evaluationFinished);
        view->evaluateCurrentMap();
        if (!done.wait(kTimeoutMs) && done.isEmpty()) return false;
        return done.first().first().toBool();
    }
};

}  // namespace

class TestEvaluationsView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void defaults_areLlamacppContext512FourWindows() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        const qs::PerplexityOptions o = f.view->options();
        QCOMPARE(o.protocol, qs::PplProtocol::LlamaCpp);
        QCOMPARE(o.context, 512);
        QCOMPARE(o.maxWindows, 4);
        f.view->setContext(4096);  // beyond the model's context (512): clamped
        QCOMPARE(f.view->options().context, 512);
    }

    void twoMaps_areTwoRows_referenceFigures_highlightFollowsTheMap() {
        QS_REQUIRE_ASSET(path, kModel);
        QS_REQUIRE_ASSET(text, kStories);
        Fixture f(path);
        f.view->setTextPath(text);
        f.view->setProtocol(qs::PplProtocol::Documents);
        f.view->setMaxWindows(0);
        QVERIFY2(f.evaluate(), qPrintable(f.view->statusText()));
        QCOMPARE(int(f.view->rows().size()), 1);
        const EvaluationRow stored = f.view->rows()[0];
        QCOMPARE(stored.result.tokens, int64_t(1804));
        QVERIFY2(std::fabs(stored.result.nll - kReferenceNll) < 5e-4,
                 qPrintable(QString::number(stored.result.nll, 'f', 6)));
        QVERIFY(!stored.result.compared);
        QCOMPARE(stored.quantizedTensors, 0);
        // ASSETS.md: 264,128 fp32 values (260,032 weights + the legacy RoPE tables), a tied head counted
        // once. The size counts every byte; bits per weight leaves the RoPE tables out of both sides
        // (core/quant/footprint_after.h), so an f32 model is exactly 32.
        QCOMPARE(stored.bytes, uint64_t(264128) * 4u);
        QCOMPARE(stored.bitsPerWeight, 8.0 * 260032 * 4 / 260032);
        QCOMPARE(f.view->table()->item(0, kKldColumn)->text(), QStringLiteral("—"));
        QCOMPARE(f.view->table()->item(0, kPplColumn)->text(), QString::number(stored.result.ppl, 'f', 4));
        QVERIFY(f.view->isCurrentMapRow(0));
        QVERIFY(f.view->table()->item(0, 0)->font().bold());

        // A second map: a second row, the first kept and no longer highlighted.
        f.doc.setQuantMap(qstest::mapOf({"body=q4_0"}), QStringLiteral("map"));
        QVERIFY(!f.view->isCurrentMapRow(0));
        QVERIFY(!f.view->table()->item(0, 0)->font().bold());
        QVERIFY2(f.evaluate(), qPrintable(f.view->statusText()));
        QCOMPARE(int(f.view->rows().size()), 2);
        const EvaluationRow q4 = f.view->rows()[1];
        QVERIFY(q4.quantizedTensors > 0);
        QVERIFY(q4.result.compared);
        QCOMPARE(q4.result.tokens, stored.result.tokens);  // the same windows
        QVERIFY(std::fabs(q4.result.referenceNll - kReferenceNll) < 5e-4);
        QVERIFY2(q4.result.kld > 0 && q4.result.kld < 1.0, qPrintable(QString::number(q4.result.kld)));
        QVERIFY2(q4.result.top1 > 0.5 && q4.result.top1 < 1.0, qPrintable(QString::number(q4.result.top1)));
        QVERIFY(q4.result.nll != stored.result.nll);
        QVERIFY(q4.bytes < stored.bytes);
        QVERIFY(q4.bitsPerWeight > 4.0 && q4.bitsPerWeight < 32.0);
        QVERIFY(q4.mapSummary.contains(QStringLiteral("q4_0")));
        QVERIFY(f.view->isCurrentMapRow(1) && !f.view->isCurrentMapRow(0));
        QCOMPARE(f.view->table()->item(1, kTop1Column)->text().isEmpty(), false);
        QVERIFY(f.view->table()->item(1, kKldColumn)->text() != QStringLiteral("—"));

        // Undo: the rows stay, the highlight goes back to the stored model's row.
        f.doc.undoStack()->undo();
        QCOMPARE(int(f.view->rows().size()), 2);
        QVERIFY(f.view->isCurrentMapRow(0) && !f.view->isCurrentMapRow(1));
        QVERIFY(f.view->table()->item(0, 0)->font().bold());
        // The same map and settings again: its row is replaced, not duplicated; other settings add a row.
        QVERIFY(f.evaluate());
        QCOMPARE(int(f.view->rows().size()), 2);
        f.view->setMaxWindows(2);
        QVERIFY(f.evaluate());
        QCOMPARE(int(f.view->rows().size()), 3);
        QCOMPARE(f.view->rows()[2].result.windows, 2);

        // Another model: figures of different models are not comparable.
        f.doc.setModel(qstest::loadModel(path));
        QCOMPARE(int(f.view->rows().size()), 0);
        QCOMPARE(f.view->table()->rowCount(), 0);
    }

    void badText_isAStatusNamingTheProblem_neverARow() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        QTemporaryDir dir;
        const QString missing = dir.filePath(QStringLiteral("missing.txt"));
        f.view->setTextPath(missing);
        QVERIFY(!f.evaluate());
        QVERIFY2(f.view->statusText().contains(missing), qPrintable(f.view->statusText()));
        const QString shortText = dir.filePath(QStringLiteral("short.txt"));
        QFile file(shortText);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("Once upon a time there was a cat.");
        file.close();
        f.view->setTextPath(shortText);
        QVERIFY(!f.evaluate());  // llamacpp needs 2 x 512 tokens
        QVERIFY2(f.view->statusText().contains(QStringLiteral("tokens")), qPrintable(f.view->statusText()));
        QVERIFY(f.view->rows().empty());
    }

    void cancel_endsTheRunWithoutARow() {
        QS_REQUIRE_ASSET(path, kModel);
        QS_REQUIRE_ASSET(text, "data/wikitext-2-raw/wiki.test.raw");
        Fixture f(path);
        f.view->setTextPath(text);
        f.view->setProtocol(qs::PplProtocol::Gptq);
        f.view->setContext(64);
        f.view->setMaxWindows(0);  // the whole 1.3 MB text: long enough to cancel while it runs
        QSignalSpy done(f.view.get(), &EvaluationsView::evaluationFinished);
        f.view->evaluateCurrentMap();
        QVERIFY(f.view->isBusy());
        auto evaluating = [&] {
            for (Job* j : f.runner.activeJobs())
                if (j->title().startsWith(QStringLiteral("Evaluate"))) return true;
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(evaluating(), kTimeoutMs);
        f.view->cancel();
        QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 5000);
        QCOMPARE(done.first().first().toBool(), false);
        QVERIFY(!f.view->isBusy());
        QVERIFY(f.view->rows().empty());
        QVERIFY2(f.view->statusText().contains(QStringLiteral("cancelled")),
                 qPrintable(f.view->statusText()));
    }

    void mainWindow_hasTheTab_ctrl5() {
        tbb::task_arena arena(2);
        JobRunner runner(&arena);
        MainWindow w(&runner, MainWindowOptions{false});
        auto* tabs = w.findChild<QTabWidget*>(QStringLiteral("centralTabs"));
        QVERIFY(tabs);
        QCOMPARE(tabs->indexOf(w.evaluationsView()), 4);
        QVERIFY(w.findChild<QAction*>(QStringLiteral("showTab5")));
        QVERIFY(w.views().contains(QStringLiteral("evaluations")));
    }
};

QTEST_MAIN(TestEvaluationsView)
#include "test_evaluations_view.moc"
