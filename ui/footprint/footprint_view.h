// SPDX-License-Identifier: GPL-3.0-or-later
// FootprintView: where the bytes go, by role — a bar chart (embedding, head, attention, mlp, norm, other;
// bytes as stored, labelled with their share) above a table of bytes and percent per role and the total.
// A tied head is shown as 0, with a note of the bytes an untie would add (ModelInfo::footprint).
// Rebuilt on Document::modelChanged. (Issue 5 adds the "after the quantization map" series.) UI thread only.
#pragma once

#include <QVector>
#include <QWidget>

class QLabel;
class QTableWidget;

namespace qsui {

class BarChart;
class Document;

class FootprintView : public QWidget {
    Q_OBJECT
public:
    explicit FootprintView(Document* document, QWidget* parent = nullptr);

    BarChart* chart() const { return m_chart; }
    QTableWidget* table() const { return m_table; }
    QString note() const;

private:
    void rebuild();

    Document* m_document;
    QLabel* m_title;
    BarChart* m_chart;
    QTableWidget* m_table;
    QLabel* m_note;
};

}  // namespace qsui
