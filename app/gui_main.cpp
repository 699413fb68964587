// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope: the desktop front end. Parses the command line, creates the application's TBB arena and job
// runner, and shows the main window (or renders it to a PNG with --screenshot).
#include <cstdio>
#include <cstring>

#include <QApplication>
#include <QCommandLineParser>
#include <QSize>

#include <memory>

#include "core/util/cpu_features.h"
#include "ui/chat/chat_pane.h"
#include "ui/eval/evaluations_view.h"
#include "ui/jobs/job_runner.h"
#include <oneapi/tbb/task_arena.h>
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"
#include "ui/mapeditor/map_editor_dock.h"
#include "ui/mapeditor/map_presets.h"
#include "ui/screenshot_task.h"

namespace {

QSize parseSize(const QString& text) {
    const QStringList parts = text.split(QLatin1Char('x'));
    bool okW = false, okH = false;
    const int w = parts.size() == 2 ? parts[0].toInt(&okW) : 0;
    const int h = parts.size() == 2 ? parts[1].toInt(&okH) : 0;
    return okW && okH && w >= 320 && h >= 240 && w <= 8192 && h <= 8192 ? QSize(w, h) : QSize();
}

// --help and --version print and exit; they must work without a display (a terminal over ssh, a packaging
// check), so they are answered by a QCoreApplication before any QApplication connects to a display server.
bool onlyAsksForInfo(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        for (const char* flag : {"-h", "--help", "-?", "--help-all", "-v", "--version"})
            if (!std::strcmp(argv[i], flag)) return true;
    return false;
}

void setApplicationNames() {
    QCoreApplication::setOrganizationName(QStringLiteral("QuantScope"));
    QCoreApplication::setApplicationName(QStringLiteral("QuantScope"));
    QCoreApplication::setApplicationVersion(QStringLiteral(QS_VERSION));
}

// The command line's options (beyond --help and --version).
struct GuiOptions {
    QCommandLineOption screenshot{QStringLiteral("screenshot"),
                                  QStringLiteral("Render the window to FILE.png after loading PATH, then exit."),
                                  QStringLiteral("FILE.png")};
    QCommandLineOption view{
        QStringLiteral("view"),
        QStringLiteral("The view to bring to the front for --screenshot: tree, summary, footprint, "
                       "histogram, layers, outliers, evaluations, sweep, sensitivity, automix, embed-head, map, chat, "
                       "models or log (default tree)."),
        QStringLiteral("NAME"), QStringLiteral("tree")};
    QCommandLineOption size{QStringLiteral("size"), QStringLiteral("Window size for --screenshot (default 1280x720)."),
                            QStringLiteral("WxH"), QStringLiteral("1280x720")};
    QCommandLineOption map{QStringLiteral("map"),
                           QStringLiteral("Load the quantization map MAP.json at start (the JSON of the map "
                                          "editor's export or quantscope-cli --save-map)."),
                           QStringLiteral("MAP.json")};
    QCommandLineOption preset;
    QCommandLineOption prompt{
        QStringLiteral("prompt"),
        QStringLiteral("With --screenshot --view chat: send TEXT to the chat first (A/B when the map quantizes)."),
        QStringLiteral("TEXT")};
    QCommandLineOption text{QStringLiteral("text"),
                            QStringLiteral("With --screenshot --view evaluations (or embed-head): evaluate the model "
                                           "as stored, then the map, on FILE first (two rows)."),
                            QStringLiteral("FILE")};

