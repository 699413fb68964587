// SPDX-License-Identifier: GPL-3.0-or-later
// MapEditorDock: the quantization-map editor — the ordered rule table (MapRuleModel) with add, remove,
// move up/down (buttons, Ins, Delete, Ctrl+Up/Down while the table has focus) and presets; the resolution's
// warnings (fallbacks, tie disagreement, rules matching nothing) listed under it; and the resolved per-tensor
// table (ResolvedTensorModel). Selecting a tensor row selects it everywhere (Document::selectTensor);
// selecting a rule highlights the tensors it governs. Import/export of the map JSON and export of the
// llama.cpp tensor-type file; the Calibration section below (setCalibrationSection); problems go to the log,
// never a dialog. Every change is one undo step through Document::setQuantMap. UI thread only.
#pragma once

#include <QDockWidget>

#include "core/quant/quant_map.h"

class QAction;
class QLabel;
class QListWidget;
class QMenu;
class QTableView;
class QToolBar;

namespace qsui {

class Document;
class LogModel;
class MapRuleModel;
class ResolvedTensorModel;

class MapEditorDock : public QDockWidget {
    Q_OBJECT
public:
    MapEditorDock(Document* document, LogModel* log, QWidget* parent = nullptr);

    MapRuleModel* ruleModel() const { return m_rules; }
    ResolvedTensorModel* resolvedModel() const { return m_resolved; }
    QTableView* ruleView() const { return m_ruleView; }
    QTableView* resolvedView() const { return m_resolvedView; }
    QListWidget* warningsList() const { return m_warnings; }
    QMenu* presetMenu() const { return m_presetMenu; }
    QAction* addRuleAction() const { return m_add; }
    QAction* removeRuleAction() const { return m_remove; }
    QAction* moveUpAction() const { return m_up; }
    QAction* moveDownAction() const { return m_down; }
    QAction* importAction() const { return m_import; }
    QAction* exportJsonAction() const { return m_exportJson; }
    QAction* exportLlamaCppAction() const { return m_exportLlama; }

    // Puts the Calibration section (calibration_section.h) under the resolved table, as a third pane of the
    // dock's splitter; the dock takes ownership.
    void setCalibrationSection(QWidget* section);
    QWidget* calibrationSection() const { return m_calibration; }

    // Adds the editor's actions and the presets to a menu of the main window.
    void populateMenu(QMenu* menu) const;

    // The operations behind the actions, without dialogs (tests, the command line). Each logs what happened;
    // false when it failed (the message is in the log).
    bool applyPreset(const QString& id);
    bool importMap(const QString& path);
    bool exportJson(const QString& path);
    bool exportLlamaCpp(const QString& path);
    // Whether the map can be written for llama.cpp (ggml types only); logs why not. The export action asks
    // this before its file dialog.
    bool llamaCppExportable();

private:
    void createRuleView();
    void createResolvedView();
    void createStatusWidgets();
    QToolBar* createToolBar();
    void createLayout(QToolBar* toolbar);
    void connectSignals();
    void buildActions();
    void buildPresetMenu();
    void addRule();
    // What Add inserts: the first role without a rule (see the definition).
    qs::QuantRule nextUsefulRule() const;
    void removeSelectedRule();
    void moveSelectedRule(int delta);
    void chooseImport();
    void chooseExportJson();
    void chooseExportLlamaCpp();
    void refreshStatus();
    void onRuleCurrentChanged();
    void onTensorCurrentChanged();
    void onDocumentSelection(int tensor);
    int currentRule() const;
    QString lastDirectory() const;
    void rememberDirectory(const QString& file) const;

    Document* m_document;
    LogModel* m_log;
    MapRuleModel* m_rules;
    ResolvedTensorModel* m_resolved;
    QTableView* m_ruleView;
    QTableView* m_resolvedView;
    QLabel* m_hint;
    size_t m_requantizedLogged = 0;  // re-quantized tensor count last said in the log
    QListWidget* m_warnings;
    QLabel* m_resolvedTitle;
    QMenu* m_presetMenu = nullptr;
    QAction* m_add = nullptr;
    QAction* m_remove = nullptr;
    QAction* m_up = nullptr;
    QAction* m_down = nullptr;
    QAction* m_import = nullptr;
    QAction* m_exportJson = nullptr;
    QAction* m_exportLlama = nullptr;
    QMenu* m_exportMenu = nullptr;
    bool m_syncingSelection = false;
    QWidget* m_calibration = nullptr;
};

}  // namespace qsui
