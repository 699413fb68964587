// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/tree/model_tree_proxy.h"

#include "ui/tree/model_tree_model.h"

namespace qsui {

ModelTreeProxy::ModelTreeProxy(QObject* parent) : QSortFilterProxyModel(parent) {
    setRecursiveFilteringEnabled(true);
    setSortRole(ModelTreeModel::SortRole);
    m_collator.setNumericMode(true);
    m_collator.setCaseSensitivity(Qt::CaseInsensitive);
}

void ModelTreeProxy::setNameFilter(const QString& pattern, bool regex) {
    m_pattern = pattern;
    m_regexMode = regex;
    update();
}

void ModelTreeProxy::setRoleFilter(std::optional<qs::Role> role) {
    m_role = role;
    update();
}

void ModelTreeProxy::update() {
    m_error.clear();
    if (m_regexMode && !m_pattern.isEmpty()) {
        m_regex = QRegularExpression(m_pattern, QRegularExpression::CaseInsensitiveOption);
        if (!m_regex.isValid()) m_error = m_regex.errorString();
    }
    m_active = m_role.has_value() || (!m_pattern.isEmpty() && m_error.isEmpty());
    // Qt 6.4 has no begin/endFilterChange; invalidateFilter() re-runs filterAcceptsRow over the tree.
    invalidateFilter();
}

bool ModelTreeProxy::nameMatches(const QString& text) const {
    if (m_pattern.isEmpty() || !m_error.isEmpty()) return true;
    if (m_regexMode) return m_regex.match(text).hasMatch();
    return text.contains(m_pattern, Qt::CaseInsensitive);
}

bool ModelTreeProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    if (!m_active) return true;
    const QModelIndex idx = sourceModel()->index(sourceRow, ModelTreeModel::NameColumn, sourceParent);
    const int tensor = idx.data(ModelTreeModel::TensorIndexRole).toInt();
    if (tensor < 0) return false;  // a layer row: shown only through its tensors (recursive filtering)
    if (m_role && idx.data(ModelTreeModel::TensorRoleRole).toInt() != int(*m_role)) return false;
    if (nameMatches(idx.data(ModelTreeModel::FullNameRole).toString())) return true;
    return sourceParent.isValid() && !m_pattern.isEmpty() &&
           nameMatches(sourceParent.data(ModelTreeModel::FullNameRole).toString());
}

bool ModelTreeProxy::hasChildren(const QModelIndex& parent) const {
    if (!m_active && parent.isValid() && sourceModel()) return sourceModel()->hasChildren(mapToSource(parent));
    return QSortFilterProxyModel::hasChildren(parent);
}

bool ModelTreeProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
    const QVariant l = left.data(sortRole());
    const QVariant r = right.data(sortRole());
    const bool lNum = l.typeId() != QMetaType::QString, rNum = r.typeId() != QMetaType::QString;
    if (lNum && rNum) return l.toDouble() < r.toDouble();  // byte and element counts stay far below 2^53
    return m_collator.compare(l.toString(), r.toString()) < 0;
}

}  // namespace qsui
