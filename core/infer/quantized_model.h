// SPDX-License-Identifier: GPL-3.0-or-later
// Quantizing a checkpoint for inference: resolves a quantization map against the model and applies it
// (core/quant/apply_map.h, without error statistics), keeping every packed tensor with its scheme, keyed by
// tensor index, ready for loadModelWeights(). A tied head gets no tensor of its own: the engine uses the
// quantized embedding for it.
#pragma once

#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"
#include "core/infer/model_weights.h"
#include "core/jobs/progress.h"
#include "core/quant/quant_map.h"
#include "core/util/result.h"

namespace qs {

struct QuantizedModel {
    QuantizedWeightMap tensors;
    int quantizedTensors = 0;
    uint64_t packedBytes = 0;          // bytes of the quantized tensors as packed
    std::vector<std::string> warnings; // resolution warnings (fallbacks, tie disagreements)
};

// Runs inside `arena` (serially when null). Fails on a tensor that cannot be decoded or quantized (named), on
// a calibrated scheme without its data in `calibration` (may be null; see ApplyOptions::calibration), or with
// kCancelledMessage when `progress` returns false.
Result<QuantizedModel> quantizeForInference(const Checkpoint& ckpt, const ModelInfo& info, const QuantMap& map,
                                            tbb::task_arena* arena, const ProgressFn& progress = {},
                                            const CalibrationSet* calibration = nullptr);

}  // namespace qs
