// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/apply_map.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <new>
#include <optional>

#include "core/ggml/ggml_type_traits.h"
#include "core/jobs/arena.h"
#include "core/quant/awq/awq_fold.h"
#include "core/quant/footprint_after.h"
#include "core/quant/quantize_parallel.h"
#include "core/util/check.h"

namespace qs {

namespace {

std::optional<int64_t> numberAfter(std::string_view name, std::string_view key) {
    // "_g128" anywhere after the base, followed by '_' or the end.
    size_t at = 0;
    while ((at = name.find(key, at)) != std::string_view::npos) {
        size_t d = at + key.size(), e = d;
        while (e < name.size() && name[e] >= '0' && name[e] <= '9') ++e;
        if (e > d && e - d <= 9 && (e == name.size() || name[e] == '_'))
            return std::stoll(std::string(name.substr(d, e - d)));
        at = d;
    }
    return std::nullopt;
}

// The values of an F32 tensor straight from its stored bytes (a mapping, or the buffer a reader returns; `held`
// keeps them alive) on little-endian hosts at a float-aligned address, or nullopt when they must be decoded.
// The reader's Error when it refuses the tensor's bytes (that refusal must not turn into a decode that allocates).
Result<std::optional<std::span<const float>>> floatView(const Checkpoint& ckpt, size_t i, TensorData& held) {
    const TensorInfo& t = ckpt.tensors[i];
    if constexpr (std::endian::native != std::endian::little) return std::optional<std::span<const float>>();
    if (t.dtype != DType::F32 || t.bytes != t.elements() * sizeof(float))
        return std::optional<std::span<const float>>();
    auto d = ckpt.data(i);
    if (!d) return d.error();
    if (d->bytes.size() != t.bytes || reinterpret_cast<uintptr_t>(d->bytes.data()) % alignof(float) != 0)
        return std::optional<std::span<const float>>();
    held = std::move(*d);
    return std::optional(std::span<const float>(reinterpret_cast<const float*>(held.bytes.data()), size_t(t.elements())));
}

struct BatchItem {
    int tensor = -1;
    QuantizedTensorCache::Key key;
    QuantizedTensorCache::Claim claim;              // this call quantizes the key and publishes it
    bool waitFor = false;                           // another job holds the key: wait once the batch is done
    std::shared_ptr<const QuantizedTensor> cached;  // the packed tensor from the cache
    bool cachedStats = false;                       // `error` came from the cache with the wanted bins
    std::shared_ptr<QuantizedTensor> fresh;         // quantized here
    ErrorReport error;
    std::string failure;                            // why the tensor failed (may be kCancelledMessage)
};

// The tensor goes to `onTensor` as `cached` or as `fresh` (this call's, shared with the cache if it has one).
using InternalFn = std::function<Status(int, std::shared_ptr<const QuantizedTensor> cached,
                                        std::shared_ptr<QuantizedTensor> fresh, const ErrorReport&)>;

class Applier {
public:
    Applier(const Checkpoint& ckpt, const ResolvedMap& resolved, const ApplyOptions& options,
            tbb::task_arena* arena, ProgressSink& sink)
        : m_ckpt(ckpt), m_resolved(resolved), m_options(options), m_arena(arena), m_sink(sink) {}
    tbb::task_arena* arena() const { return m_arena; }

