// SPDX-License-Identifier: GPL-3.0-or-later
// Small helpers shared by the analysis views (histogram, layer overview, outlier map): number formatting
// for statistics and the centred empty-state hint. Pure formatting is callable from any thread; widgets are
// UI thread only.
#pragma once

#include <QString>

class QLabel;

namespace qsui {

// A statistic with 4 significant digits ("0.01234", "1.235e-05", "-3.5"); non-finite as "∞" / "–∞" / "—".
QString formatStat(double v);
// Decibels with one decimal ("23.4 dB"), "∞ dB" for a lossless result.
QString formatDb(double v);
// A grey, centred, word-wrapped hint for views with nothing to show yet.
QLabel* makeEmptyHint(const QString& text);

}  // namespace qsui
