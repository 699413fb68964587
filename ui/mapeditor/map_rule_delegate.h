// SPDX-License-Identifier: GPL-3.0-or-later
// MapRuleDelegate: editors for the rule table — a combo of the rule roles for the role column, an editable
// combo of the registry's schemes (listSchemes() plus "keep"; any typed name is accepted and validated by the
// model) for the scheme column, line edits elsewhere. UI thread only.
#pragma once

#include <QStyledItemDelegate>

namespace qsui {

class MapRuleDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override;
};

}  // namespace qsui
