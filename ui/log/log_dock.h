// SPDX-License-Identifier: GPL-3.0-or-later
// LogDock: the "Log & issues" dock — a table over LogModel (newest at the bottom, followed while the view is
// scrolled to the end), a count of errors and warnings, and Clear / Copy actions. UI thread only.
#pragma once

#include <QDockWidget>

class QLabel;
class QTableView;

namespace qsui {

class LogModel;

class LogDock : public QDockWidget {
    Q_OBJECT
public:
    explicit LogDock(LogModel* model, QWidget* parent = nullptr);

    QTableView* view() const { return m_view; }

private:
    void updateCounts();
    void copySelection();

    LogModel* m_model;
    QTableView* m_view;
    QLabel* m_counts;
};

}  // namespace qsui
