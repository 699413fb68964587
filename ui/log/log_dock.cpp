// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/log/log_dock.h"

#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QScrollBar>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

#include "ui/log/log_model.h"

namespace qsui {

LogDock::LogDock(LogModel* model, QWidget* parent)
    : QDockWidget(tr("Log and issues"), parent), m_model(model), m_view(new QTableView), m_counts(new QLabel) {
    setObjectName(QStringLiteral("logDock"));
    setToolTip(tr("Errors, warnings and messages from loading and analysis"));
    auto* body = new QWidget;
    auto* layout = new QVBoxLayout(body);
    layout->setContentsMargins(4, 2, 4, 4);
    layout->setSpacing(2);

    auto* bar = new QHBoxLayout;
    auto* clear = new QToolButton;
    clear->setText(tr("Clear"));
    clear->setToolTip(tr("Remove every entry from the log"));
    auto* copy = new QToolButton;
    copy->setText(tr("Copy"));
    copy->setToolTip(tr("Copy the selected entries (or all) as text"));
    bar->addWidget(m_counts);
    bar->addStretch();
    bar->addWidget(copy);
    bar->addWidget(clear);
    layout->addLayout(bar);
    layout->addWidget(m_view);
    setWidget(body);

    m_view->setModel(model);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setWordWrap(false);
    m_view->setAlternatingRowColors(true);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 6);
    QHeaderView* header = m_view->horizontalHeader();
    // Fixed widths from the font: ResizeToContents would re-measure every row on each insertion.
    const QFontMetrics fm = m_view->fontMetrics();
    header->setSectionResizeMode(QHeaderView::Interactive);
    header->resizeSection(LogModel::TimeColumn, fm.horizontalAdvance(QStringLiteral("00:00:00.000")) + 16);
    header->resizeSection(LogModel::SeverityColumn, fm.horizontalAdvance(QStringLiteral("warning")) + 40);
    header->resizeSection(LogModel::SourceColumn, fm.horizontalAdvance(QStringLiteral("stories260K.gguf")) + 16);
    header->setStretchLastSection(true);
    toggleViewAction()->setText(tr("Log and issues"));

    connect(clear, &QToolButton::clicked, model, &LogModel::clear);
    connect(copy, &QToolButton::clicked, this, &LogDock::copySelection);
    connect(model, &LogModel::modelReset, this, &LogDock::updateCounts);
    connect(model, &LogModel::rowsAboutToBeInserted, this, [this] {
        QScrollBar* sb = m_view->verticalScrollBar();
        const bool atEnd = sb->value() == sb->maximum();
        if (atEnd) QMetaObject::invokeMethod(m_view, &QTableView::scrollToBottom, Qt::QueuedConnection);
    });
    connect(model, &LogModel::rowsInserted, this, &LogDock::updateCounts);
    updateCounts();
}

void LogDock::updateCounts() {
    const int errors = m_model->count(Severity::Error);
    const int warnings = m_model->count(Severity::Warning);
    QString text = tr("%n error(s)", "", errors) + QStringLiteral(", ") + tr("%n warning(s)", "", warnings);
    if (const qint64 dropped = m_model->dropped(); dropped > 0)  // the counts are of the entries kept
        text += tr(" (%1 older entries not kept: the log holds the newest %2)").arg(dropped).arg(LogModel::kMaxEntries);
    m_counts->setText(text);
}

void LogDock::copySelection() {
    QModelIndexList rows = m_view->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end());
    QStringList lines;
    auto line = [this](int row) {
        const LogEntry& e = m_model->entries()[row];
        return QStringLiteral("%1\t%2\t%3\t%4")
            .arg(e.time.toString(Qt::ISODateWithMs), severityName(e.severity), e.source, e.message);
    };
    if (rows.isEmpty())
        for (int r = 0; r < m_model->rowCount(); ++r) lines << line(r);
    else
        for (const QModelIndex& i : rows) lines << line(i.row());
    QApplication::clipboard()->setText(lines.join(QLatin1Char('\n')));
}

}  // namespace qsui
