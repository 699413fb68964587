// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mapeditor/map_editor_dock.h"

#include <QAction>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStyle>
#include <QTableView>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <climits>

#include "core/quant/quant_map_export.h"
#include "ui/document.h"
#include "ui/log/log_model.h"
#include "ui/mapeditor/map_presets.h"
#include "ui/mapeditor/map_rule_delegate.h"
#include "ui/mapeditor/map_rule_model.h"
#include "ui/mapeditor/resolved_tensor_model.h"
#include "ui/util/tensor_label.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

const QString kMapDirKey = QStringLiteral("mapEditor/lastDirectory");
const QString kMapLogSource = QStringLiteral("map");


void setupTable(QTableView* view) {
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->verticalHeader()->hide();
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 8);
    view->horizontalHeader()->setHighlightSections(false);
    view->setWordWrap(false);
    view->setTextElideMode(Qt::ElideMiddle);
}

// Sets a column as wide as its header or a typical value, whichever is wider.
void fitColumn(QTableView* view, const QFontMetrics& fm, int column, const QString& sample) {
    auto width = [&](const QString& text) { return fm.horizontalAdvance(text) + 24; };
    const QString header = view->model()->headerData(column, Qt::Horizontal).toString();
    view->setColumnWidth(column, std::max(width(sample), width(header)));
}

}  // namespace

MapEditorDock::MapEditorDock(Document* document, LogModel* log, QWidget* parent)
    : QDockWidget(tr("Quantization map"), parent),
      m_document(document),
      m_log(log),
      m_rules(new MapRuleModel(document, this)),
      m_resolved(new ResolvedTensorModel(document, this)),
      m_ruleView(new QTableView),
      m_resolvedView(new QTableView),
      m_hint(new QLabel),
      m_warnings(new QListWidget),
      m_resolvedTitle(new QLabel) {
    setObjectName(QStringLiteral("mapEditorDock"));
    setToolTip(tr("Decide which scheme each tensor gets: ordered rules, a later matching rule wins"));
    createRuleView();
    createResolvedView();
    createStatusWidgets();
    buildActions();
    QToolBar* toolbar = createToolBar();
    createLayout(toolbar);
    connectSignals();
    refreshStatus();
}

void MapEditorDock::createRuleView() {
    m_ruleView->setObjectName(QStringLiteral("mapRuleView"));
    m_ruleView->setModel(m_rules);
    m_ruleView->setItemDelegate(new MapRuleDelegate(m_ruleView));
    setupTable(m_ruleView);
    m_ruleView->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                                QAbstractItemView::AnyKeyPressed);
    QHeaderView* rh = m_ruleView->horizontalHeader();
    rh->setSectionResizeMode(QHeaderView::Interactive);
    rh->setStretchLastSection(true);
    const QFontMetrics fm = fontMetrics();
    auto fit = [&](QTableView* view, int column, const QString& sample) { fitColumn(view, fm, column, sample); };
    fit(m_ruleView, MapRuleModel::NumberColumn, QStringLiteral("99"));
    fit(m_ruleView, MapRuleModel::RoleColumn, QStringLiteral("embedding"));
    fit(m_ruleView, MapRuleModel::LayersColumn, QStringLiteral("Layers"));
    fit(m_ruleView, MapRuleModel::PatternColumn, QStringLiteral("glob:*attn_v*"));
    fit(m_ruleView, MapRuleModel::SchemeColumn, QStringLiteral("int4_g128"));
    fit(m_ruleView, MapRuleModel::BitsColumn, QStringLiteral("Bits"));
    fit(m_ruleView, MapRuleModel::GroupColumn, QStringLiteral("Group"));
    fit(m_ruleView, MapRuleModel::TensorsColumn, QStringLiteral("Tensors"));
    m_ruleView->setToolTip(tr("Rules apply in order; a later matching rule wins. Double-click a cell to edit"));
}

