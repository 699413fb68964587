// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plot/plot_legend.h"

#include <algorithm>

namespace qsui {

void placeLegendAbove(QCustomPlot* plot, int itemsPerRow) {
    QCPLegend* legend = plot->legend;
    legend->setVisible(true);
    legend->setBrush(Qt::NoBrush);
    legend->setBorderPen(Qt::NoPen);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend->setWrap(itemsPerRow);
    // A narrow plot (a window with both docks open) stacks the items instead of clipping them on the right.
    QObject::connect(plot, &QCustomPlot::beforeReplot, plot, [plot, itemsPerRow] {
        const int fit = std::clamp(plot->width() / 170, 1, itemsPerRow);
        if (plot->legend->wrap() != fit) plot->legend->setWrap(fit);
    });
    legend->setMargins(QMargins(0, 0, 0, 0));
    QFont small = plot->font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    legend->setFont(small);
    plot->plotLayout()->insertRow(0);  // addElement takes it out of the axis rect's inset layout
    plot->plotLayout()->addElement(0, 0, legend);
    plot->plotLayout()->setRowStretchFactor(0, 0.001);
    plot->plotLayout()->setRowSpacing(0);
}

}  // namespace qsui
