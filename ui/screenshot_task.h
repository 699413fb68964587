// SPDX-License-Identifier: GPL-3.0-or-later
// ScreenshotTask: `quantscope --screenshot FILE.png [--view NAME] [PATH]` — loads PATH (if given) through the
// window's normal loader, waits for the job in the event loop, runs the view's prepareScreenshot hook, brings
// it to the front, waits (up to 2 minutes) for the jobs it started, renders the window with QWidget::grab() and writes the PNG. Works on any platform plugin, offscreen included.
// finished(exitCode, message): 0 on success; 1 when the load, the session's opening (a *.qsession.json PATH: the
// message is the log's error) or the write failed; 2 for an unknown view.
// UI thread only.
#pragma once

#include <QObject>
#include <QString>

namespace qsui {

class MainWindow;

class ScreenshotTask : public QObject {
    Q_OBJECT
public:
    ScreenshotTask(MainWindow* window, QString output, QString view, QString path, QObject* parent = nullptr);

    void start();

Q_SIGNALS:
    void finished(int exitCode, const QString& message);

private:
    void showAndCapture();
    void waitForJobs();
    void capture();

    MainWindow* m_window;
    QString m_output;
    QString m_view;
    QString m_path;
    int m_waitedMs = 0;
    int m_errorsBefore = 0;  // error entries in the log when the view was shown
};

}  // namespace qsui
