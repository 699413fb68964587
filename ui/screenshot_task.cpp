// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/screenshot_task.h"

#include <QFileInfo>
#include <QPixmap>
#include <QTimer>

#include "ui/jobs/job_runner.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"

namespace qsui {
namespace {

// Time for posted layout and paint requests to settle after the view changed, before grabbing.
constexpr int kSettleMs = 150;
// Longest wait for background jobs started by the view before capturing anyway.
constexpr int kMaxJobWaitMs = 120000;
constexpr int kPollMs = 50;

QString lastError(const LogModel* log) {
    const QList<LogEntry>& entries = log->entries();
    for (auto it = entries.crbegin(); it != entries.crend(); ++it)
        if (it->severity == Severity::Error) return it->message;
    return QStringLiteral("unknown error");
}

}  // namespace

ScreenshotTask::ScreenshotTask(MainWindow* window, QString output, QString view, QString path, QObject* parent)
    : QObject(parent), m_window(window), m_output(std::move(output)), m_view(std::move(view)), m_path(std::move(path)) {}

void ScreenshotTask::start() {
    if (!m_window->views().contains(m_view)) {
        const QString message = tr("unknown view '%1' (one of: %2)").arg(m_view, m_window->views().names().join('|'));
        QTimer::singleShot(0, this, [this, message] { Q_EMIT finished(2, message); });
        return;
    }
    if (m_path.isEmpty()) {
        QTimer::singleShot(0, this, &ScreenshotTask::showAndCapture);
        return;
    }
    const QMetaObject::Connection loaded = connect(
        m_window->loader(), &LoadController::loadFinished, this, [this](const QString& path, bool ok) {
            if (ok) {
                showAndCapture();
                return;
            }
            Q_UNUSED(path);
            Q_EMIT finished(1, lastError(m_window->logModel()));
        }, Qt::SingleShotConnection);
    const bool opened = m_window->openPath(m_path);
    if (m_window->loader()->isLoading()) return;  // loadFinished follows
    // Nothing to wait for: a session that failed to open (no load ever finishes, so the task used to wait
    // forever) or one applied without a load.
    disconnect(loaded);
    if (opened)
        QTimer::singleShot(0, this, &ScreenshotTask::showAndCapture);
    else
        QTimer::singleShot(0, this, [this] { Q_EMIT finished(1, lastError(m_window->logModel())); });
}

void ScreenshotTask::showAndCapture() {
    m_errorsBefore = m_window->logModel()->count(Severity::Error);
    m_window->views().prepareScreenshot(m_view);
    m_window->views().show(m_view);
    QTimer::singleShot(kSettleMs, this, &ScreenshotTask::waitForJobs);
}

void ScreenshotTask::waitForJobs() {
    // A view that computes in the background (histogram, layer overview, outlier map) is captured once its
    // jobs are done, not half-drawn; the settle delay then lets the results paint.
    JobRunner* runner = m_window->jobRunner();
    if (runner->activeJobs().isEmpty() || m_waitedMs >= kMaxJobWaitMs) {
        QTimer::singleShot(kSettleMs, this, &ScreenshotTask::capture);
        return;
    }
    m_waitedMs += kPollMs;
    QTimer::singleShot(kPollMs, this, &ScreenshotTask::waitForJobs);
}

void ScreenshotTask::capture() {
    const QPixmap pixmap = m_window->grab();
    if (pixmap.isNull() || !pixmap.save(m_output, "PNG")) {
        Q_EMIT finished(1, tr("could not write %1").arg(QFileInfo(m_output).absoluteFilePath()));
        return;
    }
    const QString wrote =
        tr("wrote %1 (%2x%3)").arg(QFileInfo(m_output).absoluteFilePath()).arg(pixmap.width()).arg(pixmap.height());
    // What the view computed for the picture failed (an evaluation, a sweep): the picture shows the failure, and
    // the exit status says so, for scripts that make screenshots.
    if (m_window->logModel()->count(Severity::Error) > m_errorsBefore)
        return Q_EMIT finished(1, tr("%1, but the view reported an error: %2").arg(wrote, lastError(m_window->logModel())));
    Q_EMIT finished(0, wrote);
}

}  // namespace qsui
