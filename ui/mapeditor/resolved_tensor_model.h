// SPDX-License-Identifier: GPL-3.0-or-later
// ResolvedTensorModel: the map resolved against the loaded model, one row per tensor (in file order, row ==
// tensor index): tensor, role, layer, stored dtype -> scheme, governing rule (1-based, "tie" notes), bytes
// before -> after, bits per weight after, fallback reason. Reads Document::resolvedMap() and
// Document::footprint() (shared with the other views; no per-tensor copy here), reset or refreshed on every
// quantMapChanged and calibrationChanged. Rows governed by the highlighted rule (setHighlightedRule, the rule
// selected in the editor) get a highlight background. UI thread only.
#pragma once

#include <QAbstractTableModel>
#include <QIcon>

#include "core/quant/footprint_after.h"

namespace qsui {

class Document;

class ResolvedTensorModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TensorColumn, RoleColumn, LayerColumn, SchemeColumn, RuleColumn, BytesColumn, BitsColumn,
                  FallbackColumn, ColumnCount };
    static constexpr int RuleIndexRole = Qt::UserRole + 1;    // int: governing rule index, -1 for none
    static constexpr int HighlightedRole = Qt::UserRole + 2;  // bool: governed by the highlighted rule

    explicit ResolvedTensorModel(Document* document, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Rule index whose tensors are highlighted (-1: none).
    void setHighlightedRule(int rule);
    int highlightedRule() const { return m_highlight; }
    int highlightedCount() const;  // tensors the highlighted rule governs

private:
    void rebuild();

    Document* m_document;
    int m_rows = 0;
    int m_highlight = -1;
    QIcon m_swatches[qs::kRoleCount];
};

}  // namespace qsui
