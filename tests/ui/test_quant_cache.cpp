// SPDX-License-Identifier: GPL-3.0-or-later
// One quantized-tensor cache per open model, shared by Quantize, the chat's quantized model, the histogram's
// quantization preview and the layer overview (offscreen, real stories260K): after Quantize, the chat's build
// quantizes nothing (the cache's miss counter does not move) and the log says how many tensors came from the
// cache; the views reuse Quantize's tensors the same way; a new model gets a new, empty cache.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include <memory>

#include <oneapi/tbb/task_arena.h>

#include "common/assets.h"
#include "ui/chat/chat_models.h"
#include "ui/chat/chat_pane.h"
#include "ui/document.h"
#include "ui/histogram/histogram_view.h"
#include "ui/jobs/job_runner.h"
#include "ui/layers/layer_overview_view.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"
#include "ui/mapeditor/quantize_controller.h"

using namespace qsui;

namespace {

constexpr int kTimeoutMs = 60000;
constexpr const char* kLlama2c = "models/stories260K-llama2c/stories260K.bin";

// Log entries whose source is `source` (any when empty) and whose message contains `text`.
int entries(const LogModel* log, const QString& source, const QString& text) {
    int n = 0;
    for (const LogEntry& e : log->entries()) n += (source.isEmpty() || e.source == source) && e.message.contains(text);
    return n;
}

QString dumpLog(const LogModel* log) {
    QStringList lines;
    for (const LogEntry& e : log->entries()) lines << e.source + QStringLiteral(": ") + e.message;
    return lines.join(QLatin1Char('\n'));
}

qs::QuantMap bodyQ4() {
    qs::QuantMap map;
    map.rules.push_back(qs::parseRuleSpec("body=q4_0").value());
    return map;
}

}  // namespace

class TestQuantCache : public QObject {
    Q_OBJECT

    std::unique_ptr<tbb::task_arena> m_arena;
    std::unique_ptr<JobRunner> m_runner;
    std::unique_ptr<MainWindow> m_window;

    Document* doc() const { return m_window->document(); }
    LogModel* log() const { return m_window->logModel(); }

    bool load(const QString& path) {
        QSignalSpy finished(m_window->loader(), &LoadController::loadFinished);
        m_window->openPath(path);
        if (!finished.wait(kTimeoutMs) && finished.isEmpty()) return false;
        return finished.last().at(1).toBool();
    }

    // Loads stories260K with "body=q4_0" and runs Quantize to the end.
    bool loadAndQuantize(const QString& path) {
        if (!load(path)) return false;
        doc()->setQuantMap(bodyQ4(), QStringLiteral("body q4_0"));
        QuantizeController* q = m_window->quantizeController();
        QSignalSpy done(q, &QuantizeController::runFinished);
        q->action()->trigger();
        return done.wait(kTimeoutMs) && done.last().at(0).toBool();
    }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("QuantScopeTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_quant_cache"));
    }

    void init() {
        m_arena = std::make_unique<tbb::task_arena>(2);
        m_runner = std::make_unique<JobRunner>(m_arena.get());
        m_window = std::make_unique<MainWindow>(m_runner.get(), MainWindowOptions{/*useSettings=*/false});
        m_window->resize(1280, 720);
        m_window->show();
    }

    void cleanup() {
        m_window.reset();
        m_runner.reset();
    }

    void quantizeThenChat_buildsTheChatModelFromTheCache() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(loadAndQuantize(path));
        const int n = m_window->chatPane()->models()->quantizedTensorCount();
        QCOMPARE(n, 35);
        auto cache = doc()->quantCache();
        // Every key is quantized once, whichever job got to it first (a view may have previewed one).
        QCOMPARE(cache->counters().misses, uint64_t(n));
        QCOMPARE(entries(log(), {}, QStringLiteral("Quantized 35 tensor(s)")), 1);

        ChatModels* models = m_window->chatPane()->models();
        QVERIFY(QTest::qWaitFor([&] { return models->availability() == ChatModels::Availability::Ready; }, kTimeoutMs));
        QString error = QStringLiteral("not done");
        QElapsedTimer timer;
        timer.start();
        models->requestQuantized([&](const QString& e) { error = e; });
        QVERIFY(QTest::qWaitFor([&] { return error != QStringLiteral("not done"); }, kTimeoutMs));
        QVERIFY2(error.isEmpty(), qPrintable(error));
        qInfo("chat's quantized model ready %lld ms after the request", (long long)timer.elapsed());
        QVERIFY(models->quantized());
        QCOMPARE(models->quantizeJobsStarted(), 1);
        QCOMPARE(models->lastBuildFromCache(), n);
        QCOMPARE(cache->counters().misses, uint64_t(n));  // no tensor quantized again
        QVERIFY2(entries(log(), QStringLiteral("chat"), QStringLiteral("35 tensors from cache, 0 quantized")) == 1,
                 qPrintable(dumpLog(log())));

        // Quantize again: all from the cache, and its log line says so.
        QSignalSpy done(m_window->quantizeController(), &QuantizeController::runFinished);
        m_window->quantizeController()->action()->trigger();
        QVERIFY(done.wait(kTimeoutMs));
        QVERIFY(entries(log(), {}, QStringLiteral("(35 tensors from cache, 0 quantized)")) == 1);
        QCOMPARE(cache->counters().misses, uint64_t(n));

        // Another model (here: closing this one) gets a new, empty cache; the old one stays with its users.
        doc()->setModel(nullptr);
        QVERIFY(doc()->quantCache() != cache);
        QCOMPARE(doc()->quantCache()->counters().entries, uint64_t(0));
    }

    void quantizeThenViews_reuseTheTensors() {
        QS_REQUIRE_ASSET(path, kLlama2c);
        QVERIFY(loadAndQuantize(path));
        auto cache = doc()->quantCache();
        const uint64_t misses = cache->counters().misses;
        QCOMPARE(misses, uint64_t(35));

        // The histogram's preview of a quantized tensor under its resolved scheme.
        int tensor = -1;
        for (int i = 0; i < doc()->tensorCount() && tensor < 0; ++i)
            if (doc()->resolvedMap()->tensors[size_t(i)].scheme == "q4_0" && i != doc()->selectedTensor()) tensor = i;
        QVERIFY(tensor >= 0);
        doc()->selectTensor(tensor);
        HistogramView* histogram = m_window->histogramView();
        QVERIFY(QTest::qWaitFor([&] { return !histogram->isBusy(); }, kTimeoutMs));
        const QString name = QString::fromStdString(doc()->checkpoint()->tensors[size_t(tensor)].name);
        QVERIFY2(entries(log(), QStringLiteral("histogram q4_0 on %1").arg(name), QStringLiteral("1 tensor from cache")) == 1,
                 qPrintable(dumpLog(log())));

        // The layer overview measures the map's error from the cached tensors.
        LayerOverviewView* layers = m_window->layerOverviewView();
        layers->recompute();
        QVERIFY(QTest::qWaitFor([&] { return !layers->isBusy(); }, kTimeoutMs));
        QVERIFY2(entries(log(), QStringLiteral("layer overview"), QStringLiteral("35 tensors from cache, 0 quantized")) >= 1,
                 qPrintable(layers->statusText() + QLatin1Char('\n') + dumpLog(log())));
        QCOMPARE(cache->counters().misses, misses);
    }
};

QTEST_MAIN(TestQuantCache)
#include "test_quant_cache.moc"
