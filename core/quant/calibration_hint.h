// SPDX-License-Identifier: GPL-3.0-or-later
// The hint the calibration refusals of calibrationFor / checkCalibration (scheme.h) end their first sentence
// with. It names the CLI's options, so a front end with other controls (the GUI's map editor,
// ui/util/gui_messages.h) replaces exactly this text in the messages it shows.
#pragma once

#include <string_view>

namespace qs {

inline constexpr std::string_view kCalibrationCliHint = " (pass --calib FILE or --imatrix FILE)";

}  // namespace qs
