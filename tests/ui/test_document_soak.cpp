// SPDX-License-Identifier: GPL-3.0-or-later
// Soak test of the GUI's document path (issue 13): a model opened through the LoadController (the File > Open
// job), the map changed twice and its tensors quantized into the Document's per-model QuantizedTensorCache (as
// Quantize, the layer overview and the chat do), both edits undone, the model closed — many times in one
// process. After every close nothing of that model may be left alive (the LoadedModel, its checkpoint and
// its cache, held through weak_ptrs), and the memory in use (tests/common/memory_use.h: RssAnon, under ASan
// the live heap bytes) grows less than kGrowthBoundBytes after the warm-up. The log model is the one store
// that grows here (two lines per load, capped at LogModel::kMaxEntries by design): its share is counted in.
// QS_SOAK_ITERATIONS overrides the iteration count (default 200; at least 40).
#include <QSignalSpy>
#include <QTest>
#include <QUndoStack>

#include <algorithm>

#include <tbb/task_arena.h>

#include "common/assets.h"
#include "common/memory_use.h"
#include "core/infer/quantized_model.h"
#include "core/quant/quant_map.h"
#include "core/quant/quantized_tensor_cache.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"

using namespace qsui;

namespace {

constexpr int kWarmup = 20;
// About 5.8 KB per iteration over 180: one leaked LoadedModel (ModelInfo, tensor table, metadata) or one
// iteration's quantized tensors (~150 KB) would exceed it many times over.
constexpr uint64_t kGrowthBoundBytes = 1u << 20;
constexpr int kLoadTimeoutMs = 120000;

qs::QuantMap mapOf(std::initializer_list<const char*> specs) {
    qs::QuantMap map;
    for (const char* s : specs) map.rules.push_back(qs::parseRuleSpec(s).value());
    return map;
}

int iterationsWanted() {
    bool ok = false;
    const int n = qEnvironmentVariableIntValue("QS_SOAK_ITERATIONS", &ok);
    return ok ? n : 200;
}

}  // namespace

class TestDocumentSoak : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void openEditQuantizeClose_releasesTheModelAndMemoryDoesNotGrow() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const int n = iterationsWanted();
        QVERIFY2(n >= 2 * kWarmup, "QS_SOAK_ITERATIONS must be at least 40 (20 of them are the warm-up)");
        QVERIFY2(qstest::memoryInUse() > 0, "cannot read the process's memory use (/proc/self/status RssAnon)");
        tbb::task_arena arena(2);
        JobRunner runner(&arena);
        LogModel log;
        Document doc;
        LoadController loader(&doc, &runner, &log);
        const qs::QuantMap body = mapOf({"body=q4_0"}), bodyAndEmbedding = mapOf({"body=q4_0", "embedding=q8_0"});

        uint64_t afterWarmup = 0;
        for (int i = 0; i < n; ++i) {
            QSignalSpy finished(&loader, &LoadController::loadFinished);
            loader.open(path);
            QVERIFY(finished.wait(kLoadTimeoutMs) || !finished.isEmpty());
            QVERIFY2(finished.first().at(1).toBool(), qPrintable(log.entries().last().message));
            QVERIFY(doc.hasModel());

            doc.setQuantMap(body, QStringLiteral("body q4_0"));
            doc.setQuantMap(bodyAndEmbedding, QStringLiteral("embedding q8_0"));
            QCOMPARE(doc.undoStack()->index(), 2);
            {
                auto q = qs::quantizeForInference(*doc.checkpoint(), *doc.info(), doc.quantMap(), &arena, {},
                                                  nullptr, doc.quantCache().get());
                QVERIFY2(q.ok(), q ? "" : q.message().c_str());
                QVERIFY(q->quantizedTensors > 0);
                QVERIFY(doc.quantCache()->counters().entries > 0);
            }
            doc.undoStack()->undo();
            doc.undoStack()->undo();
            QCOMPARE(doc.quantMap().rules.size(), size_t(0));

            const std::weak_ptr<const LoadedModel> model = doc.model();
            const std::weak_ptr<const qs::Checkpoint> checkpoint = doc.model()->checkpoint;
            const std::weak_ptr<qs::QuantizedTensorCache> cache = doc.quantCache();
            doc.setModel(nullptr);
            QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);  // the finished load job
            QVERIFY2(model.expired() && checkpoint.expired() && cache.expired(),
                     qPrintable(QStringLiteral("iteration %1: the closed model is still held (model %2, checkpoint "
                                               "%3, cache %4)")
                                    .arg(i)
                                    .arg(!model.expired())
                                    .arg(!checkpoint.expired())
                                    .arg(!cache.expired())));
            QVERIFY(runner.activeJobs().isEmpty());
            // The next push drops the two undone edits: the undo stack stays at the iteration's two entries.
            QVERIFY(doc.undoStack()->count() <= 2);
            if (i == kWarmup - 1) afterWarmup = qstest::memoryInUse();
        }
        QVERIFY(log.rowCount() <= LogModel::kMaxEntries);

        const uint64_t end = qstest::memoryInUse();
        const int64_t growth = int64_t(end) - int64_t(afterWarmup);
        qInfo("%d iterations: %s %.2f MiB after %d (warm-up), %.2f MiB at the end: growth %+lld bytes (bound %llu); "
              "%d log lines",
              n, qstest::memoryInUseName(), afterWarmup / 1048576.0, kWarmup, end / 1048576.0,
              static_cast<long long>(growth), static_cast<unsigned long long>(kGrowthBoundBytes), log.rowCount());
        QVERIFY2(growth < int64_t(kGrowthBoundBytes),
                 qPrintable(QStringLiteral("%1 grew by %2 bytes over %3 iterations after the warm-up (bound %4)")
                                .arg(qstest::memoryInUseName())
                                .arg(growth)
                                .arg(n - kWarmup)
                                .arg(kGrowthBoundBytes)));
    }
};

QTEST_MAIN(TestDocumentSoak)
#include "test_document_soak.moc"
