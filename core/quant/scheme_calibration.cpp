// SPDX-License-Identifier: GPL-3.0-or-later
// calibrationFor / checkCalibration (scheme.h): the one place that words the refusal of a calibrated scheme
// without data, so every path (CLI, GUI, sweeps, export) says the same thing.
#include <string>

#include "core/quant/calibration_hint.h"
#include "core/quant/scheme.h"

namespace qs {

namespace {

std::string head(const Scheme& scheme, std::string_view tensorName) {
    return scheme.name() + " on '" + std::string(tensorName) + "' needs calibration data";
}
const std::string kHint{kCalibrationCliHint};

}  // namespace

Status checkCalibration(const Scheme& scheme, const TensorCalibration* calibration, std::string_view tensorName,
                        int64_t cols) {
    const CalibrationNeeds needs = scheme.calibrationNeeds();
    if (isNone(needs)) return {};
    if (!calibration) return Error{head(scheme, tensorName) + kHint};
    if (calibration->cols != cols)
        return Error{head(scheme, tensorName) + " for " + std::to_string(cols) + " input columns; the calibration " +
                     "given has " + std::to_string(calibration->cols) + " (collected on another model?)"};
    if (calibration->tokens <= 0)
        return Error{head(scheme, tensorName) + "; the calibration given saw no tokens for this input"};
    const CalibrationNeeds have = calibration->collected();
    if (!hasAll(have, needs))
        return Error{head(scheme, tensorName) + " (" + calibrationNeedsText(needs) + "); the calibration given " +
                     "has only " + calibrationNeedsText(have) + " for this input (collect it again with " +
                     scheme.name() + " in the map)"};
    return {};
}

Result<const TensorCalibration*> calibrationFor(const Scheme& scheme, const CalibrationSet* set,
                                                std::string_view tensorName, int64_t cols) {
    if (!scheme.needsCalibrationFor(tensorName)) return static_cast<const TensorCalibration*>(nullptr);
    if (!set) return Error{head(scheme, tensorName) + kHint};
    const TensorCalibration* c = set->find(tensorName);
    if (!c)
        return Error{head(scheme, tensorName) + kHint + "; the calibration set has none for this tensor (it is " +
                     "not the weight of a linear layer the engine multiplies activations with, e.g. an embedding)"};
    if (auto s = checkCalibration(scheme, c, tensorName, cols); !s) return s.error();
    return c;
}

}  // namespace qs
