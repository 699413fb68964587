// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/recent_files.h"

#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QSettings>

namespace qsui {
namespace {
const QString kKey = QStringLiteral("recentFiles");
const QString kNamesKey = QStringLiteral("recentFileNames");
}

RecentFiles::RecentFiles(QMenu* menu, bool persistent, QObject* parent)
    : QObject(parent), m_menu(menu), m_persistent(persistent) {
    if (m_persistent) {
        m_paths = QSettings().value(kKey).toStringList().mid(0, kMax);
        const QVariantMap names = QSettings().value(kNamesKey).toMap();
        for (const QString& p : std::as_const(m_paths))
            if (const QString n = names.value(p).toString(); !n.isEmpty()) m_names.insert(p, n);
    }
    connect(m_menu, &QMenu::aboutToShow, this, &RecentFiles::rebuildMenu);
    rebuildMenu();
}

void RecentFiles::add(const QString& path, const QString& name) {
    const QString clean = QDir::cleanPath(QFileInfo(path).absoluteFilePath());
    m_paths.removeAll(clean);
    m_paths.prepend(clean);
    if (name.isEmpty()) m_names.remove(clean);
    else m_names.insert(clean, name);
    while (m_paths.size() > kMax) m_names.remove(m_paths.takeLast());
    save();  // the menu is rebuilt when next shown (rebuilding here could delete a triggering action)
}

void RecentFiles::clear() {
    m_paths.clear();
    m_names.clear();
    save();
}

void RecentFiles::save() {
    if (!m_persistent) return;
    QSettings().setValue(kKey, m_paths);
    QSettings().setValue(kNamesKey, m_names);
}

void RecentFiles::rebuildMenu() {
    m_menu->clear();
    for (int i = 0; i < m_paths.size(); ++i) {
        const QString& path = m_paths[i];
        const QFileInfo info(path);
        const QString name = m_names.value(path).toString();
        QString shown = name.isEmpty() ? info.fileName() : name;
        QString text = QStringLiteral("&%1  %2").arg((i + 1) % 10).arg(shown.replace('&', "&&"));
        if (info.isDir() && name.isEmpty()) text += QLatin1Char('/');
        QAction* action = m_menu->addAction(text);
        action->setToolTip(path);
        action->setStatusTip(path);
        if (!info.exists()) {
            action->setEnabled(false);
            action->setText(text + tr(" (missing)"));
        }
        connect(action, &QAction::triggered, this, [this, path, name] { Q_EMIT openRequested(path, name); });
    }
    if (m_paths.isEmpty()) m_menu->addAction(tr("No recent files"))->setEnabled(false);
    m_menu->addSeparator();
    QAction* clearAction = m_menu->addAction(tr("Clear Recent Files"), this, &RecentFiles::clear);
    clearAction->setEnabled(!m_paths.isEmpty());
    m_menu->setToolTipsVisible(true);
}

}  // namespace qsui
