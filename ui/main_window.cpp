// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.h"

#include <algorithm>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QScrollArea>
#include <QSettings>
#include <QShowEvent>
#include <QStackedWidget>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QUndoStack>

#include "core/infer/tokenizer_loader.h"
#include "ui/chat/chat_models.h"
#include "ui/chat/chat_pane.h"
#include "ui/document.h"
#include "ui/empty_state_view.h"
#include "ui/eval/evaluations_view.h"
#include "ui/footprint/footprint_view.h"
#include "ui/histogram/histogram_view.h"
#include "ui/jobs/job.h"
#include "ui/jobs/job_runner.h"
#include "ui/jobs/job_status_widget.h"
#include "ui/layers/layer_overview_view.h"
#include "ui/load_controller.h"
#include "ui/log/log_dock.h"
#include "ui/log/log_model.h"
#include "ui/mapeditor/calibration_section.h"
#include "ui/models/local_models_dock.h"
#include "ui/mapeditor/map_editor_dock.h"
#include "ui/mapeditor/quantize_controller.h"
#include "ui/mix/mix_view.h"
#include "ui/outliers/outlier_map_view.h"
#include "ui/recent_files.h"
#include "ui/session_controller.h"
#include "ui/stats/screenshot_defaults.h"
#include "ui/summary/summary_view.h"
#include "ui/sweep/eval_setup.h"
#include "ui/sweep/sweep_view.h"
#include "ui/tree/model_tree_dock.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

constexpr int kLayoutVersion = 3;  // bump when docks are added/renamed so stale layouts are ignored
const QString kGeometryKey = QStringLiteral("mainWindow/geometry");
const QString kStateKey = QStringLiteral("mainWindow/state");
const QString kLastDirKey = QStringLiteral("lastDirectory");

// `content` inside a frameless scroll area that resizes it: the area's minimum is small, so a panel or the
// centre no longer sets the window's minimum size (the window works from about 960x600); below the
// content's own minimum it scrolls instead.
QScrollArea* scrolled(QWidget* content) {
    auto* area = new QScrollArea;
    area->setObjectName(content->objectName() + QStringLiteral("Scroll"));
    area->setFrameShape(QFrame::NoFrame);
    area->setWidgetResizable(true);
    area->setWidget(content);
    return area;
}

// The local paths among dropped URLs.
QStringList localPaths(const QMimeData* mime) {
    QStringList paths;
    if (!mime || !mime->hasUrls()) return paths;
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile()) paths << url.toLocalFile();
    return paths;
}

}  // namespace

MainWindow::MainWindow(JobRunner* runner, MainWindowOptions options, QWidget* parent)
    : QMainWindow(parent),
      m_options(options),
      m_runner(runner),
      m_document(new Document(this)),
      m_log(new LogModel(this)),
      m_loader(new LoadController(m_document, runner, m_log, this)) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("QuantScope"));
    setAcceptDrops(true);
    setDockOptions(AnimatedDocks | AllowTabbedDocks | AllowNestedDocks);
    createCentre();
    createDocks();
    createTabShortcuts();
    createActions();
    registerViews();
    resize(1280, 720);
    m_defaultState = saveState(kLayoutVersion);
    restoreLayout();

    connect(m_document, &Document::modelChanged, this, &MainWindow::onModelChanged);
    connect(m_document, &Document::modelChanged, this, &MainWindow::loadTokenizerForOutliers);
    connect(m_footprint, &FootprintView::sizeSummaryChanged, this, [this] {
        if (const qs::ModelInfo* info = m_document->info())
            m_modelStatus->setText(tr("%1 parameters · %2").arg(formatCount(info->parameters), m_footprint->sizeSummary()));
    });
    connect(m_loader, &LoadController::loadFinished, this, [this](const QString& path, bool ok) {
        const bool fromModelsList = !m_treeAfterLoad.isEmpty() && path == m_treeAfterLoad;
        if (fromModelsList) m_treeAfterLoad.clear();
        if (!ok) return;
        if (fromModelsList) m_treeDock->raise();
        statusBar()->clearMessage();  // an earlier "Could not open …" is not about this model
        statusBar()->setToolTip(QString());
        m_recent->add(path, m_document->model()->name);
        // The file dialogs start where the last model came from, however it was opened.
        if (m_options.useSettings) {
            const QFileInfo fi(path);
            QSettings().setValue(kLastDirKey, fi.isDir() ? fi.absoluteFilePath() : fi.absolutePath());
        }
    });
    connect(m_document, &Document::quantCacheReused, this, [this](const QString& job, int fromCache, int quantizedHere) {
        m_log->info(job, tr("Quantized tensors reused: %1").arg(formatCacheReuse(fromCache, quantizedHere)));
    });
    connect(m_log, &LogModel::entryAdded, this, [this](const LogEntry& e) {
        if (e.severity != Severity::Error) return;
        m_logDock->show();
        m_logDock->raise();
        showStatusError(e.message);
    });
    onModelChanged();
}

