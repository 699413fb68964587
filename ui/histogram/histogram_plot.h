// SPDX-License-Identifier: GPL-3.0-or-later
// HistogramPlot: one or more histograms over equal-width bins, drawn as step curves (the first one filled,
// the others as semi-transparent overlays), with a linear or logarithmic value axis, mouse zoom (wheel) and
// pan (drag) and resetZoom(). QCustomPlot stays behind this interface (STYLE.md, "Qt side").
// In log scale, empty bins are drawn as gaps (log 0 is undefined); values() always returns what was given.
// UI thread only.
#pragma once

#include <QColor>
#include <QString>
#include <QVector>
#include <QWidget>

#include "core/stats/histogram.h"

class QCustomPlot;

namespace qsui {

class HistogramPlot : public QWidget {
    Q_OBJECT
public:
    struct Series {
        QString name;            // legend entry
        QColor color;
        double lo = 0, hi = 1;   // bin range
        QVector<double> values;  // one per bin
        bool filled = false;     // fill under the curve (the reference series)
    };

    explicit HistogramPlot(QWidget* parent = nullptr);

    void setSeries(const QVector<Series>& series);
    void clear() { setSeries({}); }
    void setLogScale(bool log);
    bool logScale() const { return m_log; }
    void setAxisLabels(const QString& x, const QString& y);
    // Back to the full extent of the data.
    void resetZoom();

    int seriesCount() const { return int(m_series.size()); }
    // Points drawn by the plot for series i (== its bins) and the values given for it.
    int dataCount(int i) const;
    QVector<double> values(int i) const { return m_series.value(i).values; }
    QString seriesName(int i) const { return m_series.value(i).name; }
    QCustomPlot* plot() const { return m_plot; }

    // Helpers turning a core histogram into a series: raw counts, or a probability density
    // (count / (total * bin width)) so histograms with different bin widths compare.
    static Series countSeries(const qs::Histogram& h, const QString& name, const QColor& color, bool filled);
    static Series densitySeries(const qs::Histogram& h, const QString& name, const QColor& color, bool filled);

private:
    void rebuild();

    QCustomPlot* m_plot;
    QVector<Series> m_series;
    bool m_log = false;
};

}  // namespace qsui
