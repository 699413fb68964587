// SPDX-License-Identifier: GPL-3.0-or-later
// Document: map edits are undoable and re-resolve the map against the loaded model; the shared footprint follows
// the map and the calibration.
#include <QSignalSpy>
#include <QTest>
#include <QUndoStack>

#include "common/assets.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/footprint_after.h"
#include "ui/document.h"

using namespace qsui;

class TestDocument : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void setQuantMap_resolvesAndUndoRestores() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto ckpt = qs::openCheckpoint(path.toStdString());
        QVERIFY(ckpt.ok());
        auto loaded = std::make_shared<LoadedModel>();
        loaded->path = path;
        loaded->info = qs::analyzeModel(**ckpt);
        loaded->checkpoint = std::shared_ptr<const qs::Checkpoint>(std::move(ckpt.value()));
        Document doc;
        doc.setModel(loaded);
        QVERIFY(doc.resolvedMap());
        const int wq = loaded->info.findKind(qs::TensorKind::Wq, 0);
        QVERIFY(wq >= 0);
        QCOMPARE(doc.resolvedMap()->tensors[size_t(wq)].scheme, std::string());

        auto map = qs::parseQuantMap(R"({"version":1,"rules":[{"role":"body","scheme":"q4_0"}]})");
        QVERIFY2(map.ok(), map.ok() ? "" : map.message().c_str());
        QSignalSpy changed(&doc, &Document::quantMapChanged);
        doc.setQuantMap(*map, "Add rule");
        QCOMPARE(changed.count(), 1);
        QCOMPARE(doc.resolvedMap()->tensors[size_t(wq)].scheme, std::string("q4_0"));
        QCOMPARE(doc.undoStack()->count(), 1);

        doc.setQuantMap(*map, "Same again");  // equal map: no undo entry
        QCOMPARE(doc.undoStack()->count(), 1);

        doc.undoStack()->undo();
        QCOMPARE(doc.quantMap().rules.size(), size_t(0));
        QCOMPARE(doc.resolvedMap()->tensors[size_t(wq)].scheme, std::string());
        doc.undoStack()->redo();
        QCOMPARE(doc.resolvedMap()->tensors[size_t(wq)].scheme, std::string("q4_0"));
        QCOMPARE(changed.count(), 3);
    }

    // Document::footprint() is what qs::footprintAfter gives for the current map and calibration, recomputed
    // after each change of either. LLM.int8's size depends on the calibration (the columns it keeps): without
    // one a body tensor's size is a lower bound (undetermined); with one it is exact and larger.
    void footprint_followsMapAndCalibration() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto ckpt = qs::openCheckpoint(path.toStdString());
        QVERIFY(ckpt.ok());
        auto loaded = std::make_shared<LoadedModel>();
        loaded->path = path;
        loaded->info = qs::analyzeModel(**ckpt);
        loaded->checkpoint = std::shared_ptr<const qs::Checkpoint>(std::move(ckpt.value()));
        Document doc;
        doc.setModel(loaded);
        const size_t wq = size_t(loaded->info.findKind(qs::TensorKind::Wq, 0));
        const qs::TensorInfo& t = loaded->checkpoint->tensors[wq];
        auto fresh = [&](const qs::CalibrationSet* c) {
            return qs::footprintAfter(*doc.resolvedMap(), loaded->checkpoint->tensors, loaded->info, c);
        };
        QVERIFY(doc.footprint());
        const uint64_t stored = doc.footprint()->after.total;
        QCOMPARE(stored, fresh(nullptr).after.total);

        doc.setQuantMap(*qs::parseQuantMap(R"({"version":1,"rules":[{"role":"body","scheme":"llmint8"}]})"), "int8");
        QVERIFY(doc.footprint()->after.total < stored);
        QCOMPARE(doc.footprint()->after.total, fresh(nullptr).after.total);
        QVERIFY(!doc.footprint()->tensors[wq].undetermined.empty());
        const uint64_t lowerBound = doc.footprint()->tensors[wq].after.total();

        // Every input column of wq over the outlier threshold: all of them kept at 16 bits.
        auto set = std::make_shared<qs::CalibrationSet>();
        auto c = std::make_shared<qs::TensorCalibration>();
        c->cols = t.rowLength();
        c->tokens = 1;
        c->sumSquares.assign(size_t(c->cols), 100.0);
        c->sumAbs.assign(size_t(c->cols), 10.0);
        c->maxAbs.assign(size_t(c->cols), 10.0f);
        set->tensors.emplace(t.name, c);
        DocumentCalibration calibration;
        calibration.set = set;
        calibration.fingerprint = QString::fromStdString(set->fingerprint());
        QSignalSpy calibrationChanged(&doc, &Document::calibrationChanged);
        doc.setCalibration(calibration);
        QCOMPARE(calibrationChanged.count(), 1);
        QVERIFY(doc.footprint()->tensors[wq].undetermined.empty());
        QVERIFY(doc.footprint()->tensors[wq].after.total() > lowerBound);
        QCOMPARE(doc.footprint()->after.total, fresh(set.get()).after.total);

        doc.setCalibration(std::nullopt);
        QVERIFY(!doc.footprint()->tensors[wq].undetermined.empty());
        QCOMPARE(doc.footprint()->tensors[wq].after.total(), lowerBound);
        doc.undoStack()->undo();
        QCOMPARE(doc.footprint()->after.total, stored);
    }
};

QTEST_MAIN(TestDocument)
#include "test_document.moc"
