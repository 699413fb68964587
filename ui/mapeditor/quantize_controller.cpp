// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mapeditor/quantize_controller.h"

#include <cmath>

#include <QAction>
#include <QDateTime>
#include <QFileInfo>

#include "core/quant/apply_map.h"
#include "core/stats/error_stats.h"
#include "ui/calib/calibration_jobs.h"
#include "ui/document.h"
#include "ui/footprint/footprint_view.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/log_model.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

QString statsText(const qs::ErrorStats& s) {
    const QString sqnr = std::isinf(s.sqnrDb) ? QObject::tr("SQNR ∞ (exact)")
                                              : QObject::tr("SQNR %1 dB").arg(s.sqnrDb, 0, 'f', 1);
    return QObject::tr("%1 (RMSE %2)").arg(sqnr, QString::number(s.rmse, 'g', 3));
}

}  // namespace

QuantizeController::QuantizeController(Document* document, JobRunner* runner, LogModel* log, QObject* parent)
    : QObject(parent), m_document(document), m_runner(runner), m_log(log) {
    m_action = new QAction(QIcon::fromTheme(QStringLiteral("media-playback-start")), tr("&Quantize"), this);
    m_action->setObjectName(QStringLiteral("quantizeAction"));
    m_action->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_action->setToolTip(tr("Quantize the whole model with the current map in the background and measure the "
                            "error per role (Ctrl+R; Esc cancels)"));
    connect(m_action, &QAction::triggered, this, [this] { start(); });
    connect(document, &Document::quantMapChanged, this, &QuantizeController::onMapChanged);
    connect(document, &Document::modelChanged, this, &QuantizeController::onMapChanged);
    updateEnabled();
}

void QuantizeController::updateEnabled() { m_action->setEnabled(m_document->resolvedMap() != nullptr); }

void QuantizeController::onMapChanged() {
    ++m_generation;
    updateEnabled();
    if (m_measurement) {
        m_measurement.reset();
        Q_EMIT measuredTextChanged(QString());
    }
}

QString QuantizeController::describe(const Measurement& m) {
    QStringList parts;
    for (int g = 0; g < int(m.groups.size()); ++g)
        if (m.groups[size_t(g)].count > 0)
            parts << tr("%1 %2").arg(FootprintView::groupLabel(FootprintView::Group(g)), statsText(m.groups[size_t(g)]));
    parts << tr("overall %1").arg(statsText(m.total));
    return parts.join(QStringLiteral(" · "));
}

bool QuantizeController::start() {
    const qs::ResolvedMap* res = m_document->resolvedMap();
    const QString source = m_document->displayName();
    if (!res) {
        m_log->info(tr("quantize"), tr("Load a model first: there is nothing to quantize"));
        return false;
    }
    int quantized = 0;
    for (const qs::TensorPlan& p : res->tensors) quantized += p.quantized();
    if (quantized == 0) {
        m_log->info(source, tr("The map quantizes no tensor: add a rule or pick a preset first"));
        return false;
    }
    // A calibrated scheme without its statistics would fail tensor by tensor: said once, with the GUI action.
    if (const QString missing = missingCalibrationSummary(*m_document); !missing.isEmpty()) {
        m_log->error(source, missing);
        return false;
    }
    if (m_job) {
        m_log->info(source, tr("Restarting the quantization with the current map"));
        m_job->cancel();
    }
    auto model = m_document->model();
    auto resolved = std::make_shared<const qs::ResolvedMap>(*res);
    auto cache = m_document->quantCache();
    auto calibration = m_document->calibrationSet();
    tbb::task_arena* arena = m_runner->arena();
    JobFn<qs::ApplyResult> fn = [model, resolved, cache, calibration,
                                 arena](const qs::ProgressFn& progress) -> qs::Result<qs::ApplyResult> {
        qs::ApplyOptions options;
        options.computeStats = true;
        options.progress = progress;
        options.cache = cache.get();
        options.calibration = calibration.get();
        return qs::applyMap(*model->checkpoint, model->info, *resolved, options, arena);
    };
    m_log->info(source, tr("Quantizing %n tensor(s) with the current map", nullptr, quantized));
    Job* job = m_runner->start<qs::ApplyResult>(tr("Quantizing %1").arg(source), std::move(fn));
    m_job = job;
    const quint64 generation = m_generation;
    const qint64 started = QDateTime::currentMSecsSinceEpoch();
    connect(job, &Job::finished, this, [this, job, generation, started] { onFinished(job, generation, started); });
    return true;
}

void QuantizeController::onFinished(Job* job, quint64 generation, qint64 startedMs) {
    if (m_job == job) m_job = nullptr;
    const QString source = m_document->displayName();
    if (job->state() == Job::State::Cancelled) {
        m_log->info(source, tr("Quantization cancelled; nothing changed"));
        Q_EMIT runFinished(false);
        return;
    }
    if (job->state() != Job::State::Succeeded) {
        m_log->error(source, tr("Quantization failed: %1").arg(job->errorMessage()));
        Q_EMIT runFinished(false);
        return;
    }
    if (generation != m_generation) {
        m_log->info(source, tr("Quantization results discarded: the map or the model changed while it ran"));
        Q_EMIT runFinished(false);
        return;
    }
    const std::shared_ptr<qs::ApplyResult> result = job->result<qs::ApplyResult>();
    Measurement m;
    std::array<qs::ErrorSums, 5> sums{};
    for (int r = 0; r < qs::kRoleCount; ++r)
        sums[size_t(FootprintView::groupOf(qs::Role(r)))] += result->roleError[size_t(r)].sums;
    for (size_t g = 0; g < sums.size(); ++g) m.groups[g] = qs::ErrorStats::fromSums(sums[g]);
    m.total = result->totalError;
    for (const qs::AppliedTensor& t : result->tensors) m.quantizedTensors += t.quantized;
    m.fromCache = result->fromCache;
    m.seconds = double(QDateTime::currentMSecsSinceEpoch() - startedMs) / 1000.0;
    m_measurement = m;
    QString text = describe(m);
    if (const qs::ResolvedMap* res = m_document->resolvedMap(); res && !res->requantized.empty())
        text += tr(" — %n tensor(s) were already quantized in the file: these errors are against the stored "
                   "values, not the original weights", nullptr, int(res->requantized.size()));
    m_log->info(source, tr("Quantized %n tensor(s) in %1 s (%2): %3", nullptr, m.quantizedTensors)
                            .arg(m.seconds, 0, 'f', 2)
                            .arg(formatCacheReuse(m.fromCache, m.quantizedTensors - m.fromCache))
                            .arg(text));
    Q_EMIT measuredTextChanged(tr("<b>Measured after quantizing</b> (%n tensor(s)): %1", nullptr, m.quantizedTensors)
                                 .arg(text.toHtmlEscaped()));
    Q_EMIT runFinished(true);
}

}  // namespace qsui