    void setTotal(uint64_t elements) { m_total = elements; }
    // Per tensor: the calibration of a calibrated scheme (null otherwise).
    void setCalibration(std::vector<const TensorCalibration*> calibration) { m_calibration = std::move(calibration); }
    // The fingerprint of ApplyOptions::calibration (CalibrationSet::fingerprint), computed once per apply.
    void setCalibrationFingerprint(std::string f) { m_calibrationFingerprint = std::move(f); }
    // The AWQ fold groups and their searched scales (both outlive the applier).
    void setFolds(const AwqFoldPlan* plan, const std::vector<AwqFoldScales>* scales) {
        m_folds = plan;
        m_foldScales = scales;
    }
    bool folded(const BatchItem& item) const { return m_folds && m_folds->folded(item.tensor); }
    // Fills the item from the cache: an entry, a claim, or a key to wait for. A calibrated tensor's key names
    // the calibration set's fingerprint (its bytes depend on it).
    void lookup(BatchItem& item) {
        if (!m_options.cache || folded(item)) return;  // a folded tensor's bytes depend on its group's search
        item.key = QuantizedTensorCache::keyOf(m_ckpt, item.tensor, m_resolved.tensors[size_t(item.tensor)].scheme,
                                               calibrationOf(item) ? m_calibrationFingerprint : std::string());
        take(item, m_options.cache->lookup(item.key));
    }
    // After the batch's own work: waits for a key another job was quantizing, then takes what it left (its
    // entry, or, when it failed or was evicted, the claim to quantize it here). False when cancelled.
    bool waitAndTake(BatchItem& item, double fraction) {
        const std::string stage = "waiting for " + m_ckpt.tensors[size_t(item.tensor)].name + " (another job is quantizing it)";
        auto l = m_options.cache->lookupWaiting(item.key, [&] { return !m_sink.report(fraction, stage); });
        if (!l) return false;
        item.waitFor = false;
        take(item, std::move(*l));
        return true;
    }
    bool needsWork(const BatchItem& item) const {
        return !item.waitFor && (!item.cached || (m_options.computeStats && !item.cachedStats));
    }
    void compute(BatchItem& item, uint64_t startElement);
    // A folded AWQ consumer: W diag(s) quantized by the RTN storage; statistics of the effective weights.
    void computeFolded(BatchItem& item, std::span<const float> floats, ProgressSink& tensorSink);
    // Stores what the item computed in the cache (and releases its claim).
    void publish(BatchItem& item) {
        if (!m_options.cache || !item.failure.empty()) return;
        if (item.claim && item.fresh) {
            QuantizedTensorCache::Entry e{item.fresh, std::nullopt, m_options.histogramBins};
            if (m_options.computeStats) e.error = item.error;
            item.claim.publish(std::move(e));
        } else if (item.cached && m_options.computeStats && !item.cachedStats) {
            m_options.cache->addStatistics(item.key, item.error, m_options.histogramBins);
        }
    }

private:
    void take(BatchItem& item, QuantizedTensorCache::Lookup l) {
        if (l.entry) {
            const TensorPlan& p = m_resolved.tensors[size_t(item.tensor)];
            QS_CHECK(l.entry->tensor && l.entry->tensor->rows == p.rows && l.entry->tensor->cols == p.cols,
                     "apply: cached tensor " + m_ckpt.tensors[size_t(item.tensor)].name + " has another shape");
            item.cached = l.entry->tensor;
            item.cachedStats = l.entry->error && l.entry->histogramBins == m_options.histogramBins;
            if (item.cachedStats) item.error = *l.entry->error;
        } else if (l.claim) {
            item.claim = std::move(l.claim);
        } else {
            item.waitFor = true;
        }
    }