void MapEditorDock::createResolvedView() {
    m_resolvedView->setObjectName(QStringLiteral("resolvedTensorView"));
    m_resolvedView->setModel(m_resolved);
    setupTable(m_resolvedView);
    m_resolvedView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    QHeaderView* th = m_resolvedView->horizontalHeader();
    th->setSectionResizeMode(QHeaderView::Interactive);
    th->setStretchLastSection(true);
    const QFontMetrics fm = fontMetrics();
    auto fit = [&](QTableView* view, int column, const QString& sample) { fitColumn(view, fm, column, sample); };
    fit(m_resolvedView, ResolvedTensorModel::TensorColumn, QStringLiteral("layers.0.feed_forward.w1"));
    fit(m_resolvedView, ResolvedTensorModel::RoleColumn, QStringLiteral("■ attention") );
    fit(m_resolvedView, ResolvedTensorModel::LayerColumn, QStringLiteral("Layer"));
    fit(m_resolvedView, ResolvedTensorModel::SchemeColumn, QStringLiteral("F32 → q8_0"));
    fit(m_resolvedView, ResolvedTensorModel::RuleColumn, QStringLiteral("Rule"));
    fit(m_resolvedView, ResolvedTensorModel::BytesColumn, QStringLiteral("128 KiB → 34.0 KiB"));
    fit(m_resolvedView, ResolvedTensorModel::BitsColumn, QStringLiteral("Bits/w"));
    m_resolvedView->setToolTip(tr("Which rule governs each tensor and what it costs; click a row to select the "
                                  "tensor in every view"));
}

// The hint under the rules and the list of what resolving the map reported.
void MapEditorDock::createStatusWidgets() {
    const QFontMetrics fm = fontMetrics();
    m_hint->setWordWrap(true);
    m_hint->setObjectName(QStringLiteral("mapHint"));
    m_warnings->setObjectName(QStringLiteral("mapWarnings"));
    m_warnings->setToolTip(tr("What resolving the map against the model reported: fallbacks, tie disagreements, "
                              "rules matching nothing"));
    m_warnings->setWordWrap(true);
    m_warnings->setMaximumHeight(fm.height() * 4 + 12);
    m_warnings->setAlternatingRowColors(true);
}

// The rule toolbar over the actions of buildActions(), with the Presets and Export menus.
QToolBar* MapEditorDock::createToolBar() {
    auto* toolbar = new QToolBar;
    // A toolbar's minimum is all its buttons; let it fold into its extension menu so the dock (tabbed with
    // the narrow Summary panel) does not force the right dock area wide.
    toolbar->setMinimumWidth(120);
    toolbar->setIconSize(QSize(16, 16));
    toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toolbar->addAction(m_add);
    toolbar->addAction(m_remove);
    toolbar->addAction(m_up);
    toolbar->addAction(m_down);
    toolbar->addSeparator();
    auto* presets = new QToolButton;
    presets->setText(tr("Presets"));
    presets->setToolTip(tr("Replace the map with a ready-made one (one undo step)"));
    presets->setMenu(m_presetMenu);
    presets->setPopupMode(QToolButton::InstantPopup);
    presets->setToolButtonStyle(Qt::ToolButtonTextOnly);
    toolbar->addWidget(presets);
    toolbar->addSeparator();
    toolbar->addAction(m_import);
    auto* exportButton = new QToolButton;
    exportButton->setText(tr("Export"));
    exportButton->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
    exportButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    exportButton->setToolTip(tr("Export the map as JSON or as a llama.cpp tensor-type file"));
    exportButton->setMenu(m_exportMenu);
    exportButton->setPopupMode(QToolButton::InstantPopup);
    toolbar->addWidget(exportButton);
    return toolbar;
}

// The rules (with the toolbar, hint and warnings) above the resolved tensors, in a splitter.
void MapEditorDock::createLayout(QToolBar* toolbar) {
    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(4, 2, 4, 2);
    topLayout->setSpacing(4);
    topLayout->addWidget(toolbar);
    topLayout->addWidget(m_ruleView, 1);
    topLayout->addWidget(m_hint);
    topLayout->addWidget(m_warnings);

    auto* bottom = new QWidget;
    auto* bottomLayout = new QVBoxLayout(bottom);
    bottomLayout->setContentsMargins(4, 2, 4, 2);
    bottomLayout->setSpacing(4);
    QFont bold = m_resolvedTitle->font();
    bold.setBold(true);
    m_resolvedTitle->setFont(bold);
    bottomLayout->addWidget(m_resolvedTitle);
    bottomLayout->addWidget(m_resolvedView, 1);

    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->setObjectName(QStringLiteral("mapEditorSplitter"));
    splitter->addWidget(top);
    splitter->addWidget(bottom);
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 3);
    splitter->setChildrenCollapsible(false);
    setWidget(splitter);
}

