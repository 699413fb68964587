// SPDX-License-Identifier: GPL-3.0-or-later
// MapEvaluator: measures one quantization map after another on the same model, reusing everything a point
// shares with earlier ones. Built once per model; used by sweeps, sensitivity scans and auto-mix.
//
// Per point (PointMeasure):
//   bytes, bpw   the footprint under the map (core/quant/footprint_after.h: a tied pair counted once, metadata
//                included in the bytes; bpw = 8 x bytes / elements over the weights of the network, the one
//                definition of core/quant/footprint_after.h, RoPE buffers on neither side). Arithmetic only.
//   rmse, sqnr   over all quantized weights of the model (a tied pair once): RMSE = sqrt(sum e^2 / n),
//                SQNR = 10 log10(sum w^2 / sum e^2), from the per-tensor error sums merged in tensor order,
//                exactly the `quantize` command's total. No engine. 0 / +inf when nothing is quantized.
//   ppl          (measure ppl or kld) perplexity of the quantized model on the text/protocol/context/windows,
//                computed as `ppl --map` computes it (log-softmax in double), equal bit for bit.
//   kld, kld_max, top1  (measure kld) against the unquantized model on the same windows
//                (core/infer/perplexity.h): the same numbers as `quantscope-cli ppl MODEL --map M` with the same
//                text and options (same windows, same scoring code, the engine's weights loaded the same way).
//
// Reuse. Error sums are cached per (tensor index, canonical scheme) for the evaluator's life (a few dozen bytes
// each). Packed tensors live in a QuantizedTensorCache (core/quant/quantized_tensor_cache.h):
// MapEvaluatorOptions::cache when given (the GUI passes its per-model cache, shared with Quantize, the chat
// and the views), otherwise, for ppl/kld, the evaluator's own of MapEvaluatorOptions::tensorCacheBytes
// (least recently used evicted; an evicted tensor is quantized again when needed: same bytes, only time).
// Without a cache (weight-error, none given) tensors are quantized, measured and dropped. Tensors found in
// the cache are not quantized again (their error sums come with them, or from comparing them). The unquantized model's logits at the scored positions are computed once,
// for measure kld, at construction: ReferenceScores::bytesFor(windows, vocab) = 4 x vocab x scored positions
// bytes (vocab 32000, 4 llamacpp windows of 256 tokens: 65 MB). create() refuses by name, with the size, when
// that exceeds the machine's available memory (core/infer/memory_plan.h machineMemory()).
//
// Threads: all its parallel work runs in MapEvaluatorOptions::arena (not owned, must outlive the evaluator;
// null = serially on the calling thread), which it enters itself. A MapEvaluator is not thread-safe: one
// measure() at a time. The Checkpoint, ModelInfo, Tokenizer and weights given to create() must outlive it.
// Results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"
#include "core/infer/model_weights.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/stats/error_stats.h"
#include "core/util/result.h"

