// SPDX-License-Identifier: GPL-3.0-or-later
// OutlierMapView on stories260K, offscreen: selecting a matrix runs the grid job; the heatmap holds
// |w|/sigma per weight; moving the threshold updates the outlier-column count and byte cost, consistently
// with a direct computation over the decoded tensor, without a job; a tile shows its values.
#include <QTest>

#include <cmath>

#include "common/test_arena.h"
#include "ui/plot/qcustomplot_include.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QTemporaryDir>
#include "analysis_fixtures.h"
#include "common/assets.h"
#include "core/infer/tokenizer_loader.h"
#include "ui/load_controller.h"
#include "ui/main_window.h"
#include "ui/outliers/outlier_map_view.h"
#include "ui/stats/analysis_format.h"
#include "core/stats/tensor_scan.h"
#include "core/stats/weight_stats.h"
#include "ui/stats/stats_cache.h"
#include "ui/util/format.h"

using namespace qsui;

namespace {
constexpr int kTimeoutMs = 20000;
}

class TestOutlierMapView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void threshold_updatesCountAndBytesLikeDirectComputation() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        OutlierMapView view(&f.doc, &f.runner);
        view.resize(1000, 650);
        view.show();
        QVERIFY(view.showsEmptyState());
        const int w1 = model->info.findKind(qs::TensorKind::Gate, 2);  // [172, 64]
        f.doc.selectTensor(w1);
        QVERIFY(!view.showsEmptyState());
        QCOMPARE(f.started.count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy() && view.grid(), kTimeoutMs);
        QCOMPARE(view.threshold(), 6.0);

        auto floats = model->checkpoint->toFloat(size_t(w1));
        QVERIFY(floats.ok());
        const qs::WeightStats ws = qs::computeWeightStats(*floats, qstest::testArena(), {});
        const int64_t rows = 172, cols = 64;
        auto direct = [&](double t) {
            int64_t n = 0;
            for (int64_t c = 0; c < cols; ++c) {
                bool any = false;
                for (int64_t r = 0; r < rows && !any; ++r) any = std::fabs((*floats)[size_t(r * cols + c)]) > t * ws.std;
                n += any ? 1 : 0;
            }
            return n;
        };
        const int jobs = f.started.count();
        bool sawSome = false;
        for (double t : {6.0, 4.0, 3.0, 2.5, 2.0, 1.0, 12.0}) {
            view.setThreshold(t);
            const int64_t expected = direct(t);
            QCOMPARE(view.outlierColumns(), expected);
            const uint64_t bytes = uint64_t(rows) * uint64_t(expected) * 2u;
            QVERIFY2(view.summaryText().contains(formatBytes(bytes)), qPrintable(view.summaryText()));
            sawSome = sawSome || (expected > 0 && expected < cols);
        }
        QVERIFY(sawSome);  // the thresholds above cut through the tensor somewhere
        QCOMPARE(f.started.count(), jobs);  // threshold moves are arithmetic, no job

        // The heatmap holds |w|/sigma of each weight (64 x 172 fits one weight per tile).
        const auto grid = view.grid();
        QCOMPARE(grid->gridRows, int(rows));
        QCOMPARE(grid->gridCols, int(cols));
        QVERIFY(view.selectTile(10, 7));
        const double v = std::fabs((*floats)[size_t(10 * cols + 7)]);
        QVERIFY2(view.tileText().contains(formatStat(v / grid->stats.std)), qPrintable(view.tileText()));
        QVERIFY(view.tileText().contains(QStringLiteral("rows 10")));
        QVERIFY(!view.selectTile(int(rows), 0));

        // Selecting a 1-D tensor shows the empty state; coming back is a cache hit.
        const int norm = model->info.findKind(qs::TensorKind::AttnNorm, 0);
        f.doc.selectTensor(norm);
        QVERIFY(view.showsEmptyState());
        f.doc.selectTensor(w1);
        QVERIFY(!view.showsEmptyState());
        QVERIFY(!view.isBusy());
        QCOMPARE(f.started.count(), jobs);
    }

    // Rows of the embedding and of the head are tokens: the readout names them (the tokenizer's piece and id;
    // the id alone without a tokenizer); other matrices say nothing of tokens. Token 403 is "Once"
    // (ASSETS.md: Tok("Once upon a time") = [1, 403, 407, 261, 378]).
    void embeddingAndHeadRows_showTheirTokens_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("kind");
        QTest::newRow("llama2c embedding")
            << "models/stories260K-llama2c/stories260K.bin" << int(qs::TensorKind::TokenEmbedding);
        QTest::newRow("gguf head") << "models/stories260K-gguf/stories260K.gguf"
                                   << int(qs::TensorKind::Output);
    }
    void embeddingAndHeadRows_showTheirTokens() {
        QFETCH(QString, model);
        QFETCH(int, kind);
        QS_REQUIRE_ASSET(path, model);
        qstest::AnalysisFixture f;
        auto loaded = qstest::loadModel(path);
        QVERIFY(loaded);
        f.doc.setModel(loaded);
        OutlierMapView view(&f.doc, &f.runner);
        view.resize(1000, 650);
        view.show();
        const int tensor = loaded->info.findKind(qs::TensorKind(kind));
        QVERIFY(tensor >= 0);
        f.doc.selectTensor(tensor);
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy() && view.grid(), kTimeoutMs);
        QVERIFY(view.rowsAreTokens());
        QCOMPARE(view.grid()->tileRows, int64_t(1));  // 512 rows: one row per tile
        QVERIFY(view.selectTile(403, 3));
        QVERIFY2(view.tileText().contains(QStringLiteral("id 403")) &&
                     view.tileText().contains(QStringLiteral("no tokenizer")),
                 qPrintable(view.tileText()));
        auto tok = qs::loadTokenizerFor(*loaded->checkpoint);
        QVERIFY2(tok.ok(), tok.ok() ? "" : tok.message().c_str());
        view.setTokenizer(std::shared_ptr<const qs::Tokenizer>(std::move(tok.value())));
        QVERIFY2(view.tileText().contains(QStringLiteral("Once")) &&
                     view.tileText().contains(QStringLiteral("(403)")),
                 qPrintable(view.tileText()));
        QVERIFY(!view.tileText().contains(QStringLiteral("no tokenizer")));
        QCOMPARE(view.plot()->axisRects().first()->axis(QCPAxis::atLeft)->label(),
                 QStringLiteral("row = token id"));

        // A body matrix: its rows are output features, not tokens.
        f.doc.selectTensor(loaded->info.findKind(qs::TensorKind::Gate, 0));
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy() && view.grid() && view.grid()->rows == 172, kTimeoutMs);
        QVERIFY(!view.rowsAreTokens());
        QVERIFY(view.selectTile(10, 3));
        QVERIFY(!view.tileText().contains(QStringLiteral("token")));
        QCOMPARE(view.plot()->axisRects().first()->axis(QCPAxis::atLeft)->label(),
                 QStringLiteral("row (output)"));
    }

    // A model the engine cannot run still has token rows: the window loads its tokenizer for the outlier map
    // (the chat loads none for it). The stories260K HF folder with an unknown config key is such a model.
    void notRunnableModel_embeddingRowsStillShowTokens() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        QTemporaryDir dir;
        for (const QString& f : QDir(src).entryList(QDir::Files))
            QVERIFY(QFile::copy(src + QLatin1Char('/') + f, dir.filePath(f)));
        QFile config(dir.filePath(QStringLiteral("config.json")));
        QVERIFY(config.open(QIODevice::ReadOnly));
        QJsonObject json = QJsonDocument::fromJson(config.readAll()).object();
        config.close();
        json.insert(QStringLiteral("quantscope_test_unknown_feature"), true);
        QVERIFY(config.open(QIODevice::WriteOnly | QIODevice::Truncate));
        config.write(QJsonDocument(json).toJson());
        config.close();

        tbb::task_arena arena(2);
        JobRunner runner(&arena);
        MainWindow window(&runner, MainWindowOptions{false});
        window.show();
        QSignalSpy loaded(window.loader(), &LoadController::loadFinished);
        window.openPath(dir.path());
        QTRY_VERIFY_WITH_TIMEOUT(!loaded.isEmpty(), kTimeoutMs);
        QVERIFY(loaded.first().at(1).toBool());
        const qs::ModelInfo* info = window.document()->info();
        QVERIFY(info && !info->runnable);
        window.document()->selectTensor(info->findKind(qs::TensorKind::TokenEmbedding));
        OutlierMapView* view = window.outlierMapView();
        QTRY_VERIFY_WITH_TIMEOUT(!view->isBusy() && view->grid(), kTimeoutMs);
        QVERIFY(view->selectTile(403, 0));
        QTRY_VERIFY2_WITH_TIMEOUT(view->tileText().contains(QStringLiteral("Once")),
                                  qPrintable(view->tileText()), kTimeoutMs);
    }

    // The tile readout has its own line and shows all of its text; it never overlaps the σ / kurtosis text,
    // also in a narrow view (the central area of a 960x600 window with both side panels open).
    void tileReadout_neitherOverlapsTheStatsNorIsCut_data() {
        QTest::addColumn<QSize>("size");
        QTest::newRow("narrow") << QSize(420, 460);
        QTest::newRow("1280x720 centre") << QSize(700, 560);
        QTest::newRow("wide") << QSize(1400, 900);
    }
    void tileReadout_neitherOverlapsTheStatsNorIsCut() {
        QFETCH(QSize, size);
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        qstest::AnalysisFixture f;
        auto model = qstest::loadModel(path);
        f.doc.setModel(model);
        OutlierMapView view(&f.doc, &f.runner);
        view.resize(size);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        f.doc.selectTensor(model->info.findKind(qs::TensorKind::TokenEmbedding));
        QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy() && view.grid(), kTimeoutMs);
        QVERIFY(view.selectTile(403, 3));
        auto* tile = view.findChild<QLabel*>(QStringLiteral("tileInfo"));
        auto* stats = view.findChild<QLabel*>(QStringLiteral("outlierStatus"));
        QVERIFY(tile && stats);
        QTRY_VERIFY(tile->height() >= tile->heightForWidth(tile->width()));  // every line of the text shown
        const QRect tileRect(tile->mapTo(&view, QPoint(0, 0)), tile->size());
        const QRect statsRect(stats->mapTo(&view, QPoint(0, 0)), stats->size());
        QVERIFY2(!tileRect.intersects(statsRect),
                 qPrintable(QStringLiteral("tile %1,%2 %3x%4 stats %5,%6 %7x%8")
                                .arg(tileRect.x())
                                .arg(tileRect.y())
                                .arg(tileRect.width())
                                .arg(tileRect.height())
                                .arg(statsRect.x())
                                .arg(statsRect.y())
                                .arg(statsRect.width())
                                .arg(statsRect.height())));
        QVERIFY(tile->width() > 0 && view.rect().contains(tileRect));
    }

    void largeMatrix_isTiledWithTheTileMaximum() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto model = qstest::loadModel(path);
        const int emb = model->info.findKind(qs::TensorKind::TokenEmbedding);  // [512, 64]
        qs::OutlierGridOptions o;
        o.maxGridRows = 100;
        auto g = qs::computeOutlierGrid(*model->checkpoint, size_t(emb), qstest::testArena(), o);
        QVERIFY(g.ok());
        QCOMPARE(g->tileRows, int64_t(6));  // ceil(512 / 100)
        QCOMPARE(g->gridRows, 86);          // ceil(512 / 6)
        auto floats = model->checkpoint->toFloat(size_t(emb));
        float top = 0;
        for (int64_t r = 6 * 85; r < 512; ++r)
            for (int64_t c = 0; c < 64; ++c) top = std::max(top, std::fabs((*floats)[size_t(r * 64 + c)]));
        float tiles = 0;
        for (int c = 0; c < g->gridCols; ++c) tiles = std::max(tiles, g->tileAbsmax[size_t(85 * g->gridCols + c)]);
        QCOMPARE(tiles, top);
    }
};

QTEST_MAIN(TestOutlierMapView)
#include "test_outlier_map_view.moc"