MainWindow::~MainWindow() = default;

void MainWindow::createCentre() {
    m_empty = new EmptyStateView;
    // The stack's minimum is its largest page's: keep the empty state's from limiting the loaded views, which
    // get narrow when the map editor is widened beside them.
    m_empty->setMinimumSize(200, 150);
    m_footprint = new FootprintView(m_document);
    m_tabs = new QTabWidget;
    m_tabs->setObjectName(QStringLiteral("centralTabs"));
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(m_footprint, tr("Footprint"));
    m_tabs->setTabToolTip(0, tr("Bytes by tensor role, before and after the quantization map"));
    m_histogram = new HistogramView(m_document, m_runner);
    m_tabs->setTabToolTip(m_tabs->addTab(m_histogram, tr("H&istogram")),
                          tr("The selected tensor's weights, dequantized under the map, and the error (Alt+I)"));
    m_layers = new LayerOverviewView(m_document, m_runner);
    m_tabs->setTabToolTip(m_tabs->addTab(m_layers, tr("&Layers")),
                          tr("Error, SQNR, kurtosis and outliers per layer and role under the map (Alt+L)"));
    m_outliers = new OutlierMapView(m_document, m_runner);
    m_tabs->setTabToolTip(m_tabs->addTab(m_outliers, tr("O&utliers")),
                          tr("|w|/σ heatmap of the selected matrix and its outlier columns (Alt+U)"));
    // Like the empty state below: the tabs' minimum is their widest page's, which would stop the map editor
    // from being widened beside them (the pages then scroll or squeeze, they are not the focus then).
    m_tabs->setMinimumWidth(260);
    m_centre = new QStackedWidget;
    m_centre->addWidget(m_empty);
    m_centre->addWidget(m_tabs);
    setCentralWidget(scrolled(m_centre));
    connect(m_empty, &EmptyStateView::openFileRequested, this, &MainWindow::chooseFile);
    connect(m_empty, &EmptyStateView::openFolderRequested, this, &MainWindow::chooseFolder);
    connect(m_empty, &EmptyStateView::localModelsRequested, this, [this] { m_views.show(QStringLiteral("models")); });
}

void MainWindow::createTabShortcuts() {
    // Ctrl+1 .. Ctrl+7 pick the central tabs from anywhere in the window (beside the Alt mnemonics).
    for (int i = 0; i < m_tabs->count(); ++i) {
        auto* go = new QAction(this);
        go->setObjectName(QStringLiteral("showTab%1").arg(i + 1));
        go->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
        connect(go, &QAction::triggered, this, [this, i] {
            if (m_centre->currentWidget() == m_tabs) m_tabs->setCurrentIndex(i);
        });
        addAction(go);
        m_tabs->setTabToolTip(i, m_tabs->tabToolTip(i) + tr(" — Ctrl+%1").arg(i + 1));
    }
}

void MainWindow::createDocks() {
    createSideDocks();
    createBottomDocks();
    createAnalysisTabs();
    for (QDockWidget* dock : {static_cast<QDockWidget*>(m_treeDock), static_cast<QDockWidget*>(m_mapDock),
                              static_cast<QDockWidget*>(m_logDock), m_chatDock}) {
        QWidget* content = dock->widget();
        dock->setWidget(scrolled(content));
    }
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    resizeDocks({m_treeDock, m_summaryDock}, {400, 250}, Qt::Horizontal);
    resizeDocks({m_logDock}, {140}, Qt::Vertical);

    m_jobStatus = new JobStatusWidget(m_runner, this);
    m_modelStatus = new QLabel;
    m_modelStatus->setToolTip(tr("Parameters (a tied pair counted once) and the model size as stored → after the "
                                 "quantization map"));
    statusBar()->addPermanentWidget(m_jobStatus);
    statusBar()->addPermanentWidget(m_modelStatus);
}

