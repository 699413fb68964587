// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plot/stacked_bar_chart.h"

#include <algorithm>
#include <cmath>

#include <QHelpEvent>
#include <QToolTip>
#include <QVBoxLayout>
#include "ui/plot/qcustomplot_include.h"

namespace qsui {
namespace {

constexpr double kBarWidth = 0.36;  // in category units; two bars and a gap fill ~0.8 of a category
constexpr double kBarGap = 0.04;

}  // namespace

StackedBarChart::StackedBarChart(QWidget* parent) : QWidget(parent), m_plot(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    m_plot->setBackground(palette().color(QPalette::Base));
    // Categories on the left axis (first on top), values along the bottom axis.
    QCPAxis* keyAxis = m_plot->yAxis;
    QCPAxis* valueAxis = m_plot->xAxis;
    keyAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    keyAxis->setRangeReversed(true);
    keyAxis->grid()->setVisible(false);
    keyAxis->setTickLength(0, 3);
    keyAxis->setSubTicks(false);
    valueAxis->grid()->setSubGridVisible(false);
    valueAxis->setNumberFormat(QStringLiteral("gb"));
    valueAxis->ticker()->setTickCount(4);
    const QFont tickFont = font();
    QFont bold = tickFont;
    bold.setBold(true);
    keyAxis->setTickLabelFont(bold);
    valueAxis->setTickLabelFont(tickFont);
    valueAxis->setLabelFont(tickFont);
    m_plot->legend->setFont(tickFont);
    // The legend goes in a row under the plot, so it never covers a bar.
    m_plot->axisRect()->insetLayout()->take(m_plot->legend);
    m_plot->plotLayout()->addElement(1, 0, m_plot->legend);
    m_plot->plotLayout()->setRowStretchFactor(1, 0.001);
    m_plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
    m_plot->legend->setBorderPen(Qt::NoPen);
    m_plot->legend->setBrush(Qt::NoBrush);
    m_plot->legend->setMargins(QMargins(4, 0, 4, 2));
    m_plot->setMinimumHeight(190);
    // QCustomPlot's own minimum is the legend row's width; let a narrow pane squeeze it instead.
    m_plot->setMinimumWidth(220);
    m_plot->installEventFilter(this);
    m_plot->setAttribute(Qt::WA_AlwaysShowToolTips);
}

void StackedBarChart::setValueAxisLabel(const QString& label) {
    m_plot->xAxis->setLabel(label);
    m_plot->replot();
}

void StackedBarChart::setLegend(const QVector<LegendEntry>& entries) {
    m_legend = entries;
    setGroups(QVector<Group>(m_groups));
}

void StackedBarChart::setGroups(const QVector<Group>& groups) {
    m_plot->clearPlottables();
    m_plot->clearItems();
    m_series.clear();
    m_placed.clear();
    m_groups = groups;
    QCPAxis* keyAxis = m_plot->yAxis;
    QCPAxis* valueAxis = m_plot->xAxis;
    auto ticker = qSharedPointerDynamicCast<QCPAxisTickerText>(keyAxis->ticker());
    ticker->clear();
    const QColor textColor = palette().color(QPalette::Text);
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    const QFontMetrics smallFm(small);
    double maxTotal = 0;
    int widestLabel = 0;
    for (int g = 0; g < groups.size(); ++g) {
        const Group& group = groups[g];
        const double centre = g + 1;
        ticker->addTick(centre, group.category);
        const int n = int(group.bars.size());
        m_series.push_back({});
        for (int b = 0; b < n; ++b) {
            const Bar& bar = group.bars[b];
            const double key = centre + (b - (n - 1) / 2.0) * (kBarWidth + kBarGap);
            m_placed.push_back({g, b, key, kBarWidth});
            QVector<QCPBars*> stack;
            double total = 0;
            for (const Segment& s : bar.segments) {
                auto* series = new QCPBars(keyAxis, valueAxis);
                series->setWidth(kBarWidth);
                series->setPen(QPen(s.color.darker(125)));
                series->setBrush(s.color);
                series->addData(key, s.value);
                series->removeFromLegend();
                if (!stack.isEmpty()) series->moveAbove(stack.back());
                stack.push_back(series);
                total += s.value;
            }
            m_series.back().push_back(stack);
            maxTotal = std::max(maxTotal, total);
            if (!bar.label.isEmpty()) {
                auto* text = new QCPItemText(m_plot);
                text->setClipToAxisRect(false);
                text->position->setAxes(valueAxis, keyAxis);
                text->position->setCoords(total, key);
                text->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
                text->setPadding(QMargins(4, 0, 0, 0));
                text->setText(bar.label);
                text->setColor(textColor);
                text->setFont(small);
                widestLabel = std::max(widestLabel, smallFm.horizontalAdvance(bar.label) + 6);
            }
        }
    }
    for (const LegendEntry& e : m_legend) {
        auto* dummy = new QCPBars(keyAxis, valueAxis);  // no data: a legend swatch only
        dummy->setName(e.text);
        dummy->setBrush(e.color);
        dummy->setPen(QPen(e.color.darker(125)));
    }
    m_plot->legend->setVisible(!m_legend.isEmpty() && !groups.isEmpty() && width() >= 330);
    keyAxis->setRange(0.45, std::max<double>(1, groups.size()) + 0.55);
    // Room right of the longest bar for its label: the label's pixels expressed in value units.
    const int plotWidth = std::max(120, m_plot->axisRect()->width() > 0 ? m_plot->axisRect()->width() : width() - 90);
    const double labelShare = std::min(0.6, double(widestLabel) / double(plotWidth));
    valueAxis->setRange(0, maxTotal > 0 ? maxTotal / (1.0 - labelShare) : 1.0);
    m_plot->replot();
}

double StackedBarChart::plottedValue(int group, int bar, int segment) const {
    if (group < 0 || group >= m_series.size() || bar < 0 || bar >= m_series[group].size() || segment < 0 ||
        segment >= m_series[group][bar].size())
        return 0.0;
    const QCPBars* s = m_series[group][bar][segment];
    return s->data()->isEmpty() ? 0.0 : s->data()->constBegin()->value;
}

double StackedBarChart::plottedTotal(int group, int bar) const {
    double total = 0;
    if (group < 0 || group >= m_series.size() || bar < 0 || bar >= m_series[group].size()) return 0.0;
    for (int s = 0; s < m_series[group][bar].size(); ++s) total += plottedValue(group, bar, s);
    return total;
}

void StackedBarChart::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    // Narrow pane: the legend row would be cut and a wrapped one would take the bars' height; hide it (the
    // chart's tooltip says what the shades mean).
    const bool legend = !m_legend.isEmpty() && !m_groups.isEmpty() && width() >= 330;
    m_plot->xAxis->ticker()->setTickCount(width() < 330 ? 2 : 4);
    if (m_plot->legend->visible() != legend) {
        m_plot->legend->setVisible(legend);
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    }
}

bool StackedBarChart::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_plot && event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const double key = m_plot->yAxis->pixelToCoord(help->pos().y());
        for (const Placed& p : m_placed)
            if (std::abs(key - p.key) <= p.width / 2) {
                const QString& tip = m_groups[p.group].bars[p.bar].tooltip;
                if (!tip.isEmpty()) QToolTip::showText(help->globalPos(), tip, m_plot);
                return true;
            }
        QToolTip::hideText();
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

QString StackedBarChart::barLabel(int group, int bar) const {
    if (group < 0 || group >= m_groups.size() || bar < 0 || bar >= m_groups[group].bars.size()) return {};
    return m_groups[group].bars[bar].label;
}

QString StackedBarChart::barTooltip(int group, int bar) const {
    if (group < 0 || group >= m_groups.size() || bar < 0 || bar >= m_groups[group].bars.size()) return {};
    return m_groups[group].bars[bar].tooltip;
}

}  // namespace qsui
