// SPDX-License-Identifier: GPL-3.0-or-later
// Whole-model application of a resolved quantization map: every tensor the map quantizes is decoded to
// float, quantized with its scheme, dequantized and compared with the original (core/stats), and handed to
// a callback that decides what to keep (the inference engine keeps the QuantizedTensor; the CLI only the
// statistics).
//
// Streaming and memory: tensors are processed in file order, in batches of consecutive tensors whose float
// sizes add up to at most ApplyOptions::batchElements (default: the largest quantized tensor), so peak memory
// stays near 2 x 4 bytes x max(batch, largest tensor) (original + dequantized floats) plus the packed
// output, never the whole model. Within a batch the tensors run concurrently (oneTBB), and each large tensor
// is also split over rows (quantizeParallel, parallel dequantization and statistics).
//
// Determinism: every scheme's parallel quantization and the statistics are independent of the thread count,
// and callbacks run in tensor order on the calling thread, so results are identical whatever the arena.
//
// Progress and cancellation: ApplyOptions::progress gets the fraction of quantized elements done and a stage
// ("quantizing blk.3.attn_q.weight"); returning false stops promptly (between tensors and inside a tensor's
// row loop) and applyMap returns the error kCancelledMessage.
//
// Threads: applyMap and applyMapShared run in `arena` (not owned, must outlive the call; null = serially on
// the calling thread), which they enter themselves; the callbacks run on the calling thread,
// ApplyOptions::progress on any thread of the arena (only the calling thread when arena is null).
//
// Reuse (ApplyOptions::cache, core/quant/quantized_tensor_cache.h): a tensor whose (tensor, scheme) key is in
// the cache is not quantized again — its packed bytes come from the cache, and so do its statistics when they
// were stored with the same histogram bins (otherwise the cached tensor is only dequantized and compared).
// Tensors quantized here are published to the cache. A key another job is quantizing at the same moment is
// waited for (after this batch's own tensors are done; the stage says "waiting for ..."), never computed
// twice. Results are bit-identical with and without a cache. Tensors of calibrated schemes (see
// ApplyOptions::calibration) are cached under the calibration set's fingerprint (CalibrationSet::fingerprint):
// another calibration is another entry.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"
#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/quant/scheme.h"
#include "core/stats/error_stats.h"
#include "core/util/compact_text.h"
#include "core/util/result.h"

