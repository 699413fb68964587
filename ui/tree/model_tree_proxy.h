// SPDX-License-Identifier: GPL-3.0-or-later
// ModelTreeProxy: filtering and sorting for ModelTreeModel.
// - Name filter: case-insensitive substring, or a regular expression (QRegularExpression syntax). A tensor
//   also matches when its layer row's label does ("layer 3" shows all of layer 3). An invalid expression
//   hides nothing; patternError() says why.
// - Role filter: only tensors of one role.
// Layer rows stay visible while any of their tensors does (recursive filtering). Sorting uses the model's
// SortRole: numbers numerically, text in natural order ("blk.2" before "blk.10"). UI thread only.
#pragma once

#include <optional>

#include <QCollator>
#include <QRegularExpression>
#include <QSortFilterProxyModel>

#include "core/model/model_info.h"

namespace qsui {

class ModelTreeProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit ModelTreeProxy(QObject* parent = nullptr);

    void setNameFilter(const QString& pattern, bool regex);
    void setRoleFilter(std::optional<qs::Role> role);
    QString patternError() const { return m_error; }
    bool isFiltering() const { return m_active; }

    // Unfiltered, whether a row has children is the source's answer: the view asks it of every layer row when
    // it lays out, and QSortFilterProxyModel's own answer builds that layer's row mapping (~60 bytes a row:
    // 12 MB for a file of 300,000 tensors nobody expanded). A layer's mapping is built when it is expanded.
    bool hasChildren(const QModelIndex& parent = {}) const override;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

private:
    bool nameMatches(const QString& text) const;
    void update();

    QString m_pattern;
    bool m_regexMode = false;
    QRegularExpression m_regex;
    QString m_error;
    std::optional<qs::Role> m_role;
    bool m_active = false;
    QCollator m_collator;
};

}  // namespace qsui
