// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/log/log_model.h"

#include <QApplication>
#include <QStyle>

namespace qsui {

QString severityName(Severity s) {
    switch (s) {
        case Severity::Info: return QStringLiteral("info");
        case Severity::Warning: return QStringLiteral("warning");
        case Severity::Error: return QStringLiteral("error");
    }
    return {};
}

LogModel::LogModel(QObject* parent) : QAbstractTableModel(parent) {
    QStyle* style = QApplication::style();
    m_icons[0] = style->standardIcon(QStyle::SP_MessageBoxInformation);
    m_icons[1] = style->standardIcon(QStyle::SP_MessageBoxWarning);
    m_icons[2] = style->standardIcon(QStyle::SP_MessageBoxCritical);
}

void LogModel::add(Severity severity, const QString& source, const QString& message) {
    if (m_entries.size() >= kMaxEntries) {
        beginRemoveRows({}, 0, 0);
        m_entries.removeFirst();
        ++m_dropped;
        endRemoveRows();
    }
    const int row = int(m_entries.size());
    beginInsertRows({}, row, row);
    m_entries.append(LogEntry{QDateTime::currentDateTime(), severity, source, message});
    endInsertRows();
    Q_EMIT entryAdded(m_entries.last());
}

void LogModel::clear() {
    beginResetModel();
    m_entries.clear();
    m_dropped = 0;
    endResetModel();
}

int LogModel::count(Severity severity) const {
    int n = 0;
    for (const LogEntry& e : m_entries) n += e.severity == severity;
    return n;
}

int LogModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(m_entries.size()); }
int LogModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LogModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_entries.size()) return {};
    const LogEntry& e = m_entries[index.row()];
    switch (role) {
        case Qt::DisplayRole:
            switch (index.column()) {
                case TimeColumn: return e.time.toString(QStringLiteral("HH:mm:ss.zzz"));
                case SeverityColumn: return severityName(e.severity);
                case SourceColumn: return e.source;
                case MessageColumn: return e.message;
            }
            break;
        case Qt::ToolTipRole:
            return QStringLiteral("%1 — %2\n%3\n%4")
                .arg(e.time.toString(Qt::ISODateWithMs), severityName(e.severity), e.source, e.message);
        case Qt::DecorationRole:
            if (index.column() == SeverityColumn) return m_icons[int(e.severity)];
            break;
        case SeverityRole: return int(e.severity);
    }
    return {};
}

QVariant LogModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
        case TimeColumn: return tr("Time");
        case SeverityColumn: return tr("Severity");
        case SourceColumn: return tr("Source");
        case MessageColumn: return tr("Message");
    }
    return {};
}

}  // namespace qsui
