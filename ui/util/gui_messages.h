// SPDX-License-Identifier: GPL-3.0-or-later
// Core's messages as the GUI shows them. Core words a calibrated scheme's refusal for the CLI ("… needs
// calibration data (pass --calib FILE or --imatrix FILE)": qs::kCalibrationCliHint,
// core/quant/calibration_hint.h); in the GUI the same refusal names the GUI action instead. JobRunner applies
// this to every job's error, and the views to the messages they take from core directly (the footprint's
// lower-bound note, missingCalibration). Pure functions.
#pragma once

#include <string>

#include <QString>

namespace qsui {

// What a GUI message says instead of core's CLI hint.
QString calibrationGuiHint();
// `message` with core's CLI hint replaced by calibrationGuiHint() (unchanged when it has none).
QString guiCalibrationMessage(const QString& message);
std::string guiCalibrationMessage(const std::string& message);

}  // namespace qsui
