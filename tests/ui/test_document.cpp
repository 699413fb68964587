// SPDX-License-Identifier: GPL-3.0-or-later
// Document: map edits are undoable and re-resolve the map against the loaded model.
#include <QSignalSpy>
#include <QTest>
#include <QUndoStack>

#include "common/assets.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
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
};

QTEST_MAIN(TestDocument)
#include "test_document.moc"