void MapEditorDock::connectSignals() {
    connect(m_ruleView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &MapEditorDock::onRuleCurrentChanged);
    connect(m_resolvedView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &MapEditorDock::onTensorCurrentChanged);
    connect(m_rules, &QAbstractItemModel::modelReset, this, &MapEditorDock::onRuleCurrentChanged);
    connect(m_document, &Document::selectionChanged, this, &MapEditorDock::onDocumentSelection);
    connect(m_document, &Document::quantMapChanged, this, &MapEditorDock::refreshStatus);
    connect(m_document, &Document::modelChanged, this, &MapEditorDock::buildPresetMenu);
}

void MapEditorDock::buildActions() {
    QStyle* st = style();
    m_add = new QAction(st->standardIcon(QStyle::SP_FileDialogNewFolder), tr("Add"), this);
    m_add->setToolTip(tr("Add a rule after the selected one (Ins)"));
    m_add->setShortcut(QKeySequence(Qt::Key_Insert));
    m_remove = new QAction(st->standardIcon(QStyle::SP_TrashIcon), tr("Remove"), this);
    m_remove->setToolTip(tr("Remove the selected rule (Delete)"));
    m_remove->setShortcut(QKeySequence::Delete);
    m_up = new QAction(st->standardIcon(QStyle::SP_ArrowUp), tr("Up"), this);
    m_up->setToolTip(tr("Move the selected rule up: earlier rules lose to later ones (Ctrl+Up)"));
    m_up->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Up));
    m_down = new QAction(st->standardIcon(QStyle::SP_ArrowDown), tr("Down"), this);
    m_down->setToolTip(tr("Move the selected rule down: later rules win (Ctrl+Down)"));
    m_down->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Down));
    // The shortcuts act on the rule table only: Delete in the model tree must not remove a rule.
    for (QAction* a : {m_add, m_remove, m_up, m_down}) {
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        m_ruleView->addAction(a);
    }
    connect(m_add, &QAction::triggered, this, &MapEditorDock::addRule);
    connect(m_remove, &QAction::triggered, this, &MapEditorDock::removeSelectedRule);
    connect(m_up, &QAction::triggered, this, [this] { moveSelectedRule(-1); });
    connect(m_down, &QAction::triggered, this, [this] { moveSelectedRule(+1); });

    m_import = new QAction(st->standardIcon(QStyle::SP_DialogOpenButton), tr("Import…"), this);
    m_import->setToolTip(tr("Replace the map with one loaded from a JSON file (one undo step)"));
    connect(m_import, &QAction::triggered, this, &MapEditorDock::chooseImport);
    m_exportJson = new QAction(tr("Export Map as JSON…"), this);
    m_exportJson->setToolTip(tr("Write the rules and, with a model loaded, the scheme of every tensor"));
    connect(m_exportJson, &QAction::triggered, this, &MapEditorDock::chooseExportJson);
    m_exportLlama = new QAction(tr("Export llama.cpp Tensor Types…"), this);
    m_exportLlama->setToolTip(tr("Write a file for llama-quantize --tensor-type-file (ggml types only)"));
    connect(m_exportLlama, &QAction::triggered, this, &MapEditorDock::chooseExportLlamaCpp);
    m_exportMenu = new QMenu(tr("Export"), this);
    m_exportMenu->addAction(m_exportJson);
    m_exportMenu->addAction(m_exportLlama);
    m_exportMenu->setToolTipsVisible(true);

    m_presetMenu = new QMenu(tr("Presets"), this);
    m_presetMenu->setToolTipsVisible(true);
    buildPresetMenu();
}

void MapEditorDock::buildPresetMenu() {
    m_presetMenu->clear();
    const bool hasModel = m_document->hasModel();
    for (const MapPreset& p : mapPresets()) {
        QAction* a = m_presetMenu->addAction(p.label, this, [this, id = p.id] { applyPreset(id); });
        a->setToolTip(p.needsModel && !hasModel ? p.tooltip + tr(" (needs a loaded model)") : p.tooltip);
        a->setEnabled(!p.needsModel || hasModel);
        if (p.id == QLatin1String("clear")) m_presetMenu->insertSeparator(a);
    }
}

void MapEditorDock::populateMenu(QMenu* menu) const {
    menu->addAction(m_add);
    menu->addAction(m_remove);
    menu->addAction(m_up);
    menu->addAction(m_down);
    menu->addSeparator();
    menu->addMenu(m_presetMenu);
    menu->addSeparator();
    menu->addAction(m_import);
    menu->addAction(m_exportJson);
    menu->addAction(m_exportLlama);
}

