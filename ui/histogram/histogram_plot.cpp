// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/histogram/histogram_plot.h"

#include <cmath>
#include <limits>

#include <QVBoxLayout>
#include "ui/plot/plot_legend.h"
#include "ui/plot/qcustomplot_include.h"

namespace qsui {

HistogramPlot::HistogramPlot(QWidget* parent) : QWidget(parent), m_plot(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    m_plot->setBackground(palette().color(QPalette::Base));
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    // Zoom and drag the bin axis only by default: the count axis follows the data (Ctrl toggles both).
    m_plot->axisRect()->setRangeZoom(Qt::Horizontal);
    m_plot->axisRect()->setRangeDrag(Qt::Horizontal);
    m_plot->yAxis->grid()->setSubGridVisible(false);
    m_plot->xAxis->grid()->setVisible(false);
    placeLegendAbove(m_plot);  // never hides the tails
    m_plot->setMinimumHeight(140);
    m_plot->setNoAntialiasingOnDrag(true);
}

void HistogramPlot::setAxisLabels(const QString& x, const QString& y) {
    m_plot->xAxis->setLabel(x);
    m_plot->yAxis->setLabel(y);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramPlot::setSeries(const QVector<Series>& series) {
    m_series = series;
    rebuild();
    resetZoom();
}

void HistogramPlot::setLogScale(bool log) {
    if (log == m_log) return;
    m_log = log;
    if (log) {
        m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        m_plot->yAxis->setNumberFormat(QStringLiteral("eb"));
        m_plot->yAxis->setNumberPrecision(0);
    } else {
        m_plot->yAxis->setScaleType(QCPAxis::stLinear);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        m_plot->yAxis->setNumberFormat(QStringLiteral("gb"));
        m_plot->yAxis->setNumberPrecision(6);
    }
    rebuild();
    resetZoom();
}

void HistogramPlot::rebuild() {
    m_plot->clearGraphs();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (const Series& s : m_series) {
        QCPGraph* g = m_plot->addGraph();
        g->setName(s.name);
        g->setLineStyle(QCPGraph::lsStepCenter);
        QPen pen(s.color, s.filled ? 1.0 : 1.6);
        g->setPen(pen);
        QColor fill = s.color;
        fill.setAlpha(s.filled ? 110 : 55);
        g->setBrush(fill);
        const int n = int(s.values.size());
        const double w = n > 0 ? (s.hi - s.lo) / n : 0.0;
        QVector<double> keys(n), values(n);
        for (int i = 0; i < n; ++i) {
            keys[i] = s.lo + (i + 0.5) * w;
            values[i] = (m_log && !(s.values[i] > 0)) ? nan : s.values[i];
        }
        g->setData(keys, values, true);
    }
    m_plot->legend->setVisible(!m_series.isEmpty());
}

void HistogramPlot::resetZoom() {
    if (m_series.isEmpty()) {
        m_plot->xAxis->setRange(0, 1);
        m_plot->yAxis->setRange(m_log ? 0.5 : 0.0, m_log ? 10 : 1);
        m_plot->replot();
        return;
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo, top = 0, bottom = lo;
    for (const Series& s : m_series) {
        lo = std::min(lo, s.lo);
        hi = std::max(hi, s.hi);
        for (double v : s.values) {
            top = std::max(top, v);
            if (v > 0) bottom = std::min(bottom, v);
        }
    }
    const double pad = (hi - lo) * 0.02;
    m_plot->xAxis->setRange(lo - pad, hi + pad);
    if (m_log)
        m_plot->yAxis->setRange(std::isfinite(bottom) ? bottom * 0.5 : 0.5, top > 0 ? top * 2.0 : 10.0);
    else
        m_plot->yAxis->setRange(0, top > 0 ? top * 1.08 : 1.0);
    m_plot->replot();
}

int HistogramPlot::dataCount(int i) const {
    if (i < 0 || i >= m_plot->graphCount()) return 0;
    return m_plot->graph(i)->dataCount();
}

HistogramPlot::Series HistogramPlot::countSeries(const qs::Histogram& h, const QString& name, const QColor& color,
                                                 bool filled) {
    Series s{name, color, h.lo, h.hi, {}, filled};
    s.values.reserve(h.bins());
    for (uint64_t c : h.counts) s.values << double(c);
    return s;
}

HistogramPlot::Series HistogramPlot::densitySeries(const qs::Histogram& h, const QString& name, const QColor& color,
                                                   bool filled) {
    Series s{name, color, h.lo, h.hi, {}, filled};
    const double total = double(h.total() + h.below + h.above), w = h.binWidth();
    s.values.reserve(h.bins());
    for (uint64_t c : h.counts) s.values << (total > 0 && w > 0 ? double(c) / (total * w) : 0.0);
    return s;
}

}  // namespace qsui
