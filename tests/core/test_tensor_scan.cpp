// SPDX-License-Identifier: GPL-3.0-or-later
// Streaming tensor statistics (row blocks straight from the checkpoint), the outlier tile grid and the
// quantization preview agree with the whole-tensor reference computations of core/stats.
#include <cmath>

#include "common/test_arena.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_preview.h"
#include "core/quant/scheme.h"
#include "core/stats/error_stats.h"
#include "core/stats/tensor_scan.h"
#include "core/stats/weight_stats.h"

#include <QTest>

#include "common/assets.h"

namespace {

bool closeRel(double a, double b, double rel = 1e-9) {
    return std::fabs(a - b) <= rel * std::max({1.0, std::fabs(a), std::fabs(b)});
}

}  // namespace

class TestTensorScan : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<qs::Checkpoint> m_ckpt;
    qs::ModelInfo m_info;

private Q_SLOTS:
    void initTestCase() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto c = qs::openCheckpoint(path.toStdString());
        QVERIFY2(c.ok(), c.ok() ? "" : c.message().c_str());
        m_ckpt = std::move(c.value());
        m_info = qs::analyzeModel(*m_ckpt);
    }

    void streamWeightStats_matchesWholeTensor_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<quint64>("blockElements");
        QTest::newRow("wq one block") << int(qs::TensorKind::Wq) << (quint64(1) << 22);
        QTest::newRow("wq 3-row blocks") << int(qs::TensorKind::Wq) << quint64(3 * 64);
        QTest::newRow("w2 odd blocks") << int(qs::TensorKind::Down) << quint64(5 * 172 + 7);
        QTest::newRow("embedding 1-row blocks") << int(qs::TensorKind::TokenEmbedding) << quint64(1);
    }
    void streamWeightStats_matchesWholeTensor() {
        QFETCH(int, kind);
        QFETCH(quint64, blockElements);
        const auto k = qs::TensorKind(kind);
        const int i = m_info.findKind(k, k == qs::TensorKind::TokenEmbedding ? -1 : 2);
        QVERIFY(i >= 0);
        auto all = m_ckpt->toFloat(size_t(i));
        QVERIFY(all.ok());
        qs::WeightStatsOptions wo;
        wo.histogramBins = 97;
        wo.outlierSigmas = {2.0, 3.0, 6.0};
        const qs::WeightStats ref = qs::computeWeightStats(*all, qstest::testArena(), wo);
        qs::TensorScanOptions so;
        so.stats = wo;
        so.blockElements = blockElements;
        int reports = 0;
        qs::ProgressSink sink([&](double f, std::string_view) {
            ++reports;
            return f >= 0.0 && f <= 1.0;
        });
        auto s = qs::streamWeightStats(*m_ckpt, size_t(i), qstest::testArena(), so, &sink);
        QVERIFY2(s.ok(), s.ok() ? "" : s.message().c_str());
        QVERIFY(reports > 0);
        QCOMPARE(s->count, ref.count);
        QCOMPARE(s->min, ref.min);
        QCOMPARE(s->max, ref.max);
        QCOMPARE(s->absmax, ref.absmax);
        QVERIFY(closeRel(s->mean, ref.mean, 1e-6));
        QVERIFY(closeRel(s->std, ref.std));
        QVERIFY(closeRel(s->kurtosis, ref.kurtosis, 1e-8));
        QCOMPARE(s->outliers, ref.outliers);
        QCOMPARE(s->histogram.counts, ref.histogram.counts);
        QCOMPARE(s->histogram.total(), uint64_t(all->size()));
    }

    void streamWeightStats_cancelStopsWithCancelledMessage() {
        const int i = m_info.findKind(qs::TensorKind::TokenEmbedding);
        qs::ProgressSink sink([](double, std::string_view) { return false; });
        qs::TensorScanOptions so;
        so.blockElements = 64;
        auto s = qs::streamWeightStats(*m_ckpt, size_t(i), qstest::testArena(), so, &sink);
        QVERIFY(!s.ok());
        QCOMPARE(s.message(), std::string(qs::kCancelledMessage));
    }

    void outlierGrid_tilesHoldTheTileMaximum_data() {
        QTest::addColumn<int>("maxGrid");
        QTest::newRow("one weight per cell") << 512;
        QTest::newRow("7x7 tiles (uneven)") << 7;
        QTest::newRow("one tile") << 1;
    }
    void outlierGrid_tilesHoldTheTileMaximum() {
        QFETCH(int, maxGrid);
        const int i = m_info.findKind(qs::TensorKind::Gate, 1);  // [172, 64]
        auto all = m_ckpt->toFloat(size_t(i));
        QVERIFY(all.ok());
        const int64_t rows = 172, cols = 64;
        QCOMPARE(int64_t(all->size()), rows * cols);
        qs::OutlierGridOptions go;
        go.maxGridRows = go.maxGridCols = maxGrid;
        go.blockElements = 10 * 64;  // blocks that cut through tile rows
        auto g = qs::computeOutlierGrid(*m_ckpt, size_t(i), qstest::testArena(), go);
        QVERIFY2(g.ok(), g.ok() ? "" : g.message().c_str());
        QCOMPARE(g->rows, rows);
        QCOMPARE(g->cols, cols);
        QVERIFY(g->gridRows <= maxGrid && g->gridCols <= maxGrid);
        QVERIFY(int64_t(g->gridRows) * g->tileRows >= rows && int64_t(g->gridCols) * g->tileCols >= cols);
        std::vector<float> tiles(size_t(g->gridRows) * size_t(g->gridCols), 0.0f);
        std::vector<float> columns(size_t(cols), 0.0f);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
                const float a = std::fabs((*all)[size_t(r * cols + c)]);
                float& t = tiles[size_t(r / g->tileRows) * size_t(g->gridCols) + size_t(c / g->tileCols)];
                t = std::max(t, a);
                columns[size_t(c)] = std::max(columns[size_t(c)], a);
            }
        QCOMPARE(g->tileAbsmax, tiles);
        QCOMPARE(g->columnAbsmax, columns);
        const qs::WeightStats ref = qs::computeWeightStats(*all, qstest::testArena(), {});
        QVERIFY(closeRel(g->stats.std, ref.std));
        // columnsAbove counts the columns whose maximum exceeds t * sigma.
        for (double t : {0.5, 2.0, 3.0, 4.0, 100.0}) {
            int64_t expected = 0;
            for (float c : columns) expected += double(c) > t * g->stats.std ? 1 : 0;
            QCOMPARE(g->columnsAbove(t), expected);
        }
    }

    void previewQuantization_matchesReferenceComputation_data() {
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<quint64>("blockElements");
        QTest::newRow("q4_0 one block") << QStringLiteral("q4_0") << (quint64(1) << 22);
        QTest::newRow("q8_0 small blocks") << QStringLiteral("q8_0") << quint64(7 * 64);
        QTest::newRow("nf4") << QStringLiteral("nf4") << (quint64(1) << 22);
        QTest::newRow("int3_g32") << QStringLiteral("int3_g32") << quint64(64);
    }
    void previewQuantization_matchesReferenceComputation() {
        QFETCH(QString, scheme);
        QFETCH(quint64, blockElements);
        auto s = qs::parseScheme(scheme.toStdString());
        QVERIFY2(s.ok(), s.ok() ? "" : s.message().c_str());
        const int i = m_info.findKind(qs::TensorKind::Wo, 3);
        auto all = m_ckpt->toFloat(size_t(i));
        QVERIFY(all.ok());
        const int64_t rows = 64, cols = 64;
        auto q = (*s)->quantize(*all, rows, cols, "wo");
        QVERIFY(q.ok());
        std::vector<float> deq(all->size());
        (*s)->dequantize(*q, deq.data());
        qs::ErrorStatsOptions eo;
        eo.clipBlock = qs::clipBlockOf(**s);
        const qs::ErrorReport ref = qs::computeErrorStats(*all, deq, rows, cols, qstest::testArena(), eo);

        qs::QuantPreviewOptions po;
        po.bins = 64;
        po.errorBins = 33;
        po.blockElements = blockElements;
        auto p = qs::previewQuantization(*m_ckpt, size_t(i), **s, qstest::testArena(), po);
        QVERIFY2(p.ok(), p.ok() ? "" : p.message().c_str());
        QCOMPARE(p->bytes.total(), (*s)->packedBytes(rows, cols).total());
        QCOMPARE(p->bitsPerWeight(), 8.0 * double(p->bytes.total()) / double(rows * cols));
        QCOMPARE(p->error.count, ref.stats.count);
        QVERIFY(closeRel(p->error.rmse, ref.stats.rmse));
        QVERIFY(closeRel(p->error.sqnrDb, ref.stats.sqnrDb));
        QCOMPARE(p->error.maxAbsError, ref.stats.maxAbsError);
        QCOMPARE(p->error.sums.clipped, ref.stats.sums.clipped);
        // The dequantized histogram shares the weights' edges and counts exactly the dequantized values.
        QCOMPARE(p->dequantized.lo, p->weights.histogram.lo);
        QCOMPARE(p->dequantized.hi, p->weights.histogram.hi);
        QCOMPARE(p->dequantized.bins(), 64);
        qs::Histogram direct = qs::makeHistogram(p->weights.histogram.lo, p->weights.histogram.hi, 64);
        qs::fillHistogram(direct, deq, qstest::testArena());
        QCOMPARE(p->dequantized.counts, direct.counts);
        QCOMPARE(p->dequantized.total() + p->dequantized.below + p->dequantized.above, uint64_t(rows * cols));
        QCOMPARE(p->errorHistogram.bins(), 33);
        QCOMPARE(p->errorHistogram.total(), uint64_t(rows * cols));
    }

    void previewQuantization_refusedShapeNamesTensorAndScheme() {
        const int i = m_info.findKind(qs::TensorKind::Down, 0);  // rows of 172: not a multiple of 32
        auto s = qs::parseScheme("q4_0");
        QVERIFY(s.ok());
        auto p = qs::previewQuantization(*m_ckpt, size_t(i), **s, qstest::testArena());
        QVERIFY(!p.ok());
        QVERIFY2(p.message().find("q4_0") != std::string::npos, p.message().c_str());
        QVERIFY2(p.message().find(m_ckpt->tensors[size_t(i)].name) != std::string::npos, p.message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestTensorScan)
#include "test_tensor_scan.moc"