// Left: the model tree and the local models (tabbed); right: the summary and the map editor (tabbed).
void MainWindow::createSideDocks() {
    m_treeDock = new ModelTreeDock(m_document, this);
    addDockWidget(Qt::LeftDockWidgetArea, m_treeDock);
    m_modelsDock = new LocalModelsDock(m_runner, m_log, m_options.useSettings, this);
    addDockWidget(Qt::LeftDockWidgetArea, m_modelsDock);
    tabifyDockWidget(m_treeDock, m_modelsDock);
    m_treeDock->raise();
    // A model opened from the list is shown: its Model tree comes to the front when it has loaded.
    connect(m_modelsDock, &LocalModelsDock::openRequested, this, [this](const QString& path, const QString& name) {
        m_treeAfterLoad = QFileInfo(path).absoluteFilePath();  // as LoadController reports it
        openPath(path, name);
    });
    // The first time the panel is shown (its tab clicked, or the empty state's button), it searches the machine.
    connect(m_modelsDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible && m_options.useSettings && !m_modelsSearched) {
            m_modelsSearched = true;
            m_modelsDock->rescan();
        }
    });

    m_summary = new SummaryView(m_document);
    m_summaryDock = new QDockWidget(tr("Summary"), this);
    m_summaryDock->setObjectName(QStringLiteral("summaryDock"));
    m_summaryDock->setWidget(m_summary);
    addDockWidget(Qt::RightDockWidgetArea, m_summaryDock);

    m_mapDock = new MapEditorDock(m_document, m_log, this);
    addDockWidget(Qt::RightDockWidgetArea, m_mapDock);
    tabifyDockWidget(m_summaryDock, m_mapDock);
    m_summaryDock->raise();
}

// Bottom: the log and the chat (tabbed).
void MainWindow::createBottomDocks() {
    m_logDock = new LogDock(m_log, this);
    addDockWidget(Qt::BottomDockWidgetArea, m_logDock);
    m_chat = new ChatPane(m_document, m_runner, m_options.useSettings);
    m_chatDock = new QDockWidget(tr("Chat"), this);
    m_chatDock->setObjectName(QStringLiteral("chatDock"));
    m_chatDock->setWidget(m_chat);
    addDockWidget(Qt::BottomDockWidgetArea, m_chatDock);
    tabifyDockWidget(m_logDock, m_chatDock);
    m_logDock->raise();
    connect(m_chatDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible)
            QTimer::singleShot(0, this, [this] { fitChatDock(0); });  // after the tab switch's layout
    });
}

// The Evaluations, Sweep and Sensitivity tabs and the map editor's calibration section: they share the chat's
// model builds, so they come after the chat.
void MainWindow::createAnalysisTabs() {
    // A central tab, created here because it shares the chat's model builds (tokenizer, stored and quantized
    // weights).
    m_evaluations = new EvaluationsView(m_document, m_runner, m_chat->models());
    m_tabs->setTabToolTip(m_tabs->addTab(m_evaluations, tr("Evaluatio&ns")),
                          tr("Perplexity, KLD and top-1 of each map on a chosen text, side by side (Alt+N)"));
    m_sweep = new SweepView(m_document, m_runner, m_chat->models());
    m_tabs->setTabToolTip(m_tabs->addTab(m_sweep, tr("S&weep")),
                          tr("Size against error of every combination of schemes over groups, and the Pareto "
                             "frontier; click a point to apply its map (Alt+W)"));
    m_mix = new MixView(m_document, m_runner, m_chat->models());
    m_tabs->setTabToolTip(m_tabs->addTab(m_mix, tr("Sensitivit&y")),
                          tr("Sensitivity scan per group, auto-mix to a size budget, and the embedding-vs-head "
                             "study (Alt+Y)"));
    connect(m_mix, &MixView::autoMixVerified, m_sweep, &SweepView::setAutoMixPoint);
    connect(m_evaluations, &EvaluationsView::evaluationFailed, this,
            [this](const QString& message) { m_log->error(tr("Evaluation"), message); });
    connect(m_sweep, &SweepView::logMessage, this, [this](bool error, const QString& title, const QString& message) {
        if (error)
            m_log->error(title, message);
        else
            m_log->warning(title, message);
    });
    connect(m_mix, &MixView::jobFailed, this, [this](const QString& title, const QString& message) {
        m_log->error(title, message);
    });
    // The map editor's Calibration section reuses the chat's tokenizer and unquantized weights when loaded.
    m_calibration = new CalibrationSection(m_document, m_runner, m_log, m_chat->models());
    m_mapDock->setCalibrationSection(m_calibration);
    connect(m_mix, &MixView::jobWarning, this, [this](const QString& title, const QString& message) {
        m_log->warning(title, message);
    });
    // The outlier map names the rows of the embedding and the head by their tokens: the chat's tokenizer.
    connect(m_chat->models(), &ChatModels::availabilityChanged, this, [this] {
        m_outliers->setTokenizer(m_chat->models()->tokenizer());
        if (m_chatDock->isVisible())
            QTimer::singleShot(0, this, [this] { fitChatDock(0); });  // its page changed
    });
}

