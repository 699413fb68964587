// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/calib/calibration.h"

namespace qs {

std::string calibrationNeedsText(CalibrationNeeds needs) {
    static const std::pair<CalibrationNeeds, const char*> kNames[] = {
        {CalibrationNeeds::Importance, "importance"}, {CalibrationNeeds::Hessian, "hessian"},
        {CalibrationNeeds::Samples, "samples"},       {CalibrationNeeds::MaxAbs, "maxAbs"},
        {CalibrationNeeds::MeanAbs, "meanAbs"},
    };
    std::string out;
    for (const auto& [bit, name] : kNames) {
        if (!hasAll(needs, bit)) continue;
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out.empty() ? "none" : out;
}

std::vector<float> TensorCalibration::importance() const {
    std::vector<float> out;
    if (tokens <= 0 || sumSquares.size() != size_t(cols)) return out;
    out.resize(sumSquares.size());
    // One division in double rounded once to float: for float inputs (an imatrix file's in_sum2 and count)
    // this equals the float division llama.cpp does (double has more than 2 x 24 + 2 bits).
    for (size_t j = 0; j < out.size(); ++j) out[j] = float(sumSquares[j] / double(tokens));
    return out;
}

CalibrationNeeds TensorCalibration::collected() const {
    CalibrationNeeds n = CalibrationNeeds::None;
    const size_t c = size_t(cols);
    if (c == 0) return n;
    if (sumSquares.size() == c) n |= CalibrationNeeds::Importance;
    if (hessian.size() == c * c) n |= CalibrationNeeds::Hessian;
    if (!samples.empty() && samples.size() % c == 0) n |= CalibrationNeeds::Samples;
    if (maxAbs.size() == c) n |= CalibrationNeeds::MaxAbs;
    if (sumAbs.size() == c) n |= CalibrationNeeds::MeanAbs;
    return n;
}

const TensorCalibration* CalibrationSet::find(std::string_view tensorName) const {
    auto it = tensors.find(tensorName);
    return it == tensors.end() ? nullptr : it->second.get();
}

}  // namespace qs
