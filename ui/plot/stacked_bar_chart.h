// SPDX-License-Identifier: GPL-3.0-or-later
// StackedBarChart: groups of stacked horizontal bars behind our own interface (QCustomPlot stays an
// implementation detail, STYLE.md "Qt side"). Each group is a category (a tensor role, named on the left
// axis, first group on top) holding a few bars drawn one under the other ("before", "after"), each bar a stack
// of coloured segments (payload, metadata) with a label at its end and a tooltip. Horizontal so that the role
// names and labels stay readable however narrow the pane gets. A legend row sits under the plot. Values are
// plotted as given (the caller picks the unit). UI thread only.
#pragma once

#include <QColor>
#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QCPBars;
class QCPItemText;

namespace qsui {

class StackedBarChart : public QWidget {
    Q_OBJECT
public:
    struct Segment {
        double value = 0;
        QColor color;
    };
    struct Bar {
        QVector<Segment> segments;   // from the axis outwards
        QString label;               // at the bar's end
        QString tooltip;
    };
    struct Group {
        QString category;  // under the group
        QVector<Bar> bars;
    };
    struct LegendEntry {
        QString text;
        QColor color;
    };

    explicit StackedBarChart(QWidget* parent = nullptr);

    void setGroups(const QVector<Group>& groups);
    void setLegend(const QVector<LegendEntry>& entries);
    void setValueAxisLabel(const QString& label);
    void clear() { setGroups({}); }

    int groupCount() const { return int(m_groups.size()); }
    // A segment's value as plotted (read back from the plot's data); 0 when out of range.
    double plottedValue(int group, int bar, int segment) const;
    // The sum of a bar's segments as plotted.
    double plottedTotal(int group, int bar) const;
    QCustomPlot* plot() const { return m_plot; }
    // A bar's label and tooltip as given ("" when out of range).
    QString barLabel(int group, int bar) const;
    QString barTooltip(int group, int bar) const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:

    struct Placed {
        int group, bar;
        double key, width;  // on the category axis
    };
    QCustomPlot* m_plot;
    QVector<Group> m_groups;
    QVector<Placed> m_placed;
    QVector<QVector<QVector<QCPBars*>>> m_series;  // [group][bar][segment]
    QVector<LegendEntry> m_legend;
};

}  // namespace qsui