void MainWindow::createActions() {
    createFileMenu();
    createEditMenu();
    createMapMenu();
    createToolBar();
    createViewMenu();
    createHelpMenu();
}

// File: open, open folder, recent, the session's items, quit.
void MainWindow::createFileMenu() {
    QStyle* st = style();
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->setToolTipsVisible(true);
    QAction* open = m_openAction = file->addAction(st->standardIcon(QStyle::SP_DialogOpenButton), tr("&Open…"), this,
                                    &MainWindow::chooseFile);
    open->setShortcut(QKeySequence::Open);
    open->setToolTip(tr("Open a checkpoint file: safetensors, GGUF, llama2.c .bin, HDF5 (Ctrl+O)"));
    QAction* openFolder = m_openFolderAction = file->addAction(st->standardIcon(QStyle::SP_DirOpenIcon), tr("Open &Folder…"), this,
                                          &MainWindow::chooseFolder);
    openFolder->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
    openFolder->setToolTip(tr("Open a folder holding a checkpoint, its config.json and tokenizer (Ctrl+Shift+O)"));
    QMenu* recentMenu = file->addMenu(tr("Open &Recent"));
    m_recent = new RecentFiles(recentMenu, m_options.useSettings, this);
    connect(m_recent, &RecentFiles::openRequested, this, &MainWindow::openPath);
    file->addSeparator();
    m_session = new SessionController(m_document, m_loader, m_log, m_tabs, this, m_options.useSettings, this);
    m_session->setCalibrationSection(m_calibration);
    m_session->setSweepView(m_sweep);
    m_session->populateMenu(file);
    connect(m_session, &SessionController::modifiedChanged, this, &QWidget::setWindowModified);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence(tr("Ctrl+Q")));
    quit->setMenuRole(QAction::QuitRole);
}

// Cancel (Esc, window-wide), and Edit: undo/redo of map edits.
void MainWindow::createEditMenu() {
    QStyle* st = style();
    m_cancelAction = new QAction(st->standardIcon(QStyle::SP_BrowserStop), tr("&Cancel Job"), this);
    m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
    m_cancelAction->setToolTip(tr("Cancel the running job (Esc)"));
    m_cancelAction->setEnabled(false);
    connect(m_cancelAction, &QAction::triggered, m_jobStatus, &JobStatusWidget::cancelCurrent);
    connect(m_runner, &JobRunner::activeCountChanged, m_cancelAction, [this](int n) { m_cancelAction->setEnabled(n > 0); });
    addAction(m_cancelAction);  // Esc works whichever widget has focus

    // Undo/redo of map edits, from anywhere in the window (an open cell editor keeps its own Ctrl+Z).
    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->setToolTipsVisible(true);
    m_undoAction = m_document->undoStack()->createUndoAction(this, tr("&Undo"));
    m_undoAction->setShortcut(QKeySequence::Undo);
    m_undoAction->setIcon(st->standardIcon(QStyle::SP_ArrowBack));
    m_undoAction->setToolTip(tr("Undo the last quantization-map edit (Ctrl+Z)"));
    m_redoAction = m_document->undoStack()->createRedoAction(this, tr("&Redo"));
    m_redoAction->setShortcuts({QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), QKeySequence(Qt::CTRL | Qt::Key_Y)});
    m_redoAction->setIcon(st->standardIcon(QStyle::SP_ArrowForward));
    m_redoAction->setToolTip(tr("Redo the map edit just undone (Ctrl+Shift+Z or Ctrl+Y)"));
    edit->addAction(m_undoAction);
    edit->addAction(m_redoAction);
    addAction(m_undoAction);
    addAction(m_redoAction);
}