    explicit GuiOptions(const QStringList& presetIds)
        : preset(QStringLiteral("preset"),
                 QStringLiteral("Start with a preset quantization map: %1 (applied after PATH is loaded; overrides "
                                "--map).")
                     .arg(presetIds.join(QStringLiteral(", "))),
                 QStringLiteral("NAME")) {}
    void addTo(QCommandLineParser& parser) const {
        parser.addOptions({screenshot, view, size, map, preset, prompt, text});
    }
};

// --map loads now (a map is written in roles and patterns, it needs no model); --preset waits for PATH, since a
// preset may depend on the model (the layer count). Returns false when --map failed.
bool applyStartupMap(qsui::MainWindow& window, const QCommandLineParser& parser, const GuiOptions& o,
                     const QString& path) {
    if (parser.isSet(o.map) && !window.mapEditor()->importMap(parser.value(o.map))) return false;
    if (!parser.isSet(o.preset)) return true;
    const QString id = parser.value(o.preset);
    if (path.isEmpty()) return window.mapEditor()->applyPreset(id);
    // Connected before the screenshot task's handler, so the preset is in place when it captures.
    QObject::connect(window.loader(), &qsui::LoadController::loadFinished, &window,
                     [&window, id](const QString&, bool ok) {
                         if (ok) window.mapEditor()->applyPreset(id);
                     }, Qt::SingleShotConnection);
    return true;
}

// --screenshot: the window at the given size, PATH loaded, the view in front, rendered to a PNG; the exit code.
int runScreenshot(qsui::JobRunner& runner, const QCommandLineParser& parser, const GuiOptions& o,
                  const QString& path) {
    const QSize windowSize = parseSize(parser.value(o.size));
    if (!windowSize.isValid()) {
        std::fprintf(stderr, "quantscope: --size expects WxH (320x240 to 8192x8192), got '%s'\n",
                     qPrintable(parser.value(o.size)));
        return 2;
    }
    qsui::MainWindow window(&runner, qsui::MainWindowOptions{/*useSettings=*/false});
    window.resize(windowSize);
    window.show();
    if (!applyStartupMap(window, parser, o, path)) {
        std::fprintf(stderr, "quantscope: could not load the map %s (see the log)\n", qPrintable(parser.value(o.map)));
        for (const qsui::LogEntry& e : window.logModel()->entries())
            if (e.severity == qsui::Severity::Error) std::fprintf(stderr, "quantscope: %s\n", qPrintable(e.message));
        return 2;
    }
    if (parser.isSet(o.prompt)) window.chatPane()->setScreenshotPrompt(parser.value(o.prompt));
    if (parser.isSet(o.text)) window.evaluationsView()->setTextPath(parser.value(o.text));
    qsui::ScreenshotTask task(&window, parser.value(o.screenshot), parser.value(o.view), path);
    int exitCode = 1;
    QObject::connect(&task, &qsui::ScreenshotTask::finished, &window, [&](int code, const QString& message) {
        std::fprintf(code == 0 ? stdout : stderr, "quantscope: %s\n", qPrintable(message));
        exitCode = code;
        QApplication::exit(code);
    });
    task.start();
    QApplication::exec();
    return exitCode;
}

}  // namespace

int main(int argc, char** argv) {
    std::unique_ptr<QCoreApplication> appHolder;
    if (onlyAsksForInfo(argc, argv)) {
        appHolder = std::make_unique<QCoreApplication>(argc, argv);
    } else {
        appHolder = std::make_unique<QApplication>(argc, argv);
        QApplication::setApplicationDisplayName(QStringLiteral("QuantScope"));
        QApplication::setDesktopFileName(QStringLiteral("quantscope"));
    }
    QCoreApplication& app = *appHolder;
    setApplicationNames();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Explore LLM weight quantization."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("PATH"),
                                 QStringLiteral("A checkpoint file or folder to open (safetensors, GGUF, llama2.c "
                                                ".bin, HDF5)."),
                                 QStringLiteral("[PATH]"));
    QStringList presetIds;
    for (const qsui::MapPreset& p : qsui::mapPresets()) presetIds << p.id;
    const GuiOptions options(presetIds);
    options.addTo(parser);
    // parse(), not process(): process() ends a usage error with exit code 1, and usage errors exit 2 here as in
    // quantscope-cli (1 is a failed operation).
    if (!parser.parse(app.arguments())) {
        std::fprintf(stderr, "quantscope: %s\n(`quantscope --help` lists the options)\n",
                     qPrintable(parser.errorText()));
        return 2;
    }
    // Valid arguments: process() prints --help, --help-all (with Qt's options) or --version and exits 0.
    for (const char* info : {"help", "help-all", "version"})
        if (parser.isSet(QString::fromLatin1(info))) parser.process(app);
    if (parser.isSet(options.preset) && !qsui::findMapPreset(parser.value(options.preset))) {
        std::fprintf(stderr, "quantscope: unknown preset '%s' (one of: %s)\n",
                     qPrintable(parser.value(options.preset)), qPrintable(presetIds.join(QStringLiteral(", "))));
        return 2;
    }
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        std::fprintf(stderr, "quantscope: expected at most one PATH, got %lld\n",
                     static_cast<long long>(positional.size()));
        return 2;
    }
    const QString path = positional.value(0);

    // The one arena every core job runs in (see ui/jobs/job_runner.h); declared before the window so it
    // outlives every job.
    tbb::task_arena arena;
    qsui::JobRunner runner(&arena);
    if (parser.isSet(options.screenshot)) return runScreenshot(runner, parser, options, path);

    qsui::MainWindow window(&runner);
    window.show();
    if (const std::string w = qs::cpu::simdOverrideWarning(); !w.empty())
        window.logModel()->warning(QStringLiteral("kernels"), QString::fromStdString(w));
    applyStartupMap(window, parser, options, path);  // problems are in the log pane
    if (!path.isEmpty()) window.openPath(path);
    return QApplication::exec();
}
