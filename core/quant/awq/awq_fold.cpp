// SPDX-License-Identifier: GPL-3.0-or-later
// AWQ scales folded into the preceding RMSNorm: see awq_fold.h. The grid, the normalisation of s and the loss
// are those of the separate-vector form (awq_scheme.cpp), except that s is shared by the norm's consumers and
// not rounded to fp16 (it is never stored).
#include "core/quant/awq/awq_fold.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/jobs/arena.h"
#include "core/model/kind_index.h"
#include "core/quant/quantize_parallel.h"

#include "core/util/check.h"

namespace qs {

namespace {

struct Site {
    TensorKind norm;
    std::vector<TensorKind> consumers;
    const char* what;
};

bool isAwqScheme(const TensorPlan& p) {
    if (!p.quantized()) return false;
    auto s = findScheme(p.scheme);
    return s && s->family() == "awq";
}

std::string schemeText(const TensorPlan& p) {
    return p.quantized() ? p.scheme : std::string("kept as stored");
}

// Why the site of `layer` cannot fold ("" when it can), given that at least one consumer is AWQ.
std::string siteRefusal(const std::vector<TensorInfo>& tensors, const ModelInfo& info,
                        const ResolvedMap& resolved, const Site& site, const std::vector<int>& consumers,
                        int norm) {
    const TensorPlan& first = resolved.tensors[size_t(consumers.front())];
    for (int c : consumers) {
        const TensorPlan& p = resolved.tensors[size_t(c)];
        if (!isAwqScheme(p) || p.scheme != first.scheme)
            return std::string("its norm's consumers (") + site.what +
                   ") do not all have the same AWQ scheme (" + tensors[size_t(c)].name + ": " +
                   schemeText(p) + ", " + tensors[size_t(consumers.front())].name + ": " + schemeText(first) +
                   ")";
    }
    if (norm < 0) return "the layer has no preceding norm tensor to fold into";
    const TensorPlan& np = resolved.tensors[size_t(norm)];
    if (np.quantized() || np.tiedTo >= 0)
        return "the map quantizes its norm " + tensors[size_t(norm)].name + " (" + np.scheme + ")";
    if (int64_t(tensors[size_t(norm)].elements()) != first.cols)
        return "its norm " + tensors[size_t(norm)].name + " does not hold one value per input column";
    const double off = info.arch.normOffset;
    if (off != 0.0 && off != 1.0)
        return "the norm form w + " + std::to_string(off) +
               " (ArchSpec normOffset) is not one folding handles";
    return {};
}

// Sum over the sample rows x of ||(Q diag(1/s) - W) x||^2 for one consumer, q its packed W diag(s). Rows run in
// parallel, each into its own partial; the partials are summed in row order (independent of the thread count).
// Memory: one dequantized copy of the weights.
double consumerLoss(const ChunkedScheme& storage, const QuantizedTensor& q, const AwqFoldInput& in,
                    int64_t cols, const std::vector<float>& s, tbb::task_arena* arena) {
    const TensorCalibration& c = *in.calibration;
    const int64_t n = c.nSamples();
    std::vector<double> partial(static_cast<size_t>(in.rows), 0.0);
    parallelFor(arena, int64_t(0), in.rows, int64_t(16), [&](const tbb::blocked_range<int64_t>& range) {
        std::vector<float> d(static_cast<size_t>(range.size() * cols));
        storage.dequantizeRows(q, range.begin(), int64_t(range.size()), d.data());
        for (int64_t r = range.begin(); r < range.end(); ++r) {
            float* dr = d.data() + (r - range.begin()) * cols;
            const float* wr = in.w.data() + r * cols;
            for (int64_t j = 0; j < cols; ++j) dr[j] = dr[j] / s[size_t(j)] - wr[j];
            double sum = 0;
            for (int64_t t = 0; t < n; ++t) {
                const float* x = c.samples.data() + t * cols;
                double y = 0;
                for (int64_t j = 0; j < cols; ++j) y += double(dr[j]) * x[j];
                sum += y * y;
            }
            partial[size_t(r)] = sum;
        }
    });
    double loss = 0;
    for (double v : partial) loss += v;
    return loss / double(n);
}

Status checkInput(const AwqFoldInput& in, int64_t cols) {
    const std::string who = "AWQ fold: '" + std::string(in.name) + "'";
    const TensorCalibration* c = in.calibration;
    if (in.rows <= 0 || in.w.size() != size_t(in.rows * cols))
        return Error{who + ": weights do not hold [rows, cols]"};
    if (!c || c->cols != cols || c->tokens <= 0 || c->sumAbs.size() != size_t(cols) || c->nSamples() <= 0 ||
        c->samples.size() != size_t(c->nSamples() * cols))
        return Error{who + " needs calibration with mean |x| and sample rows of " + std::to_string(cols) +
                     " columns"};
    return {};
}

}  // namespace

AwqFoldPlan planAwqFolds(const std::vector<TensorInfo>& tensors, const ModelInfo& info,
                         const ResolvedMap& resolved) {
    const size_t n = tensors.size();
    QS_CHECK(resolved.tensors.size() == n && info.entries.size() == n,
             "planAwqFolds: map resolved for another model");
    AwqFoldPlan plan;
    plan.groupOf.assign(n, -1);
    plan.kept.assign(n, CompactText());
    // A map without AWQ (nearly every map) folds nothing: no per-layer search, no kind index of the model.
    if (std::none_of(resolved.tensors.begin(), resolved.tensors.end(), isAwqScheme)) return plan;
    const Site sites[] = {{TensorKind::AttnNorm, {TensorKind::Wq, TensorKind::Wk, TensorKind::Wv}, "q, k, v"},
                          {TensorKind::FfnNorm, {TensorKind::Gate, TensorKind::Up}, "gate, up"}};
    const KindIndex byKind(info);
    // The layers that have tensors (a layer without any has no site): an index in a tensor name or a declared
    // count ("layers.999999999") is not a loop bound.
    std::vector<int> layers;
    for (const TensorEntry& e : info.entries)
        if (e.layer >= 0 && e.layer < info.hp.layers) layers.push_back(e.layer);
    std::sort(layers.begin(), layers.end());
    layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
    for (const int layer : layers) {
        for (const Site& site : sites) {
            std::vector<int> consumers;
            bool anyAwq = false, allPresent = true;
            for (TensorKind k : site.consumers) {
                const int i = byKind.find(k, layer);
                if (i < 0 || size_t(i) >= n) {
                    allPresent = false;
                    continue;
                }
                consumers.push_back(i);
                anyAwq |= isAwqScheme(resolved.tensors[size_t(i)]);
            }
            if (!anyAwq) continue;
            const int norm = byKind.find(site.norm, layer);
            const std::string why = allPresent
                                        ? siteRefusal(tensors, info, resolved, site, consumers, norm)
                                        : std::string("the layer does not store every one of ") + site.what;
            if (!why.empty()) {
                for (int c : consumers)
                    if (isAwqScheme(resolved.tensors[size_t(c)])) plan.kept[size_t(c)] = why;
                continue;
            }
            AwqFoldGroup g;
            g.norm = norm;
            g.consumers = consumers;
            g.scheme = resolved.tensors[size_t(consumers.front())].scheme;
            g.storage =
                "int" + g.scheme.substr(3);  // awq<b>[_g<g>] is stored as int<b>[_g<g>] (awq_scheme.cpp)
            g.normOffset = info.arch.normOffset;
            QS_CHECK(findScheme(g.storage) != nullptr, "AWQ fold: no storage scheme " + g.storage);
            const int index = int(plan.groups.size());
            plan.groupOf[size_t(norm)] = index;
            for (int c : consumers) plan.groupOf[size_t(c)] = index;
            plan.groups.push_back(std::move(g));
        }
    }
    for (size_t i = 0; i < n; ++i)
        if (plan.groupOf[i] < 0 && plan.kept[i].empty() && isAwqScheme(resolved.tensors[i]))
            plan.kept[i] =
                "no norm precedes it (llm-awq's scale_fc_fc into v_proj / up_proj is not implemented)";
    return plan;
}

std::vector<float> scaleColumns(std::span<const float> w, int64_t rows, int64_t cols,
                                const std::vector<float>& s) {
    QS_CHECK(w.size() == size_t(rows * cols) && s.size() == size_t(cols), "scaleColumns: sizes do not match");
    std::vector<float> out(w.size());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) out[size_t(r * cols + j)] = w[size_t(r * cols + j)] * s[size_t(j)];
    return out;
}

