// SPDX-License-Identifier: GPL-3.0-or-later
// Job: the UI-thread handle of one background job started by JobRunner (see job_runner.h).
//
// Thread affinity: a Job lives on the UI thread; its signals are emitted there (queued from the worker).
// Lifetime: owned by the JobRunner; deleted (deleteLater) right after finished() was emitted, so keep a
// QPointer, and take the result inside the slot connected to finished().
#pragma once

#include <atomic>
#include <memory>
#include <typeindex>

#include <QObject>
#include <QString>

#include "core/util/check.h"

namespace qsui {

// State shared between the UI-thread Job and the worker running its function.
struct JobControl {
    std::atomic<bool> cancelRequested{false};
    std::atomic<int64_t> lastProgressPostMs{-1};  // throttles progress signals (steady clock, ms)
};

class Job : public QObject {
    Q_OBJECT
public:
    enum class State { Queued, Running, Succeeded, Failed, Cancelled };
    Q_ENUM(State)

    int id() const { return m_id; }
    const QString& title() const { return m_title; }
    State state() const { return m_state; }
    bool isFinished() const { return m_state >= State::Succeeded; }
    double fraction() const { return m_fraction; }   // last reported, in [0,1]
    const QString& stage() const { return m_stage; }  // last reported stage label
    const QString& errorMessage() const { return m_error; }  // Failed: the job's message

    // Requests cooperative cancellation: the job's progress callback returns false from now on. The job
    // ends as Cancelled (its result, if any, is dropped), whatever its function returns. No-op once finished.
    void cancel();
    bool isCancelRequested() const { return m_control->cancelRequested.load(); }

    // The value the job produced; non-null only in state Succeeded. T must be the job's result type.
    template <class T>
    std::shared_ptr<T> result() const {
        if (m_state != State::Succeeded || !m_value) return nullptr;
        QS_CHECK(m_type == std::type_index(typeid(T)), "Job::result<T>() with the wrong type for job " +
                                                           m_title.toStdString());
        return std::static_pointer_cast<T>(m_value);
    }

Q_SIGNALS:
    void progressChanged(double fraction, const QString& stage);
    void finished(qsui::Job::State state);

private:
    friend class JobRunner;
    Job(int id, QString title, std::type_index type, QObject* parent);

    int m_id;
    QString m_title;
    std::type_index m_type;
    State m_state = State::Queued;
    double m_fraction = 0.0;
    QString m_stage;
    QString m_error;
    std::shared_ptr<void> m_value;
    std::shared_ptr<JobControl> m_control = std::make_shared<JobControl>();
};

}  // namespace qsui
