// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/calib/calibration.h"

#include <cstdio>
#include <cstring>

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
    for (size_t j = 0; j < out.size(); ++j) out[j] = importanceOf(sumSquares[j], tokens);
    return out;
}

float importanceOf(double sumSquares, int64_t tokens) {
    // The float division llama-quantize does, written as one division of the two floats in double rounded once
    // to float, which equals it (double has more than 2 x 24 + 2 bits).
    return float(double(float(sumSquares)) / double(float(tokens)));
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

std::string CalibrationProvenance::key() const {
    return source + "|" + modelFingerprint + "|" + textFingerprint + "|" + settingsKey;
}

namespace {
// FNV-1a 64 (the same function as io/fingerprint.h fnv1aHex), fed piece by piece.
struct Fnv1a {
    uint64_t h = 14695981039346656037ull;
    void add(const void* p, size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        for (size_t i = 0; i < n; ++i) {
            h ^= b[i];
            h *= 1099511628211ull;
        }
    }
    template <class T>
    void addVector(const std::vector<T>& v) {
        const uint64_t n = v.size();
        add(&n, sizeof n);
        if (n) add(v.data(), v.size() * sizeof(T));
    }
};
}  // namespace

std::string CalibrationSet::fingerprint() const {
    const CalibrationProvenance& p = provenance;
    if (p.source == "engine" && !p.modelFingerprint.empty() && !p.textFingerprint.empty()) return "prov:" + p.key();
    Fnv1a f;
    const std::string prov = p.key();
    f.add(prov.data(), prov.size());
    for (const auto& [name, c] : tensors) {
        f.add(name.data(), name.size() + 1);  // with the terminator: "ab"+"c" differs from "a"+"bc"
        if (!c) continue;
        f.add(&c->cols, sizeof c->cols);
        f.add(&c->tokens, sizeof c->tokens);
        f.addVector(c->sumSquares);
        f.addVector(c->maxAbs);
        f.addVector(c->sumAbs);
        f.addVector(c->hessian);
        f.addVector(c->samples);
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(f.h));
    return std::string("data:") + hex;
}

const TensorCalibration* CalibrationSet::find(std::string_view tensorName) const {
    auto it = tensors.find(tensorName);
    return it == tensors.end() ? nullptr : it->second.get();
}

}  // namespace qs
