// SPDX-License-Identifier: GPL-3.0-or-later
// LoadController: opens a checkpoint in the background and hands it to the Document.
//
// open(path, name) starts one JobRunner job that calls qs::openCheckpoint (the reader picks the format by content)
// and qs::analyzeModel. On success the Document gets the new model and the checkpoint's and ModelInfo's
// warnings go to the log as warnings; on failure the reader's message goes to the log as an error and the
// Document keeps the model it had. Starting a load while one runs cancels the older one. `name` is what the
// user calls the model (the Local models list's name; empty: the file or folder name): it is the log's source
// for the load's messages, the job's title and LoadedModel::name, so the Document, the Summary and Recent
// Files use it.
// UI thread only.
#pragma once

#include <QObject>
#include <QPointer>
#include <QString>

#include "core/jobs/progress.h"
#include "ui/jobs/job.h"

namespace qsui {

class Document;
class JobRunner;
class LogModel;

class LoadController : public QObject {
    Q_OBJECT
public:
    LoadController(Document* document, JobRunner* runner, LogModel* log, QObject* parent = nullptr);

    void open(const QString& path, const QString& name = {});
    bool isLoading() const { return m_job != nullptr; }
    // Cancels the running load (if any); loadFinished(path, false) follows.
    void cancel();

    // Test seam: called on the worker before every progress report of a load (its return value can cancel,
    // like any ProgressFn). Lets a test hold a load mid-way deterministically. Empty by default.
    void setProgressHook(qs::ProgressFn hook) { m_hook = std::move(hook); }

Q_SIGNALS:
    void loadStarted(const QString& path);
    // ok: the Document now holds the model from `path`. Not ok: failed or cancelled (see the log).
    void loadFinished(const QString& path, bool ok);

private:
    void onFinished(Job* job, const QString& path, const QString& source);

    Document* m_document;
    JobRunner* m_runner;
    LogModel* m_log;
    QPointer<Job> m_job;
    qs::ProgressFn m_hook;
};

}  // namespace qsui