namespace qs {

struct ApplyOptions {
    bool computeStats = true;   // false: quantize only (the callback gets empty statistics)
    int histogramBins = 0;      // per-tensor weight and error histograms (0: none)
    uint64_t batchElements = 0; // float elements in flight across concurrent tensors (0: the largest tensor)
    ProgressFn progress;
    QuantizedTensorCache* cache = nullptr;  // not owned; null: quantize everything here
    // Input statistics for calibrated schemes (not owned, may be null; outlives the call). Before anything is
    // quantized, every tensor whose scheme needs calibration is checked (calibrationFor, scheme.h): a missing
    // set, entry or statistic fails the whole apply naming the scheme and the first such tensor.
    const CalibrationSet* calibration = nullptr;
    // AWQ scales folded into the preceding RMSNorm where the map allows (core/quant/awq/awq_fold.h): the norm's
    // consumers are searched jointly before the batches (one group's weights in memory at a time), quantized as
    // W diag(s) with the AWQ scheme's RTN storage and no stored s (AppliedTensor::awqScales "folded"; their
    // QuantizedTensor::scheme is that RTN scheme), and the norm's new values come back in
    // ApplyResult::replaced. false: every AWQ tensor keeps its own s as a vector (the per-tensor form, as a
    // tensor-by-tensor evaluation such as MapEvaluator measures it). Folded tensors bypass the cache.
    bool foldAwqScales = true;
};

// One per tensor of the checkpoint, so kept small (~136 bytes): the error statistics (~250 bytes with their
// two histograms) are held only for the tensors that have some, and the texts only LLM.int8 and AWQ tensors
// carry are CompactText (one pointer when empty).
struct AppliedTensor {
    bool quantized = false;     // this tensor's bytes are quantized with `scheme` (here or from the cache)
    bool fromCache = false;     // its packed bytes came from ApplyOptions::cache (not quantized by this call)
    int tiedTo = -1;            // a tied head: shares the embedding's quantization (0 bytes, same statistics)
    std::string scheme;         // scheme used ("" = stays as stored)
    ByteBreakdown bytes;        // packed bytes (stored bytes as payload/overhead for a kept tensor, 0 when tied)
    int64_t keptColumns = -1;   // LLM.int8: input columns kept in fp16 (bytes.outliers), -1 for other schemes
    CompactText outlierRule;    // LLM.int8: the rule that chose them (QuantizedTensor::outlierRule)
    // The error statistics: zero error (a default ErrorReport) for kept tensors and when
    // ApplyOptions::computeStats is false; the embedding's for a tied head (the same shared object); a folded AWQ
    // tensor: of Q(W diag(s)) diag(1/s) against W, its effective weights.
    const ErrorReport& error() const;
    // Set by applyMap; null while the error is zero (nothing allocated). Immutable once set (shared by ties).
    std::shared_ptr<const ErrorReport> errorReport;
    // AWQ (ApplyOptions::foldAwqScales): "folded" (s folded into the preceding norm, no vector stored), "vector"
    // (s kept as a fp16 vector, bytes.meta), "norm" (this RMSNorm carries its consumers' s: replaced, bytes as
    // F32); "" for everything else. awqNote says into which norm with which alpha, or why the vector was kept.
    CompactText awqScales;
    CompactText awqNote;
};

// A tensor the apply step replaces rather than quantizes: an RMSNorm weight with AWQ scales folded in.
struct ReplacedTensor {
    int tensor = -1;            // index into Checkpoint::tensors
    std::vector<float> values;  // the new stored values [elements] (before a norm offset such as Gemma's 1 + w)
};

struct ApplyResult {
    std::vector<AppliedTensor> tensors;                 // parallel to Checkpoint::tensors
    std::array<ErrorStats, kRoleCount> roleError{};     // over the quantized tensors of each role (ties once)
    ErrorStats totalError;                              // over every quantized tensor
    std::vector<std::string> warnings;                  // the resolution's warnings
    int quantizedHere = 0;                              // tensors this call quantized
    int fromCache = 0;                                  // tensors whose packed bytes came from the cache
    // Replaced tensors (not passed to the callbacks): whoever runs or writes the quantized model uses these
    // values for them instead of the stored ones.
    std::vector<ReplacedTensor> replaced;
};

// Receives each quantized tensor, in tensor order, on the calling thread. Take ownership of `q` to keep it.
// Returning an error stops the job with that error.
using AppliedTensorFn = std::function<Status(int tensorIndex, QuantizedTensor&& q, const ErrorReport& stats)>;

// The same, receiving the tensor shared (with the cache when there is one): what a caller keeping the tensors
// takes, so a cached tensor is not copied.
using SharedTensorFn =
    std::function<Status(int tensorIndex, const std::shared_ptr<const QuantizedTensor>& q, const ErrorReport& stats)>;

// `resolved` must come from resolveMap over ckpt.tensors and info. Fails on a tensor that cannot be decoded
// or quantized (the message names it), on a callback error, or with kCancelledMessage. With a cache, onTensor
// gets a copy of a tensor the cache also holds (applyMapShared avoids the copy).
Result<ApplyResult> applyMap(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                             const ApplyOptions& options, tbb::task_arena* arena,
                             const AppliedTensorFn& onTensor = {});
Result<ApplyResult> applyMapShared(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                                   const ApplyOptions& options, tbb::task_arena* arena,
                                   const SharedTensorFn& onTensor);

// Elements sharing one scale along a row for the clipping statistic (ErrorStatsOptions::clipBlock), from the
// scheme's published layout: ggml types the type table's SchemeLayout::scaleBlockElems (q*_0/q*_1/iq4_nl 32,
// q4_K/q5_K 32 (sub-blocks), q2_K/q3_K/q6_K 16, f16/bf16 1: no scale, nothing counts as clipped); names with _g<G> G; nf4/fp4 64 (bitsandbytes' default block) or
// _b<N>; anything else the whole row (0).
int64_t clipBlockOf(const Scheme& scheme);

}  // namespace qs