namespace qs {

enum class SweepMeasure { WeightError, Ppl, Kld };
std::string_view sweepMeasureName(SweepMeasure m);  // "weight-error", "ppl", "kld"
std::optional<SweepMeasure> sweepMeasureFromName(std::string_view name);

struct MapEvaluatorOptions {
    SweepMeasure measure = SweepMeasure::WeightError;
    std::string text;               // ppl/kld: the evaluation text (UTF-8)
    PerplexityOptions perplexity;   // protocol, context, maxWindows, separator
    WeightLoadOptions weights;      // how quantized tensors run (default native kernels, as `ppl`)
    uint64_t tensorCacheBytes = uint64_t(1) << 30;  // the evaluator's own cache (ppl/kld, no `cache` given)
    std::shared_ptr<QuantizedTensorCache> cache;      // shared packed tensors (keyed by the checkpoint identity)
    tbb::task_arena* arena = nullptr;  // not owned, outlives the evaluator; null: serially on the caller
    // Input statistics for calibrated schemes (null: none; a point using one then fails by name, as applyMap).
    // Fixed for the evaluator's life, so the per-(tensor, scheme) caches stay valid.
    std::shared_ptr<const CalibrationSet> calibration;
};

// A tensor the map's resolution stores with another scheme than its rule asked for (ResolvedMap::fallbacks,
// e.g. q4_K on rows that 256 does not divide -> q8_0 with a warning).
struct TensorFallback {
    int tensor = -1;              // index into Checkpoint::tensors / ModelInfo::entries
    std::string requested, used;  // canonical scheme names; used "keep" when it stays as stored
};

struct PointMeasure {
    uint64_t bytes = 0;     // footprint after the map, ties once, metadata included
    double bpw = 0;         // MapFootprint::bitsPerWeight(): 8 x weight bytes / weight elements
    uint64_t quantizedElements = 0;
    double rmse = 0, sqnrDb = 0;
    bool hasPpl = false, hasKld = false;
    double ppl = 0, kld = 0, kldMax = 0, top1 = 0;
    int64_t tokens = 0;     // predictions scored (ppl/kld)
    double seconds = 0;
    std::vector<std::string> warnings;  // the map's resolution warnings (fallbacks, ...)
    std::vector<TensorFallback> fallbacks;  // measured points only (a sweep file does not store them)
};

class MapEvaluator {
public:
    // Weight error only needs the checkpoint and its analysis: tokenizer and weights may be null. Measures
    // ppl/kld need the tokenizer and the unquantized weights (InferenceModel::weights), a runnable model and
    // a text long enough for the protocol; kld also computes the reference scores here (progress reported,
    // cancellable). Fails naming what is missing or too large.
    static Result<std::unique_ptr<MapEvaluator>> create(const Checkpoint& ckpt, const ModelInfo& info,
                                                        const Tokenizer* tokenizer,
                                                        std::shared_ptr<const ModelWeights> unquantized,
                                                        MapEvaluatorOptions options, const ProgressFn& progress = {});

    // Measures one map. Progress fractions cover this point; returning false cancels between and inside
    // tensors and windows (Error kCancelledMessage). Fails on a bad map (unknown scheme), a tensor that cannot be
    // quantized (named), or a memory refusal for the quantized model.
    Result<PointMeasure> measure(const QuantMap& map, const ProgressFn& progress = {});

    const MapEvaluatorOptions& options() const { return m_options; }
    const Checkpoint& checkpoint() const { return m_ckpt; }
    // The windows and, for measure kld, the reference logits (null for weight-error).
    const ReferenceScores* reference() const { return m_reference ? &*m_reference : nullptr; }
    size_t cachedErrorSums() const { return m_errorCache.size(); }
    uint64_t cachedTensorBytes() const { return m_cache ? m_cache->counters().bytes : 0; }
    const QuantizedTensorCache* tensorCache() const { return m_cache.get(); }

private:
    MapEvaluator(const Checkpoint& ckpt, const ModelInfo& info, MapEvaluatorOptions options)
        : m_ckpt(ckpt), m_info(info), m_options(std::move(options)) {}
    using Key = std::pair<int, std::string>;  // (tensor index, canonical scheme)
    using PointTensors = std::map<Key, std::shared_ptr<const QuantizedTensor>>;  // what one point runs
    // The shared cache's key: a calibrated scheme's tensors are keyed with the calibration set's fingerprint
    // (QuantizedTensorCache::keyOf), so they are reused across points and never mixed with another calibration.
    QuantizedTensorCache::Key cacheKey(const Key& k) const;
    Status quantizeMissing(const std::vector<Key>& keys, bool needTensors, ProgressSink& sink, PointTensors& point);
    Status takeOrQuantize(const Key& k, QuantizedTensorCache::Lookup l, bool needTensors, ProgressSink& sink,
                          double start, double share, PointTensors& point);
    Result<PerplexityResult> runEngine(const PointTensors& point, ProgressSink& sink);

    const Checkpoint& m_ckpt;
    const ModelInfo& m_info;
    MapEvaluatorOptions m_options;
    std::shared_ptr<const ModelWeights> m_unquantized;
    std::vector<std::string> m_windowWarnings;
    std::optional<ReferenceScores> m_reference;  // ppl: the windows only; kld: with the reference logits
    std::map<Key, ErrorSums> m_errorCache;
    std::map<Key, uint64_t> m_dataBytes;  // packed bytes of every tensor quantized or taken from the cache
    std::shared_ptr<QuantizedTensorCache> m_cache;  // null: tensors are not kept
    std::string m_calibrationFingerprint;           // CalibrationSet::fingerprint() of options.calibration
};

}  // namespace qs
