// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/jobs/job.h"

namespace qsui {

Job::Job(int id, QString title, std::type_index type, QObject* parent)
    : QObject(parent), m_id(id), m_title(std::move(title)), m_type(type) {}

void Job::cancel() {
    if (isFinished()) return;
    m_control->cancelRequested.store(true);
}

}  // namespace qsui
