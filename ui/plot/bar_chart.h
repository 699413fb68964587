// SPDX-License-Identifier: GPL-3.0-or-later
// BarChart: a small categorical bar chart behind our own interface (QCustomPlot stays an implementation
// detail, see STYLE.md "Qt side"). One bar per category, each with its own colour, a text label drawn above
// it and a tooltip on hover. Values are plotted as given; the caller picks the unit (setValueAxisLabel).
// UI thread only.
#pragma once

#include <QColor>
#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QCPBars;
class QCPItemText;

namespace qsui {

class BarChart : public QWidget {
    Q_OBJECT
public:
    struct Bar {
        QString category;  // tick label under the bar
        double value = 0;
        QColor color;
        QString label;    // drawn above the bar ("" for none)
        QString tooltip;  // shown on hover
    };

    explicit BarChart(QWidget* parent = nullptr);

    void setBars(const QVector<Bar>& bars);
    void setValueAxisLabel(const QString& label);
    void clear() { setBars({}); }

    int barCount() const { return int(m_bars.size()); }
    // The values as plotted (read back from the plot's data), in the order given to setBars().
    QVector<double> plottedValues() const;
    QCustomPlot* plot() const { return m_plot; }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    // Tilts the category labels when they would not fit side by side, and labels only every step-th bar
    // (names elided in the middle) when even tilted ones would overlap; every bar's tooltip names it.
    bool fitCategoryLabels();  // true when the labels changed

    QCustomPlot* m_plot;
    QVector<Bar> m_bars;
    QVector<QCPBars*> m_series;
    QVector<QCPItemText*> m_labels;
    int m_labelStep = 0;  // every step-th category is labelled (0: not fitted yet)
};

}  // namespace qsui
