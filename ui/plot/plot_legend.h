// SPDX-License-Identifier: GPL-3.0-or-later
// Legends that never cover data: QCustomPlot puts its legend inside the axis rect (the inset layout), where it
// hides the points under it (a sweep's small-size corner, a histogram's tail). This moves it into its own row
// above the axis rect, its items laid out left to right and wrapped after `itemsPerRow` (fewer when the plot
// is narrow: about 170 px per item), in a slightly smaller font, without a frame. GUI thread only, like every
// QCustomPlot call; call once after creating the plot.
#pragma once

#include "ui/plot/qcustomplot_include.h"

namespace qsui {

void placeLegendAbove(QCustomPlot* plot, int itemsPerRow = 4);

}  // namespace qsui
