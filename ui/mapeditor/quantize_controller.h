// SPDX-License-Identifier: GPL-3.0-or-later
// QuantizeController: the "Quantize" action. Runs the whole-model apply of the current map (qs::applyMap:
// quantize, dequantize and measure every tensor the map quantizes) as one JobRunner job, so progress shows
// in the status bar and Esc cancels it. On success the per-role error (SQNR, RMSE) goes to the log and to
// measuredTextChanged (the footprint view's result panel).
//
// Reuse: the job quantizes through the Document's qs::QuantizedTensorCache, so tensors another job (the chat,
// the layer overview, the histogram preview, an earlier Quantize) already quantized with the same scheme are not
// quantized again; the log line says how many came from the cache.
//
// Staleness: the job works on a snapshot of the model and the resolved map. When the map or the model changes
// while it runs, the result no longer describes what the window shows: it is discarded (logged as such).
// A later map change also clears the shown measurement. A cancelled or failed run changes nothing.
// UI thread only.
#pragma once

#include <array>
#include <optional>

#include <oneapi/tbb/task_arena.h>

#include <QObject>
#include <QPointer>

#include "core/quant/apply_map.h"
#include "ui/jobs/job.h"

class QAction;

namespace qsui {

class Document;
class JobRunner;
class LogModel;

class QuantizeController : public QObject {
    Q_OBJECT
public:
    // Per role group (FootprintView::Group order: embedding, head, body, norm, other).
    struct Measurement {
        std::array<qs::ErrorStats, 5> groups{};
        qs::ErrorStats total;
        int quantizedTensors = 0;
        int fromCache = 0;  // of those, packed tensors taken from the Document's cache
        double seconds = 0;
    };

    QuantizeController(Document* document, JobRunner* runner, LogModel* log, QObject* parent = nullptr);

    QAction* action() const { return m_action; }
    // Starts a run (cancelling a running one). False, with a log entry, when there is nothing to quantize.
    bool start();
    Job* job() const { return m_job; }
    // The measurement shown for the current map, if any.
    const std::optional<Measurement>& measurement() const { return m_measurement; }

    static QString describe(const Measurement& m);  // "embedding SQNR 31.2 dB (RMSE 0.0012) · body ..."

Q_SIGNALS:
    void measuredTextChanged(const QString& text);
    // After each run ends (ok: a measurement for the current map is now shown).
    void runFinished(bool ok);

private:
    void onMapChanged();
    void onFinished(Job* job, quint64 generation, qint64 startedMs);
    void updateEnabled();

    Document* m_document;
    JobRunner* m_runner;
    LogModel* m_log;
    QAction* m_action;
    QPointer<Job> m_job;
    quint64 m_generation = 0;  // bumped on every map or model change
    std::optional<Measurement> m_measurement;
};

}  // namespace qsui
