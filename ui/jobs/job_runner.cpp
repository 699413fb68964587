// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/jobs/job_runner.h"

#include "ui/util/gui_messages.h"

#include "core/util/input_limit_error.h"

#include <chrono>
#include <exception>
#include <new>

#include <QMetaObject>
#include <QRunnable>

namespace qsui {
namespace {

constexpr int64_t kProgressIntervalMs = 40;

int64_t steadyMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

JobRunner::JobRunner(tbb::task_arena* arena, int maxThreads, QObject* parent)
    : QObject(parent), m_arena(arena) {
    m_pool.setMaxThreadCount(qMax(1, maxThreads));
    m_pool.setObjectName(QStringLiteral("QuantScope jobs"));
}

JobRunner::~JobRunner() {
    cancelAll();
    m_pool.clear();        // drop jobs that never started
    m_pool.waitForDone();  // workers post to `this`; they must be gone before it is
}

QList<Job*> JobRunner::activeJobs() const {
    QList<Job*> jobs;
    for (int id : m_order) jobs << m_jobs.value(id);
    return jobs;
}

void JobRunner::cancelAll() {
    for (Job* job : std::as_const(m_jobs)) job->cancel();
}

Job* JobRunner::startErased(const QString& title, std::type_index type, ErasedFn fn) {
    const int id = m_nextId++;
    auto* job = new Job(id, title, type, this);
    m_jobs.insert(id, job);
    m_order << id;
    std::shared_ptr<JobControl> control = job->m_control;
    m_pool.start([this, id, control, fn = std::move(fn)]() { runOnWorker(id, control, fn); });
    Q_EMIT jobStarted(job);
    Q_EMIT activeCountChanged(int(m_order.size()));
    return job;
}

void JobRunner::runOnWorker(int id, std::shared_ptr<JobControl> control, const ErasedFn& fn) {
    QMetaObject::invokeMethod(this, [this, id] { deliverProgress(id, 0.0, QStringLiteral("starting")); },
                              Qt::QueuedConnection);
    // Called from any thread the job uses (TBB workers included): only atomics and a queued post.
    const qs::ProgressFn progress = [this, id, control](double fraction, std::string_view stage) -> bool {
        if (control->cancelRequested.load(std::memory_order_relaxed)) return false;
        const int64_t now = steadyMs();
        int64_t last = control->lastProgressPostMs.load(std::memory_order_relaxed);
        if ((now - last >= kProgressIntervalMs || fraction >= 1.0) &&
            control->lastProgressPostMs.compare_exchange_strong(last, now)) {
            QString label = QString::fromUtf8(stage.data(), qsizetype(stage.size()));
            QMetaObject::invokeMethod(
                this, [this, id, fraction, label] { deliverProgress(id, fraction, label); },
                Qt::QueuedConnection);
        }
        return !control->cancelRequested.load(std::memory_order_relaxed);
    };

    Outcome outcome;
    auto body = [&] {
        try {
            outcome = fn(progress);
        } catch (const std::bad_alloc&) {
            outcome = Outcome{nullptr, "out of memory: this job's buffers did not fit (nothing else is lost)"};
        } catch (const qs::InputLimitError& e) {  // bad input found where no error value could carry it
            outcome = Outcome{nullptr, e.what()};
        } catch (const std::exception& e) {
            outcome = Outcome{nullptr, std::string("internal error: ") + e.what()};
        } catch (...) {
            outcome = Outcome{nullptr, "internal error: unknown exception"};
        }
    };
    if (m_arena)
        m_arena->execute(body);
    else
        body();
    QMetaObject::invokeMethod(
        this, [this, id, outcome = std::move(outcome)]() mutable { deliverOutcome(id, std::move(outcome)); },
        Qt::QueuedConnection);
}

void JobRunner::deliverProgress(int id, double fraction, const QString& stage) {
    Job* job = m_jobs.value(id);
    if (!job || job->isFinished()) return;
    job->m_state = Job::State::Running;
    job->m_fraction = qBound(0.0, fraction, 1.0);
    job->m_stage = stage;
    Q_EMIT job->progressChanged(job->m_fraction, stage);
}

void JobRunner::deliverOutcome(int id, Outcome outcome) {
    Job* job = m_jobs.take(id);
    m_order.removeOne(id);
    if (!job) return;
    if (job->isCancelRequested()) {
        job->m_state = Job::State::Cancelled;  // whatever the function returned: never a success
        job->m_error = QString::fromUtf8(qs::kCancelledMessage.data(), qsizetype(qs::kCancelledMessage.size()));
    } else if (outcome.value) {
        job->m_state = Job::State::Succeeded;
        job->m_value = std::move(outcome.value);
        job->m_fraction = 1.0;
    } else {
        job->m_state = Job::State::Failed;
        job->m_error = guiCalibrationMessage(QString::fromStdString(outcome.error));
    }
    Q_EMIT job->finished(job->m_state);
    Q_EMIT jobFinished(job);
    Q_EMIT activeCountChanged(int(m_order.size()));
    job->m_value.reset();  // consumers took it in their finished() slot
    job->deleteLater();
}

}  // namespace qsui
