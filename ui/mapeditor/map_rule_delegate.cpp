// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mapeditor/map_rule_delegate.h"

#include <QComboBox>
#include <QCompleter>
#include <QLineEdit>

#include "core/quant/quant_map.h"
#include "core/quant/scheme.h"
#include "ui/mapeditor/map_rule_model.h"

namespace qsui {

QWidget* MapRuleDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem& option,
                                       const QModelIndex& index) const {
    if (index.column() == MapRuleModel::RoleColumn) {
        auto* combo = new QComboBox(parent);
        for (int r = 0; r <= int(qs::RuleRole::All); ++r)
            combo->addItem(QString::fromUtf8(qs::ruleRoleName(qs::RuleRole(r)).data()));
        combo->setToolTip(index.model()->headerData(index.column(), Qt::Horizontal, Qt::ToolTipRole).toString());
        return combo;
    }
    if (index.column() == MapRuleModel::SchemeColumn) {
        auto* combo = new QComboBox(parent);
        combo->setEditable(true);
        combo->setInsertPolicy(QComboBox::NoInsert);
        combo->addItem(QString::fromUtf8(qs::kKeepScheme.data()));
        combo->setItemData(0, tr("Leave the tensors as stored"), Qt::ToolTipRole);
        for (const auto& s : qs::listSchemes()) {
            combo->addItem(QString::fromStdString(s->name()));
            combo->setItemData(combo->count() - 1, QString::fromStdString(s->description()), Qt::ToolTipRole);
        }
        combo->completer()->setCaseSensitivity(Qt::CaseInsensitive);
        combo->completer()->setCompletionMode(QCompleter::PopupCompletion);
        combo->setToolTip(tr("Pick a scheme or type any registry name (int3_g32, nf4_dq_g128, ...)"));
        // One Enter commits a typed name (the combo would take the first one for its completer), and picking
        // an entry commits at once; leaving the cell commits too (the delegate's focus-out handling).
        auto* self = const_cast<MapRuleDelegate*>(this);
        auto commit = [self, combo] {
            Q_EMIT self->commitData(combo);
            Q_EMIT self->closeEditor(combo, QAbstractItemDelegate::NoHint);
        };
        connect(combo->lineEdit(), &QLineEdit::returnPressed, combo, commit, Qt::QueuedConnection);
        connect(combo, &QComboBox::activated, combo, commit, Qt::QueuedConnection);
        return combo;
    }
    return QStyledItemDelegate::createEditor(parent, option, index);
}

void MapRuleDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const {
    if (auto* combo = qobject_cast<QComboBox*>(editor)) {
        const QString text = index.data(Qt::EditRole).toString();
        const int i = combo->findText(text);
        if (i >= 0) combo->setCurrentIndex(i);
        if (combo->isEditable()) combo->setEditText(text);
        return;
    }
    QStyledItemDelegate::setEditorData(editor, index);
}

void MapRuleDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const {
    if (auto* combo = qobject_cast<QComboBox*>(editor)) {
        const QString text = combo->currentText();
        if (text != index.data(Qt::EditRole).toString()) model->setData(index, text, Qt::EditRole);
        return;
    }
    if (auto* line = qobject_cast<QLineEdit*>(editor)) {
        if (line->text() != index.data(Qt::EditRole).toString()) model->setData(index, line->text(), Qt::EditRole);
        return;
    }
    QStyledItemDelegate::setModelData(editor, model, index);
}

}  // namespace qsui