std::vector<float> foldedNormValues(std::span<const float> w, const std::vector<float>& s,
                                    double normOffset) {
    QS_CHECK(w.size() == s.size(), "foldedNormValues: norm and scales differ in length");
    std::vector<float> out(w.size());
    for (size_t j = 0; j < w.size(); ++j)
        out[j] = float((double(w[j]) + normOffset) / double(s[j]) - normOffset);
    return out;
}

Result<AwqFoldScales> searchAwqFoldScales(const ChunkedScheme& storage,
                                          std::span<const AwqFoldInput> consumers, int64_t cols,
                                          QuantPath path, tbb::task_arena* arena) {
    if (consumers.empty() || cols <= 0) return Error{"AWQ fold: no consumers"};
    for (const AwqFoldInput& in : consumers)
        if (Status s = checkInput(in, cols); !s) return s.error();
    std::vector<double> mean(static_cast<size_t>(cols), 0.0);
    for (const AwqFoldInput& in : consumers)
        for (int64_t j = 0; j < cols; ++j)
            mean[size_t(j)] += in.calibration->sumAbs[size_t(j)] / double(in.calibration->tokens);
    for (double& m : mean) m /= double(consumers.size());

    auto scalesAt = [&](int k) {
        const double alpha = double(k) / kAwqGridPoints;
        std::vector<double> sd(static_cast<size_t>(cols));
        for (int64_t j = 0; j < cols; ++j) sd[size_t(j)] = std::max(std::pow(mean[size_t(j)], alpha), 1e-4);
        const auto [lo, hi] = std::minmax_element(sd.begin(), sd.end());
        const double norm = std::sqrt(*hi * *lo);
        std::vector<float> s(static_cast<size_t>(cols));
        for (int64_t j = 0; j < cols; ++j) s[size_t(j)] = float(sd[size_t(j)] / norm);
        return s;
    };
    constexpr double kNone = std::numeric_limits<double>::infinity();
    std::vector<double> loss(kAwqGridPoints, kNone);
    std::vector<std::string> failure(kAwqGridPoints);
    // Grid points one after another (one scaled copy and one packed tensor in memory), each parallel inside.
    for (int k = 0; k < kAwqGridPoints; ++k) {
        const std::vector<float> s = scalesAt(k);
        if (std::any_of(s.begin(), s.end(), [](float v) { return !(v > 0.0f) || !std::isfinite(v); })) continue;
        double total = 0;
        for (const AwqFoldInput& in : consumers) {
            const std::vector<float> scaled = scaleColumns(in.w, in.rows, cols, s);
            auto q = path == QuantPath::Reference
                         ? storage.quantizeWith(scaled, in.rows, cols, in.name, path)
                         : quantizeParallel(storage, scaled, in.rows, cols, in.name, arena, nullptr);
            if (!q) {
                failure[size_t(k)] = q.message();
                break;
            }
            total += consumerLoss(storage, *q, in, cols, s, arena);
        }
        if (failure[size_t(k)].empty()) loss[size_t(k)] = total;
    }
    if (!failure[0].empty()) return Error{failure[0]};  // plain RTN itself cannot store a consumer
    int best = -1;
    for (int k = 0; k < kAwqGridPoints; ++k)
        if (loss[size_t(k)] != kNone && (best < 0 || loss[size_t(k)] < loss[size_t(best)])) best = k;
    if (best < 0)
        return Error{"AWQ fold: '" + std::string(consumers.front().name) + "': no grid point quantizes"};
    return AwqFoldScales{double(best) / kAwqGridPoints, loss[size_t(best)], scalesAt(best)};
}

}  // namespace qs
