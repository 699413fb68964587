// SPDX-License-Identifier: GPL-3.0-or-later
// Quantizing a checkpoint for inference: resolves a quantization map against the model and applies it
// (core/quant/apply_map.h, without error statistics), keeping every packed tensor with its scheme, keyed by
// tensor index, ready for loadModelWeights(). A tied head gets no tensor of its own: the engine uses the
// quantized embedding for it.
//
// With a cache (core/quant/quantized_tensor_cache.h), tensors already quantized with their scheme (by an
// earlier build, the GUI's Quantize or layer overview) are taken from it, shared, not quantized again; the
// ones quantized here are added to it. The packed tensors are identical either way.
//
// AWQ scales are folded into the preceding norms where the map allows (ApplyOptions::foldAwqScales, awq_fold.h):
// the replaced norms are entries with QuantizedWeight::values, which loadModelWeights uses as the norm's values.
#pragma once

#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"
#include "core/infer/model_weights.h"
#include "core/jobs/progress.h"
#include "core/quant/quant_map.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/util/result.h"

namespace qs {

struct QuantizedModel {
    QuantizedWeightMap tensors;
    int quantizedTensors = 0;
    int fromCache = 0;                 // of those, taken from the cache (the rest were quantized here)
    uint64_t packedBytes = 0;          // bytes of the quantized tensors as packed
    int replacedTensors = 0;           // 1-D tensors replaced by the apply (RMSNorms with AWQ scales folded in:
                                       // QuantizedWeight::values), not counted in quantizedTensors/packedBytes
    std::vector<std::string> warnings; // resolution warnings (fallbacks, tie disagreements)
};

// Runs inside `arena` (serially when null). Fails on a tensor that cannot be decoded or quantized (named), on
// a calibrated scheme without its data in `calibration` (may be null; see ApplyOptions::calibration), or with
// kCancelledMessage when `progress` returns false.
Result<QuantizedModel> quantizeForInference(const Checkpoint& ckpt, const ModelInfo& info, const QuantMap& map,
                                            tbb::task_arena* arena, const ProgressFn& progress = {},
                                            const CalibrationSet* calibration = nullptr,
                                            QuantizedTensorCache* cache = nullptr);

}  // namespace qs