int MapEditorDock::currentRule() const {
    const QModelIndex i = m_ruleView->currentIndex();
    return i.isValid() ? i.row() : -1;
}

qs::QuantRule MapEditorDock::nextUsefulRule() const {
    // The first role the map has no rule for, with the scheme a person would start from (the body at q4_K,
    // the embedding at q8_0, an untied head at q6_K: llama.cpp's Q4_K_M choices); the body again when every
    // role has one. A tied head follows the embedding, so it is skipped.
    struct Candidate {
        qs::RuleRole role;
        const char* scheme;
    };
    static const Candidate kOrder[] = {{qs::RuleRole::Body, "q4_K"},      {qs::RuleRole::Embedding, "q8_0"},
                                       {qs::RuleRole::Head, "q6_K"},      {qs::RuleRole::Attention, "q4_K"},
                                       {qs::RuleRole::Mlp, "q4_K"},       {qs::RuleRole::Norm, "f16"}};
    const qs::QuantMap& map = m_document->quantMap();
    auto has = [&](qs::RuleRole r) {
        for (const qs::QuantRule& rule : map.rules)
            if (rule.role == r || rule.role == qs::RuleRole::All ||
                (r != qs::RuleRole::Norm && r != qs::RuleRole::Embedding && r != qs::RuleRole::Head &&
                 rule.role == qs::RuleRole::Body))
                return true;
        return false;
    };
    const bool tied = m_document->info() && m_document->info()->tie.has_value();
    qs::QuantRule rule;
    rule.role = qs::RuleRole::Body;
    rule.scheme = "q4_K";
    for (const Candidate& c : kOrder) {
        if (c.role == qs::RuleRole::Head && tied) continue;
        if (has(c.role)) continue;
        rule.role = c.role;
        rule.scheme = c.scheme;
        break;
    }
    return rule;
}

void MapEditorDock::addRule() {
    const qs::QuantRule rule = nextUsefulRule();
    const int at = currentRule() >= 0 ? currentRule() + 1 : -1;
    const int row = m_rules->addRule(rule, at);
    m_ruleView->setCurrentIndex(m_rules->index(row, MapRuleModel::SchemeColumn));
    m_ruleView->setFocus();
}

void MapEditorDock::removeSelectedRule() {
    const int row = currentRule();
    const int column = std::max(0, m_ruleView->currentIndex().column());
    if (!m_rules->removeRule(row)) return;
    if (m_rules->rowCount() > 0)
        m_ruleView->setCurrentIndex(m_rules->index(std::min(row, m_rules->rowCount() - 1), column));
}

void MapEditorDock::moveSelectedRule(int delta) {
    const int row = currentRule();
    const int column = std::max(0, m_ruleView->currentIndex().column());
    if (!m_rules->moveRule(row, delta)) return;
    m_ruleView->setCurrentIndex(m_rules->index(row + delta, column));
}

bool MapEditorDock::applyPreset(const QString& id) {
    const MapPreset* preset = findMapPreset(id);
    if (!preset) {
        m_log->error(kMapLogSource, tr("Unknown preset \"%1\"").arg(id));
        return false;
    }
    auto map = buildMapPreset(id, m_document->info());
    if (!map) {
        m_log->error(kMapLogSource, tr("Preset %1: %2").arg(preset->label, toQ(map.message())));
        return false;
    }
    m_document->setQuantMap(std::move(*map), tr("Preset: %1").arg(preset->label));
    return true;
}

void MapEditorDock::setCalibrationSection(QWidget* section) {
    auto* splitter = qobject_cast<QSplitter*>(widget());
    if (!splitter || !section || m_calibration) return;
    m_calibration = section;
    auto* scroll = new QScrollArea;
    scroll->setObjectName(QStringLiteral("calibrationScroll"));
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(section);
    splitter->addWidget(scroll);
    splitter->setStretchFactor(2, 2);
    // Rules, resolved table and calibration start at 2 : 3 : 2 of the height (scaled to the dock when shown),
    // so the section's form and buttons are visible without dragging the handle first.
    splitter->setSizes({200, 300, 200});
}

QString MapEditorDock::lastDirectory() const { return QSettings().value(kMapDirKey).toString(); }
void MapEditorDock::rememberDirectory(const QString& file) const {
    QSettings().setValue(kMapDirKey, QFileInfo(file).absolutePath());
}

void MapEditorDock::chooseImport() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Import Quantization Map"), lastDirectory(),
                                                      tr("Quantization maps (*.json);;All files (*)"));
    if (path.isEmpty()) return;
    rememberDirectory(path);
    importMap(path);
}

