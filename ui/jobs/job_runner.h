// SPDX-License-Identifier: GPL-3.0-or-later
// JobRunner: runs long core calls off the UI thread and reports back through queued signals.
//
// A job is a function `qs::Result<T>(const qs::ProgressFn&)`: it follows the core contract (progress.h) —
// report progress, stop promptly when the callback returns false, return a value or an Error. The runner
// executes it on its own QThreadPool, inside the application's tbb::task_arena (passed in, never a global); a
// job passes that arena (arena()) to every core call it makes, which enters it (core's one rule:
// ARCHITECTURE.md "Thread model"), so core parallelism stays within the arena's limits. Progress and
// completion come back to the UI thread
// as Job::progressChanged / Job::finished (queued). Progress signals are throttled (~25 per second).
//
// Cancellation is cooperative: Job::cancel() makes the progress callback return false; the job ends as
// Cancelled and its value is never delivered as a success, even if the function finished anyway.
// A failed job's message is shown as guiCalibrationMessage words it (ui/util/gui_messages.h: core's CLI hint
// for calibration replaced by the GUI action).
// An exception escaping a job function ends the job as Failed with the exception's message (core code does
// not throw for bad input; this is a last line of defence so a bug never takes the window down).
//
// Thread affinity: create, start and cancel on the UI thread. The destructor cancels every job and waits for
// the workers to return.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <typeindex>

#include <QHash>
#include <QList>
#include <QObject>
#include <QThreadPool>

#include <oneapi/tbb/task_arena.h>

#include "core/jobs/progress.h"
#include "core/util/result.h"
#include "ui/jobs/job.h"

namespace qsui {

template <class T>
using JobFn = std::function<qs::Result<T>(const qs::ProgressFn&)>;

class JobRunner : public QObject {
    Q_OBJECT
public:
    // `arena` may be null (jobs, and the core calls they make with arena(), then run serially on the pool
    // thread); it must outlive the runner.
    explicit JobRunner(tbb::task_arena* arena, int maxThreads = 2, QObject* parent = nullptr);
    ~JobRunner() override;

    // Queues `fn` and returns its handle (owned by the runner). `title` names the job in the status bar.
    template <class T>
    Job* start(const QString& title, JobFn<T> fn) {
        ErasedFn erased = [fn = std::move(fn)](const qs::ProgressFn& progress) -> Outcome {
            qs::Result<T> r = fn(progress);
            if (!r.ok()) return Outcome{nullptr, r.message()};
            return Outcome{std::make_shared<T>(std::move(r).value()), {}};
        };
        return startErased(title, std::type_index(typeid(T)), std::move(erased));
    }

    QList<Job*> activeJobs() const;  // queued or running, oldest first
    void cancelAll();
    tbb::task_arena* arena() const { return m_arena; }

Q_SIGNALS:
    void jobStarted(qsui::Job* job);
    void jobFinished(qsui::Job* job);  // after Job::finished; the job is deleted later
    void activeCountChanged(int count);

private:
    struct Outcome {
        std::shared_ptr<void> value;
        std::string error;
    };
    using ErasedFn = std::function<Outcome(const qs::ProgressFn&)>;

    Job* startErased(const QString& title, std::type_index type, ErasedFn fn);
    void runOnWorker(int id, std::shared_ptr<JobControl> control, const ErasedFn& fn);  // worker thread
    void deliverProgress(int id, double fraction, const QString& stage);                // UI thread
    void deliverOutcome(int id, Outcome outcome);                                       // UI thread

    tbb::task_arena* m_arena;
    QThreadPool m_pool;
    QHash<int, Job*> m_jobs;  // unfinished jobs by id
    QList<int> m_order;       // ids of unfinished jobs, oldest first
    int m_nextId = 1;
};

}  // namespace qsui
