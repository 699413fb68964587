// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/apply_map.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/quant/footprint_after.h"
#include "core/quant/ggml/ggml_type_traits.h"
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
std::optional<std::span<const float>> floatView(const Checkpoint& ckpt, size_t i, TensorData& held) {
    const TensorInfo& t = ckpt.tensors[i];
    if constexpr (std::endian::native != std::endian::little) return std::nullopt;
    if (t.dtype != DType::F32 || t.bytes != t.elements() * sizeof(float)) return std::nullopt;
    auto d = ckpt.data(i);
    if (!d || d->bytes.size() != t.bytes || reinterpret_cast<uintptr_t>(d->bytes.data()) % alignof(float) != 0)
        return std::nullopt;
    held = std::move(*d);
    return std::span<const float>(reinterpret_cast<const float*>(held.bytes.data()), size_t(t.elements()));
}

struct BatchItem {
    int tensor = -1;
    std::optional<Result<QuantizedTensor>> quantized;
    ErrorReport error;
    std::string failure;
};

}  // namespace

int64_t clipBlockOf(const Scheme& scheme) {
    const std::string name = scheme.name();
    if (scheme.family() == "ggml") {
        const ggml::TypeTraits* row = ggml::findTypeTraits(name);
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

Result<ApplyResult> applyMap(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                             const ApplyOptions& options, const AppliedTensorFn& onTensor) {
    const size_t n = ckpt.tensors.size();
    if (resolved.tensors.size() != n || info.entries.size() != n)
        return Error{"apply: the quantization map was resolved for " + std::to_string(resolved.tensors.size()) +
                     " tensors, the checkpoint has " + std::to_string(n)};
    ApplyResult result;
    result.tensors.resize(n);
    result.warnings = resolved.warnings;

    std::vector<int> work;
    uint64_t totalElements = 0, largest = 0;
    for (size_t i = 0; i < n; ++i) {
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
    // Calibrated schemes without their data are refused before any work (never a silent fallback).
    std::vector<const TensorCalibration*> calibrationOf(n, nullptr);
    for (int i : work) {
        const TensorPlan& p = resolved.tensors[size_t(i)];
        auto scheme = findScheme(p.scheme);
        QS_CHECK(scheme != nullptr, "apply: scheme " + p.scheme + " missing from the registry");
        auto c = calibrationFor(*scheme, options.calibration, ckpt.tensors[size_t(i)].name, p.cols);
        if (!c) return c.error();
        calibrationOf[size_t(i)] = *c;
    }
    const uint64_t budget = options.batchElements > 0 ? options.batchElements : std::max<uint64_t>(largest, 1);

    ProgressSink sink(options.progress);
    uint64_t doneElements = 0;
    std::array<ErrorSums, kRoleCount> roleSums{};
    ErrorSums totalSums;

    for (size_t next = 0; next < work.size();) {
        // The next batch: consecutive tensors within the element budget (at least one).
        std::vector<BatchItem> batch;
        uint64_t batchElems = 0;
        while (next < work.size()) {
            const TensorPlan& p = resolved.tensors[size_t(work[next])];
            const uint64_t elems = uint64_t(p.rows) * uint64_t(p.cols);
            if (!batch.empty() && batchElems + elems > budget) break;
            batch.push_back(BatchItem{work[next], std::nullopt, {}, {}});
            batchElems += elems;
            ++next;
        }
        const double fraction = totalElements ? double(doneElements) / double(totalElements) : 0.0;
        if (!sink.report(fraction, "quantizing " + ckpt.tensors[size_t(batch.front().tensor)].name))
            return Error{std::string(kCancelledMessage)};

        // Where each tensor of the batch starts in the job's element count, for a job-wide progress fraction.
        std::vector<uint64_t> startOf(batch.size());
        for (size_t b = 0, at = doneElements; b < batch.size(); ++b) {
            startOf[b] = at;
            const TensorPlan& p = resolved.tensors[size_t(batch[b].tensor)];
            at += uint64_t(p.rows) * uint64_t(p.cols);
        }
        tbb::parallel_for(size_t(0), batch.size(), [&](size_t b) {
            BatchItem& item = batch[b];
            const size_t i = size_t(item.tensor);
            const TensorPlan& p = resolved.tensors[i];
            if (sink.cancelled()) return;
            // The scheme reports its own fraction of this tensor; forward it as a fraction of the whole job.
            // A cancel request reaches the scheme through the return value at its next report.
            const double start = double(startOf[b]), elems = double(uint64_t(p.rows) * uint64_t(p.cols));
            ProgressSink tensorSink([&sink, start, elems, totalElements](double f, std::string_view stage) {
                return sink.report(totalElements ? (start + f * elems) / double(totalElements) : 0.0, stage);
            });
            auto scheme = findScheme(p.scheme);
            QS_CHECK(scheme != nullptr, "apply: scheme " + p.scheme + " missing from the registry");
            // F32 tensors in a mapping are used in place (no copy of the file's floats); others are decoded.
            std::vector<float> decoded;
            TensorData held;
            std::span<const float> floats;
            if (auto view = floatView(ckpt, i, held)) {
                floats = *view;
            } else {
                auto f = ckpt.toFloat(i);
                if (!f) {
                    item.failure = f.message();
                    return;
                }
                decoded = std::move(*f);
                floats = decoded;
            }
            if (!options.computeStats) {
                item.quantized = quantizeParallel(*scheme, floats, p.rows, p.cols, ckpt.tensors[i].name, &tensorSink,
                                                  calibrationOf[i]);
                return;
            }
            ErrorStatsOptions so;
            so.clipBlock = clipBlockOf(*scheme);
            so.histogramBins = options.histogramBins;
            auto done = quantizeWithErrorStats(*scheme, floats, p.rows, p.cols, ckpt.tensors[i].name, &tensorSink, so,
                                               calibrationOf[i]);
            if (!done) {
                item.quantized = done.error();
                return;
            }
            item.error = std::move(done->error);
            item.quantized = std::move(done->tensor);
        });
        if (sink.cancelled()) return Error{std::string(kCancelledMessage)};

        // Results in tensor order, on this thread.
        for (BatchItem& item : batch) {
            const size_t i = size_t(item.tensor);
            if (!item.failure.empty()) return Error{item.failure};
            if (!item.quantized->ok()) {
                if (item.quantized->message().find(kCancelledMessage) != std::string::npos)
                    return Error{std::string(kCancelledMessage)};
                return Error{item.quantized->message()};
            }
            AppliedTensor& a = result.tensors[i];
            a.quantized = true;
            a.bytes = item.quantized->value().bytes;
            a.error = item.error;
            const Role role = info.entries[i].role;
            roleSums[size_t(role)] += a.error.stats.sums;
            totalSums += a.error.stats.sums;
            doneElements += uint64_t(resolved.tensors[i].rows) * uint64_t(resolved.tensors[i].cols);
            if (onTensor) {
                Status s = onTensor(int(i), std::move(item.quantized->value()), a.error);
                if (!s) return Error{s.message()};
            }
            item.quantized.reset();  // release the packed bytes the callback did not take
        }
    }
    for (size_t i = 0; i < n; ++i) {
        AppliedTensor& a = result.tensors[i];
        if (a.tiedTo >= 0) a.error = result.tensors[size_t(a.tiedTo)].error;
    }
    for (int r = 0; r < kRoleCount; ++r) result.roleError[size_t(r)] = ErrorStats::fromSums(roleSums[size_t(r)]);
    result.totalError = ErrorStats::fromSums(totalSums);
    sink.report(1.0, "done");
    return result;
}

}  // namespace qs
