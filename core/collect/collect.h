// SPDX-License-Identifier: GPL-3.0-or-later
// Collecting calibration statistics (core/calib/calibration.h) by running QuantScope's own engine over a
// calibration text, with the Transformer's activation observer (core/infer/transformer.h).
//
// Sequences: as llama.cpp's imatrix (tools/imatrix/imatrix.cpp) and perplexity do, the tokenized text (from
// calibrateModel: with BOS first when the model takes one, as llama.cpp's common_tokenize(add_special = true),
// so chunk k starts at the same text token as llama-imatrix's) is cut into consecutive chunks of
// `sequenceLength` tokens whose first token is replaced by BOS (when the vocabulary has one); each chunk runs from position 0 of an empty KV cache. CalibrationSettings::tokens
// bounds the tokens run (whole chunks only; a shorter text gives fewer, and the provenance says how many).
//
// Streaming: every input's statistics are accumulated as the batches pass (sums in double, per column in
// token order; Hessians per element in token order; max |x| exact), activations are never stored except the
// bounded sample reservoir. Memory: calibrationBytes() below; collectCalibration refuses by name, before
// running, when it exceeds the machine's available memory (core/infer/memory_plan.h machineMemory()).
//
// Determinism: the engine's activations do not depend on the batch size or thread count (transformer.h), and
// each accumulated value is a sum in token order, so the statistics are identical bit for bit for any
// EngineOptions::batch and any arena. The reservoir is Vitter's algorithm R driven by splitmix64 seeded from
// CalibrationSettings::seed and the input, one draw per row in token order: deterministic too.
//
// Threads: the engine and the accumulation (parallel over columns / Hessian rows) run in `arena` (serially
// when null). Progress: fraction of the tokens run, stage "calibrating: sequence k/N"; returning false cancels
// between engine batches (Error kCancelledMessage).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"
#include "core/infer/inference_model.h"
#include "core/infer/model_weights.h"
#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map_resolve.h"
#include "core/util/result.h"

namespace qs {

struct CalibrationSettings {
    int64_t tokens = 16384;   // tokens run through the engine, BOS included (--calib-tokens); 0: the whole text
    int sequenceLength = 512; // tokens per sequence (--calib-ctx); capped at the model's context
    // What to collect. Importance, MaxAbs and MeanAbs cost 3 numbers per input column; Hessian and Samples
    // are asked for by the schemes that need them (CalibrationNeeds of the map's schemes).
    CalibrationNeeds needs = CalibrationNeeds::Importance | CalibrationNeeds::MaxAbs | CalibrationNeeds::MeanAbs;
    std::vector<int> hessianLayers;  // with Hessian: the blocks whose inputs get one (empty: every block)
    bool hessianHead = false;        // with Hessian: the output head's input too
    int samplesPerInput = 256;       // with Samples: rows kept per input (reservoir size)
    uint64_t seed = 1;               // the reservoir's seed
    int batch = 64;                  // engine batch (tokens per forward call); results do not depend on it

