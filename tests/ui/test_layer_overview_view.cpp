// SPDX-License-Identifier: GPL-3.0-or-later
// LayerOverviewView on stories260K, offscreen: one job over the whole model fills one row per layer plus the
// non-layer row, with finite SQNR where the map quantizes; a click selects the cell's largest tensor; a map
// edit marks the table stale and (debounced) recomputes; undo is a cache hit; cancelling keeps the table.
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>

#include <cmath>

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "common/tiny_models.h"
#include "ui/jobs/job.h"
#include "ui/layers/layer_overview_job.h"
#include "ui/layers/layer_overview_model.h"
#include "ui/layers/layer_overview_view.h"
#include "ui/main_window.h"

using namespace qsui;

namespace {
constexpr int kTimeoutMs = 30000;

int columnOf(const LayerOverviewModel* m, qs::Role role) {
    for (int c = 0; c < m->columnCount(); ++c)
        if (m->roleOfColumn(c) == role) return c;
    return -1;
}
}  // namespace

class TestLayerOverviewView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void job_fillsOneRowPerLayer_withFiniteSqnr() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        f.doc.setQuantMap(qstest::mapOf({"body=q8_0", "embedding=q4_0"}), "Rules");
        LayerOverviewView view(&f.doc, &f.runner);
        view.resize(1000, 500);
        view.show();  // the first show computes
        QCOMPARE(f.started.count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QVERIFY(!view.isStale());
        LayerOverviewModel* m = view.model();
        QCOMPARE(m->rowCount(), 6);  // 5 layers + the non-layer row
        QCOMPARE(m->layerOfRow(4), 4);
        QCOMPARE(m->layerOfRow(5), -1);
        const int att = columnOf(m, qs::Role::Attention), mlp = columnOf(m, qs::Role::Mlp);
        const int emb = columnOf(m, qs::Role::Embedding), norm = columnOf(m, qs::Role::Norm);
        QVERIFY(att >= 0 && mlp >= 0 && emb >= 0 && norm >= 0);
        for (int layer = 0; layer < 5; ++layer) {
            const double sqnr = m->index(layer, att).data(LayerOverviewModel::ValueRole).toDouble();
            QVERIFY2(std::isfinite(sqnr) && sqnr > 20, qPrintable(QString::number(sqnr)));
            QVERIFY(m->index(layer, mlp).data(Qt::BackgroundRole).isValid());
            // Norms stay as stored: no error, shown as "kept".
            QVERIFY(std::isnan(m->index(layer, norm).data(LayerOverviewModel::ValueRole).toDouble()));
            QCOMPARE(m->index(layer, norm).data().toString(), QStringLiteral("kept"));
            QVERIFY(m->index(layer, emb).data().toString().isEmpty());  // no embedding inside a layer
        }
        // The embedding under q4_0 is worse than the body under q8_0.
        const double embSqnr = m->index(5, emb).data(LayerOverviewModel::ValueRole).toDouble();
        QVERIFY(std::isfinite(embSqnr));
        QVERIFY(embSqnr < m->index(0, att).data(LayerOverviewModel::ValueRole).toDouble());

        // Kurtosis and outliers are there whatever the map.
        m->setMetric(LayerOverviewModel::Metric::Kurtosis);
        QVERIFY(std::isfinite(m->index(2, norm).data(LayerOverviewModel::ValueRole).toDouble()));
        m->setMetric(LayerOverviewModel::Metric::Outliers);
        m->setOutlierSigma(3.0);
        const double at3 = m->index(0, mlp).data(LayerOverviewModel::ValueRole).toDouble();
        m->setOutlierSigma(6.0);
        QVERIFY(at3 >= m->index(0, mlp).data(LayerOverviewModel::ValueRole).toDouble());
    }

    void clickCell_selectsLargestTensorOfTheCell() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        LayerOverviewView view(&f.doc, &f.runner);
        view.resize(1000, 500);
        view.show();
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        LayerOverviewModel* m = view.model();
        const int att = columnOf(m, qs::Role::Attention), mlp = columnOf(m, qs::Role::Mlp);
        QTableView* table = view.table();
        const QRect r = table->visualRect(m->index(3, att));
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, r.center());
        // Layer 3 attention: wq and wo are 64x64 (the largest, wq first in file order), wk/wv 32x64.
        QCOMPARE(f.doc.selectedTensor(), model->info.findKind(qs::TensorKind::Wq, 3));
        const QRect r2 = table->visualRect(m->index(1, mlp));
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, r2.center());
        const int selected = f.doc.selectedTensor();
        QCOMPARE(model->info.entries[size_t(selected)].layer, 1);
        QCOMPARE(model->info.entries[size_t(selected)].role, qs::Role::Mlp);
    }

    void mapEdit_marksStale_recomputesDebounced_undoIsCacheHit() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        LayerOverviewView view(&f.doc, &f.runner);
        view.show();
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QCOMPARE(f.started.count(), 1);
        auto before = view.model()->data();

        f.doc.setQuantMap(qstest::mapOf({"body=q4_0"}), "Add rule");
        QVERIFY(view.isStale());
        QVERIFY(view.statusText().contains(QStringLiteral("stale")));
        QCOMPARE(f.started.count(), 1);  // debounced: nothing yet
        QTRY_COMPARE_WITH_TIMEOUT(f.started.count(), 2, 2000);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QVERIFY(!view.isStale());
        QVERIFY(view.model()->data() != before);

        f.doc.undoStack()->undo();  // the empty map: not cached (only the latest overview is kept)
        QVERIFY(view.isStale());
        QTRY_COMPARE_WITH_TIMEOUT(f.started.count(), 3, 2000);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        auto emptyMapResult = view.model()->data();
        f.doc.undoStack()->redo();
        QTRY_COMPARE_WITH_TIMEOUT(f.started.count(), 4, 2000);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        // Setting the same resolved schemes again (an equal map through another rule) is current at once.
        f.doc.setQuantMap(qstest::mapOf({"attention=q4_0", "mlp=q4_0"}), "Same schemes");
        QVERIFY(!view.isStale());
        QTest::qWait(400);
        QCOMPARE(f.started.count(), 4);
    }

    void cancel_leavesThePreviousTable() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        f.doc.setQuantMap(qstest::mapOf({"body=q8_0"}), "Rule");
        LayerOverviewView view(&f.doc, &f.runner);
        view.setAutoRecompute(false);
        view.show();
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        auto before = view.model()->data();
        QVERIFY(before);
        const QVariant sqnrBefore = view.model()->index(0, 0).data(LayerOverviewModel::ValueRole);

        f.doc.setQuantMap(qstest::mapOf({"body=q2_K"}), "Rule 2");
        QVERIFY(view.isStale());
        QTest::qWait(400);
        QCOMPARE(f.started.count(), 1);  // auto off: no recompute
        view.recompute();
        QVERIFY(view.currentJob());
        view.currentJob()->cancel();
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        QCOMPARE(view.model()->data(), before);
        QCOMPARE(view.model()->index(0, 0).data(LayerOverviewModel::ValueRole), sqnrBefore);
        QVERIFY(view.isStale());
        QVERIFY(view.statusText().contains(QStringLiteral("cancelled")));
    }

    // A layer index in a tensor NAME is not a row count: a file with layers 0 and 99999999 has a row for each of
    // them (then the non-layer row), not 10^8 rows (10^8 cells per role were allocated: std::bad_alloc).
    void sparseLayerIndices_rowsOnlyForLayersWithTensors() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString() + "/sparse.safetensors";
        std::vector<qstest::StEntry> entries;
        for (const char* n : {"model.layers.0.mlp.down_proj.weight", "model.layers.99999999.mlp.down_proj.weight"})
            entries.push_back({n, "F32", {2, 32}, qstest::tinyFloats({2, 32}, 7)});
        qstest::writeBytes(path, qstest::makeSafetensors(entries));
        qstest::AnalysisFixture f;
        f.doc.setModel(qstest::loadModel(QString::fromStdString(path)));
        f.doc.setQuantMap(qstest::mapOf({"body=int8"}), "Rules");
        LayerOverviewView view(&f.doc, &f.runner);
        view.resize(800, 400);
        view.show();
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), kTimeoutMs);
        LayerOverviewModel* m = view.model();
        QCOMPARE(m->rowCount(), 3);
        QCOMPARE(m->layerOfRow(0), 0);
        QCOMPARE(m->layerOfRow(1), 99999999);
        QCOMPARE(m->layerOfRow(2), -1);
        QCOMPARE(m->rowOfLayer(99999999), 1);
        QCOMPARE(m->headerData(1, Qt::Vertical, Qt::DisplayRole).toString(), QStringLiteral("layer 99999999"));
        const int mlp = columnOf(m, qs::Role::Mlp);
        QVERIFY(mlp >= 0);
        QVERIFY(m->cell(m->index(1, mlp)) && !m->cell(m->index(1, mlp))->empty());
    }

    void mainWindow_registersTheAnalysisViews() {
        tbb::task_arena arena(2);
        JobRunner runner(&arena);
        MainWindow window(&runner, MainWindowOptions{false});
        for (const char* name : {"histogram", "layers", "outliers"}) {
            QVERIFY2(window.views().contains(QString::fromLatin1(name)), name);
            QVERIFY(window.views().show(QString::fromLatin1(name)));
        }
    }
};

QTEST_MAIN(TestLayerOverviewView)
#include "test_layer_overview_view.moc"
