// SPDX-License-Identifier: GPL-3.0-or-later
// The GUI's calibration (issue 12), offscreen, on the real stories260K and WikiText-2:
// - Collect in the map editor's Calibration section runs the engine over a short text as a job and fills the
//   Document's calibration; a map with gptq on the body and LLM.int8 (data-dependent size) on the MLP then
//   has an exact footprint: the Footprint view's total after the map equals core's packedBytesWith with that
//   calibration for every quantized tensor (before collecting it was a lower bound, and said so);
// - a map needing calibration without it says the GUI action, not a CLI flag: Quantize's log message, the
//   Calibration section's list of tensors lacking it, and a job's failure (the chat's quantized model);
// - the imatrix plot's points are the calibration's importance of the selected tensor, column for column,
//   and its marked columns the largest ones;
// - a session saved with a calibration restores it (same fingerprint) when opened again.
#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

#include "ui/plot/qcustomplot_include.h"

#include "analysis_fixtures.h"
#include "common/assets.h"
#include "core/quant/footprint_after.h"
#include "core/quant/quant_preview.h"
#include "core/quant/scheme.h"
#include "ui/calib/calibration_jobs.h"
#include "ui/chat/chat_models.h"
#include "ui/footprint/footprint_view.h"
#include "ui/histogram/histogram_view.h"
#include "ui/jobs/job.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/mapeditor/calibration_section.h"
#include "ui/mapeditor/quantize_controller.h"
#include "ui/outliers/imatrix_plot.h"
#include "ui/session_controller.h"
#include "ui/stats/stats_cache.h"

using namespace qsui;

namespace {

constexpr const char* kModel = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kText = "data/wikitext-2-raw/wiki.test.raw";
constexpr int kTimeoutMs = 300000;
constexpr int64_t kTokens = 2048;
constexpr int kContext = 256;
const char* const kGuiAction = "Map editor → Calibration → Collect";

struct Fixture : qstest::AnalysisFixture {
    LogModel log;
    std::unique_ptr<CalibrationSection> section;
    explicit Fixture(const QString& modelPath) {
        doc.setModel(qstest::loadModel(modelPath));
        section = std::make_unique<CalibrationSection>(&doc, &runner, &log, nullptr);
    }
    ~Fixture() {
        section.reset();
        runner.cancelAll();
    }
    // Runs `job` to its end; true when it succeeded.
    static bool finish(Job* job) {
        if (!job) return false;
        QSignalSpy done(job, &Job::finished);
        if (!done.wait(kTimeoutMs) && done.isEmpty()) return false;
        return done.first().first().value<Job::State>() == Job::State::Succeeded;
    }
    bool collect(const QString& text) { return finish(section->collect(text, kTokens, kContext)); }
    QString lastLog() const { return log.entries().isEmpty() ? QString() : log.entries().last().message; }
};

// Σ over the tensors of the bytes after the map: core's packedBytesWith with `set` for the quantized ones,
// the map-independent footprint for the others (a tied head 0, kept tensors as stored).
uint64_t expectedAfter(const Document& doc, const qs::CalibrationSet& set) {
    const qs::ResolvedMap& res = *doc.resolvedMap();
    const qs::Checkpoint& ckpt = *doc.checkpoint();
    const qs::MapFootprint plain = qs::footprintAfter(res, ckpt.tensors, *doc.info());
    uint64_t total = 0;
    for (size_t i = 0; i < ckpt.tensors.size(); ++i) {
        const qs::TensorPlan& p = res.tensors[i];
        if (!p.quantized() || p.tiedTo >= 0) {
            total += plain.tensors[i].after.total();
            continue;
        }
        auto scheme = qs::findScheme(p.scheme);
        auto bytes =
            scheme->packedBytesWith(p.rows, p.cols, ckpt.tensors[i].name, set.find(ckpt.tensors[i].name));
        if (!bytes) return 0;
        total += bytes->total();
    }
    return total;
}

}  // namespace

