// SPDX-License-Identifier: GPL-3.0-or-later
// RecentFiles: the File > Open Recent list — newest first, at most kMax entries, persisted in QSettings
// under "recentFiles" (the paths) and "recentFileNames" (path -> name, for the entries opened under a name)
// when `persistent` (otherwise kept in memory only, e.g. for --screenshot runs). An entry shows its name (the
// Local models list's "stories:260k") or else its file name, with the path as its tooltip, and reopens with
// that name.
// The menu is rebuilt each time it is about to show. UI thread only.
#pragma once

#include <QObject>
#include <QStringList>
#include <QVariantMap>

class QMenu;

namespace qsui {

class RecentFiles : public QObject {
    Q_OBJECT
public:
    static constexpr int kMax = 10;

    RecentFiles(QMenu* menu, bool persistent, QObject* parent = nullptr);

    // Puts `path` first; `name` replaces the name it had (empty: shown by its file name).
    void add(const QString& path, const QString& name = {});
    void clear();
    QStringList paths() const { return m_paths; }
    // The name `path` was last opened under ("" when none); `path` as paths() holds it.
    QString name(const QString& path) const { return m_names.value(path).toString(); }

Q_SIGNALS:
    void openRequested(const QString& path, const QString& name);

private:
    void rebuildMenu();
    void save();

    QMenu* m_menu;
    bool m_persistent;
    QStringList m_paths;
    QVariantMap m_names;  // path -> name, only for the paths in m_paths that have one
};

}  // namespace qsui
