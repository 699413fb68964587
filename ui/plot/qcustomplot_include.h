// SPDX-License-Identifier: GPL-3.0-or-later
// QCustomPlot for a project built with QT_NO_KEYWORDS (set in the top CMakeLists.txt so that Qt's `emit`, `signals`
// and `slots` macros never collide with oneTBB's names). QCustomPlot's own header still uses `signals:` and
// `foreach`; this maps them to Q_SIGNALS / Q_FOREACH for that one third-party header and nothing else.
// Include this instead of <qcustomplot.h>.
#pragma once

#define signals Q_SIGNALS
#define slots Q_SLOTS
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef foreach
#undef slots
#undef signals
