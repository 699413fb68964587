// SPDX-License-Identifier: GPL-3.0-or-later
// A QTableWidget cell showing `text` that sorts by `value` (kept in Qt::UserRole + 1), right-aligned: the number
// columns of the Sweep and Sensitivity tables. UI thread only, like every QTableWidgetItem.
#pragma once

#include <QTableWidgetItem>

namespace qsui {

class NumberItem : public QTableWidgetItem {
public:
    NumberItem(double value, const QString& text) : QTableWidgetItem(text) {
        setData(Qt::UserRole + 1, value);
        setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    }
    bool operator<(const QTableWidgetItem& other) const override {
        return data(Qt::UserRole + 1).toDouble() < other.data(Qt::UserRole + 1).toDouble();
    }
};

}  // namespace qsui
