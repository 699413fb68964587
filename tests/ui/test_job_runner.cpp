// SPDX-License-Identifier: GPL-3.0-or-later
// JobRunner: jobs run off the UI thread inside the given TBB arena, progress and results arrive on the UI
// thread through queued signals, cancellation is prompt and never delivers a success, failures and
// exceptions end as Failed without taking the process down.
#include <QSemaphore>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <chrono>
#include <thread>

#include "ui/jobs/job_runner.h"
#include <oneapi/tbb/task_arena.h>

using qsui::Job;
using qsui::JobRunner;

namespace {

constexpr int kTimeoutMs = 10000;

// A job that spins until its progress callback says stop (or ~60 s pass), then returns `value` — as if it
// had finished — so a test can tell whether a result produced after cancellation leaks out as a success.
qsui::JobFn<int> spinningJob(std::atomic<bool>* started, int value) {
    return [started, value](const qs::ProgressFn& progress) -> qs::Result<int> {
        started->store(true);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        double f = 0;
        while (std::chrono::steady_clock::now() < deadline && progress(f, "spinning")) {
            f = std::min(0.99, f + 0.001);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return value;
    };
}

}  // namespace

class TestJobRunner : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void start_runsOffUiThread_andDeliversResultOnUiThread() {
        tbb::task_arena arena(2);
        JobRunner runner(&arena);
        std::atomic<QThread*> workerThread{nullptr};
        Job* job = runner.start<QString>(QStringLiteral("answer"), [&](const qs::ProgressFn& progress)
                                                                       -> qs::Result<QString> {
            workerThread.store(QThread::currentThread());
            progress(0.5, "half way");
            return QStringLiteral("forty-two");
        });
        QPointer<Job> guard(job);
        QString value;
        QThread* finishedOn = nullptr;
        Job::State state = Job::State::Queued;
        connect(job, &Job::finished, this, [&](Job::State s) {
            state = s;
            finishedOn = QThread::currentThread();
            value = *job->result<QString>();
        });
        QTRY_VERIFY_WITH_TIMEOUT(finishedOn != nullptr, kTimeoutMs);
        QCOMPARE(state, Job::State::Succeeded);
        QCOMPARE(value, QStringLiteral("forty-two"));
        QCOMPARE(finishedOn, QThread::currentThread());
        QVERIFY(workerThread.load() != nullptr);
        QVERIFY(workerThread.load() != QThread::currentThread());
        QTRY_VERIFY_WITH_TIMEOUT(guard.isNull(), kTimeoutMs);  // the runner deletes finished jobs
        QVERIFY(runner.activeJobs().isEmpty());
    }

    void progress_reachesUiThreadWithStage() {
        JobRunner runner(nullptr);
        QSemaphore release;
        Job* job = runner.start<int>(QStringLiteral("progress"), [&](const qs::ProgressFn& progress) -> qs::Result<int> {
            progress(0.25, "reading header");
            release.tryAcquire(1, kTimeoutMs);  // hold the job open until the test saw the progress
            return 1;
        });
        QSignalSpy progressSpy(job, &Job::progressChanged);
        QSignalSpy finishedSpy(job, &Job::finished);
        QTRY_VERIFY_WITH_TIMEOUT(job->stage() == QStringLiteral("reading header"), kTimeoutMs);
        QCOMPARE(job->fraction(), 0.25);
        QCOMPARE(job->state(), Job::State::Running);
        QVERIFY(!progressSpy.isEmpty());
        QCOMPARE(runner.activeJobs().size(), 1);
        release.release();
        QTRY_COMPARE_WITH_TIMEOUT(finishedSpy.size(), 1, kTimeoutMs);
    }

    void cancel_stopsSpinningJobPromptly_andDropsItsResult() {
        tbb::task_arena arena(2);
        JobRunner runner(&arena);
        std::atomic<bool> started{false};
        Job* job = runner.start<int>(QStringLiteral("spin"), spinningJob(&started, 7));
        Job::State state = Job::State::Queued;
        bool hadResult = true;
        connect(job, &Job::finished, this, [&](Job::State s) {
            state = s;
            hadResult = job->result<int>() != nullptr;
        });
        QTRY_VERIFY_WITH_TIMEOUT(started.load(), kTimeoutMs);
        job->cancel();
        QVERIFY(job->isCancelRequested());
        // The job would spin for 60 s if the cancel were not seen; the wait bound is far below that.
        QTRY_VERIFY_WITH_TIMEOUT(state != Job::State::Queued, kTimeoutMs);
        QCOMPARE(state, Job::State::Cancelled);
        QVERIFY(!hadResult);
    }