    // The canonical text of everything above that changes the statistics (batch excluded): the cache key part.
    std::string key() const;
};

// Bytes the statistics take for a model of this shape, with `settings`: per input (attention-in, -out, MLP-in,
// down-in of every block, head-in) 8 x 2 x cols (sumSquares, sumAbs) + 4 x cols (maxAbs); + 8 x cols^2 for a
// Hessian (the asked layers' inputs); + 4 x samplesPerInput x cols with Samples.
uint64_t calibrationBytes(const ModelConfig& config, const CalibrationSettings& settings);

// Runs `weights` (as loaded by loadModelWeights for ckpt/info) over `textTokens` (the tokenized text without
// BOS; `bos` the vocabulary's BOS id or -1) and returns the statistics, keyed by ckpt's tensor names (q/k/v
// share the attention input, gate/up the MLP input; the head's input under the head tensor when the checkpoint
// stores one). Provenance: source, tokens, sequences, sequenceLength, collected and settingsKey are set; the
// caller sets the text and model fingerprints. Fails on an empty text, a sequence length < 2, settings that do
// not fit in memory (named, with the formula's figure), an engine error (overflow), non-finite statistics
// (naming the input), or kCancelledMessage.
Result<CalibrationSet> collectCalibration(const Checkpoint& ckpt, const ModelInfo& info,
                                          std::shared_ptr<const ModelWeights> weights,
                                          std::span<const int> textTokens, int bos,
                                          const CalibrationSettings& settings, tbb::task_arena* arena,
                                          const ProgressFn& progress = {});

// GPTQ's sequential mode (Frantar et al. 2022, "GPTQ", section 4: each layer is quantized with the inputs the
// already quantized earlier layers produce): one pass over the text per block, plus one for the head's input when
// the checkpoint stores a head. Pass L runs the model whose embedding and blocks < L are quantized by `resolved`
// (each block with the statistics of its own pass, through Scheme::quantizeCalibrated) and collects block L's
// inputs; the result holds, per input, the statistics of its pass. Costs (blocks + 1) engine passes, one model
// load per pass (`weightOptions` as loadModelWeights) and the quantization of the map's tensors. Checks,
// refusals (a calibrated scheme on the embedding, e.g.), determinism and progress as collectCalibration;
// provenance.settingsKey gains ";sequential=" and `mapKey` (what identifies the map, for the cache).
Result<CalibrationSet> collectCalibrationSequential(const Checkpoint& ckpt, const ModelInfo& info,
                                                    const ResolvedMap& resolved, const WeightLoadOptions& weightOptions,
                                                    std::span<const int> textTokens, int bos,
                                                    const CalibrationSettings& settings, const std::string& mapKey,
                                                    tbb::task_arena* arena, const ProgressFn& progress = {});

// The process-wide cache of collected statistics, keyed by (model fingerprint, text fingerprint, settings key):
// the GUI, the sweeps' MapEvaluator and repeated CLI steps reuse one collection. Holds at most kMaxEntries sets,
// the least recently found or inserted one dropped first (a set still used elsewhere lives on in its
// shared_ptr), so a long session over many models, texts or settings does not grow without bound. Thread-safe.
class CalibrationCache {
public:
    static constexpr size_t kMaxEntries = 4;
    static CalibrationCache& instance();
    std::shared_ptr<const CalibrationSet> find(const std::string& key) const;
    void insert(const std::string& key, std::shared_ptr<const CalibrationSet> set);
    void clear();
    size_t size() const;
    static std::string keyOf(const CalibrationProvenance& p);  // fingerprints + p.settingsKey

private:
    mutable std::mutex m_mutex;
    // The least recently used first (find moves a hit to the end).
    mutable std::vector<std::pair<std::string, std::shared_ptr<const CalibrationSet>>> m_entries;
};

struct CalibrationRequest {
    std::string text;        // the calibration text (UTF-8)
    std::string textSource;  // its file, for display
    CalibrationSettings settings;
    // Sequential mode (collectCalibrationSequential) with this map, resolved on the model (not owned; null: the
    // unquantized model for every block), and what identifies it in the cache key (e.g. its rules as JSON).
    const ResolvedMap* sequential = nullptr;
    std::string mapKey;
};

struct CalibrationOutcome {
    std::shared_ptr<const CalibrationSet> set;
    bool cacheHit = false;
    double seconds = 0;               // collection time (0 on a cache hit)
    std::vector<std::string> warnings;  // e.g. the text held fewer tokens than asked
};

// The statistics of `model` on request.text: from CalibrationCache when present, else tokenized with the
// model's tokenizer, collected (collectCalibration) and cached. Fingerprints the checkpoint
// (checkpointFingerprint, reads every tensor once) and the text (FNV-1a 64).
Result<CalibrationOutcome> calibrateModel(const InferenceModel& model, const CalibrationRequest& request,
                                          tbb::task_arena* arena, const ProgressFn& progress = {});
// The same from the parts of a loaded model (the GUI holds its checkpoint shared, not in an InferenceModel):
// `weights` as loadModelWeights loads `ckpt` without a map (null: refused).
Result<CalibrationOutcome> calibrateModel(const Checkpoint& ckpt, const ModelInfo& info, const Tokenizer& tokenizer,
                                          std::shared_ptr<const ModelWeights> weights,
                                          const CalibrationRequest& request, tbb::task_arena* arena,
                                          const ProgressFn& progress = {});

// Adds to `settings` what the schemes of `resolved` (the map resolved on the model `info` describes) need: the
// union of Scheme::calibrationNeeds over the quantized tensors; Hessians only for the blocks, and the head,
// whose tensors need one.
void addMapNeeds(CalibrationSettings& settings, const ResolvedMap& resolved, const ModelInfo& info);

}  // namespace qs
