// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/jobs/job_status_widget.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QStyle>
#include <QToolButton>

#include "ui/jobs/job_runner.h"

namespace qsui {

JobStatusWidget::JobStatusWidget(JobRunner* runner, QWidget* parent)
    : QWidget(parent),
      m_runner(runner),
      m_label(new QLabel(this)),
      m_bar(new QProgressBar(this)),
      m_cancel(new QToolButton(this)) {
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_label);
    layout->addWidget(m_bar);
    layout->addWidget(m_cancel);
    m_bar->setRange(0, 1000);
    m_bar->setFixedWidth(180);
    m_bar->setTextVisible(true);
    m_bar->setFormat(QStringLiteral("%p%"));
    m_label->setMinimumWidth(120);
    m_label->setMaximumWidth(420);
    m_cancel->setIcon(style()->standardIcon(QStyle::SP_BrowserStop));
    m_cancel->setAutoRaise(true);
    m_cancel->setToolTip(tr("Cancel the running job (Esc)"));
    m_cancel->setAccessibleName(tr("Cancel job"));
    connect(m_cancel, &QToolButton::clicked, this, &JobStatusWidget::cancelCurrent);
    connect(m_runner, &JobRunner::jobStarted, this, &JobStatusWidget::follow);
    connect(m_runner, &JobRunner::activeCountChanged, this, [this](int) {
        if (!m_current || m_current->isFinished()) {
            const QList<Job*> active = m_runner->activeJobs();
            m_current = active.isEmpty() ? nullptr : active.last();
        }
        refresh();
    });
    setVisible(false);
}

bool JobStatusWidget::cancelCurrent() {
    if (!m_current || m_current->isFinished()) return false;
    m_current->cancel();
    m_label->setText(tr("%1: cancelling…").arg(m_current->title()));
    return true;
}

void JobStatusWidget::follow(Job* job) {
    m_current = job;
    connect(job, &Job::progressChanged, this, [this, job] {
        if (job == m_current) refresh();
    });
    refresh();
}

void JobStatusWidget::refresh() {
    if (!m_current || m_current->isFinished()) {
        setVisible(false);
        return;
    }
    const int others = int(m_runner->activeJobs().size()) - 1;
    QString text = m_current->isCancelRequested() ? tr("%1: cancelling…").arg(m_current->title())
                   : m_current->stage().isEmpty() ? m_current->title()
                                                  : tr("%1: %2").arg(m_current->title(), m_current->stage());
    if (others > 0) text += tr(" (+%1 more)").arg(others);
    m_label->setText(text);
    m_label->setToolTip(text);
    m_bar->setValue(int(m_current->fraction() * 1000.0));
    setVisible(true);
}

}  // namespace qsui