    void cancel_jobThatIgnoresProgressAndSucceeds_isStillCancelled() {
        JobRunner runner(nullptr);
        QSemaphore entered, release;
        Job* job = runner.start<int>(QStringLiteral("stubborn"), [&](const qs::ProgressFn&) -> qs::Result<int> {
            entered.release();
            release.tryAcquire(1, kTimeoutMs);
            return 99;  // never looks at the progress callback
        });
        Job::State state = Job::State::Queued;
        bool hadResult = true;
        connect(job, &Job::finished, this, [&](Job::State s) {
            state = s;
            hadResult = job->result<int>() != nullptr;
        });
        QVERIFY(entered.tryAcquire(1, kTimeoutMs));
        job->cancel();
        release.release();
        QTRY_VERIFY_WITH_TIMEOUT(state != Job::State::Queued, kTimeoutMs);
        QCOMPARE(state, Job::State::Cancelled);
        QVERIFY(!hadResult);
    }

    void failingJob_endsFailedWithItsMessage() {
        JobRunner runner(nullptr);
        Job* job = runner.start<int>(QStringLiteral("fail"), [](const qs::ProgressFn&) -> qs::Result<int> {
            return qs::Error{"x.gguf: tensor 'blk.0.attn_q.weight' ends past the end of the file"};
        });
        QString message;
        Job::State state = Job::State::Queued;
        connect(job, &Job::finished, this, [&](Job::State s) {
            state = s;
            message = job->errorMessage();
            QVERIFY(job->result<int>() == nullptr);
        });
        QTRY_VERIFY_WITH_TIMEOUT(state != Job::State::Queued, kTimeoutMs);
        QCOMPARE(state, Job::State::Failed);
        QVERIFY(message.contains(QStringLiteral("ends past the end")));
    }

    void throwingJob_endsFailed_withoutCrashing() {
        JobRunner runner(nullptr);
        Job* job = runner.start<int>(QStringLiteral("throw"), [](const qs::ProgressFn&) -> qs::Result<int> {
            throw std::runtime_error("boom");
        });
        QSignalSpy spy(job, &Job::finished);
        QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 1, kTimeoutMs);
        QCOMPARE(spy.at(0).at(0).value<Job::State>(), Job::State::Failed);
    }

    void job_runsInsideTheGivenArena() {
        tbb::task_arena arena(3);
        JobRunner runner(&arena);
        std::atomic<int> concurrency{-1};
        Job* job = runner.start<int>(QStringLiteral("arena"), [&](const qs::ProgressFn&) -> qs::Result<int> {
            concurrency.store(tbb::this_task_arena::max_concurrency());
            return 0;
        });
        QSignalSpy spy(job, &Job::finished);
        QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 1, kTimeoutMs);
        QCOMPARE(concurrency.load(), 3);
        QCOMPARE(runner.arena(), &arena);
    }

    void cancelAll_andDestructor_stopRunningJobs() {
        tbb::task_arena arena(2);
        std::atomic<bool> startedA{false}, startedB{false};
        {
            JobRunner runner(&arena, 2);
            QSignalSpy active(&runner, &JobRunner::activeCountChanged);
            runner.start<int>(QStringLiteral("a"), spinningJob(&startedA, 1));
            runner.start<int>(QStringLiteral("b"), spinningJob(&startedB, 2));
            QCOMPARE(runner.activeJobs().size(), 2);
            QTRY_VERIFY_WITH_TIMEOUT(startedA.load() && startedB.load(), kTimeoutMs);
            // Leaving the scope destroys the runner: it must cancel both spinning jobs and wait for them,
            // instead of blocking for their 60 s or leaving threads behind.
        }
        QVERIFY(startedA.load() && startedB.load());
    }
};

QTEST_MAIN(TestJobRunner)
#include "test_job_runner.moc"
