// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/export/export_fallbacks.h"

namespace qs {

std::vector<ExportFallback> resolutionFallbacks(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors) {
    std::vector<ExportFallback> out;
    for (size_t i = 0; i < resolved.tensors.size() && i < tensors.size(); ++i) {
        const TensorPlan& p = resolved.tensors[i];
        if (p.fallbackReason.empty() || p.tiedTo >= 0) continue;
        out.push_back({tensors[i].name, p.requested(resolved.map), p.scheme.empty() ? std::string("keep") : p.scheme,
                       p.fallbackReason, i});
    }
    return out;
}

nlohmann::json exportFallbacksJson(const std::vector<ExportFallback>& fallbacks) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& f : fallbacks)
        j.push_back({{"tensor", f.tensor}, {"requested", f.requested}, {"written", f.written}, {"reason", f.reason}});
    return j;
}

std::string describeFallback(const ExportFallback& f) {
    return f.tensor + ": requested " + f.requested + ", written as " + f.written + " (" + f.reason + ")";
}

}  // namespace qs
