// SPDX-License-Identifier: GPL-3.0-or-later
// JobStatusWidget: the status-bar strip for background jobs — "title: stage", a progress bar and a cancel
// button for the newest running job (with "+N more" when several run). Hidden while no job runs.
// UI thread only.
#pragma once

#include <QPointer>
#include <QWidget>

class QLabel;
class QProgressBar;
class QToolButton;

namespace qsui {

class Job;
class JobRunner;

class JobStatusWidget : public QWidget {
    Q_OBJECT
public:
    explicit JobStatusWidget(JobRunner* runner, QWidget* parent = nullptr);

    // Cancels the job shown (the newest). Returns false when no job runs.
    bool cancelCurrent();

private:
    void follow(Job* job);
    void refresh();

    JobRunner* m_runner;
    QPointer<Job> m_current;
    QLabel* m_label;
    QProgressBar* m_bar;
    QToolButton* m_cancel;
};

}  // namespace qsui
