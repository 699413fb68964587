// SPDX-License-Identifier: GPL-3.0-or-later
// The Local models panel, offscreen: a scan of an added folder (holding links to the real stories260K files)
// runs as a job and lists the checkpoints under their folder; the filter hides what does not match; activating
// a row opens that model in the main window; the empty state's button brings the panel to the front; with
// settings on, the folder list and the last scan persist; a model opened from the list (an Ollama blob, a
// Hugging Face snapshot under a temporary HOME) carries the list's name into the window title, the Summary, the
// log and Recent Files, with its path still shown.
#include <QApplication>
#include <QDirIterator>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include <filesystem>
#include <fstream>
#include <memory>

#include <oneapi/tbb/task_arena.h>

#include "common/assets.h"
#include "ui/document.h"
#include "ui/empty_state_view.h"
#include "ui/jobs/job_runner.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/main_window.h"
#include "ui/models/local_models_dock.h"
#include "ui/recent_files.h"
#include "ui/summary/summary_view.h"
#include "ui/tree/model_tree_dock.h"

using namespace qsui;
namespace fs = std::filesystem;

namespace {
constexpr int kTimeoutMs = 15000;

// Visible model rows (children of the group items) and their names.
QTreeWidgetItem* rowNamed(const QTreeWidget* list, const QString& name) {
    for (int g = 0; g < list->topLevelItemCount(); ++g)
        for (int i = 0; i < list->topLevelItem(g)->childCount(); ++i)
            if (list->topLevelItem(g)->child(i)->text(0) == name) return list->topLevelItem(g)->child(i);
    return nullptr;
}

QStringList visibleNames(const QTreeWidget* list) {
    QStringList names;
    for (int g = 0; g < list->topLevelItemCount(); ++g) {
        const QTreeWidgetItem* group = list->topLevelItem(g);
        if (group->isHidden()) continue;
        for (int i = 0; i < group->childCount(); ++i)
            if (!group->child(i)->isHidden()) names << group->child(i)->text(0);
    }
    return names;
}
}  // namespace

class TestLocalModelsDock : public QObject {
    Q_OBJECT

