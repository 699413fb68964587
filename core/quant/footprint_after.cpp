// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/footprint_after.h"

#include "core/quant/awq/awq_fold.h"
#include "core/util/check.h"

namespace qs {

nlohmann::json roleBytesJson(const RoleBytes& r) {
    nlohmann::json j = nlohmann::json::object();
    for (int k = 0; k < kRoleCount; ++k) j[std::string(roleName(Role(k)))] = r.byRole[size_t(k)];
    j["body"] = r.body();
    j["total"] = r.total;
    return j;
}

ByteBreakdown storedBreakdown(const TensorInfo& t, int64_t rows, int64_t cols) {
    ByteBreakdown b;
    b.payload = t.bytes;
    const DTypeInfo& di = dtypeInfo(t.dtype);
    if (di.ggmlId < 0 || di.blockElems <= 1) return b;
    // ggml block types: the registry spells them as ggml does ("q4_K", "q8_0", "iq4_nl").
    auto scheme = findScheme(di.ggmlName);
    if (!scheme || !scheme->accepts(rows, cols)) return b;
    ByteBreakdown packed = scheme->packedBytes(rows, cols);
    return packed.total() == t.bytes ? packed : b;
}

namespace {

// Whether any tensor gets its own AWQ quantization: only then can a fold change a size. planAwqFolds' plan
// holds 36 bytes a tensor (10.8 MB for 300,000 empty tensors, issue 13), and without such a tensor it folds
// nothing: its empty plan and the default one answer folded() and isNorm() the same (false).
bool anyAwqTensor(const ResolvedMap& resolved) {
    for (const TensorPlan& p : resolved.tensors)
        if (p.quantized())
            if (auto s = findScheme(p.scheme); s && s->family() == "awq") return true;
    return false;
}

}  // namespace

MapFootprint footprintAfter(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors,
                            const ModelInfo& info, const CalibrationSet* calibration, bool foldAwqScales) {
    QS_CHECK(resolved.tensors.size() == tensors.size() && info.entries.size() == tensors.size(),
             "footprintAfter: resolved map for " + std::to_string(resolved.tensors.size()) + " tensors, model has " +
                 std::to_string(tensors.size()));
    MapFootprint f;
    f.tensors.resize(tensors.size());
    const AwqFoldPlan folds =
        foldAwqScales && anyAwqTensor(resolved) ? planAwqFolds(tensors, info, resolved) : AwqFoldPlan{};
    for (size_t i = 0; i < tensors.size(); ++i) {
        const TensorInfo& t = tensors[i];
        const TensorEntry& e = info.entries[i];
        const TensorPlan& p = resolved.tensors[i];
        TensorFootprint& tf = f.tensors[i];
        if (e.tiedTo >= 0 || p.tiedTo >= 0) continue;  // a tied head: 0 before and after
        tf.before = t.bytes;
        if (!p.scheme.empty()) {
            auto scheme = findScheme(p.scheme);
            QS_CHECK(scheme != nullptr, "footprintAfter: scheme " + p.scheme + " vanished from the registry");
            tf.after = scheme->packedBytes(p.rows, p.cols);
            if (folds.folded(int(i)))  // stored as its RTN storage, without the s vector
                tf.after = findScheme(folds.groups[size_t(folds.groupOf[i])].storage)->packedBytes(p.rows, p.cols);
            if (scheme->bytesDependOnData()) {
                const TensorCalibration* c = calibration ? calibration->find(t.name) : nullptr;
                if (auto exact = scheme->packedBytesWith(p.rows, p.cols, t.name, c)) {
                    tf.after = *exact;
                } else {
                    tf.undetermined = exact.message();
                    f.undetermined.push_back(t.name + ": " + exact.message());
                }
            }
        } else if (folds.isNorm(int(i))) {
            tf.after = ByteBreakdown{.payload = 4 * t.elements()};  // replaced by the AWQ fold, stored as F32
        } else {
            tf.after = storedBreakdown(t, p.rows, p.cols);
        }
        f.before.add(e.role, tf.before);
        f.after.add(e.role, tf.after.total());
        f.afterOverhead.add(e.role, tf.after.overhead());
        if (e.isParameter) {
            f.weightsBefore.add(e.role, tf.before);
            f.weightsAfter.add(e.role, tf.after.total());
            f.parameterElements += uint64_t(p.rows) * uint64_t(p.cols);
            f.elements.add(e.role, uint64_t(p.rows) * uint64_t(p.cols));
        }
    }
    return f;
}

Status sizeFromWeights(MapFootprint& f, const ResolvedMap& resolved, const Checkpoint& ckpt, const ModelInfo& info,
                       const CalibrationSet* calibration) {
    QS_CHECK(f.tensors.size() == ckpt.tensors.size() && resolved.tensors.size() == ckpt.tensors.size(),
             "sizeFromWeights: footprint, map and model of different tensor counts");
    f.undetermined.clear();
    for (size_t i = 0; i < f.tensors.size(); ++i) {
        TensorFootprint& tf = f.tensors[i];
        if (tf.undetermined.empty()) continue;
        const TensorPlan& p = resolved.tensors[i];
        const std::string& name = ckpt.tensors[i].name;
        auto scheme = findScheme(p.scheme);
        QS_CHECK(scheme != nullptr, "sizeFromWeights: scheme " + p.scheme + " vanished from the registry");
        const TensorCalibration* c = calibration ? calibration->find(name) : nullptr;
        auto w = ckpt.toFloat(i);
        if (!w) return Error{"the size of '" + name + "' under " + p.scheme + " needs its weights: " + w.message()};
        auto exact = scheme->packedBytesOfWeights(*w, p.rows, p.cols, name, c);
        if (!exact) {
            tf.undetermined = exact.message();
            f.undetermined.push_back(name + ": " + exact.message());
            continue;
        }
        const Role role = info.entries[i].role;
        const ByteBreakdown lower = tf.after;
        tf.after = *exact;
        tf.undetermined.clear();
        // The totals held the lower bound: replace it (sizes only grow from the lower bound).
        f.after.byRole[int(role)] += exact->total() - lower.total();
        f.after.total += exact->total() - lower.total();
        f.afterOverhead.byRole[int(role)] += exact->overhead() - lower.overhead();
        f.afterOverhead.total += exact->overhead() - lower.overhead();
        if (info.entries[i].isParameter) {
            f.weightsAfter.byRole[int(role)] += exact->total() - lower.total();
            f.weightsAfter.total += exact->total() - lower.total();
        }
    }
    return {};
}

double percentOf(uint64_t part, uint64_t total) { return total ? 100.0 * double(part) / double(total) : 0.0; }

double bitsPerWeight(uint64_t bytes, uint64_t elements) {
    return elements ? 8.0 * double(bytes) / double(elements) : 0.0;
}

double MapFootprint::bitsPerWeight() const { return qs::bitsPerWeight(weightsAfter.total, parameterElements); }

FootprintShares footprintShares(const FootprintTotals& t) {
    auto share = [&](uint64_t b, uint64_t a, uint64_t wb, uint64_t wa, uint64_t n) {
        RoleShare s;
        s.before = b;
        s.after = a;
        s.elements = n;
        s.shareBefore = percentOf(b, t.before.total);
        s.shareAfter = percentOf(a, t.after.total);
        s.bitsBefore = bitsPerWeight(wb, n);
        s.bitsAfter = bitsPerWeight(wa, n);
        return s;
    };
    FootprintShares f;
    for (size_t r = 0; r < size_t(kRoleCount); ++r)
        f.byRole[r] = share(t.before.byRole[r], t.after.byRole[r], t.weightsBefore.byRole[r], t.weightsAfter.byRole[r],
                            t.elements.byRole[r]);
    f.body = share(t.before.body(), t.after.body(), t.weightsBefore.body(), t.weightsAfter.body(), t.elements.body());
    f.total = share(t.before.total, t.after.total, t.weightsBefore.total, t.weightsAfter.total, t.elements.total);
    return f;
}

}  // namespace qs
