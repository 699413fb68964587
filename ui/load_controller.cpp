// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/load_controller.h"

#include <QFile>
#include <QFileInfo>

#include <oneapi/tbb/task_arena.h>
#include "core/infer/model_weights.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/log_model.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

// Share of the progress bar the reader gets; analyzeModel (which may compare tied tensors' bytes) the rest.
constexpr double kReadShare = 0.85;

qs::Error cancelledError() { return qs::Error{std::string(qs::kCancelledMessage)}; }

}  // namespace

LoadController::LoadController(Document* document, JobRunner* runner, LogModel* log, QObject* parent)
    : QObject(parent), m_document(document), m_runner(runner), m_log(log) {}

void LoadController::cancel() {
    if (m_job) m_job->cancel();
}

void LoadController::open(const QString& rawPath, const QString& name) {
    const QString path = QFileInfo(rawPath).absoluteFilePath();
    const QString source = name.isEmpty() ? QFileInfo(path).fileName() : name;
    if (m_job) {
        m_log->info(source, tr("Opening %1 instead; cancelling the previous load").arg(path));
        m_job->cancel();
    }
    m_log->info(source, tr("Opening %1").arg(path));

    const std::string nativePath = QFile::encodeName(path).toStdString();
    JobFn<LoadedModel> fn = [path, name, nativePath, hook = m_hook](const qs::ProgressFn& progress)
        -> qs::Result<LoadedModel> {
        auto report = [&](double fraction, std::string_view stage) {
            if (hook && !hook(fraction, stage)) return false;
            return progress(fraction, stage);
        };
        if (!report(0.0, "opening")) return cancelledError();
        auto opened = qs::openCheckpoint(nativePath, qs::OpenOptions{},
                                         [&](double f, std::string_view s) { return report(kReadShare * f, s); });
        if (!opened.ok()) return opened.error();
        if (!report(kReadShare, "analysing model")) return cancelledError();
        LoadedModel model;
        model.path = path;
        model.name = name;
        model.checkpoint = std::shared_ptr<const qs::Checkpoint>(std::move(opened).value());
        model.info = qs::analyzeModel(*model.checkpoint);
        (void)qs::checkInferenceShapes(*model.checkpoint, model.info);  // runnable = the engine will load it
        if (!report(1.0, "done")) return cancelledError();
        return model;
    };
    Job* job = m_runner->start<LoadedModel>(tr("Loading %1").arg(source), std::move(fn));
    m_job = job;
    connect(job, &Job::finished, this, [this, job, path, source] { onFinished(job, path, source); });
    Q_EMIT loadStarted(path);
}

void LoadController::onFinished(Job* job, const QString& path, const QString& source) {
    if (m_job == job) m_job = nullptr;
    switch (job->state()) {
        case Job::State::Succeeded: {
            std::shared_ptr<LoadedModel> model = job->result<LoadedModel>();
            for (const std::string& w : model->checkpoint->warnings)
                m_log->warning(source, QString::fromStdString(w));
            for (const std::string& w : model->info.warnings) m_log->warning(source, QString::fromStdString(w));
            const qs::Checkpoint& ckpt = *model->checkpoint;
            m_log->info(source, tr("Loaded %1: %2, %3 tensors, %4 parameters, %5")
                                    .arg(path, QString::fromStdString(ckpt.formatDetail))
                                    .arg(ckpt.tensors.size())
                                    .arg(formatCount(model->info.parameters), formatBytes(ckpt.totalBytes())));
            m_document->setModel(std::move(model));
            Q_EMIT loadFinished(path, true);
            return;
        }
        case Job::State::Cancelled:
            m_log->info(source, m_document->hasModel()
                                    ? tr("Loading %1 cancelled; the model shown is unchanged").arg(path)
                                    : tr("Loading %1 cancelled").arg(path));
            break;
        default: {
            // Reader messages usually start with the file's path already; avoid saying it twice.
            const QString message = job->errorMessage();
            m_log->error(source, message.startsWith(path) ? tr("Could not open %1").arg(message)
                                                          : tr("Could not open %1: %2").arg(path, message));
            break;
        }
    }
    Q_EMIT loadFinished(path, false);
}

}  // namespace qsui
