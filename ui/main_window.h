// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow: wires the document, the views, the docks, the actions and the loader together; it holds no
// logic of its own beyond that (views live one per file, loading in LoadController, jobs in JobRunner).
//
// Opening: File > Open / Open Folder / Open Recent, a file or folder dropped anywhere on the window, or
// openPath() (command line). Every load runs on the JobRunner; Esc cancels the running job.
// Edit > Undo/Redo (Ctrl+Z; Ctrl+Shift+Z or Ctrl+Y) act on the document's map edits from anywhere in the
// window; the Map menu holds the editor's actions, the presets and Quantize (also on the toolbar).
// Layout: docks "Model" (tree), "Summary" and "Quantization map" (tabbed together), "Log & issues" (tabified
// with "Chat") around central tabs (Footprint, Histogram, Layers, Outliers, Evaluations), with an empty state
// in the centre until a model is loaded. Geometry and dock layout persist in QSettings when
// MainWindowOptions::useSettings. UI thread only.
#pragma once

#include <QMainWindow>

#include "ui/view_registry.h"

class QAction;
class QStackedWidget;
class QTabWidget;
class QToolBar;
class QLabel;

namespace qsui {

class CalibrationSection;
class ChatPane;
class Document;
class EmptyStateView;
class EvaluationsView;
class SweepView;
class MixView;
class FootprintView;
class HistogramView;
class LayerOverviewView;
class OutlierMapView;
class JobRunner;
class JobStatusWidget;
class LoadController;
class LocalModelsDock;
class LogDock;
class LogModel;
class MapEditorDock;
class QuantizeController;
class ModelTreeDock;
class RecentFiles;
class SessionController;
class SummaryView;

struct MainWindowOptions {
    // Restore and save geometry, dock layout and recent files in QSettings. Off for --screenshot runs, so
    // they are reproducible and leave the user's settings alone.
    bool useSettings = true;
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // `runner` (and the task arena it uses) must outlive the window.
    explicit MainWindow(JobRunner* runner, MainWindowOptions options = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens a model; asks Save / Discard / Cancel first when the map has unsaved edits (see SessionController).
    // Opens a checkpoint; `name` is what the user calls it (the Local models list's name), empty for the file
    // or folder name (LoadController::open). A *.qsession.json opens as a session (SessionController::openSession:
    // its model, map and view), whether it comes from the command line, a drop or Recent Files.
    // False when nothing was opened: Cancel in the Save prompt, or a session that could not be read (the log
    // says why). True when a load started (loader()->isLoading(); loadFinished follows) or a session was applied
    // without one (no model path, or its model already loaded).
    bool openPath(const QString& path, const QString& name = {});

    Document* document() const { return m_document; }
    LogModel* logModel() const { return m_log; }
    LoadController* loader() const { return m_loader; }
    JobRunner* jobRunner() const { return m_runner; }
    ModelTreeDock* treeDock() const { return m_treeDock; }
    LocalModelsDock* localModelsDock() const { return m_modelsDock; }
    SummaryView* summaryView() const { return m_summary; }
    FootprintView* footprintView() const { return m_footprint; }
    MapEditorDock* mapEditor() const { return m_mapDock; }
    QuantizeController* quantizeController() const { return m_quantize; }
    QAction* undoAction() const { return m_undoAction; }
    QAction* redoAction() const { return m_redoAction; }
    HistogramView* histogramView() const { return m_histogram; }
    LayerOverviewView* layerOverviewView() const { return m_layers; }
    OutlierMapView* outlierMapView() const { return m_outliers; }
    ChatPane* chatPane() const { return m_chat; }
    CalibrationSection* calibrationSection() const { return m_calibration; }
    EvaluationsView* evaluationsView() const { return m_evaluations; }
    SweepView* sweepView() const { return m_sweep; }
    MixView* mixView() const { return m_mix; }
    QDockWidget* chatDock() const { return m_chatDock; }
    LogDock* logDock() const { return m_logDock; }
    JobStatusWidget* jobStatus() const { return m_jobStatus; }
    RecentFiles* recentFiles() const { return m_recent; }
    SessionController* session() const { return m_session; }
    EmptyStateView* emptyState() const { return m_empty; }
    bool showsEmptyState() const;
    const ViewRegistry& views() const { return m_views; }
    ViewRegistry& views() { return m_views; }

protected:
    void closeEvent(QCloseEvent* event) override;
    void showEvent(QShowEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dragMoveEvent(QDragMoveEvent* event) override;
    void dragLeaveEvent(QDragLeaveEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createCentre();
    void createDocks();
    void createSideDocks();
    void createBottomDocks();
    void createAnalysisTabs();
    void createTabShortcuts();
    void createActions();
    void createFileMenu();
    void createEditMenu();
    void createMapMenu();
    void createToolBar();
    void createViewMenu();
    void createHelpMenu();
    void registerViews();
    void registerModelViews();
    void registerMapViews();
    void registerEvaluationViews();
    void registerMixViews();  // the Sensitivity tab's pages
    void registerBottomViews();
    void restoreLayout();
    void saveLayout() const;
    void resetLayout();
    void fitChatDock(int attempt);
    void onModelChanged();
    void loadTokenizerForOutliers();
    void chooseFile();
    void chooseFolder();
    // Shows an error in the status bar for 10 s, elided to the room left of the permanent widgets (the full
    // text is in the log and the status bar's tooltip).
    void showStatusError(const QString& message);

    MainWindowOptions m_options;
    JobRunner* m_runner;
    Document* m_document;
    LogModel* m_log;
    LoadController* m_loader;
    ViewRegistry m_views;

    QStackedWidget* m_centre = nullptr;
    EmptyStateView* m_empty = nullptr;
    QTabWidget* m_tabs = nullptr;
    FootprintView* m_footprint = nullptr;
    HistogramView* m_histogram = nullptr;
    LayerOverviewView* m_layers = nullptr;
    OutlierMapView* m_outliers = nullptr;
    ModelTreeDock* m_treeDock = nullptr;
    LocalModelsDock* m_modelsDock = nullptr;
    bool m_modelsSearched = false;
    QString m_treeAfterLoad;  // a path opened from the Local models list: raise the Model tree when it loads
    QDockWidget* m_summaryDock = nullptr;
    MapEditorDock* m_mapDock = nullptr;
    QuantizeController* m_quantize = nullptr;
    QAction* m_undoAction = nullptr;
    QAction* m_redoAction = nullptr;
    SummaryView* m_summary = nullptr;
    LogDock* m_logDock = nullptr;
    ChatPane* m_chat = nullptr;
    CalibrationSection* m_calibration = nullptr;
    EvaluationsView* m_evaluations = nullptr;
    SweepView* m_sweep = nullptr;
    MixView* m_mix = nullptr;
    QDockWidget* m_chatDock = nullptr;
    JobStatusWidget* m_jobStatus = nullptr;
    QLabel* m_modelStatus = nullptr;
    RecentFiles* m_recent = nullptr;
    SessionController* m_session = nullptr;
    QAction* m_cancelAction = nullptr;
    QAction* m_openAction = nullptr;
    QAction* m_openFolderAction = nullptr;
    QToolBar* m_toolBar = nullptr;
    QByteArray m_defaultState;
    bool m_layoutRestored = false;
    bool m_shownOnce = false;
    int m_chatDockRequest = 0;  // the last height asked of resizeDocks for the chat (see fitChatDock)
};

}  // namespace qsui
