// SPDX-License-Identifier: GPL-3.0-or-later
// MapRuleModel: the quantization map's ordered rules as an editable table over the Document. It holds no copy
// of the map: data() reads Document::quantMap(), and every edit (setData, addRule, removeRule, moveRule)
// builds the new map and hands it to Document::setQuantMap with a label ("Edit rule 2 scheme"), so each is
// one undo step and every view hears Document::quantMapChanged.
//
// Columns: # (1-based, as in undo labels and the resolved view), role, layers ("0-3,7"), pattern
// ("glob:*attn*" / "regex:..."), scheme (registry name or "keep"), bits and group (derived from the scheme;
// editing them rewrites the scheme name within its family, see scheme_params.h), tensors (how many the rule
// governs in the loaded model), comment.
//
// Validation: an edit the parsers reject (parseLayerRanges, makePatternRule, parseScheme, the bits/group
// rewrite) does not change the map; the cell keeps the typed text with a red background and the parser's
// message as its tooltip (invalidMessage()) until it is edited again or the rules are added/removed/undone
// to a different count. UI thread only.
#pragma once

#include <map>

#include <QAbstractTableModel>

#include "core/quant/quant_map.h"

namespace qsui {

class Document;

class MapRuleModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { NumberColumn, RoleColumn, LayersColumn, PatternColumn, SchemeColumn, BitsColumn, GroupColumn,
                  TensorsColumn, CommentColumn, ColumnCount };

    explicit MapRuleModel(Document* document, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    // Validates and applies; false (and an inline error) when the value is rejected or nothing changed.
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;

    // Inserts `rule` at `row` (-1: at the end). Returns the row it landed on.
    int addRule(const qs::QuantRule& rule, int row = -1);
    bool removeRule(int row);
    // Moves rule `row` by `delta` (-1 up, +1 down). False at the ends.
    bool moveRule(int row, int delta);

    // The parser's message for a cell holding rejected input ("" when the cell is valid).
    QString invalidMessage(int row, int column) const;
    bool hasInvalidCells() const { return !m_invalid.empty(); }

    static QString columnName(int column);  // "role", "scheme", ... (undo labels)

private:
    struct Invalid {
        QString text;
        QString message;
    };
    void onMapChanged();
    void commit(qs::QuantMap map, const QString& undoText);

    Document* m_document;
    int m_rows = 0;                                 // rule count last reported to views
    std::map<std::pair<int, int>, Invalid> m_invalid;  // (row, column) -> rejected input
};

}  // namespace qsui
