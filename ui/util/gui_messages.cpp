// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/util/gui_messages.h"

#include <QObject>

#include "core/quant/calibration_hint.h"

namespace qsui {

QString calibrationGuiHint() {
    return QObject::tr(" (Map editor → Calibration → Collect, or Load… an imatrix or .h5)");
}

QString guiCalibrationMessage(const QString& message) {
    QString out = message;
    return out.replace(
        QString::fromUtf8(qs::kCalibrationCliHint.data(), qsizetype(qs::kCalibrationCliHint.size())),
        calibrationGuiHint());
}

std::string guiCalibrationMessage(const std::string& message) {
    return guiCalibrationMessage(QString::fromStdString(message)).toStdString();
}

}  // namespace qsui
