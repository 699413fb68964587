// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/tree/model_tree_dock.h"

#include <algorithm>

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QTreeView>
#include <QVBoxLayout>

#include "ui/document.h"
#include "ui/tree/model_tree_model.h"
#include "ui/tree/model_tree_proxy.h"
#include "ui/util/role_style.h"

namespace qsui {
namespace {

// Expanding every layer is cheap and what a user wants on small models; deep models start collapsed.
constexpr int kExpandAllMaxLayers = 40;

}  // namespace

ModelTreeDock::ModelTreeDock(Document* document, QWidget* parent)
    : QDockWidget(tr("Model"), parent),
      m_document(document),
      m_model(new ModelTreeModel(document, this)),
      m_proxy(new ModelTreeProxy(this)),
      m_view(new QTreeView),
      m_filter(new QLineEdit),
      m_regex(new QCheckBox(tr("Regex"))),
      m_role(new QComboBox),
      m_count(new QLabel) {
    setObjectName(QStringLiteral("modelTreeDock"));
    auto* body = new QWidget;
    auto* layout = new QVBoxLayout(body);
    layout->setContentsMargins(4, 2, 4, 4);
    layout->setSpacing(4);

    m_filter->setPlaceholderText(tr("Filter by name…"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setAcceptDrops(false);  // a dropped checkpoint opens it instead of pasting its path
    m_filterTip = tr("Show tensors whose name (or layer) contains this text, case-insensitive;\n"
                     "with Regex checked, a regular expression such as attn_(q|k)\\b");
    m_filter->setToolTip(m_filterTip);
    m_regex->setToolTip(tr("Treat the filter as a regular expression"));
    m_role->addItem(tr("All roles"), -1);
    for (int r = 0; r < qs::kRoleCount; ++r) m_role->addItem(roleSwatch(qs::Role(r)), roleLabel(qs::Role(r)), r);
    m_role->setToolTip(tr("Show only tensors of one role"));
    m_count->setToolTip(tr("Tensors shown / tensors in the checkpoint"));
    auto* bar = new QHBoxLayout;
    bar->setSpacing(4);
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_regex);
    bar->addWidget(m_role);
    layout->addLayout(bar);
    layout->addWidget(m_count);
    layout->addWidget(m_view, 1);
    setWidget(body);

    m_proxy->setSourceModel(m_model);
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(-1, Qt::AscendingOrder);  // file order until the user clicks a header
    m_view->setAlternatingRowColors(true);
    m_view->setUniformRowHeights(true);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setAllColumnsShowFocus(true);
    m_view->setAcceptDrops(false);
    m_view->setTextElideMode(Qt::ElideMiddle);
    m_view->header()->setStretchLastSection(true);
    m_view->header()->setSectionsMovable(true);

    connect(m_filter, &QLineEdit::textChanged, this, &ModelTreeDock::applyFilter);
    connect(m_regex, &QCheckBox::toggled, this, &ModelTreeDock::applyFilter);
    connect(m_role, &QComboBox::currentIndexChanged, this, &ModelTreeDock::applyFilter);
    connect(m_model, &QAbstractItemModel::modelReset, this, &ModelTreeDock::onModelReset);
    connect(m_proxy, &QAbstractItemModel::layoutChanged, this, &ModelTreeDock::updateCount);
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, &ModelTreeDock::updateCount);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &ModelTreeDock::updateCount);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) {
                if (m_syncing) return;
                const int tensor = current.data(ModelTreeModel::TensorIndexRole).toInt();
                if (tensor >= 0 || !current.isValid()) m_document->selectTensor(current.isValid() ? tensor : -1);
            });
    connect(document, &Document::selectionChanged, this, &ModelTreeDock::onDocumentSelection);
    onModelReset();
}

int ModelTreeDock::visibleTensorCount() const {
    int n = 0;
    for (int r = 0; r < m_proxy->rowCount(); ++r) {
        const QModelIndex top = m_proxy->index(r, 0);
        const int children = m_proxy->rowCount(top);
        n += top.data(ModelTreeModel::TensorIndexRole).toInt() >= 0 ? 1 : children;
    }
    return n;
}

void ModelTreeDock::applyFilter() {
    const int role = m_role->currentData().toInt();
    m_proxy->setRoleFilter(role < 0 ? std::nullopt : std::optional<qs::Role>(qs::Role(role)));
    m_proxy->setNameFilter(m_filter->text(), m_regex->isChecked());
    const QString error = m_proxy->patternError();
    m_filter->setStyleSheet(error.isEmpty() ? QString() : QStringLiteral("QLineEdit { color: #b00020; }"));
    m_filter->setToolTip(error.isEmpty() ? m_filterTip
                                         : m_filterTip + tr("\n\nInvalid regular expression: %1").arg(error));
    if (m_proxy->isFiltering()) m_view->expandAll();
    updateCount();
}

void ModelTreeDock::onModelReset() {
    if (m_model->layerRowCount() <= kExpandAllMaxLayers) m_view->expandAll();
    for (int c = 0; c < ModelTreeModel::ColumnCount - 1; ++c) m_view->resizeColumnToContents(c);
    // Very long names (HDF5 paths) would push every other column out of view: cap the name column and
    // elide in the middle, where such paths repeat themselves.
    const int maxName = std::max(220, m_view->viewport()->width() * 45 / 100);
    if (m_view->columnWidth(ModelTreeModel::NameColumn) > maxName)
        m_view->setColumnWidth(ModelTreeModel::NameColumn, maxName);
    updateCount();
}

void ModelTreeDock::onDocumentSelection(int tensor) {
    const QModelIndex proxyIndex = m_proxy->mapFromSource(m_model->indexOfTensor(tensor));
    if (proxyIndex == m_view->currentIndex().siblingAtColumn(0)) return;
    m_syncing = true;
    if (proxyIndex.isValid()) {
        m_view->setCurrentIndex(proxyIndex);
        m_view->scrollTo(proxyIndex);
    } else {
        m_view->selectionModel()->clear();
    }
    m_syncing = false;
}

void ModelTreeDock::updateCount() {
    const int total = m_model->tensorCount();
    if (total == 0) {
        m_count->setText(tr("No model loaded"));
        return;
    }
    const QString shown = tr("%1 of %2 tensors").arg(visibleTensorCount()).arg(total);
    m_count->setText(m_model->layerRowCount() == 0 ? shown
                                                   : shown + tr(" in %n layer(s)", "", m_model->layerRowCount()));
}

}  // namespace qsui
