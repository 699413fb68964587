// SPDX-License-Identifier: GPL-3.0-or-later
// The Local models panel, offscreen: a scan of an added folder (holding links to the real stories260K files)
// runs as a job and lists the checkpoints under their folder; the filter hides what does not match; activating
// a row opens that model in the main window; the empty state's button brings the panel to the front; with
// settings on, the folder list and the last scan persist.
#include <QApplication>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include <filesystem>
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

using namespace qsui;
namespace fs = std::filesystem;

namespace {
constexpr int kTimeoutMs = 15000;

// Visible model rows (children of the group items) and their names.
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
