// SPDX-License-Identifier: GPL-3.0-or-later
// The Sensitivity tab (issue 10), offscreen, on the real stories260K:
// - a weight-error sensitivity scan with q2_K fills the bar chart with one bar per scanned group (the
//   default groups: embedding, head unless tied, each layer's attention and MLP, counted here from the
//   model's layers), the bars in the table's rank order and sorted, most damage per MiB saved first, each bar
//   the damage divided by the MiB the row saves;
// - auto-mix to a bits-per-weight budget lands within it (checked on the applied map's footprint, computed
//   here with core's footprint arithmetic, not taken from the result), "Apply" changes the document's map to
//   the chosen map as ONE undo entry and undo restores the map before; the verified point appears on a
//   weight-error sweep's plot (its own graph and legend entry) and not over a sweep of another measure;
// - the embedding-vs-head study (perplexity) gives one row per scheme plus the baseline for the tied pair of
//   stories260K, plotted as one series;
// - the main window has the tab and the "sensitivity", "automix" and "embed-head" views.
#include <cmath>

#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>
#include <QUndoStack>

#include "ui/plot/qcustomplot_include.h"

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "core/quant/footprint_after.h"
#include "core/quant/quant_map_resolve.h"
#include "ui/chat/chat_models.h"
#include "ui/jobs/job.h"
#include "ui/main_window.h"
#include "ui/mix/mix_view.h"
#include "ui/plot/bar_chart.h"
#include "core/sweep/sweep.h"
#include "ui/sweep/eval_setup.h"
#include "ui/sweep/sweep_view.h"

using namespace qsui;

namespace {

constexpr const char* kModel = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kStories = "data/tinystories/tinystories_sample.txt";
constexpr int kTimeoutMs = 300000;

struct Fixture : qstest::AnalysisFixture {
    std::unique_ptr<ChatModels> models;
    std::unique_ptr<MixView> view;
    explicit Fixture(const QString& modelPath) {
        doc.setModel(qstest::loadModel(modelPath));
        models = std::make_unique<ChatModels>(&doc, &runner);
        view = std::make_unique<MixView>(&doc, &runner, models.get());
        view->resize(1100, 700);
        view->show();
    }
    ~Fixture() {
        view.reset();
        models.reset();
        runner.cancelAll();
    }
    bool run(const std::function<void()>& start) {
        QSignalSpy done(view.get(), &MixView::jobFinished);
        start();
        if (!done.wait(kTimeoutMs) && done.isEmpty()) return false;
        return done.first().first().toBool();
    }
};

}  // namespace