void MapEditorDock::chooseExportJson() {
    QString path = QFileDialog::getSaveFileName(this, tr("Export Quantization Map"), lastDirectory(),
                                                tr("Quantization maps (*.json)"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".json");
    rememberDirectory(path);
    exportJson(path);
}

void MapEditorDock::chooseExportLlamaCpp() {
    // Refuse a map llama.cpp cannot take (nf4, intN, ...) before asking for a file name.
    if (!llamaCppExportable()) return;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export llama.cpp Tensor Types"), lastDirectory(),
                                                      tr("Text files (*.txt);;All files (*)"));
    if (path.isEmpty()) return;
    rememberDirectory(path);
    exportLlamaCpp(path);
}

bool MapEditorDock::importMap(const QString& path) {
    const QString name = QFileInfo(path).fileName();
    auto map = qs::loadQuantMap(QFile::encodeName(path).toStdString());
    if (!map) {
        m_log->error(name, tr("Could not import the map: %1").arg(toQ(map.message())));
        return false;
    }
    const size_t rules = map->rules.size();
    m_document->setQuantMap(std::move(*map), tr("Import map %1").arg(name));
    m_log->info(name, tr("Imported a quantization map with %n rule(s) from %1", nullptr, int(rules)).arg(path));
    return true;
}

bool MapEditorDock::exportJson(const QString& path) {
    const QString name = QFileInfo(path).fileName();
    const qs::ResolvedMap* res = m_document->resolvedMap();
    const nlohmann::json j = res ? qs::resolvedMapJson(*res, m_document->checkpoint()->tensors, *m_document->info())
                                 : qs::quantMapToJson(m_document->quantMap());
    const qs::Status st = qs::writeFileAtomically(
        QFile::encodeName(path).toStdString(),
        j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!st) {
        m_log->error(name, tr("Could not export the map: %1").arg(toQ(st.message())));
        return false;
    }
    m_log->info(name, res ? tr("Exported the map and the scheme of every tensor to %1").arg(path)
                          : tr("Exported the map to %1 (no model loaded: rules only)").arg(path));
    return true;
}

bool MapEditorDock::llamaCppExportable() {
    const QString source = m_document->hasModel() ? m_document->displayName() : kMapLogSource;
    const qs::ResolvedMap* res = m_document->resolvedMap();
    if (!res) {
        m_log->error(source, tr("The llama.cpp tensor-type file names every tensor: load a model first"));
        return false;
    }
    const qs::Checkpoint& ckpt = *m_document->checkpoint();
    auto text = qs::llamaCppTensorTypes(*res, ckpt.tensors, *m_document->info(), ckpt.format == qs::FileFormat::Gguf);
    if (!text) {
        m_log->error(source, tr("Cannot export for llama.cpp: %1").arg(toQ(text.message())));
        return false;
    }
    return true;
}

bool MapEditorDock::exportLlamaCpp(const QString& path) {
    const QString name = QFileInfo(path).fileName();
    const qs::ResolvedMap* res = m_document->resolvedMap();
    if (!res) {
        m_log->error(name, tr("The llama.cpp tensor-type file names every tensor: load a model first"));
        return false;
    }
    const qs::Checkpoint& ckpt = *m_document->checkpoint();
    auto text = qs::llamaCppTensorTypes(*res, ckpt.tensors, *m_document->info(), ckpt.format == qs::FileFormat::Gguf);
    if (!text) {
        m_log->error(name, tr("Cannot export for llama.cpp: %1").arg(toQ(text.message())));
        return false;
    }
    const qs::Status st = qs::writeFileAtomically(QFile::encodeName(path).toStdString(), *text);
    if (!st) {
        m_log->error(name, tr("Could not write %1: %2").arg(path, toQ(st.message())));
        return false;
    }
    m_log->info(name, tr("Exported llama.cpp tensor types to %1 (use with llama-quantize --tensor-type-file)").arg(path));
    return true;
}

