// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/map_evaluator.h"

#include <chrono>
#include <cmath>

#include "core/infer/memory_plan.h"
#include "core/infer/transformer.h"
#include "core/jobs/arena.h"
#include "core/quant/apply_map.h"
#include "core/quant/footprint_after.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quantize_parallel.h"
#include "core/util/check.h"

namespace qs {

namespace {

Error cancelled() { return Error{std::string(kCancelledMessage)}; }

}  // namespace

std::string_view sweepMeasureName(SweepMeasure m) {
    switch (m) {
        case SweepMeasure::WeightError: return "weight-error";
        case SweepMeasure::Ppl: return "ppl";
        case SweepMeasure::Kld: return "kld";
    }
    return "?";
}

std::optional<SweepMeasure> sweepMeasureFromName(std::string_view name) {
    for (auto m : {SweepMeasure::WeightError, SweepMeasure::Ppl, SweepMeasure::Kld})
        if (sweepMeasureName(m) == name) return m;
    return std::nullopt;
}

Result<std::unique_ptr<MapEvaluator>> MapEvaluator::create(const Checkpoint& ckpt, const ModelInfo& info,
                                                           const Tokenizer* tokenizer,
                                                           std::shared_ptr<const ModelWeights> unquantized,
                                                           MapEvaluatorOptions options, const ProgressFn& progress) {
    if (info.entries.size() != ckpt.tensors.size())
        return Error{ckpt.path + ": the model analysis does not match the checkpoint's tensors"};
    std::unique_ptr<MapEvaluator> e(new MapEvaluator(ckpt, info, std::move(options)));
    const MapEvaluatorOptions& o = e->m_options;
    e->m_cache = o.cache;
    if (o.calibration) e->m_calibrationFingerprint = o.calibration->fingerprint();
    if (!e->m_cache && o.measure != SweepMeasure::WeightError)
        e->m_cache = std::make_shared<QuantizedTensorCache>(o.tensorCacheBytes);
    if (o.measure == SweepMeasure::WeightError) return e;

    const std::string what = "measure " + std::string(sweepMeasureName(o.measure));
    if (!info.runnable) return Error{ckpt.path + ": " + what + " runs the model, which is not runnable: " + info.runnableReason};
    if (!tokenizer || !unquantized) return Error{ckpt.path + ": " + what + " needs the model's tokenizer and weights"};
    if (o.text.empty()) return Error{what + " needs a text (--text FILE)"};
    e->m_unquantized = std::move(unquantized);
    auto windows = buildEvalWindows(*tokenizer, o.text, o.perplexity, e->m_windowWarnings);
    if (!windows) return windows.error();
    const int vocab = e->m_unquantized->config.vocab;
    if (o.measure == SweepMeasure::Ppl) {
        e->m_reference = windowsOnlyScores(std::move(*windows), o.perplexity, vocab, e->m_windowWarnings);
        return e;
    }
    const uint64_t need = ReferenceScores::bytesFor(*windows, vocab);
    const MachineMemory machine = machineMemory();
    const uint64_t have = std::min(machine.available, machine.addressSpace);
    if (need > have)
        return Error{ckpt.path + ": measure kld keeps the unquantized model's logits at every scored position (" +
                     std::to_string(ReferenceScores::scoredPositions(*windows)) + " positions x vocabulary " +
                     std::to_string(vocab) + " x 4 bytes = " + formatBytesGiB(need) + "), more than the " +
                     formatBytesGiB(have) + " available; use fewer windows (--windows) or a shorter context"};
    Transformer reference(e->m_unquantized, o.arena);
    auto scores = computeReferenceScores(reference, std::move(*windows), o.perplexity, e->m_windowWarnings, progress);
    if (!scores) return scores.error();
    e->m_reference = std::move(*scores);
    return e;
}

QuantizedTensorCache::Key MapEvaluator::cacheKey(const Key& k) const {
    return QuantizedTensorCache::keyOf(m_ckpt, k.first, k.second, m_calibrationFingerprint);
}

Status MapEvaluator::quantizeMissing(const std::vector<Key>& keys, bool needTensors, ProgressSink& sink,
                                     PointTensors& point) {
    // What this point may still have to quantize, for a progress fraction by elements (hits pass at once).
    std::vector<const Key*> todo;
    uint64_t total = 0;
    for (const Key& k : keys) {
        if (m_errorCache.count(k) && !needTensors) continue;
        const TensorInfo& t = m_ckpt.tensors[size_t(k.first)];
        // Calibrated schemes without their data are refused before any work, as applyMap does. An unknown
        // scheme or a non-matrix is reported with the tensor below.
        const auto scheme = findScheme(k.second);
        const auto shape = matrixShape(t);
        if (scheme && shape)
            if (auto c = calibrationFor(*scheme, m_options.calibration.get(), t.name, shape->second); !c)
                return c.error();
        todo.push_back(&k);
        total += t.elements();
    }
    uint64_t done = 0;
    std::vector<std::pair<const Key*, double>> busy;  // claimed by another job: waited for at the end
    for (const Key* k : todo) {
        const uint64_t elems = m_ckpt.tensors[size_t(k->first)].elements();
        const double start = total ? double(done) / double(total) : 0.0, share = total ? double(elems) / double(total) : 0.0;
        done += elems;
        QuantizedTensorCache::Lookup l;  // without a cache: an empty claim, quantized and not kept
        if (m_cache) {
            l = m_cache->lookup(cacheKey(*k));
            if (l.busy()) {
                busy.emplace_back(k, start);
                continue;
            }
        }
        if (auto s = takeOrQuantize(*k, std::move(l), needTensors, sink, start, share, point); !s) return s;
    }
    // No claim is held here, so waiting cannot deadlock (quantized_tensor_cache.h).
    for (const auto& [k, start] : busy) {
        const double scale = needTensors ? 0.3 : 1.0;
        const std::string stage = "waiting for " + m_ckpt.tensors[size_t(k->first)].name + " (another job is quantizing it)";
        const double at = scale * start;  // clang 14 cannot capture a structured binding
        auto l = m_cache->lookupWaiting(cacheKey(*k), [&] { return !sink.report(at, stage); });
        if (!l) return cancelled();
        const double share = total ? double(m_ckpt.tensors[size_t(k->first)].elements()) / double(total) : 0.0;
        if (auto s = takeOrQuantize(*k, std::move(*l), needTensors, sink, start, share, point); !s) return s;
    }
    return {};
}

// A cache hit gives the packed tensor (and its error sums, or they are measured by comparing it); otherwise the
// tensor is quantized with its error statistics and published under the claim (if any).
Status MapEvaluator::takeOrQuantize(const Key& k, QuantizedTensorCache::Lookup l, bool needTensors, ProgressSink& sink,
                                    double start, double share, PointTensors& point) {
    const size_t i = size_t(k.first);
    const TensorInfo& t = m_ckpt.tensors[i];
    const double scale = needTensors ? 0.3 : 1.0;  // with the engine, quantization is the first 30%
    const bool haveSums = m_errorCache.count(k) > 0;
    if (l.entry) m_dataBytes[k] = l.entry->tensor->bytes.total();
    if (l.entry && l.entry->error && l.entry->histogramBins == 0 && !haveSums)
        m_errorCache[k] = l.entry->error->stats.sums;
    if (l.entry && (haveSums || m_errorCache.count(k))) {
        if (needTensors) point[k] = l.entry->tensor;
        return {};
    }
    if (!sink.report(scale * start, (l.entry ? "comparing " : "quantizing ") + t.name + " as " + k.second)) return cancelled();
    auto scheme = findScheme(k.second);
    QS_CHECK(scheme != nullptr, "map evaluator: scheme " + k.second + " missing from the registry");
    auto floats = m_ckpt.toFloat(i);
    if (!floats) return floats.error();
    auto shape = matrixShape(t);
    if (!shape) return shape.error();
    auto calibration = calibrationFor(*scheme, m_options.calibration.get(), t.name, shape->second);
    if (!calibration) return calibration.error();
    ErrorStatsOptions so;
    so.clipBlock = clipBlockOf(*scheme);
    if (l.entry) {  // cached without statistics: compare only
        ErrorReport e;
        e = compareQuantized(*scheme, *l.entry->tensor, *floats, so, m_options.arena);
        m_errorCache[k] = e.stats.sums;
        m_cache->addStatistics(cacheKey(k), e, 0);
        if (needTensors) point[k] = l.entry->tensor;
        return {};
    }
    ProgressSink tensorSink([&](double f, std::string_view stage) { return sink.report(scale * (start + f * share), stage); });
    Result<QuantizedWithStats> q = Error{"not run"};
    // Isolated while holding the claim (quantized_tensor_cache.h).
    runIsolated(m_options.arena, [&] {
        q = quantizeWithErrorStats(*scheme, *floats, shape->first, shape->second, t.name, so, m_options.arena,
                                   &tensorSink, *calibration);
    });
    if (!q) return sink.cancelled() ? cancelled() : Error{q.message()};
    m_errorCache[k] = q->error.stats.sums;
    m_dataBytes[k] = q->tensor.bytes.total();
    auto packed = std::make_shared<const QuantizedTensor>(std::move(q->tensor));
    if (l.claim) l.claim.publish(QuantizedTensorCache::Entry{packed, std::move(q->error), 0});
    if (needTensors) point[k] = std::move(packed);
    return {};
}

Result<PerplexityResult> MapEvaluator::runEngine(const PointTensors& point, ProgressSink& sink) {
    QuantizedWeightMap quantized;
    for (const auto& [k, packed] : point) quantized[k.first] = {packed, findScheme(k.second)};
    auto plan = planWeightMemory(m_ckpt, m_info, &quantized, m_options.weights);
    if (!plan) return plan.error();
    if (!sink.report(0.3, "loading the quantized model")) return cancelled();
    auto weights = loadModelWeights(m_ckpt, m_info, &quantized, plan->options, m_options.arena);
    if (!weights) return weights.error();
    Transformer model(*weights, m_options.arena);
    ProgressFn windows = [&](double f, std::string_view stage) { return sink.report(0.35 + 0.65 * f, stage); };
    Result<PerplexityResult> r = evaluatePerplexity(model, *m_reference, windows);
    if (!r && sink.cancelled()) return cancelled();
    if (r && !plan->warning.empty()) r->warnings.push_back(plan->warning);
    return r;
}

Result<PointMeasure> MapEvaluator::measure(const QuantMap& map, const ProgressFn& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    ProgressSink sink(progress);
    if (!sink.report(0.0, "resolving the map")) return cancelled();
    auto resolved = resolveMap(map, m_ckpt.tensors, m_info);
    if (!resolved) return resolved.error();
    PointMeasure p;
    p.warnings = resolved->warnings;
    for (int i : resolved->fallbacks) {
        const TensorPlan& plan = resolved->tensors[size_t(i)];
        p.fallbacks.push_back({i, plan.requested(resolved->map), plan.scheme.empty() ? std::string(kKeepScheme) : plan.scheme});
    }
    const MapFootprint f = footprintAfter(*resolved, m_ckpt.tensors, m_info, m_options.calibration.get(),
                                           /*foldAwqScales=*/false);  // runEngine runs the per-tensor form

    std::vector<Key> keys;
    for (size_t i = 0; i < resolved->tensors.size(); ++i)
        if (resolved->tensors[i].quantized()) keys.emplace_back(int(i), resolved->tensors[i].scheme);
    const bool engine = m_options.measure != SweepMeasure::WeightError;
    PointTensors point;
    if (auto s = quantizeMissing(keys, engine, sink, point); !s) return s.error();
    // Sizes the footprint could not know (LLM.int8 on an embedding: sized by its weights) from the tensors.
    uint64_t bytes = f.after.total, weightBytes = f.weightsAfter.total;
    for (size_t i = 0; i < f.tensors.size(); ++i) {
        if (f.tensors[i].undetermined.empty()) continue;
        auto it = m_dataBytes.find(Key(int(i), resolved->tensors[i].scheme));
        QS_CHECK(it != m_dataBytes.end(), "map evaluator: no quantized size for " + m_ckpt.tensors[i].name);
        const uint64_t lower = f.tensors[i].after.total();
        bytes += it->second - lower;
        if (m_info.entries[i].isParameter) weightBytes += it->second - lower;
    }
    p.bytes = bytes;
    p.bpw = bitsPerWeight(weightBytes, f.parameterElements);  // over the weights only (footprint_after.h)
    ErrorSums sums;  // in tensor order, as applyMap's total
    for (const Key& k : keys) sums += m_errorCache.at(k);
    const ErrorStats e = ErrorStats::fromSums(sums);
    p.quantizedElements = sums.count;
    p.rmse = e.rmse;
    p.sqnrDb = sums.count ? e.sqnrDb : std::numeric_limits<double>::infinity();
    if (engine) {
        auto r = runEngine(point, sink);
        if (!r) return r.error();
        p.hasPpl = true;
        p.ppl = r->ppl;
        p.tokens = r->tokens;
        if (r->compared) {
            p.hasKld = true;
            p.kld = r->kld;
            p.kldMax = r->kldMax;
            p.top1 = r->top1;
        }
        for (auto& w : r->warnings) p.warnings.push_back(std::move(w));
    }
    sink.report(1.0, "done");
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return p;
}

}  // namespace qs