// Map: the editor's items, Quantize, and the Sensitivity tab's pages.
void MainWindow::createMapMenu() {
    m_quantize = new QuantizeController(m_document, m_runner, m_log, this);
    if (m_quantize->action()->icon().isNull())
        m_quantize->action()->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    connect(m_quantize, &QuantizeController::measuredTextChanged, m_footprint, &FootprintView::setMeasuredText);
    QMenu* mapMenu = menuBar()->addMenu(tr("&Map"));
    mapMenu->setToolTipsVisible(true);
    m_mapDock->populateMenu(mapMenu);
    mapMenu->addSeparator();
    mapMenu->addAction(m_quantize->action());
    mapMenu->addSeparator();
    mapMenu->addAction(tr("Sensitivity Scan"), this, [this] {
        m_tabs->setCurrentWidget(m_mix);
        m_mix->showPage(MixView::Page::Sensitivity);
        m_mix->startScan();
    });
    mapMenu->addAction(tr("Auto-mix to a Budget…"), this, [this] {
        m_tabs->setCurrentWidget(m_mix);
        m_mix->showPage(MixView::Page::AutoMix);
    });
    mapMenu->addAction(tr("Embedding-vs-Head Study"), this, [this] {
        m_tabs->setCurrentWidget(m_mix);
        m_mix->showPage(MixView::Page::EmbedHead);
        m_mix->startStudy();
    });
}

void MainWindow::createToolBar() {
    m_toolBar = addToolBar(tr("Main toolbar"));
    QToolBar* toolbar = m_toolBar;
    toolbar->setObjectName(QStringLiteral("mainToolBar"));
    toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toolbar->addAction(m_openAction);
    toolbar->addAction(m_openFolderAction);
    toolbar->addSeparator();
    // Icon-only: the actions' text follows the undo stack ("Undo Preset: nf4 everywhere") and would be long.
    for (QAction* a : {m_undoAction, m_redoAction}) {
        auto* button = new QToolButton;
        button->setDefaultAction(a);
        button->setToolButtonStyle(Qt::ToolButtonIconOnly);
        toolbar->addWidget(button);
    }
    toolbar->addSeparator();
    toolbar->addAction(m_quantize->action());
    toolbar->addAction(m_cancelAction);
}

// View: show/hide each panel and the toolbar, reset the layout.
void MainWindow::createViewMenu() {
    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->setToolTipsVisible(true);
    for (QDockWidget* dock : {static_cast<QDockWidget*>(m_treeDock), m_summaryDock,
                              static_cast<QDockWidget*>(m_mapDock), static_cast<QDockWidget*>(m_logDock), m_chatDock}) {
        QAction* toggle = dock->toggleViewAction();
        toggle->setToolTip(tr("Show or hide the %1 panel").arg(dock->windowTitle()));
        view->addAction(toggle);
    }
    view->addAction(m_toolBar->toggleViewAction());
    view->addSeparator();
    view->addAction(tr("&Reset Layout"), this, &MainWindow::resetLayout)
        ->setToolTip(tr("Put every panel back where it started"));
}

