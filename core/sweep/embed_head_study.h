// SPDX-License-Identifier: GPL-3.0-or-later
// The embedding-versus-head study (the question of transformers issue 31474, "should the embedding and the
// LM head be quantized?", answered for the loaded model): with the body fixed by the baseline map, the token
// embedding and the output head are each quantized alone with every study scheme, and each point measured
// with a MapEvaluator (perplexity, and KL divergence / top-1 against the unquantized model when the evaluator
// measures kld). Each row also gives the target tensor's bytes, its bits per weight and its share of the
// whole footprint after the map (core/quant/footprint_after.h footprintShares: percent of the total, a tied
// pair once).
//
// A tied model (ModelInfo::tie) has ONE tensor for both: the rows vary that tensor (target "embedding+head")
// and the result says the model is tied, instead of producing two sets of rows that would be the same
// tensor twice. Each row's point equals `quantscope-cli ppl MODEL --map M` where M is the baseline plus a
// rule for the target (the evaluator's contract). Thread affinity: the evaluator's. Progress covers the
// baseline point and every row; false cancels.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/sweep/map_evaluator.h"

namespace qs::sweep {

// f16, q8_0, int8, nf4, q4_K, int4_g64, q2_K: from 16 down to about 2.6 bits per weight.
std::vector<std::string> defaultStudySchemes();

struct EmbedHeadStudyOptions {
    std::vector<std::string> schemes;  // empty: defaultStudySchemes()
    QuantMap baseline;                 // the body (and everything else) fixed
};

struct StudyRow {
    std::string target;      // "embedding", "head", or "embedding+head" (tied)
    std::string scheme;      // as requested (canonical); "baseline" for the reference row
    std::string schemeUsed;  // what the tensor got (differs after a shape fallback)
    PointMeasure point;
    uint64_t targetBytes = 0;  // the target tensor's bytes under the map
    double targetBpw = 0;      // 8 x targetBytes / its elements
    double sharePercent = 0;   // targetBytes as percent of the whole footprint after the map
};

struct EmbedHeadStudyResult {
    std::string measure;
    bool tied = false;
    std::string tieNote;  // "embedding and head are one tensor (declared ...): varied together"
    PointMeasure baseline;
    std::vector<StudyRow> rows;  // per target: the baseline row, then the schemes in order
    std::vector<std::string> warnings;
    double seconds = 0;
};

Result<EmbedHeadStudyResult> runEmbedHeadStudy(MapEvaluator& evaluator, const Checkpoint& ckpt,
                                               const ModelInfo& info, const EmbedHeadStudyOptions& options,
                                               const ProgressFn& progress = {});

nlohmann::json embedHeadStudyJson(const EmbedHeadStudyResult& r);

}  // namespace qs::sweep