void MapEditorDock::refreshStatus() {
    const int rules = m_rules->rowCount();
    const qs::ResolvedMap* res = m_document->resolvedMap();
    if (rules == 0)
        m_hint->setText(tr("No rules: every tensor stays as stored. Add a rule (Ins) or pick a preset."));
    else if (!m_document->hasModel())
        m_hint->setText(tr("Load a model to see which tensors each rule governs."));
    else
        m_hint->clear();
    m_hint->setVisible(!m_hint->text().isEmpty());

    m_warnings->clear();
    const QIcon warnIcon = style()->standardIcon(QStyle::SP_MessageBoxWarning);
    if (!m_document->resolveError().isEmpty())
        m_warnings->addItem(new QListWidgetItem(
            style()->standardIcon(QStyle::SP_MessageBoxCritical),
            printableName(m_document->resolveError().toStdString())));
    if (res) {
        // The first kShownWarnings only: a map that makes 300,000 tensors fall back reports a warning each, and as
        // many word-wrapped items took the GUI thread most of a minute (issue 13 tryout). The resolved table's
        // Fallback column still says it for every tensor.
        constexpr size_t kShownWarnings = 200;
        const size_t shown = std::min(res->warnings.size(), kShownWarnings);
        for (size_t k = 0; k < shown; ++k) {
            // Printable: warnings quote tensor names and map patterns from files (escapes, bidi overrides).
            const QString text = printableName(res->warnings[k]);
            auto* item = new QListWidgetItem(warnIcon, text);
            item->setToolTip(text);
            m_warnings->addItem(item);
        }
        if (res->warnings.size() > shown)
            m_warnings->addItem(new QListWidgetItem(
                warnIcon, tr("… and %n more warning(s); the Fallback column of the table below lists each tensor's",
                             nullptr, int(std::min<size_t>(res->warnings.size() - shown, INT_MAX)))));
    }
    m_warnings->setVisible(m_warnings->count() > 0);
    // Re-quantizing an already quantized file: said once in the log whenever the count changes.
    const size_t requantized = res ? res->requantized.size() : 0;
    if (requantized != m_requantizedLogged) {
        m_requantizedLogged = requantized;
        if (requantized > 0)
            for (const std::string& w : res->warnings)
                if (w.rfind("re-quantizing ", 0) == 0)
                    m_log->warning(kMapLogSource, printableName(w));
    }

    m_remove->setEnabled(rules > 0);
    m_up->setEnabled(currentRule() > 0);
    m_down->setEnabled(currentRule() >= 0 && currentRule() + 1 < rules);
    m_exportLlama->setEnabled(res != nullptr);

    if (!res) {
        m_resolvedTitle->setText(tr("Resolved per tensor — no model loaded"));
        return;
    }
    int quantized = 0;
    for (const qs::TensorPlan& p : res->tensors) quantized += p.quantized();
    QString title = tr("Resolved per tensor — %1 tensors, %2 quantized, %3 fallbacks")
                        .arg(res->tensors.size())
                        .arg(quantized)
                        .arg(res->fallbacks.size());
    if (m_resolved->highlightedRule() >= 0)
        title += tr(" · rule %1 governs %n (highlighted)", nullptr, m_resolved->highlightedCount())
                     .arg(m_resolved->highlightedRule() + 1);
    m_resolvedTitle->setText(title);
}

void MapEditorDock::onRuleCurrentChanged() {
    const int rule = currentRule();
    m_resolved->setHighlightedRule(rule);
    if (rule >= 0) {
        for (int r = 0; r < m_resolved->rowCount(); ++r)
            if (m_resolved->index(r, 0).data(ResolvedTensorModel::RuleIndexRole).toInt() == rule) {
                m_resolvedView->scrollTo(m_resolved->index(r, 0));
                break;
            }
    }
    refreshStatus();
}

void MapEditorDock::onTensorCurrentChanged() {
    if (m_syncingSelection) return;
    const QModelIndex i = m_resolvedView->currentIndex();
    m_document->selectTensor(i.isValid() ? i.row() : -1);
}

void MapEditorDock::onDocumentSelection(int tensor) {
    if (tensor == (m_resolvedView->currentIndex().isValid() ? m_resolvedView->currentIndex().row() : -1)) return;
    m_syncingSelection = true;
    if (tensor >= 0 && tensor < m_resolved->rowCount()) {
        const QModelIndex i = m_resolved->index(tensor, 0);
        m_resolvedView->selectionModel()->setCurrentIndex(i, QItemSelectionModel::ClearAndSelect |
                                                                 QItemSelectionModel::Rows);
        m_resolvedView->scrollTo(i);
    } else {
        m_resolvedView->selectionModel()->clearSelection();
        m_resolvedView->selectionModel()->setCurrentIndex({}, QItemSelectionModel::NoUpdate);
    }
    m_syncingSelection = false;
}

}  // namespace qsui