class TestMixView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sensitivityScan_fillsChartWithOneSortedBarPerGroup() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        f.view->evalSetup()->setMeasure(qs::SweepMeasure::WeightError);
        f.view->setScanScheme("q2_K");
        QSignalSpy warned(f.view.get(), &MixView::jobWarning);
        QVERIFY2(f.run([&] { f.view->startScan(); }), qPrintable(f.view->statusText()));
        const auto& scan = f.view->scanResult();
        QVERIFY(scan);
        // stories260K's rows of 64 take no q2_K (blocks of 256): every warning the page shows reaches the log.
        QVERIFY(!scan->warnings.empty());
        QCOMPARE(size_t(warned.size()), scan->warnings.size());
        QVERIFY(f.view->statusText().contains(QString::fromStdString(scan->warnings.front())));
        const qs::ModelInfo& info = *f.doc.info();
        const int groups = 1 + (info.tie ? 0 : 1) + 2 * int(info.hp.layers);
        QVERIFY(info.hp.layers > 0);
        QCOMPARE(int(scan->rows.size()), groups);
        BarChart* chart = f.view->sensitivityChart();
        QCOMPARE(chart->barCount(), groups);
        const QVector<double> values = chart->plottedValues();
        const QTableWidget* t = f.view->sensitivityTable();
        QCOMPARE(t->rowCount(), groups);
        std::set<std::string> seen;
        for (int i = 0; i < groups; ++i) {
            const auto& row = scan->rows[size_t(i)];
            seen.insert(row.group);
            // Table row i is rank i + 1, the same group as bar i.
            QCOMPARE(t->item(i, 0)->text().toInt(), i + 1);
            QCOMPARE(t->item(i, 1)->text(), QString::fromStdString(row.group));
            // The scheme column names what the group really got: q2_K fell back on these shapes.
            auto g = qs::expandGroups(info, {row.group});
            QVERIFY(g.ok());
            const QString used = QString::fromStdString(qs::usedSchemeLabel(info, g->front(), "q2_K", row.point));
            QVERIFY2(used.startsWith(QStringLiteral("q2_K\u2192")) && used.contains(QStringLiteral("(fallback")),
                     qPrintable(used));
            QCOMPARE(t->item(i, 2)->text(), used);
            // q2_K is smaller than the stored f32 everywhere: every group saves bytes and does damage.
            QVERIFY(row.bytesSaved > 0);
            QVERIFY2(row.damage > 0, row.group.c_str());
            QVERIFY(std::fabs(values[i] - row.damage / (double(row.bytesSaved) / 1048576.0)) <=
                    1e-9 * std::fabs(values[i]));
            if (i > 0) QVERIFY2(values[i] <= values[i - 1], qPrintable(QString::number(i)));
        }
        QCOMPARE(int(seen.size()), groups);  // one bar per group, none twice
        QVERIFY(values.front() > values.back());
    }

    // At narrow widths (the tab at 960x600) the group names under the bars must not overlap: side by side
    // when they fit, else tilted and, where even that is too tight, only every k-th bar labelled (elided).
    void barChart_categoryLabelsNeverOverlap() {
        for (int width : {260, 420, 900}) {
            BarChart chart;
            chart.resize(width, 260);
            chart.show();
            QVector<BarChart::Bar> bars;
            for (int i = 0; i < 11; ++i) {
                BarChart::Bar b;
                b.category = i == 0 ? QStringLiteral("embedding") : QStringLiteral("layer%1.attention").arg(i);
                b.value = 11 - i;
                b.tooltip = b.category;
                bars << b;
            }
            chart.setBars(bars);
            QVERIFY(QTest::qWaitForWindowExposed(&chart));
            chart.plot()->replot();
            QCoreApplication::processEvents();
            QCPAxis* x = chart.plot()->xAxis;
            auto ticker = qSharedPointerDynamicCast<QCPAxisTickerText>(x->ticker());
            QVERIFY(ticker);
            const QFontMetrics fm(x->tickLabelFont());
            const bool tilted = x->tickLabelRotation() != 0;
            double lastPixel = -1e9;
            int lastWidth = 0, labelled = 0;
            for (auto it = ticker->ticks().constBegin(); it != ticker->ticks().constEnd(); ++it) {
                if (it.value().isEmpty()) continue;
                ++labelled;
                const double pixel = x->coordToPixel(it.key());
                // Tilted labels are parallel: they clear each other when their baselines are a line height
                // apart horizontally (x sin 45°); flat ones need half of each width on either side.
                const double need = tilted ? fm.height() / std::sin(M_PI / 4) * 0.9
                                           : 0.5 * (lastWidth + fm.horizontalAdvance(it.value()));
                QVERIFY2(pixel - lastPixel >= need,
                         qPrintable(QString("width %1: '%2' %3 px after the previous label, needs %4")
                                        .arg(width).arg(it.value()).arg(pixel - lastPixel).arg(need)));
                lastPixel = pixel;
                lastWidth = fm.horizontalAdvance(it.value());
            }
            QVERIFY2(labelled >= 3, qPrintable(QString::number(width)));  // thinned, never emptied
            QVERIFY(ticker->ticks().first() == QStringLiteral("embedding"));  // the most sensitive is named
        }
    }

    void autoMix_landsWithinBudget_applyThenUndo_pointOnSweepPlot() {
        QS_REQUIRE_ASSET(path, kModel);
        Fixture f(path);
        f.doc.setQuantMap(qstest::mapOf({"norm=keep"}), "baseline");
        const qs::QuantMap before = f.doc.quantMap();
        f.view->evalSetup()->setMeasure(qs::SweepMeasure::WeightError);
        f.view->setBudget("8bpw");
        f.view->setCandidates("q4_0,q8_0");
        QVERIFY2(f.run([&] { f.view->startAutoMix(); }), qPrintable(f.view->statusText()));
        const auto& mix = f.view->autoMixResult();
        QVERIFY(mix);
        QVERIFY(mix->measuredBpw <= 8.0);
        QVERIFY(f.view->autoMixTable()->rowCount() == int(mix->choices.size()));
        // A mix, not one scheme everywhere: 8 bpw lies between every group at its smallest choice (about 7
        // bpw on this tiny model, norms and fallbacks included) and q8_0 everywhere (above 8.5).
        std::set<std::string> chosen;
        for (const auto& c : mix->choices) chosen.insert(c.scheme);
        QVERIFY2(chosen.size() >= 2, qPrintable(QString::number(chosen.size())));

        const int undoBefore = f.doc.undoStack()->count();
        QVERIFY(f.view->applyAutoMix());
        QCOMPARE(f.doc.undoStack()->count(), undoBefore + 1);
        QCOMPARE(qs::quantMapToJson(f.doc.quantMap()).dump(), qs::quantMapToJson(mix->map).dump());
        QVERIFY(qs::quantMapToJson(f.doc.quantMap()).dump() != qs::quantMapToJson(before).dump());
        // Within the budget by core's footprint arithmetic of the applied map (not the job's own figure).
        const qs::ResolvedMap* resolved = f.doc.resolvedMap();
        QVERIFY(resolved);
        const auto footprint = qs::footprintAfter(*resolved, f.doc.checkpoint()->tensors, *f.doc.info());
        QVERIFY2(footprint.bitsPerWeight() <= 8.0, qPrintable(QString::number(footprint.bitsPerWeight())));
        QVERIFY(footprint.bitsPerWeight() > 7.5);  // the budget is used, not left at the smallest choice
        f.doc.undoStack()->undo();
        QCOMPARE(qs::quantMapToJson(f.doc.quantMap()).dump(), qs::quantMapToJson(before).dump());

        // A run that fails (a budget below every choice) leaves no earlier result to apply (tryout bug).
        f.view->setBudget("1bpw");
        QVERIFY(!f.run([&] { f.view->startAutoMix(); }));
        QVERIFY(!f.view->autoMixResult());
        QVERIFY(!f.view->applyAutoMix());
        QCOMPARE(qs::quantMapToJson(f.doc.quantMap()).dump(), qs::quantMapToJson(before).dump());
        f.view->setBudget("8bpw");
        QVERIFY2(f.run([&] { f.view->startAutoMix(); }), qPrintable(f.view->statusText()));

        // The verified point on the Sweep tab's plot: over a weight-error sweep, not over a KLD one.
        SweepView sweep(&f.doc, &f.runner, f.models.get());
        sweep.resize(900, 600);
        sweep.setGroups({"body"});
        sweep.setSchemes({"q4_0", "q8_0"});
        sweep.setMeasure(qs::SweepMeasure::WeightError);
        QSignalSpy swept(&sweep, &SweepView::sweepFinished);
        sweep.start();
        QVERIFY(swept.wait(kTimeoutMs) || !swept.isEmpty());
        QVERIFY(swept.first().first().toBool());
        QCOMPARE(sweep.plot()->graph(2)->dataCount(), 0);
        sweep.setAutoMixPoint(qs::SweepMeasure::WeightError, mix->measured, "auto-mix 8bpw");
        QVERIFY(sweep.autoMixPointShown());
        QCOMPARE(sweep.plot()->graph(2)->dataCount(), 1);
        QCOMPARE(sweep.plot()->graph(2)->data()->begin()->key, mix->measured.bpw);
        QCOMPARE(sweep.plot()->graph(2)->data()->begin()->value, mix->measured.rmse);
        QVERIFY(sweep.plot()->legend->hasItemWithPlottable(sweep.plot()->graph(2)));
        sweep.setAutoMixPoint(qs::SweepMeasure::Kld, mix->measured, "auto-mix 8bpw");
        QVERIFY(!sweep.autoMixPointShown());
        QCOMPARE(sweep.plot()->graph(2)->dataCount(), 0);
    }

    void embedHeadStudy_tableAndPlot() {
        QS_REQUIRE_ASSET(path, kModel);
        QS_REQUIRE_ASSET(text, kStories);
        Fixture f(path);
        QTRY_VERIFY_WITH_TIMEOUT(f.models->availability() != ChatModels::Availability::Checking, kTimeoutMs);
        QCOMPARE(f.models->availability(), ChatModels::Availability::Ready);
        EvalSetup* e = f.view->evalSetup();
        e->setMeasure(qs::SweepMeasure::WeightError);
        f.view->startStudy();  // refused: the study measures ppl/kld
        QVERIFY(!f.view->isRunning());
        QVERIFY2(f.view->statusText().contains("perplexity or KLD"), qPrintable(f.view->statusText()));
        e->setMeasure(qs::SweepMeasure::Ppl);
        e->setTextPath(text);
        e->setProtocol(qs::PplProtocol::Documents);
        e->setMaxWindows(0);
        f.view->setStudySchemes("q8_0,q4_K");  // q4_K falls back on stories260K's rows of 64
        QVERIFY2(f.run([&] { f.view->startStudy(); }), qPrintable(f.view->statusText()));
        const auto& study = f.view->studyResult();
        QVERIFY(study);
        const int targets = f.doc.info()->tie ? 1 : 2;
        QCOMPARE(int(study->rows.size()), targets * 3);  // baseline + 2 schemes per target
        QCOMPARE(f.view->studyTable()->rowCount(), targets * 3);
        QCOMPARE(f.view->studyPlot()->graphCount(), targets);
        QCOMPARE(f.view->studyPlot()->graph(0)->dataCount(), 3);
        // Fewer bits on the target: a smaller share of the footprint.
        QVERIFY(study->rows[2].sharePercent < study->rows[1].sharePercent);
        // The plot names the scheme each point really used (the table's "used" column), not the one asked for.
        QStringList labels;
        for (int i = 0; i < f.view->studyPlot()->itemCount(); ++i)
            if (auto* t = qobject_cast<QCPItemText*>(f.view->studyPlot()->item(i))) labels << t->text();
        int fallbacks = 0;
        for (const auto& row : study->rows) {
            if (row.schemeUsed.empty() || row.schemeUsed == row.scheme) continue;
            ++fallbacks;
            const QString want = QString::fromStdString(row.scheme + "\u2192" + row.schemeUsed);
            QVERIFY2(labels.contains(want), qPrintable(want + " not in " + labels.join(", ")));
        }
        QVERIFY(fallbacks > 0);
    }

    void mainWindow_hasTheTabAndViews() {
        tbb::task_arena arena(1);
        JobRunner runner(&arena);
        MainWindow w(&runner, MainWindowOptions{false});
        QVERIFY(w.mixView());
        for (const char* v : {"sensitivity", "automix", "embed-head"}) QVERIFY2(w.views().contains(v), v);
    }
};

QTEST_MAIN(TestMixView)
#include "test_mix_view.moc"
