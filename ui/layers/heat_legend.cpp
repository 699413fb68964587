// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/layers/heat_legend.h"

#include <QLinearGradient>
#include <QPainter>

#include "ui/layers/layer_overview_model.h"

namespace qsui {

HeatLegend::HeatLegend(QWidget* parent) : QWidget(parent) {
    setToolTip(tr("Colour scale of the table: pale is better, red is worse, over the range of this table"));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void HeatLegend::setRange(const QString& better, const QString& worse, const QString& metric) {
    m_better = better;
    m_worse = worse;
    m_metric = metric;
    update();
}

QSize HeatLegend::sizeHint() const { return {400, fontMetrics().height() + 14}; }

void HeatLegend::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QFontMetrics fm = fontMetrics();
    const int h = fm.height() + 4;
    const int y = (height() - h) / 2;
    int x = 0;
    const QString left = tr("%1 better: %2").arg(m_metric, m_better);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QRect(x, y, fm.horizontalAdvance(left) + 2, h), Qt::AlignVCenter, left);
    x += fm.horizontalAdvance(left) + 8;
    const int rampWidth = std::max(80, std::min(260, width() / 3));
    QLinearGradient g(x, 0, x + rampWidth, 0);
    for (int i = 0; i <= 10; ++i) g.setColorAt(i / 10.0, LayerOverviewModel::heatColor(i / 10.0));
    p.setPen(QColor(0, 0, 0, 60));
    p.setBrush(g);
    p.drawRoundedRect(QRect(x, y + 2, rampWidth, h - 4), 3, 3);
    x += rampWidth + 8;
    const QString right = tr("worse: %1").arg(m_worse);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QRect(x, y, fm.horizontalAdvance(right) + 2, h), Qt::AlignVCenter, right);
    x += fm.horizontalAdvance(right) + 24;
    p.setPen(QColor(0, 0, 0, 60));
    p.setBrush(QColor(0xee, 0xee, 0xee));
    p.drawRoundedRect(QRect(x, y + 2, 28, h - 4), 3, 3);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QRect(x + 34, y, width() - x - 34, h), Qt::AlignVCenter, tr("kept as stored"));
}

}  // namespace qsui
