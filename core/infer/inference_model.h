// SPDX-License-Identifier: GPL-3.0-or-later
// InferenceModel: everything the front ends need to run a checkpoint: the opened checkpoint, its analysis, the
// tokenizer (beside the model, embedded in GGUF, or given explicitly) and the float weights. Quantized
// variants are built from it with loadModelWeights() and a QuantizedWeightMap, sharing the checkpoint.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/infer/model_weights.h"
#include "core/infer/tokenizer.h"
#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/util/result.h"

namespace qs {

struct InferenceLoadOptions {
    std::string tokenizerPath;  // overrides the tokenizer found with the checkpoint
    WeightLoadOptions weights;
};

struct InferenceModel {
    std::unique_ptr<Checkpoint> checkpoint;
    ModelInfo info;
    std::unique_ptr<Tokenizer> tokenizer;
    std::shared_ptr<const ModelWeights> weights;  // as stored (every tensor converted to float)
    std::vector<std::string> warnings;
};

// Opens `path`, checks the engine runs everything the model declares (ModelInfo::runnable), loads its tokenizer
// and weights. Fails with a message naming the file and the reason (ModelInfo::runnableReason: the feature and
// the config/GGUF key it came from; tokenizer missing or unreadable; a NaN or Inf weight: checkFiniteWeights)...
Result<InferenceModel> openInferenceModel(const std::string& path, const InferenceLoadOptions& options,
                                          tbb::task_arena* arena, const ProgressFn& progress = {});

}  // namespace qs
