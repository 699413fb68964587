// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/inference_model.h"

#include "core/infer/memory_plan.h"
#include "core/infer/tokenizer_loader.h"
#include "core/infer/weight_check.h"


namespace qs {

Result<InferenceModel> openInferenceModel(const std::string& path, const InferenceLoadOptions& options,
                                          tbb::task_arena* arena, const ProgressFn& progress) {
    InferenceModel m;
    auto ckpt = openCheckpoint(path, {}, progress);
    if (!ckpt) return ckpt.error();
    m.checkpoint = std::move(ckpt.value());
    m.info = analyzeModel(*m.checkpoint);
    if (!m.info.runnable) {
        // What the reader set aside (an ignored config.json, ...) is often why: said with the refusal.
        std::string why;
        for (const std::string& w : m.checkpoint->warnings) why += "; " + w;
        return Error{path + ": cannot run this model (architecture '" + m.info.architecture + "'): " +
                     m.info.runnableReason + why};
    }
    auto tok = loadTokenizerFor(*m.checkpoint, options.tokenizerPath);
    if (!tok) return tok.error();
    m.tokenizer = std::move(tok.value());
    // The memory plan first: a refusal must not wait for the scan, which reads every weight.
    auto plan = planWeightMemory(*m.checkpoint, m.info, nullptr, options.weights);
    if (!plan) return plan.error();
    if (auto finite = checkFiniteWeights(*m.checkpoint, arena, progress); !finite) return finite.error();
    auto weights = loadModelWeights(*m.checkpoint, m.info, nullptr, plan->options, arena, progress);
    if (!weights) return weights.error();
    m.weights = std::move(weights.value());
    m.warnings = m.weights->warnings;
    if (!plan->warning.empty()) m.warnings.push_back(plan->warning);
    const int modelVocab = m.weights->config.vocab, tokVocab = m.tokenizer->vocabSize();
    if (tokVocab > modelVocab)
        return Error{path + ": the tokenizer (" + m.tokenizer->describe() + ") has " + std::to_string(tokVocab) +
                     " tokens but the model only " + std::to_string(modelVocab) + "; wrong tokenizer?"};
    if (tokVocab < modelVocab)
        m.warnings.push_back(path + ": the tokenizer (" + m.tokenizer->describe() + ") has " + std::to_string(tokVocab) +
                             " tokens, the model " + std::to_string(modelVocab) + " (ids " + std::to_string(tokVocab) +
                             ".." + std::to_string(modelVocab - 1) + " are never produced by the tokenizer)");
    for (const auto& w : m.tokenizer->warnings()) m.warnings.push_back(w);
    return m;
}

}  // namespace qs
