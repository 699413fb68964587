// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope: the desktop front end. Parses the command line, creates the application's TBB arena and job
// runner, and shows the main window (or renders it to a PNG with --screenshot).
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QSize>

#include "ui/chat/chat_pane.h"
#include "ui/jobs/job_runner.h"
#include "ui/jobs/task_arena.h"
#include "ui/main_window.h"
#include "ui/screenshot_task.h"

namespace {

QSize parseSize(const QString& text) {
    const QStringList parts = text.split(QLatin1Char('x'));
    bool okW = false, okH = false;
    const int w = parts.size() == 2 ? parts[0].toInt(&okW) : 0;
    const int h = parts.size() == 2 ? parts[1].toInt(&okH) : 0;
    return okW && okH && w >= 320 && h >= 240 && w <= 8192 && h <= 8192 ? QSize(w, h) : QSize();
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("QuantScope"));
    QApplication::setApplicationName(QStringLiteral("QuantScope"));
    QApplication::setApplicationDisplayName(QStringLiteral("QuantScope"));
    QApplication::setDesktopFileName(QStringLiteral("quantscope"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Explore LLM weight quantization."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("PATH"),
                                 QStringLiteral("A checkpoint file or folder to open (safetensors, GGUF, llama2.c "
                                                ".bin, HDF5)."),
                                 QStringLiteral("[PATH]"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Render the window to FILE.png after loading PATH, then exit."),
                                        QStringLiteral("FILE.png"));
    const QCommandLineOption view(QStringLiteral("view"),
                                  QStringLiteral("The view to bring to the front for --screenshot: tree, summary, footprint, histogram, layers, outliers, chat or log (default tree)."),
                                  QStringLiteral("NAME"), QStringLiteral("tree"));
    const QCommandLineOption size(QStringLiteral("size"),
                                  QStringLiteral("Window size for --screenshot (default 1280x720)."),
                                  QStringLiteral("WxH"), QStringLiteral("1280x720"));
    const QCommandLineOption prompt(QStringLiteral("prompt"),
                                    QStringLiteral("With --screenshot --view chat: send TEXT to the chat first (A/B when the map quantizes)."),
                                    QStringLiteral("TEXT"));
    parser.addOptions({screenshot, view, size, prompt});
    parser.process(app);

    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        std::fprintf(stderr, "quantscope: expected at most one PATH, got %lld\n", static_cast<long long>(positional.size()));
        return 2;
    }
    const QString path = positional.value(0);

    // The one arena every core job runs in (see ui/jobs/job_runner.h); declared before the window so it
    // outlives every job.
    tbb::task_arena arena;
    qsui::JobRunner runner(&arena);

    if (parser.isSet(screenshot)) {
        const QSize windowSize = parseSize(parser.value(size));
        if (!windowSize.isValid()) {
            std::fprintf(stderr, "quantscope: --size expects WxH (320x240 to 8192x8192), got '%s'\n",
                         qPrintable(parser.value(size)));
            return 2;
        }
        qsui::MainWindow window(&runner, qsui::MainWindowOptions{/*useSettings=*/false});
        window.resize(windowSize);
        window.show();
        if (parser.isSet(prompt)) window.chatPane()->setScreenshotPrompt(parser.value(prompt));
        qsui::ScreenshotTask task(&window, parser.value(screenshot), parser.value(view), path);
        int exitCode = 1;
        QObject::connect(&task, &qsui::ScreenshotTask::finished, &app, [&](int code, const QString& message) {
            std::fprintf(code == 0 ? stdout : stderr, "quantscope: %s\n", qPrintable(message));
            exitCode = code;
            QApplication::exit(code);
        });
        task.start();
        QApplication::exec();
        return exitCode;
    }

    qsui::MainWindow window(&runner);
    window.show();
    if (!path.isEmpty()) window.openPath(path);
    return QApplication::exec();
}