    const Checkpoint& m_ckpt;
    const ResolvedMap& m_resolved;
    const ApplyOptions& m_options;
    tbb::task_arena* m_arena;
    ProgressSink& m_sink;
    uint64_t m_total = 0;
    std::vector<const TensorCalibration*> m_calibration;
    std::string m_calibrationFingerprint;
    const AwqFoldPlan* m_folds = nullptr;
    const std::vector<AwqFoldScales>* m_foldScales = nullptr;

public:
    const TensorCalibration* calibrationOf(const BatchItem& item) const {
        return size_t(item.tensor) < m_calibration.size() ? m_calibration[size_t(item.tensor)] : nullptr;
    }
};

// Quantizes the item's tensor (with statistics when asked for), or, for a cached tensor without the wanted
// statistics, only dequantizes and compares it. Failures go to item.failure.
void Applier::compute(BatchItem& item, uint64_t startElement) {
    const size_t i = size_t(item.tensor);
    const TensorPlan& p = m_resolved.tensors[i];
    if (m_sink.cancelled()) {
        item.failure = std::string(kCancelledMessage);
        return;
    }
    // The scheme reports its own fraction of this tensor; forward it as a fraction of the whole job.
    // A cancel request reaches the scheme through the return value at its next report.
    const double start = double(startElement), elems = double(uint64_t(p.rows) * uint64_t(p.cols));
    const double total = double(m_total);
    ProgressSink tensorSink([this, start, elems, total](double f, std::string_view stage) {
        return m_sink.report(total > 0 ? (start + f * elems) / total : 0.0, stage);
    });
    auto scheme = findScheme(p.scheme);
    QS_CHECK(scheme != nullptr, "apply: scheme " + p.scheme + " missing from the registry");
    // F32 tensors in a mapping are used in place (no copy of the file's floats); others are decoded.
    std::vector<float> decoded;
    TensorData held;
    std::span<const float> floats;
    auto view = floatView(m_ckpt, i, held);
    if (!view) {
        item.failure = view.message();
        return;
    }
    if (*view) {
        floats = **view;
    } else {
        auto f = m_ckpt.toFloat(i);
        if (!f) {
            item.failure = f.message();
            return;
        }
        decoded = std::move(*f);
        floats = decoded;
    }
    if (folded(item)) return computeFolded(item, floats, tensorSink);
    ErrorStatsOptions so;
    so.clipBlock = clipBlockOf(*scheme);
    so.histogramBins = m_options.histogramBins;
    if (item.cached) {
        item.error = compareQuantized(*scheme, *item.cached, floats, so, m_arena);
        return;
    }
    if (!m_options.computeStats) {
        auto q = quantizeParallel(*scheme, floats, p.rows, p.cols, m_ckpt.tensors[i].name, m_arena,
                                  &tensorSink, calibrationOf(item));
        if (!q) item.failure = m_ckpt.path + ": " + q.message();  // the scheme names the tensor, not the file
        else item.fresh = std::make_shared<QuantizedTensor>(std::move(q.value()));
        return;
    }
    auto done = quantizeWithErrorStats(*scheme, floats, p.rows, p.cols, m_ckpt.tensors[i].name, so, m_arena,
                                       &tensorSink, calibrationOf(item));
    if (!done) {
        item.failure = m_ckpt.path + ": " + done.message();
        return;
    }
    item.error = std::move(done->error);
    item.fresh = std::make_shared<QuantizedTensor>(std::move(done->tensor));
}

void Applier::computeFolded(BatchItem& item, std::span<const float> floats, ProgressSink& tensorSink) {
    const TensorPlan& p = m_resolved.tensors[size_t(item.tensor)];
    const int g = m_folds->groupOf[size_t(item.tensor)];
    const AwqFoldGroup& group = m_folds->groups[size_t(g)];
    const std::vector<float>& s = (*m_foldScales)[size_t(g)].s;
    auto storage = findScheme(group.storage);
    QS_CHECK(storage != nullptr, "apply: AWQ storage scheme " + group.storage + " missing from the registry");
    const std::vector<float> scaled = scaleColumns(floats, p.rows, p.cols, s);
    auto q = quantizeParallel(*storage, scaled, p.rows, p.cols, m_ckpt.tensors[size_t(item.tensor)].name,
                              m_arena, &tensorSink);
    if (!q) {
        item.failure = m_ckpt.path + ": " + q.message();
        return;
    }
    if (m_options.computeStats) {
        std::vector<float> effective(floats.size());
        storage->dequantize(*q, effective.data());
        for (int64_t r = 0; r < p.rows; ++r)
            for (int64_t j = 0; j < p.cols; ++j) effective[size_t(r * p.cols + j)] /= s[size_t(j)];
        ErrorStatsOptions so;
        so.clipBlock = clipBlockOf(*storage);
        so.histogramBins = m_options.histogramBins;
        item.error = computeErrorStats(floats, effective, p.rows, p.cols, m_arena, so);
    }
    item.fresh = std::make_shared<QuantizedTensor>(std::move(q.value()));
}

Error failureOf(const BatchItem& item) {
    if (item.failure.find(kCancelledMessage) != std::string::npos) return Error{std::string(kCancelledMessage)};
    return Error{item.failure};
}

}  // namespace

const ErrorReport& AppliedTensor::error() const {
    static const ErrorReport kZero;
    return errorReport ? *errorReport : kZero;
}

int64_t clipBlockOf(const Scheme& scheme) {
    const std::string name = scheme.name();
    if (scheme.family() == "ggml") {
        const ggml::TypeTraits* row = ggml::findSchemeStorage(name);
        QS_CHECK(row && row->isScheme(), "ggml scheme " + name + " has no scheme row in the type table");
        return row->scheme.scaleBlockElems;
    }
    if (auto g = numberAfter(name, "_g")) return *g;
    if (name.rfind("nf4", 0) == 0 || name.rfind("fp4", 0) == 0) {
        if (auto b = numberAfter(name, "_b")) return *b;
        return 64;
    }
    return 0;
}

namespace {

// The tensors the map quantizes, in file order; fills the entries of those it does not.
std::vector<int> planWork(const Checkpoint& ckpt, const ResolvedMap& resolved, ApplyResult& result,
                          uint64_t& totalElements, uint64_t& largest) {
    std::vector<int> work;
    for (size_t i = 0; i < resolved.tensors.size(); ++i) {
        const TensorPlan& p = resolved.tensors[i];
        AppliedTensor& a = result.tensors[i];
        a.scheme = p.scheme;
        a.tiedTo = p.tiedTo;
        if (p.tiedTo >= 0) continue;
        if (!p.quantized()) {
            a.bytes = storedBreakdown(ckpt.tensors[i], p.rows, p.cols);
            continue;
        }
        const uint64_t elems = uint64_t(p.rows) * uint64_t(p.cols);
        totalElements += elems;
        largest = std::max(largest, elems);
        work.push_back(int(i));
    }
    return work;
}

std::string alphaText(double alpha) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", alpha);
    return b;
}

// The joint search of every AWQ fold group (one group's weights in memory at a time): the scales per group, the
// norms' replaced values and the AWQ entries of the result.
Status searchFolds(const Checkpoint& ckpt, const ResolvedMap& resolved, const AwqFoldPlan& plan,
                   const std::vector<const TensorCalibration*>& calibrationOf, tbb::task_arena* arena,
                   ProgressSink& sink, std::vector<AwqFoldScales>& scales, ApplyResult& result) {
    for (size_t i = 0; i < plan.kept.size(); ++i)
        if (!plan.kept[i].empty()) {
            result.tensors[i].awqScales = "vector";
            result.tensors[i].awqNote = "s kept as a separate fp16 vector: " + plan.kept[i];
        }
    for (const AwqFoldGroup& g : plan.groups) {
        const std::string& normName = ckpt.tensors[size_t(g.norm)].name;
        if (!sink.report(0.0, "AWQ: joint scale search for the consumers of " + normName))
            return Error{std::string(kCancelledMessage)};
        std::vector<std::vector<float>> weights;
        std::vector<AwqFoldInput> inputs;
        std::string names;
        for (int c : g.consumers) {
            auto f = ckpt.toFloat(size_t(c));
            if (!f) return f.error();
            weights.push_back(std::move(*f));
            names += (names.empty() ? "" : ", ") + ckpt.tensors[size_t(c)].name;
        }
        const int64_t cols = resolved.tensors[size_t(g.consumers.front())].cols;
        for (size_t k = 0; k < g.consumers.size(); ++k) {
            const size_t c = size_t(g.consumers[k]);
            inputs.push_back({ckpt.tensors[c].name, weights[k], resolved.tensors[c].rows, calibrationOf[c]});
        }
        auto storage = std::dynamic_pointer_cast<const ChunkedScheme>(findScheme(g.storage));
        QS_CHECK(storage != nullptr, "apply: AWQ storage " + g.storage + " is not a chunked RTN scheme");
        auto found = searchAwqFoldScales(*storage, inputs, cols, QuantPath::Optimised, arena);
        if (!found) return found.error();
        auto norm = ckpt.toFloat(size_t(g.norm));
        if (!norm) return norm.error();
        ReplacedTensor r{g.norm, foldedNormValues(*norm, found->s, g.normOffset)};
        if (const int64_t bad = firstNonFinite(r.values.data(), int64_t(r.values.size())); bad >= 0)
            return Error{"AWQ fold: " + normName + " divided by the scales is not finite at column " +
                         std::to_string(bad)};
        const std::string alpha = alphaText(found->alpha);
        AppliedTensor& na = result.tensors[size_t(g.norm)];
        na.awqScales = "norm";
        na.bytes = ByteBreakdown{.payload = 4 * uint64_t(r.values.size())};
        na.awqNote = "replaced (F32): the AWQ scales of " + names + " folded in (alpha " + alpha + ")";
        for (int c : g.consumers) {
            result.tensors[size_t(c)].awqScales = "folded";
            result.tensors[size_t(c)].awqNote = "s folded into " + normName + " (alpha " + alpha +
                                                ", searched jointly over " + names + "); no vector stored";
        }
        result.replaced.push_back(std::move(r));
        scales.push_back(std::move(*found));
    }
    return {};
}

// One batch: look every tensor up, quantize (or compare) the batch's own work concurrently, publish it, then
// wait for the keys other jobs held. Fails with the first tensor's failure in tensor order.
Status runBatch(Applier& applier, std::vector<BatchItem>& batch, const std::vector<uint64_t>& startOf,
                double fraction) {
    for (BatchItem& item : batch) applier.lookup(item);
    // Isolated: a worker waiting inside this loop never runs another job's task (see quantized_tensor_cache.h).
    tbb::task_arena* arena = applier.arena();
    runIsolated(arena, [&] {
        parallelFor(arena, size_t(0), batch.size(), size_t(1), [&](const tbb::blocked_range<size_t>& r) {
            for (size_t b = r.begin(); b != r.end(); ++b)
                if (applier.needsWork(batch[b])) applier.compute(batch[b], startOf[b]);
        });
    });
    for (BatchItem& item : batch)
        if (!item.failure.empty()) return failureOf(item);
    for (BatchItem& item : batch) applier.publish(item);
    for (size_t b = 0; b < batch.size(); ++b) {
        BatchItem& item = batch[b];
        if (!item.waitFor) continue;
        if (!applier.waitAndTake(item, fraction)) return Error{std::string(kCancelledMessage)};
        if (!applier.needsWork(item)) continue;
        runIsolated(arena, [&] { applier.compute(item, startOf[b]); });
        if (!item.failure.empty()) return failureOf(item);
        applier.publish(item);
    }
    return {};
}

uint64_t elementsOf(const ResolvedMap& resolved, int i) {
    const TensorPlan& p = resolved.tensors[size_t(i)];
    return uint64_t(p.rows) * uint64_t(p.cols);
}

// The calibration each tensor of `work` needs (null where its scheme needs none). Calibrated schemes without
// their data are refused before any work (never a silent fallback).
Result<std::vector<const TensorCalibration*>> calibrationsFor(const Checkpoint& ckpt, const ResolvedMap& resolved,
                                                               const ApplyOptions& options,
                                                               const std::vector<int>& work) {
    std::vector<const TensorCalibration*> calibrationOf(ckpt.tensors.size(), nullptr);
    for (int i : work) {
        const TensorPlan& p = resolved.tensors[size_t(i)];
        auto scheme = findScheme(p.scheme);
        QS_CHECK(scheme != nullptr, "apply: scheme " + p.scheme + " missing from the registry");
        auto c = calibrationFor(*scheme, options.calibration, ckpt.tensors[size_t(i)].name, p.cols);
        if (!c) return c.error();
        calibrationOf[size_t(i)] = *c;
    }
    return calibrationOf;
}

// What the batches have done so far: elements, and the error sums per role and over the model.
struct ApplyTotals {
    uint64_t doneElements = 0;
    std::array<ErrorSums, kRoleCount> roleSums{};
    ErrorSums totalSums;
};

// The next batch from work[next]: consecutive tensors within the element budget (at least one), and where each
// starts in the job's element count, for a job-wide progress fraction. Returns the index after the batch.
size_t nextBatch(const ResolvedMap& resolved, const std::vector<int>& work, size_t next, uint64_t budget,
                 uint64_t doneElements, std::vector<BatchItem>& batch, std::vector<uint64_t>& startOf) {
    uint64_t batchElems = 0;
    while (next < work.size()) {
        const uint64_t elems = elementsOf(resolved, work[next]);
        if (!batch.empty() && batchElems + elems > budget) break;
        batch.emplace_back().tensor = work[next];
        startOf.push_back(doneElements + batchElems);
        batchElems += elems;
        ++next;
    }
    return next;
}

// A finished batch's results in tensor order, on this thread: into the result and the totals, then to onTensor.
// Statistics are held (AppliedTensor::errorReport) only when the options computed them.
Status collectBatch(std::vector<BatchItem>& batch, const ModelInfo& info, const ResolvedMap& resolved,
                    bool keepStats, const InternalFn& onTensor, ApplyResult& result, ApplyTotals& totals) {
    for (BatchItem& item : batch) {
        const size_t i = size_t(item.tensor);
        AppliedTensor& a = result.tensors[i];
        a.quantized = true;
        a.fromCache = item.cached != nullptr;
        const QuantizedTensor& qt = item.cached ? *item.cached : *item.fresh;
        a.bytes = qt.bytes;
        a.keptColumns = qt.keptColumns;
        a.outlierRule = qt.outlierRule;
        if (keepStats) a.errorReport = std::make_shared<const ErrorReport>(std::move(item.error));
        (a.fromCache ? result.fromCache : result.quantizedHere) += 1;
        const Role role = info.entries[i].role;
        totals.roleSums[size_t(role)] += a.error().stats.sums;
        totals.totalSums += a.error().stats.sums;
        totals.doneElements += elementsOf(resolved, item.tensor);
        if (onTensor) {
            Status s = onTensor(int(i), std::move(item.cached), std::move(item.fresh), a.error());
            if (!s) return Error{s.message()};
        }
        item.cached.reset();  // release the packed bytes the callback did not take
        item.fresh.reset();
    }
    return {};
}

// Ties share their source's error; then the error per role and over the model.
void finishErrors(ApplyResult& result, const ApplyTotals& totals) {
    for (size_t i = 0; i < result.tensors.size(); ++i) {
        AppliedTensor& a = result.tensors[i];
        if (a.tiedTo >= 0) a.errorReport = result.tensors[size_t(a.tiedTo)].errorReport;
    }
    for (int r = 0; r < kRoleCount; ++r)
        result.roleError[size_t(r)] = ErrorStats::fromSums(totals.roleSums[size_t(r)]);
    result.totalError = ErrorStats::fromSums(totals.totalSums);
}

Result<ApplyResult> applyAll(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                             const ApplyOptions& options, tbb::task_arena* arena, const InternalFn& onTensor) {
    const size_t n = ckpt.tensors.size();
    if (resolved.tensors.size() != n || info.entries.size() != n)
        return Error{"apply: the quantization map was resolved for " + std::to_string(resolved.tensors.size()) +
                     " tensors, the checkpoint has " + std::to_string(n)};
    ApplyResult result;
    result.tensors.resize(n);
    result.warnings = resolved.warnings;
    uint64_t totalElements = 0, largest = 0;
    const std::vector<int> work = planWork(ckpt, resolved, result, totalElements, largest);
    auto calibrations = calibrationsFor(ckpt, resolved, options, work);
    if (!calibrations) return calibrations.error();
    std::vector<const TensorCalibration*> calibrationOf = std::move(*calibrations);
    const uint64_t budget = options.batchElements > 0 ? options.batchElements : std::max<uint64_t>(largest, 1);

    ProgressSink sink(options.progress);
    Applier applier(ckpt, resolved, options, arena, sink);
    applier.setTotal(totalElements);
    const AwqFoldPlan folds = options.foldAwqScales ? planAwqFolds(ckpt.tensors, info, resolved) : AwqFoldPlan{};
    std::vector<AwqFoldScales> foldScales;
    if (options.foldAwqScales)
        if (Status s = searchFolds(ckpt, resolved, folds, calibrationOf, arena, sink, foldScales, result); !s)
            return Error{s.message()};
    applier.setFolds(&folds, &foldScales);
    if (options.cache && options.calibration &&
        std::any_of(calibrationOf.begin(), calibrationOf.end(), [](const TensorCalibration* c) { return c; }))
        applier.setCalibrationFingerprint(options.calibration->fingerprint());
    applier.setCalibration(std::move(calibrationOf));
    ApplyTotals totals;

    for (size_t next = 0; next < work.size();) {
        std::vector<BatchItem> batch;
        std::vector<uint64_t> startOf;
        next = nextBatch(resolved, work, next, budget, totals.doneElements, batch, startOf);
        const double fraction = totalElements ? double(totals.doneElements) / double(totalElements) : 0.0;
        if (!sink.report(fraction, "quantizing " + ckpt.tensors[size_t(batch.front().tensor)].name))
            return Error{std::string(kCancelledMessage)};
        if (Status s = runBatch(applier, batch, startOf, fraction); !s) return Error{s.message()};
        if (sink.cancelled()) return Error{std::string(kCancelledMessage)};

        if (Status s = collectBatch(batch, info, resolved, options.computeStats, onTensor, result, totals); !s) return s.error();
    }
    finishErrors(result, totals);
    sink.report(1.0, "done");
    return result;
}

// applyAll with an allocation failure (a buffer, the arena's first workers) as this job's Error, never an exception
// that unwinds through the caller (the CLI, a GUI job).
Result<ApplyResult> applyImpl(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                              const ApplyOptions& options, tbb::task_arena* arena, const InternalFn& onTensor) {
    try {
        return applyAll(ckpt, info, resolved, options, arena, onTensor);
    } catch (const std::bad_alloc&) {
        return Error{ckpt.path + ": out of memory while quantizing (the map's working buffers and outputs did not fit; "
                                 "fewer threads, or a machine with more memory)"};
    }
}

}  // namespace