void MainWindow::createHelpMenu() {
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->setToolTipsVisible(true);
    help->addAction(tr("&About QuantScope"), this, [this] {
        QMessageBox::about(this, tr("About QuantScope"),
                           tr("<b>QuantScope</b><p>Explore LLM weight quantization: tensors, roles, ties and "
                              "footprints of safetensors, GGUF, llama2.c and HDF5 checkpoints.</p>"
                              "<p>License: GPL-3.0-or-later</p>"));
    });
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::registerMixViews() {
    auto page = [this](MixView::Page p) {
        return [this, p] {
            m_tabs->setCurrentWidget(m_mix);
            m_mix->showPage(p);
        };
    };
    m_views.add(
        QStringLiteral("sensitivity"), tr("the sensitivity scan: damage per MiB saved per group (central tab)"),
        page(MixView::Page::Sensitivity), [this] {
            // A weight-error scan with q2_K from the map as it is, unless a result is there already.
            if (m_mix->scanResult() || m_mix->isRunning()) return;
            m_mix->evalSetup()->setMeasure(qs::SweepMeasure::WeightError);
            m_mix->startScan();
        });
    m_views.add(
        QStringLiteral("automix"), tr("auto-mix to a size budget, predicted against measured (central tab)"),
        page(MixView::Page::AutoMix), [this] {
            // 8 bpw between q4_0 and q8_0: a budget even tiny models (whose small rows fall back) can meet.
            if (m_mix->autoMixResult() || m_mix->isRunning()) return;
            m_mix->evalSetup()->setMeasure(qs::SweepMeasure::WeightError);
            m_mix->setBudget(QStringLiteral("8bpw"));
            m_mix->setCandidates(QStringLiteral("q4_0,q8_0"));
            m_mix->startAutoMix();
        });
    m_views.add(
        QStringLiteral("embed-head"), tr("the embedding-vs-head study (central tab; with --text)"),
        page(MixView::Page::EmbedHead), [this] {
            if (m_mix->studyResult() || m_mix->isRunning() || m_evaluations->textPath().isEmpty()) return;
            m_mix->evalSetup()->setTextPath(m_evaluations->textPath());
            m_mix->evalSetup()->setMeasure(qs::SweepMeasure::Ppl);
            m_mix->startStudy();
        });
}

namespace {
std::function<void()> raiseDock(QDockWidget* dock) {
    return [dock] {
        dock->show();
        dock->raise();
    };
}
}  // namespace

// The views --view and --screenshot know, in the order --help lists them.
void MainWindow::registerViews() {
    registerModelViews();
    registerMapViews();
    registerEvaluationViews();
    registerMixViews();
    registerBottomViews();
}

// The model tree, the summary and the local models panel.
void MainWindow::registerModelViews() {
    m_views.add(QStringLiteral("tree"), tr("the model tree: layers > tensors, roles, ties"), [this] {
        m_treeDock->show();
        m_treeDock->raise();
        // Wide enough for name, role, shape, size, parameters, dtype and the tie column.
        if (m_treeDock->width() < width() * 2 / 5)
            resizeDocks({m_treeDock, m_summaryDock}, {width() / 2, width() / 5}, Qt::Horizontal);
    });
    m_views.add(QStringLiteral("summary"), tr("the model summary panel"), raiseDock(m_summaryDock));
    // --screenshot runs without settings: the list is scanned for the shot, with the folder above the open
    // model's (where its neighbours are).
    m_views.add(QStringLiteral("models"), tr("the local models panel (HF cache, Ollama, LM Studio, added folders)"),
                [this] {
                    m_modelsDock->show();
                    m_modelsDock->raise();
                    // Room for names like "org/model/model-Q4_K_M.gguf" and the size.
                    if (m_modelsDock->width() < width() * 2 / 5)
                        resizeDocks({m_modelsDock, m_summaryDock}, {width() * 2 / 5, width() / 5}, Qt::Horizontal);
                }, [this] {
                    if (!m_options.useSettings && !m_document->path().isEmpty()) {
                        const QString folder = QFileInfo(m_document->path()).absolutePath();
                        m_modelsDock->setFolders({QFileInfo(folder).absolutePath()});
                    }
                    m_modelsDock->rescan();
                });
}

// The footprint, the map editor, the histogram, the layer overview and the outlier map.
void MainWindow::registerMapViews() {
    m_views.add(QStringLiteral("footprint"), tr("the footprint by role, before and after the map (central tab)"), [this] {
        m_tabs->setCurrentWidget(m_footprint);
        // Give the chart and its table room: the side panels at moderate widths.
        if (m_centre->width() < width() * 2 / 5)
            resizeDocks({m_treeDock, m_summaryDock}, {width() / 3, width() / 5}, Qt::Horizontal);
    }, [this] { applyExampleMapIfEmpty(m_document); });
    m_views.add(QStringLiteral("map"), tr("the quantization-map editor (rules, warnings, resolved tensors)"), [this] {
        m_mapDock->show();
        m_mapDock->raise();
        // The rule and resolved tables need room: widen the right dock area, taking it from the tree.
        const int wanted = std::max(width() * 5 / 8, 640);
        if (m_mapDock->width() < wanted)
            resizeDocks({m_treeDock, m_mapDock}, {std::max(200, width() - wanted - 280), wanted}, Qt::Horizontal);
    }, [this] { applyExampleMapIfEmpty(m_document); });
    m_views.add(
        QStringLiteral("histogram"), tr("the selected tensor's histogram, quantized overlay and error (central tab)"),
        [this] { m_tabs->setCurrentWidget(m_histogram); },
        [this] {
            applyExampleMapIfEmpty(m_document);
            selectDefaultTensorIfNone(m_document);
            if (m_histogram->compareScheme().isEmpty()) m_histogram->setCompareScheme(QStringLiteral("nf4"));
        });
    m_views.add(
        QStringLiteral("layers"), tr("the layer overview heat table (central tab)"),
        [this] { m_tabs->setCurrentWidget(m_layers); }, [this] { applyExampleMapIfEmpty(m_document); });
    m_views.add(
        QStringLiteral("outliers"), tr("the outlier map of the selected matrix (central tab)"),
        [this] { m_tabs->setCurrentWidget(m_outliers); }, [this] { selectDefaultTensorIfNone(m_document); });
}

// The evaluations table and the sweep plot.
void MainWindow::registerEvaluationViews() {
    m_views.add(
        QStringLiteral("evaluations"), tr("perplexity / KLD / top-1 of each evaluated map (central tab)"),
        [this] { m_tabs->setCurrentWidget(m_evaluations); },
        [this] {
            // With a text (--text): the model as stored, then the (example) map, as two rows side by side.
            if (m_evaluations->textPath().isEmpty()) return;
            applyExampleMapIfEmpty(m_document);
            const qs::QuantMap map = m_document->quantMap();
            m_document->setQuantMap({}, tr("Screenshot: the model as stored"));
            connect(
                m_evaluations, &EvaluationsView::evaluationFinished, this,
                [this, map] {
                    m_document->setQuantMap(map, tr("Screenshot example map"));
                    m_evaluations->evaluateCurrentMap();
                },
                Qt::SingleShotConnection);
            m_evaluations->evaluateCurrentMap();
        });
    m_views.add(
        QStringLiteral("sweep"), tr("size against weight error / ppl / KLD of a scheme sweep (central tab)"),
        [this] { m_tabs->setCurrentWidget(m_sweep); },
        [this] {
            // A weight-error sweep of the body and the embedding over the K-quants, unless one ran already.
            if (!m_sweep->points().empty() || m_sweep->isRunning()) return;
            m_sweep->setGroups({QStringLiteral("body"), QStringLiteral("embedding")});
            m_sweep->setMeasure(qs::SweepMeasure::WeightError);
            m_sweep->start();
        });
}

// The log and the chat.
void MainWindow::registerBottomViews() {
    m_views.add(QStringLiteral("log"), tr("the log and issues panel"), raiseDock(m_logDock));
    m_views.add(
        QStringLiteral("chat"), tr("the chat pane (A/B: original vs quantized)"),
        [this] {
            m_chatDock->show();
            m_chatDock->raise();
            resizeDocks({m_chatDock}, {height() * 11 / 20}, Qt::Vertical);  // room for the transcript
        },
        [this] {
            // The screenshot is about the conversation: give the chat the whole middle column.
            centralWidget()->hide();
            m_summaryDock->hide();
            m_mapDock->hide();
            // After the layout has taken the hidden widgets into account.
            QTimer::singleShot(0, this, [this] {
                resizeDocks({m_treeDock, m_chatDock}, {width() * 3 / 10, width() * 7 / 10}, Qt::Horizontal);
            });
            applyExampleMapIfEmpty(m_document);
            m_chat->runScreenshotPrompt();
        });
}

void MainWindow::restoreLayout() {
    if (!m_options.useSettings) return;
    QSettings settings;
    restoreGeometry(settings.value(kGeometryKey).toByteArray());
    m_layoutRestored = restoreState(settings.value(kStateKey).toByteArray(), kLayoutVersion);
}

void MainWindow::showEvent(QShowEvent* event) {
    QMainWindow::showEvent(event);
    if (m_shownOnce) return;
    m_shownOnce = true;
    // Without a saved layout, the side panels take shares of the window the size it opens at (the widths set
    // in the constructor are for 1280 px: at 960 px they left the centre under 300 px).
    if (!m_layoutRestored)
        resizeDocks({m_treeDock, m_summaryDock}, {width() * 24 / 100, width() * 24 / 100}, Qt::Horizontal);
}

void MainWindow::fitChatDock(int attempt) {
    // The bottom panels are short by default (the log needs little); raising the chat gives it the height its
    // pane needs (two transcript lines were all it had at 1280x720), up to half the window. resizeDocks sizes
    // the dock's place including the tab bar of tabbed docks, so a second pass adds what is still missing to
    // the first request.
    auto* area = qobject_cast<QScrollArea*>(m_chatDock->widget());
    if (!area || !m_chatDock->isVisible() || m_chatDock->isFloating() || attempt > 1) return;
    const int deficit = m_chat->minimumSizeHint().height() - area->viewport()->height();
    if (deficit <= 0) return;
    const int base = attempt == 0 ? m_chatDock->height() : m_chatDockRequest;
    m_chatDockRequest = std::min(base + deficit, height() / 2);
    resizeDocks({m_chatDock}, {m_chatDockRequest}, Qt::Vertical);
    QTimer::singleShot(0, this, [this, attempt] { fitChatDock(attempt + 1); });
}

void MainWindow::saveLayout() const {
    if (!m_options.useSettings) return;
    QSettings settings;
    settings.setValue(kGeometryKey, saveGeometry());
    settings.setValue(kStateKey, saveState(kLayoutVersion));
}

void MainWindow::resetLayout() {
    restoreState(m_defaultState, kLayoutVersion);
    for (QDockWidget* dock : findChildren<QDockWidget*>()) dock->show();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (!m_session->maybeSave()) return event->ignore();
    m_session->rememberCurrent();
    saveLayout();
    m_runner->cancelAll();
    event->accept();
}

bool MainWindow::openPath(const QString& path, const QString& name) {
    if (m_document->hasModel() && !m_session->maybeSave()) return false;
    // A session file (what Save Session writes) given on the command line, dropped or picked from Recent
    // Files opens as a session, as File > Open Session does: it is JSON, and would otherwise be read as a
    // sharded safetensors index.
    if (path.endsWith(QLatin1String(".qsession.json"), Qt::CaseInsensitive)) return m_session->openSession(path);
    m_loader->open(path, name);
    return true;
}

bool MainWindow::showsEmptyState() const { return m_centre->currentWidget() == m_empty; }

void MainWindow::onModelChanged() {
    const qs::ModelInfo* info = m_document->info();
    m_centre->setCurrentWidget(info ? static_cast<QWidget*>(m_tabs) : m_empty);
    if (!info) {
        setWindowTitle(tr("QuantScope[*]"));
        m_modelStatus->setText(tr("No model"));
        return;
    }
    setWindowTitle(tr("%1[*] — QuantScope").arg(m_document->displayName()));
    m_modelStatus->setText(tr("%1 parameters · %2").arg(formatCount(info->parameters), m_footprint->sizeSummary()));
}

void MainWindow::loadTokenizerForOutliers() {
    // A runnable model's tokenizer comes from the chat (ChatModels, wired in createDocks); the chat loads
    // none for a model it cannot run, whose embedding and head rows are tokens all the same.
    std::shared_ptr<const LoadedModel> model = m_document->model();
    if (!model || model->info.runnable) return;
    using TokenizerPtr = std::shared_ptr<const qs::Tokenizer>;
    Job* job = m_runner->start<TokenizerPtr>(tr("Load tokenizer"),
                                             [model](const qs::ProgressFn&) -> qs::Result<TokenizerPtr> {
                                                 auto t = qs::loadTokenizerFor(*model->checkpoint);
                                                 if (!t) return t.error();
                                                 return TokenizerPtr(std::move(t.value()));
                                             });
    // Without one the outlier map shows token ids; the chat says why there is none.
    connect(job, &Job::finished, this, [this, job, model](Job::State state) {
        if (state == Job::State::Succeeded && m_document->model() == model)
            m_outliers->setTokenizer(*job->result<TokenizerPtr>());
    });
}

void MainWindow::showStatusError(const QString& message) {
    QStatusBar* bar = statusBar();
    int room = bar->width();
    for (QWidget* w : bar->findChildren<QWidget*>(Qt::FindDirectChildrenOnly))
        if (w->isVisible() && w->geometry().left() > 0) room = std::min(room, w->geometry().left());
    room -= 16;  // the message's margins
    const QString oneLine = QString(message).replace(QLatin1Char('\n'), QLatin1Char(' '));
    bar->showMessage(bar->fontMetrics().elidedText(oneLine, Qt::ElideMiddle, std::max(room, 0)), 10000);
    bar->setToolTip(message);
}

void MainWindow::chooseFile() {
    QSettings settings;
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open Checkpoint"), settings.value(kLastDirKey).toString(),
        tr("Checkpoints (*.safetensors *.gguf *.bin *.h5 *.hdf5 *.keras *.json);;All files (*)"));
    if (path.isEmpty()) return;
    settings.setValue(kLastDirKey, QFileInfo(path).absolutePath());
    openPath(path);
}

void MainWindow::chooseFolder() {
    QSettings settings;
    const QString path = QFileDialog::getExistingDirectory(this, tr("Open Checkpoint Folder"),
                                                           settings.value(kLastDirKey).toString());
    if (path.isEmpty()) return;
    settings.setValue(kLastDirKey, path);
    openPath(path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (localPaths(event->mimeData()).isEmpty()) return event->ignore();
    event->acceptProposedAction();
    m_empty->setDropHighlight(true);
}

void MainWindow::dragMoveEvent(QDragMoveEvent* event) {
    if (localPaths(event->mimeData()).isEmpty()) return event->ignore();
    event->acceptProposedAction();
}

void MainWindow::dragLeaveEvent(QDragLeaveEvent* event) {
    m_empty->setDropHighlight(false);
    event->accept();
}

void MainWindow::dropEvent(QDropEvent* event) {
    m_empty->setDropHighlight(false);
    const QStringList paths = localPaths(event->mimeData());
    if (paths.isEmpty()) return event->ignore();
    event->acceptProposedAction();
    if (paths.size() > 1)
        m_log->info(tr("drop"), tr("%1 items dropped; opening the first, %2").arg(paths.size()).arg(paths.first()));
    openPath(paths.first());
}

}  // namespace qsui
