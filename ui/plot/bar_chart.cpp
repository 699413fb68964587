// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plot/bar_chart.h"

#include <algorithm>
#include <cmath>

#include <QHelpEvent>
#include <QToolTip>
#include <QVBoxLayout>
#include "ui/plot/qcustomplot_include.h"

namespace qsui {

BarChart::BarChart(QWidget* parent) : QWidget(parent), m_plot(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    m_plot->setBackground(palette().color(QPalette::Base));
    m_plot->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    m_plot->xAxis->grid()->setVisible(false);
    m_plot->xAxis->setTickLength(0, 4);
    m_plot->xAxis->setSubTicks(false);
    m_plot->yAxis->grid()->setSubGridVisible(false);
    m_plot->yAxis->setNumberFormat(QStringLiteral("gb"));
    QFont tickFont = font();
    m_plot->xAxis->setTickLabelFont(tickFont);
    m_plot->yAxis->setTickLabelFont(tickFont);
    m_plot->setMinimumHeight(180);
    m_plot->installEventFilter(this);  // tooltips over bars
    m_plot->setAttribute(Qt::WA_AlwaysShowToolTips);
}

void BarChart::setValueAxisLabel(const QString& label) {
    m_plot->yAxis->setLabel(label);
    m_plot->replot();
}

void BarChart::setBars(const QVector<Bar>& bars) {
    m_plot->clearPlottables();
    m_plot->clearItems();
    m_series.clear();
    m_labels.clear();
    m_bars = bars;
    auto ticker = qSharedPointerDynamicCast<QCPAxisTickerText>(m_plot->xAxis->ticker());
    ticker->clear();
    double maxValue = 0;
    for (int i = 0; i < bars.size(); ++i) {
        const Bar& b = bars[i];
        const double key = i + 1;
        auto* series = new QCPBars(m_plot->xAxis, m_plot->yAxis);
        series->setWidth(0.6);
        series->setPen(QPen(b.color.darker(120)));
        series->setBrush(b.color);
        series->addData(key, b.value);
        m_series << series;
        maxValue = std::max(maxValue, b.value);
        if (!b.label.isEmpty()) {
            auto* text = new QCPItemText(m_plot);
            text->setClipToAxisRect(false);
            text->position->setCoords(key, b.value);
            text->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
            text->setPadding(QMargins(0, 0, 0, 3));
            text->setText(b.label);
            text->setColor(palette().color(QPalette::Text));
            m_labels << text;
        }
    }
    m_plot->xAxis->setRange(0.4, std::max<double>(1, bars.size()) + 0.6);
    m_labelStep = 0;  // the ticks are (re)made by fitCategoryLabels
    fitCategoryLabels();
    // Head room above the tallest bar for its label.
    m_plot->yAxis->setRange(0, maxValue > 0 ? maxValue * 1.15 : 1.0);
    m_plot->replot();
}

void BarChart::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    if (fitCategoryLabels()) m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool BarChart::fitCategoryLabels() {
    const QFontMetrics fm(m_plot->xAxis->tickLabelFont());
    int widest = 0;
    for (const Bar& b : m_bars) widest = std::max(widest, fm.horizontalAdvance(b.category));
    // The axis rect is not laid out before the first replot; the widget width is a close upper bound.
    const int plotWidth = std::max(1, m_plot->axisRect()->width() > 0 ? m_plot->axisRect()->width() : width() - 60);
    const double slot = double(plotWidth) / std::max<double>(1, m_bars.size() + 0.2);
    // Side by side when they fit; otherwise tilted by 45 degrees, where neighbours need about 1.5 line heights
    // apart: when even that is more than a bar's slot, only every step-th bar is labelled (every bar's
    // tooltip names it) and long names are elided in the middle.
    const bool flat = widest + 8 <= slot;
    const double rotation = flat ? 0.0 : -45.0;
    const int step = flat ? 1 : std::max(1, int(std::ceil((1.5 * fm.height() + 2) / std::max(1.0, slot))));
    const int maxWidth = flat ? widest : std::max(6 * fm.averageCharWidth(), fm.horizontalAdvance(QStringLiteral("layer00.attention")));
    if (m_plot->xAxis->tickLabelRotation() == rotation && step == m_labelStep) return false;
    m_plot->xAxis->setTickLabelRotation(rotation);
    m_labelStep = step;
    auto ticker = qSharedPointerDynamicCast<QCPAxisTickerText>(m_plot->xAxis->ticker());
    ticker->clear();
    for (int i = 0; i < m_bars.size(); ++i)
        ticker->addTick(i + 1, i % step == 0 ? fm.elidedText(m_bars[i].category, Qt::ElideMiddle, maxWidth) : QString());
    return true;
}

QVector<double> BarChart::plottedValues() const {
    QVector<double> values;
    for (const QCPBars* s : m_series) values << (s->data()->isEmpty() ? 0.0 : s->data()->constBegin()->value);
    return values;
}

bool BarChart::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_plot && event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const double key = m_plot->xAxis->pixelToCoord(help->pos().x());
        const int i = int(std::lround(key)) - 1;
        if (i >= 0 && i < m_bars.size() && std::abs(key - (i + 1)) <= 0.3 && !m_bars[i].tooltip.isEmpty())
            QToolTip::showText(help->globalPos(), m_bars[i].tooltip, m_plot);
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace qsui