    std::unique_ptr<tbb::task_arena> m_arena;
    std::unique_ptr<JobRunner> m_runner;
    QTemporaryDir m_folder;

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("QuantScopeTests"));
        QCoreApplication::setApplicationName(QStringLiteral("test_local_models_dock"));
        QSettings().clear();
        m_arena = std::make_unique<tbb::task_arena>(2);
        m_runner = std::make_unique<JobRunner>(m_arena.get());
        QS_REQUIRE_ASSET(bin, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        const fs::path root = m_folder.path().toStdString();
        fs::create_directories(root / "llama2c");
        fs::create_symlink(bin.toStdString(), root / "llama2c" / "stories260K.bin");
        fs::create_symlink(gguf.toStdString(), root / "stories260K.gguf");
    }

    void scan_listsTheFolder_filterHides() {
        LogModel log;
        LocalModelsDock dock(m_runner.get(), &log, /*useSettings=*/false);
        dock.setDefaultRootsEnabled(false);
        dock.setFolders({m_folder.path()});
        QSignalSpy done(&dock, &LocalModelsDock::scanFinished);
        dock.rescan();
        QVERIFY(dock.isScanning());
        QVERIFY(done.wait(kTimeoutMs));
        QCOMPARE(done.last().at(0).toInt(), 2);
        QCOMPARE(dock.list()->topLevelItemCount(), 1);  // one group: the folder
        QVERIFY(dock.list()->topLevelItem(0)->text(0).contains(m_folder.path()));
        QCOMPARE(visibleNames(dock.list()), (QStringList{QStringLiteral("llama2c/stories260K.bin"),
                                                         QStringLiteral("stories260K.gguf")}));
        QCOMPARE(dock.list()->topLevelItem(0)->child(0)->text(2), QStringLiteral("llama2c"));

        auto* filter = dock.findChild<QLineEdit*>();
        QVERIFY(filter);
        filter->setText(QStringLiteral("GGUF"));  // case-insensitive, on the name
        QCOMPARE(visibleNames(dock.list()), QStringList{QStringLiteral("stories260K.gguf")});
        filter->setText(QStringLiteral("no such model"));
        QVERIFY(visibleNames(dock.list()).isEmpty());
        QVERIFY(dock.list()->topLevelItem(0)->isHidden());
    }

    // 90,000 damaged files put 90,000 warnings in the log, which kept the newest 10,000 and said
    // "10000 warning(s)": the scan names the first ones and says how many more, and the log counts what it drops.
    void damagedFiles_logNamesFirstOnesAndCount() {
        QTemporaryDir folder;
        const fs::path root = folder.path().toStdString();
        const std::string damaged = std::string("GGUF\x03\0\0\0", 8) + std::string(16, '\xff');
        for (int i = 0; i < 30; ++i) {
            std::ofstream out(root / ("f" + std::to_string(i) + ".gguf"), std::ios::binary);
            out << damaged;
        }
        LogModel log;
        LocalModelsDock dock(m_runner.get(), &log, /*useSettings=*/false);
        dock.setDefaultRootsEnabled(false);
        dock.setFolders({folder.path()});
        QSignalSpy done(&dock, &LocalModelsDock::scanFinished);
        dock.rescan();
        QVERIFY(done.wait(kTimeoutMs));
        QCOMPARE(log.count(Severity::Warning), 21);
        QStringList warnings;
        for (const LogEntry& e : log.entries())
            if (e.severity == Severity::Warning) warnings << e.message;
        QVERIFY2(warnings.last().startsWith(QStringLiteral("10 more warning(s) like the above not listed")),
                 qPrintable(warnings.last()));
        QCOMPARE(log.dropped(), qint64(0));
        const int before = log.rowCount();
        for (int i = 0; i < LogModel::kMaxEntries; ++i) log.info(QStringLiteral("t"), QString::number(i));
        QCOMPARE(log.rowCount(), LogModel::kMaxEntries);
        QCOMPARE(log.dropped(), qint64(before));
        log.clear();
        QCOMPARE(log.dropped(), qint64(0));
    }

    void emptyFolder_saysWhereItLooked() {
        QTemporaryDir empty;
        LogModel log;
        LocalModelsDock dock(m_runner.get(), &log, false);
        dock.setDefaultRootsEnabled(false);
        dock.setFolders({empty.path()});
        QSignalSpy done(&dock, &LocalModelsDock::scanFinished);
        dock.rescan();
        QVERIFY(done.wait(kTimeoutMs));
        QCOMPARE(dock.list()->topLevelItemCount(), 0);
        const QString status = dock.findChildren<QLabel*>().last()->text();
        QVERIFY2(status.contains(empty.path()), qPrintable(status));
    }

    void activatingARow_opensTheModel() {
        MainWindow window(m_runner.get(), MainWindowOptions{/*useSettings=*/false});
        window.resize(1280, 720);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        LocalModelsDock* dock = window.localModelsDock();
        QVERIFY(dock);
        QVERIFY(!dock->isVisible() || dock->visibleRegion().isEmpty());  // behind the Model tab at start

        // The empty state's button brings the panel to the front.
        auto* button = window.findChild<QPushButton*>(QStringLiteral("localModelsButton"));
        QVERIFY(button);
        dock->setDefaultRootsEnabled(false);
        dock->setFolders({m_folder.path()});
        QSignalSpy done(dock, &LocalModelsDock::scanFinished);
        button->click();  // shows the panel; in --screenshot/no-settings mode the scan is explicit
        QTRY_VERIFY(!dock->visibleRegion().isEmpty());
        dock->rescan();
        QVERIFY(done.wait(kTimeoutMs));

        QTreeWidgetItem* row = dock->list()->topLevelItem(0)->child(1);  // stories260K.gguf
        QCOMPARE(row->text(0), QStringLiteral("stories260K.gguf"));
        QSignalSpy loaded(window.loader(), &LoadController::loadFinished);
        Q_EMIT dock->list()->itemActivated(row, 0);
        QVERIFY(loaded.wait(kTimeoutMs));
        QVERIFY(loaded.last().at(1).toBool());
        QCOMPARE(QFileInfo(window.document()->path()).fileName(), QStringLiteral("stories260K.gguf"));
        // The model is shown: the Model tree tab comes to the front of the left dock (the README's step 3).
        QTRY_VERIFY(!window.treeDock()->visibleRegion().isEmpty());
        QVERIFY(dock->visibleRegion().isEmpty());
    }

    void openedFromTheList_carriesTheListName() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf");
        QTemporaryDir home;
        const fs::path h = home.path().toStdString();
        const std::string digest(64, 'a');
        fs::create_directories(h / "ollama" / "blobs");
        fs::create_symlink(gguf.toStdString(), h / "ollama" / "blobs" / ("sha256-" + digest));
        fs::create_directories(h / "ollama" / "manifests" / "registry.ollama.ai" / "library" / "stories");
        std::ofstream(h / "ollama" / "manifests" / "registry.ollama.ai" / "library" / "stories" / "260k")
            << "{\"layers\": [{\"mediaType\": \"application/vnd.ollama.image.model\", \"digest\": \"sha256:" << digest
            << "\"}]}";
        const fs::path snap = h / "hub" / "models--karpathy--stories260K" / "snapshots" / "0123abcd";
        fs::create_directories(snap);
        for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "tokenizer.model"})
            fs::create_symlink(fs::path(hf.toStdString()) / f, snap / f);
        const QByteArray oldHome = qgetenv("HOME");
        qputenv("HOME", home.path().toUtf8());
        qputenv("HF_HUB_CACHE", QByteArray::fromStdString((h / "hub").string()));
        qputenv("OLLAMA_MODELS", QByteArray::fromStdString((h / "ollama").string()));
        for (const char* v : {"XDG_CACHE_HOME", "HF_HOME", "LLAMA_CACHE"}) qunsetenv(v);

        MainWindow window(m_runner.get(), MainWindowOptions{/*useSettings=*/false});
        window.show();
        LocalModelsDock* dock = window.localModelsDock();
        QSignalSpy done(dock, &LocalModelsDock::scanFinished);
        dock->rescan();
        QVERIFY(done.wait(kTimeoutMs));
        qputenv("HOME", oldHome);
        for (const char* v : {"HF_HUB_CACHE", "OLLAMA_MODELS"}) qunsetenv(v);

        struct Case {
            QString name, file;
        };
        for (const Case& c : {Case{QStringLiteral("stories:260k"), QString::fromStdString("sha256-" + digest)},
                              Case{QStringLiteral("karpathy/stories260K"), QStringLiteral("model.safetensors")}}) {
            QTreeWidgetItem* row = rowNamed(dock->list(), c.name);
            QVERIFY2(row, qPrintable(c.name));
            QSignalSpy loaded(window.loader(), &LoadController::loadFinished);
            Q_EMIT dock->list()->itemActivated(row, 0);
            QVERIFY(loaded.wait(kTimeoutMs));
            QVERIFY2(loaded.last().at(1).toBool(), qPrintable(c.name));
            QCOMPARE(QFileInfo(window.document()->path()).fileName(), c.file);  // the path is the file's
            QCOMPARE(window.document()->displayName(), c.name);
            QVERIFY2(window.windowTitle().startsWith(c.name), qPrintable(window.windowTitle()));
            const QString summary = window.summaryView()->summaryHtml();
            QVERIFY2(summary.contains(QStringLiteral("<h3>%1</h3>").arg(c.name.toHtmlEscaped())), qPrintable(summary));
            QVERIFY2(summary.contains(window.document()->path().toHtmlEscaped()), qPrintable(summary));  // path line
            QString loadedSource;
            for (const LogEntry& e : window.logModel()->entries())
                if (e.message.startsWith(QStringLiteral("Loaded %1").arg(window.document()->path()))) loadedSource = e.source;
            QCOMPARE(loadedSource, c.name);
            QCOMPARE(window.recentFiles()->paths().value(0), window.document()->path());
            QCOMPARE(window.recentFiles()->name(window.document()->path()), c.name);
        }
        // Opened by path (File > Open, the command line), the same file goes by its file name again.
        QSignalSpy loaded(window.loader(), &LoadController::loadFinished);
        window.openPath(window.document()->path());
        QVERIFY(loaded.wait(kTimeoutMs));
        QCOMPARE(window.document()->displayName(), QStringLiteral("model.safetensors"));
        QCOMPARE(window.recentFiles()->name(window.document()->path()), QString());
    }

    // A file name that is not UTF-8 in an added folder, with settings on (the scan is cached as JSON): the GUI
    // used to abort in nlohmann's dump (type_error.316). Now the file is left out with a warning in the log.
    void nameNotUtf8_warnedNotListed_cacheWritten() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir folder;
        const fs::path file = fs::path(folder.path().toStdString()) / "a\xc0.gguf";
        fs::copy_file(gguf.toStdString(), file);
        const auto remove = qScopeGuard([&] { fs::remove(file); });  // QDir cannot name it to remove it
        LogModel log;
        LocalModelsDock dock(m_runner.get(), &log, /*useSettings=*/true);
        dock.setDefaultRootsEnabled(false);
        QSignalSpy done(&dock, &LocalModelsDock::scanFinished);
        dock.addFolder(folder.path());
        QVERIFY(done.wait(kTimeoutMs));
        QCOMPARE(done.last().at(0).toInt(), 0);
        bool warned = false;
        for (const LogEntry& e : log.entries())
            warned |= e.message.contains(folder.path()) && e.message.contains(QStringLiteral("not UTF-8"));
        QVERIFY(warned);
        dock.setFolders({});  // the folder goes away with this test
        dock.rescan();
        QVERIFY(done.wait(kTimeoutMs));
    }

    // Every JSON dump in ui/ replaces bytes that are not UTF-8 instead of throwing: a string from a file name or
    // a checkpoint can reach any of them, and an exception there ends the GUI.
    void everyUiJsonDump_replacesInvalidUtf8() {
        const QString source = qEnvironmentVariable("QS_SOURCE_DIR");
        QVERIFY2(!source.isEmpty(), "QS_SOURCE_DIR is not set (CTest sets it)");
        int dumps = 0;
        QDirIterator it(source + QStringLiteral("/ui"), {QStringLiteral("*.cpp"), QStringLiteral("*.h")}, QDir::Files,
                        QDirIterator::Subdirectories);
        const QRegularExpression call(QStringLiteral("\\.dump\\(([^;]*)"));
        while (it.hasNext()) {
            QFile f(it.next());
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QString text = QString::fromUtf8(f.readAll());
            for (auto m = call.globalMatch(text); m.hasNext();) {
                const auto match = m.next();
                ++dumps;
                QVERIFY2(match.captured(1).contains(QStringLiteral("error_handler_t::replace")),
                         qPrintable(f.fileName() + QStringLiteral(": ") + match.captured(0)));
            }
        }
        QVERIFY(dumps >= 3);  // the scan cache, the session file, the exported map
    }

    void settings_persistFoldersAndLastScan() {
        LogModel log;
        {
            LocalModelsDock dock(m_runner.get(), &log, /*useSettings=*/true);
            dock.setDefaultRootsEnabled(false);
            QSignalSpy done(&dock, &LocalModelsDock::scanFinished);
            dock.addFolder(m_folder.path());  // persists and rescans
            QVERIFY(done.wait(kTimeoutMs));
        }
        LocalModelsDock again(m_runner.get(), &log, true);
        QCOMPARE(again.folders(), QStringList{m_folder.path()});
        // The cached scan is on screen before any new scan.
        QCOMPARE(again.scan().models.size(), size_t(2));
        QCOMPARE(visibleNames(again.list()).size(), 2);
    }
};

QTEST_MAIN(TestLocalModelsDock)
#include "test_local_models_dock.moc"
