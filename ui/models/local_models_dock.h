// SPDX-License-Identifier: GPL-3.0-or-later
// LocalModelsDock: the "Local models" panel — the checkpoints already on this machine (Hugging Face cache,
// Ollama, LM Studio, llama.cpp's cache and folders the user adds; core/io/local_models.h says where and how),
// grouped by where they were found, with size, format and a filter; a double-click (or Enter) opens one under
// its name in the list (openRequested(path, name): the window title, the Summary, the log and Recent Files say
// "stories:260k", not "sha256-270cba1b…"; the path stays in the Summary's path line and the row's tooltip).
//
// Scanning runs as a background job on the JobRunner (progress in the status bar, cancellable, never a frozen
// window). With settings on, the last scan is cached as JSON under the user's cache folder and shown at once
// while a new scan runs behind it, and the added folders persist in QSettings ("localModels/folders"); with
// settings off (--screenshot, tests) nothing is read or written. Warnings of a scan go to the log.
// UI thread only.
#pragma once

#include <QDockWidget>
#include <QPointer>
#include <QStringList>

#include "core/io/local_models.h"

class QLabel;
class QLineEdit;
class QTreeWidget;
class QTreeWidgetItem;

namespace qsui {

class Job;
class JobRunner;
class LogModel;

class LocalModelsDock : public QDockWidget {
    Q_OBJECT
public:
    // `runner` and `log` must outlive the dock. With `useSettings` the cache and the folder list persist.
    LocalModelsDock(JobRunner* runner, LogModel* log, bool useSettings, QWidget* parent = nullptr);

    // Starts a scan of the default roots (unless disabled) and the added folders; a running scan is cancelled.
    void rescan();
    // The folders searched besides the tools' own; setting them does not rescan.
    QStringList folders() const { return m_folders; }
    void setFolders(const QStringList& folders);
    void addFolder(const QString& folder);  // adds, persists and rescans
    // Off: only the added folders are searched (tests; a user who wants only their own folders).
    void setDefaultRootsEnabled(bool on) { m_defaultRoots = on; }

    const qs::LocalModelScan& scan() const { return m_scan; }
    QTreeWidget* list() const { return m_list; }
    bool isScanning() const { return !m_job.isNull(); }

Q_SIGNALS:
    // `name` is the list's name for the model ("stories:260k"), `path` the file to open.
    void openRequested(const QString& path, const QString& name);
    void scanFinished(int models);

private:
    QWidget* createToolbar();
    void showScan(const qs::LocalModelScan& scan, const QString& status);
    QTreeWidgetItem* groupFor(const qs::LocalModel& m, QHash<QString, QTreeWidgetItem*>& groups);
    void applyFilter();
    void onScanFinished();
    void removeFolder(const QString& folder);
    void openItem(QTreeWidgetItem* item);
    QString cacheFile() const;

    JobRunner* m_runner;
    LogModel* m_log;
    bool m_useSettings;
    bool m_defaultRoots = true;
    QStringList m_folders;
    qs::LocalModelScan m_scan;
    QPointer<Job> m_job;
    QLineEdit* m_filter;
    QTreeWidget* m_list;
    QLabel* m_status;
};

}  // namespace qsui
