// SPDX-License-Identifier: GPL-3.0-or-later
// One colour and one label per tensor role, shared by every view (tree swatches, footprint bars, later the
// layer and histogram views), so a role looks the same everywhere.
#pragma once

#include <QColor>
#include <QIcon>
#include <QString>

#include "core/model/model_info.h"

namespace qsui {

QColor roleColor(qs::Role role);
QString roleLabel(qs::Role role);     // roleName() as a QString: "embedding", "head", ...
// A 12x12 filled square in roleColor(). Builds a pixmap on each call: views cache it (GUI thread only).
QIcon roleSwatch(qs::Role role);
// A 12x12 chain-link badge for tied tensors (same caching rule).
QIcon tieIcon(const QColor& color);

}  // namespace qsui
