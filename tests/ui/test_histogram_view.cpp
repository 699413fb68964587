// SPDX-License-Identifier: GPL-3.0-or-later
// HistogramView on stories260K, offscreen: selecting a tensor runs a statistics job whose histogram and
// numbers reach the plot and the stats panel; a map rule adds the dequantized overlay and the error plot;
// undo/redo are cache hits (no job); a compare scheme adds B; stale results are never shown.
#include <QTableWidget>
#include <QTest>
#include <QUndoStack>

#include <cmath>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "common/test_arena.h"
#include "core/quant/quant_preview.h"
#include "core/stats/weight_stats.h"
#include "ui/histogram/histogram_plot.h"
#include "ui/histogram/histogram_view.h"
#include "ui/stats/analysis_format.h"
#include "ui/stats/stats_cache.h"

using namespace qsui;

namespace {
constexpr int kTimeoutMs = 20000;

QString cell(QTableWidget* t, int row, int column) {
    auto* item = t->item(row, column);
    return item ? item->text() : QString();
}
}  // namespace

class TestHistogramView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void selectTensor_histogramJobFillsPlotAndStats() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        QVERIFY(model);
        f.doc.setModel(model);
        HistogramView view(&f.doc, &f.runner);
        view.resize(1000, 600);
        view.show();
        QVERIFY(view.showsEmptyState());
        QCOMPARE(f.started.count(), 0);

        const int wq = model->info.findKind(qs::TensorKind::Wq, 0);
        f.doc.selectTensor(wq);
        QVERIFY(!view.showsEmptyState());
        QCOMPARE(f.started.count(), 1);  // weight statistics only: the empty map keeps the tensor
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);

        HistogramPlot* plot = view.weightsPlot();
        QCOMPARE(plot->seriesCount(), 1);
        QCOMPARE(plot->dataCount(0), view.bins());
        double sum = 0;
        for (double v : plot->values(0)) sum += v;
        QCOMPARE(uint64_t(sum), model->checkpoint->tensors[size_t(wq)].elements());

        auto floats = model->checkpoint->toFloat(size_t(wq));
        QVERIFY(floats.ok());
        const qs::WeightStats ref = qs::computeWeightStats(*floats, qstest::testArena(), {});
        QTableWidget* t = view.weightTable();
        QCOMPARE(cell(t, 1, 0), formatStat(ref.min));
        QCOMPARE(cell(t, 2, 0), formatStat(ref.max));
        QCOMPARE(cell(t, 3, 0), formatStat(ref.mean));
        QCOMPARE(cell(t, 4, 0), formatStat(ref.std));
        QCOMPARE(cell(t, 5, 0), formatStat(ref.kurtosis));
        QCOMPARE(cell(t, 6, 0), formatStat(ref.absmax));

        // Another bin count is another job, over the same number of values.
        view.setBins(40);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QCOMPARE(plot->dataCount(0), 40);
        sum = 0;
        for (double v : plot->values(0)) sum += v;
        QCOMPARE(uint64_t(sum), model->checkpoint->tensors[size_t(wq)].elements());
    }

    void mapRule_addsOverlay_undoRedoAreCacheHits() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        HistogramView view(&f.doc, &f.runner);
        view.show();
        const int wk = model->info.findKind(qs::TensorKind::Wk, 1);
        f.doc.selectTensor(wk);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QCOMPARE(view.weightsPlot()->seriesCount(), 1);
        QCOMPARE(view.errorPlot()->seriesCount(), 0);

        f.doc.setQuantMap(qstest::mapOf({"body=q4_0"}), "Add rule");
        QCOMPARE(view.mapScheme(), QStringLiteral("q4_0"));
        QCOMPARE(f.started.count(), 2);  // the q4_0 preview
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QVERIFY(f.doc.statsCache()->contains(StatsCache::previewKey(wk, "q4_0", view.bins())));
        QCOMPARE(view.weightsPlot()->seriesCount(), 2);
        QCOMPARE(view.weightsPlot()->dataCount(1), view.bins());
        QCOMPARE(view.errorPlot()->seriesCount(), 1);
        auto preview = f.doc.statsCache()->find<qs::QuantPreview>(StatsCache::previewKey(wk, "q4_0", view.bins()));
        QVERIFY(preview);
        QCOMPARE(cell(view.quantTable(), 3, 0), formatDb(preview->error.sqnrDb));
        QVERIFY(std::isfinite(preview->error.sqnrDb) && preview->error.sqnrDb > 10);
        QCOMPARE(cell(view.quantTable(), 6, 0), QString::number(preview->bitsPerWeight(), 'f', 3));

        f.doc.undoStack()->undo();
        QCOMPARE(view.mapScheme(), QString());
        QCOMPARE(view.weightsPlot()->seriesCount(), 1);
        f.doc.undoStack()->redo();
        QCOMPARE(f.started.count(), 2);  // cache hits: no job
        QVERIFY(!view.isBusy());
        QCOMPARE(view.weightsPlot()->seriesCount(), 2);

        // A different scheme for this tensor is a different key: one more job.
        f.doc.setQuantMap(qstest::mapOf({"body=q8_0"}), "Change rule");
        QCOMPARE(f.started.count(), 3);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        f.doc.undoStack()->undo();  // back to q4_0: cached
        QCOMPARE(f.started.count(), 3);
        QCOMPARE(view.mapScheme(), QStringLiteral("q4_0"));
    }

    void compareScheme_addsSecondColumn_andRejectsUnknownNames() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        f.doc.setQuantMap(qstest::mapOf({"body=q4_0"}), "Add rule");
        HistogramView view(&f.doc, &f.runner);
        view.show();
        const int wv = model->info.findKind(qs::TensorKind::Wv, 2);
        f.doc.selectTensor(wv);
        QVERIFY(!view.setCompareScheme(QStringLiteral("q4_banana")));
        QVERIFY(!view.compareError().isEmpty());
        QVERIFY(view.compareScheme().isEmpty());
        QVERIFY(view.setCompareScheme(QStringLiteral("int3_g32")));
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QCOMPARE(view.weightsPlot()->seriesCount(), 3);
        QCOMPARE(view.errorPlot()->seriesCount(), 2);
        auto b = f.doc.statsCache()->find<qs::QuantPreview>(StatsCache::previewKey(wv, "int3_g32", view.bins()));
        QVERIFY(b);
        QCOMPARE(cell(view.quantTable(), 1, 1), formatStat(b->error.rmse));
        QCOMPARE(cell(view.quantTable(), 0, 1), QStringLiteral("int3_g32"));
    }

    void quickReselection_showsOnlyTheLastTensor() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        HistogramView view(&f.doc, &f.runner);
        view.show();
        const int emb = model->info.findKind(qs::TensorKind::TokenEmbedding);
        const int w2 = model->info.findKind(qs::TensorKind::Down, 4);
        f.doc.selectTensor(emb);
        f.doc.selectTensor(w2);  // the embedding's job is cancelled or its result left unshown
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QTest::qWait(50);  // let any late delivery of the first job arrive
        double sum = 0;
        for (double v : view.weightsPlot()->values(0)) sum += v;
        QCOMPARE(uint64_t(sum), model->checkpoint->tensors[size_t(w2)].elements());

        f.doc.selectTensor(-1);
        QVERIFY(view.showsEmptyState());

        // A new model while a job of the old one runs: the same key is computed again for the new model.
        f.doc.selectTensor(emb);
        QVERIFY(view.isBusy());
        f.doc.setModel(qstest::loadModel(path));
        QVERIFY(view.showsEmptyState());
        f.doc.selectTensor(emb);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QCOMPARE(view.weightsPlot()->seriesCount(), 1);
        QCOMPARE(view.weightsPlot()->dataCount(0), view.bins());
    }
};

QTEST_MAIN(TestHistogramView)
#include "test_histogram_view.moc"
