// SPDX-License-Identifier: GPL-3.0-or-later
// RecentFiles: the File > Open Recent list — newest first, at most kMax entries, persisted in QSettings
// under "recentFiles" when `persistent` (otherwise kept in memory only, e.g. for --screenshot runs).
// The menu is rebuilt each time it is about to show. UI thread only.
#pragma once

#include <QObject>
#include <QStringList>

class QMenu;

namespace qsui {

class RecentFiles : public QObject {
    Q_OBJECT
public:
    static constexpr int kMax = 10;

    RecentFiles(QMenu* menu, bool persistent, QObject* parent = nullptr);

    void add(const QString& path);
    void clear();
    QStringList paths() const { return m_paths; }

Q_SIGNALS:
    void openRequested(const QString& path);

private:
    void rebuildMenu();
    void save();

    QMenu* m_menu;
    bool m_persistent;
    QStringList m_paths;
};

}  // namespace qsui
