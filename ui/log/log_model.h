// SPDX-License-Identifier: GPL-3.0-or-later
// LogModel: the "Log & issues" list — timestamped entries with a severity and a source (the file or the part
// of the program they concern). Reader errors, ModelInfo warnings and job outcomes land here instead of
// message boxes. Keeps the newest kMaxEntries and counts the ones it dropped (the Log dock says so). UI thread only.
#pragma once

#include <QAbstractTableModel>
#include <QDateTime>
#include <QIcon>
#include <QList>
#include <QString>

namespace qsui {

enum class Severity { Info, Warning, Error };
QString severityName(Severity s);  // "info", "warning", "error"

struct LogEntry {
    QDateTime time;
    Severity severity = Severity::Info;
    QString source;
    QString message;
};

class LogModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TimeColumn, SeverityColumn, SourceColumn, MessageColumn, ColumnCount };
    static constexpr int kMaxEntries = 10000;
    static constexpr int SeverityRole = Qt::UserRole + 1;  // int(Severity)

    explicit LogModel(QObject* parent = nullptr);

    void add(Severity severity, const QString& source, const QString& message);
    void info(const QString& source, const QString& message) { add(Severity::Info, source, message); }
    void warning(const QString& source, const QString& message) { add(Severity::Warning, source, message); }
    void error(const QString& source, const QString& message) { add(Severity::Error, source, message); }
    void clear();

    const QList<LogEntry>& entries() const { return m_entries; }
    int count(Severity severity) const;  // of the entries kept
    // Entries removed because more than kMaxEntries were added (the oldest go first), since the last clear().
    qint64 dropped() const { return m_dropped; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void entryAdded(const qsui::LogEntry& entry);

private:
    QList<LogEntry> m_entries;
    qint64 m_dropped = 0;
    QIcon m_icons[3];
};

}  // namespace qsui