Result<ApplyResult> applyMap(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                             const ApplyOptions& options, tbb::task_arena* arena,
                             const AppliedTensorFn& onTensor) {
    if (!onTensor) return applyImpl(ckpt, info, resolved, options, arena, {});
    return applyImpl(ckpt, info, resolved, options, arena,
                     [&](int i, std::shared_ptr<const QuantizedTensor> cached,
                         std::shared_ptr<QuantizedTensor> fresh, const ErrorReport& e) -> Status {
                         // This call's tensor nobody else holds is moved; one the cache shares is copied.
                         if (fresh && fresh.use_count() == 1) return onTensor(i, std::move(*fresh), e);
                         QuantizedTensor copy = cached ? *cached : *fresh;
                         return onTensor(i, std::move(copy), e);
                     });
}

Result<ApplyResult> applyMapShared(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                                   const ApplyOptions& options, tbb::task_arena* arena,
                                   const SharedTensorFn& onTensor) {
    if (!onTensor) return applyImpl(ckpt, info, resolved, options, arena, {});
    return applyImpl(ckpt, info, resolved, options, arena,
                     [&](int i, std::shared_ptr<const QuantizedTensor> cached,
                         std::shared_ptr<QuantizedTensor> fresh, const ErrorReport& e) -> Status {
                         std::shared_ptr<const QuantizedTensor> q = cached ? std::move(cached) : std::move(fresh);
                         return onTensor(i, q, e);
                     });
}

}  // namespace qs
