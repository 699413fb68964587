// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/quantized_model.h"

#include <memory>

#include "core/quant/apply_map.h"
#include "core/quant/quant_map_resolve.h"

namespace qs {

Result<QuantizedModel> quantizeForInference(const Checkpoint& ckpt, const ModelInfo& info, const QuantMap& map,
                                            tbb::task_arena* arena, const ProgressFn& progress,
                                            const CalibrationSet* calibration, QuantizedTensorCache* cache) {
    auto resolved = resolveMap(map, ckpt.tensors, info);
    if (!resolved) return resolved.error();
    QuantizedModel out;
    out.warnings = resolved->warnings;
    ApplyOptions options;
    options.computeStats = false;
    options.progress = progress;
    options.calibration = calibration;
    options.cache = cache;
    auto keep = [&](int index, const std::shared_ptr<const QuantizedTensor>& q, const ErrorReport&) -> Status {
        auto scheme = findScheme(q->scheme);
        if (!scheme) return Error{ckpt.path + ": tensor '" + ckpt.tensors[size_t(index)].name + "' quantized with unknown scheme '" + q->scheme + "'"};
        out.packedBytes += q->bytes.total();
        ++out.quantizedTensors;
        out.tensors[index] = {q, std::move(scheme)};
        return {};
    };
    Result<ApplyResult> applied = applyMapShared(ckpt, info, *resolved, options, arena, keep);
    if (!applied) return applied.error();
    out.fromCache = applied->fromCache;
    for (ReplacedTensor& r : applied->replaced) out.tensors[r.tensor] = QuantizedWeight{nullptr, nullptr, std::move(r.values)};
    out.replacedTensors = int(applied->replaced.size());
    return out;
}

}  // namespace qs