class TestCalibrationUi : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void collect_fillsCalibrationAndMakesFootprintExact() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(text, kText);
        Fixture f(model);
        FootprintView footprint(&f.doc);
        // llmint8_t2: columns with max|x| >= 2 kept in fp16, so a short text surely keeps some.
        f.doc.setQuantMap(qstest::mapOf({"body=gptq4_g32", "mlp=llmint8_t2"}), "map");
        QVERIFY(footprint.note().contains("lower bounds"));
        QVERIFY(!missingCalibration(f.doc).empty());
        QVERIFY(f.section->missingList()->count() > 0);

        QVERIFY2(f.collect(text), qPrintable(f.lastLog()));
        const DocumentCalibration* c = f.doc.calibration();
        QVERIFY(c);
        QVERIFY(c->source == DocumentCalibration::Source::Text);
        QCOMPARE(c->set->provenance.tokens, kTokens);
        QCOMPARE(c->set->provenance.sequenceLength, int64_t(kContext));
        QCOMPARE(c->fingerprint, QString::fromStdString(c->set->fingerprint()));
        // What the map needs was collected: GPTQ's Hessians for the body's inputs.
        QVERIFY(qs::hasAll(c->set->provenance.collected, qs::CalibrationNeeds::Hessian));
        QVERIFY(missingCalibration(f.doc).empty());
        QCOMPARE(f.section->missingList()->count(), 0);
        QVERIFY(f.section->statusLabel()->text().contains(c->fingerprint));

        QVERIFY(!footprint.note().contains("lower bounds"));
        const uint64_t expected = expectedAfter(f.doc, *c->set);
        QVERIFY(expected > 0);
        QCOMPARE(footprint.totalBytes().after, expected);
        // LLM.int8 kept columns: the exact size exceeds the lower bound shown before.
        const qs::MapFootprint bound =
            qs::footprintAfter(*f.doc.resolvedMap(), f.doc.checkpoint()->tensors, *f.doc.info());
        QVERIFY(expected > bound.after.total);

        // The histogram's preview quantizes the selected LLM.int8 tensor with the calibration: its bytes are
        // packedBytesWith's, kept columns included.
        HistogramView histogram(&f.doc, &f.runner);
        const std::string w2 = "layers.1.feed_forward.w2.weight";
        const int tensor = f.doc.checkpoint()->find(w2);
        QVERIFY(tensor >= 0);
        f.doc.selectTensor(tensor);
        QTRY_VERIFY_WITH_TIMEOUT(!histogram.isBusy(), kTimeoutMs);
        const std::string scheme = f.doc.resolvedMap()->tensors[size_t(tensor)].scheme;
        auto preview = f.doc.statsCache()->find<qs::QuantPreview>(StatsCache::previewKey(
            tensor, QString::fromStdString(scheme) + f.doc.calibrationTag(scheme), histogram.bins()));
        QVERIFY2(preview, qPrintable(f.lastLog()));
        auto exact = qs::findScheme(scheme)->packedBytesWith(preview->rows, preview->cols, w2, c->set->find(w2));
        QVERIFY(exact);
        QCOMPARE(preview->bytes.total(), exact->total());
        QVERIFY(preview->bytes.outliers > 0);

        f.section->clear();
        QVERIFY(!f.doc.calibration());
        QVERIFY(footprint.note().contains("lower bounds"));
    }

    void missingCalibration_namesTheGuiAction() {
        QS_REQUIRE_ASSET(model, kModel);
        Fixture f(model);
        f.doc.setQuantMap(qstest::mapOf({"body=gptq4_g32"}), "map");
        const auto missing = missingCalibration(f.doc);
        QVERIFY(!missing.empty());
        for (const MissingCalibration& m : missing) {
            QVERIFY2(m.reason.contains(QString::fromUtf8(kGuiAction)), qPrintable(m.reason));
            QVERIFY(!m.reason.contains("--calib"));
        }
        QCOMPARE(f.section->missingList()->count(), int(missing.size()));

        QuantizeController quantize(&f.doc, &f.runner, &f.log);
        QVERIFY(!quantize.start());
        QVERIFY2(f.lastLog().contains(QString::fromUtf8(kGuiAction)), qPrintable(f.lastLog()));
        QVERIFY(!f.lastLog().contains("--calib"));

        // A job refused by core: its message, as the GUI shows it, names the GUI action too.
        ChatModels models(&f.doc, &f.runner);
        QTRY_VERIFY_WITH_TIMEOUT(models.availability() == ChatModels::Availability::Ready, kTimeoutMs);
        QString error;
        bool done = false;
        models.requestQuantized([&](const QString& e) {
            error = e;
            done = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(done, kTimeoutMs);
        QVERIFY2(error.contains(QString::fromUtf8(kGuiAction)), qPrintable(error));
        QVERIFY(!error.contains("--calib"));
    }

    void imatrixPlot_pointsAreTheImportance() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(text, kText);
        Fixture f(model);
        ImatrixPlot plot(&f.doc);
        const int tensor = f.doc.checkpoint()->find("layers.1.feed_forward.w2.weight");
        QVERIFY(tensor >= 0);
        f.doc.selectTensor(tensor);
        QVERIFY(plot.values().empty());
        QVERIFY(plot.statusText().contains("Calibration"));
        QVERIFY2(f.collect(text), qPrintable(f.lastLog()));
        const qs::TensorCalibration* t = f.doc.calibration()->set->find("layers.1.feed_forward.w2.weight");
        QVERIFY(t);
        const std::vector<float> importance = t->importance();
        QVERIFY(!importance.empty());
        QCOMPARE(plot.values().size(), importance.size());
        QCOMPARE(plot.graph()->data()->size(), int(importance.size()));
        for (size_t j = 0; j < importance.size(); ++j) {
            QVERIFY(plot.values()[j] == double(importance[j]));
            QVERIFY((plot.graph()->data()->constBegin() + int(j))->value == double(importance[j]));
            QVERIFY((plot.graph()->data()->constBegin() + int(j))->key == double(j));
        }
        // The marked columns are the largest.
        QCOMPARE(int(plot.topColumns().size()), ImatrixPlot::kTopColumns);
        const float smallestTop = importance[size_t(plot.topColumns().back())];
        int larger = 0;
        for (float v : importance) larger += v > smallestTop ? 1 : 0;
        QVERIFY(larger < ImatrixPlot::kTopColumns);
        QCOMPARE(importance[size_t(plot.topColumns().front())],
                 *std::max_element(importance.begin(), importance.end()));
        QVERIFY(plot.plot()->yAxis->scaleType() == QCPAxis::stLogarithmic);
        plot.setLogScale(false);
        QVERIFY(plot.plot()->yAxis->scaleType() == QCPAxis::stLinear);
        // The embedding has no input activations.
        const int embedding = f.doc.checkpoint()->find("tok_embeddings.weight");
        QVERIFY(embedding >= 0);
        f.doc.selectTensor(embedding);
        QVERIFY(plot.values().empty());
    }

    void session_roundTripRestoresTheCalibration() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(text, kText);
        Fixture f(model);
        LoadController loader(&f.doc, &f.runner, &f.log);
        SessionController session(&f.doc, &loader, &f.log, nullptr, nullptr, /*useSettings=*/false);
        session.setCalibrationSection(f.section.get());
        f.doc.setQuantMap(qstest::mapOf({"body=q4_K_im"}), "map");
        QVERIFY2(f.collect(text), qPrintable(f.lastLog()));
        const QString fingerprint = f.doc.calibration()->fingerprint;
        QTemporaryDir dir;
        const QString path = dir.filePath("s.qsession.json");
        QVERIFY2(session.saveSession(path), qPrintable(f.lastLog()));
        QVERIFY2(QFileInfo::exists(dir.filePath("s.qsession.calibration.h5")),
                 qPrintable(QDir(dir.path()).entryList(QDir::Files).join(", ") + " / " + f.lastLog()));

        f.section->clear();
        QVERIFY(!f.doc.calibration());
        QVERIFY(session.openSession(path));
        QVERIFY(f.section->currentJob());
        QVERIFY2(Fixture::finish(f.section->currentJob()) || f.doc.calibration(), qPrintable(f.lastLog()));
        QTRY_VERIFY_WITH_TIMEOUT(f.doc.calibration() != nullptr, kTimeoutMs);
        QCOMPARE(f.doc.calibration()->fingerprint, fingerprint);
        QVERIFY(f.doc.calibration()->source == DocumentCalibration::Source::Saved);
        QVERIFY(missingCalibration(f.doc).empty());
    }
};

QTEST_MAIN(TestCalibrationUi)
#include "test_calibration_ui.moc"
