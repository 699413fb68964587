// SPDX-License-Identifier: GPL-3.0-or-later
// AWQ (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration";
// reference mit-han-lab/llm-awq `auto_scale.py` auto_scale_block / _search_module_scale):
// `awq<b>[_g<group>]`, b = 2..8, asymmetric min-max RTN grid per group (fp16 scales, as int<b>_g<group>).
//
// Per input column j, the mean activation magnitude m_j = sumAbs_j / tokens (llm-awq get_act_scale). For
// alpha in {0, 0.05, ..., 0.95} (llm-awq's n_grid = 20 points; alpha = 0 is plain RTN):
//   s_j = max(m_j^alpha, 1e-4), normalised s /= sqrt(max s * min s), rounded to fp16 (the stored value);
//   W' = Q(W diag(s)) diag(1/s);  loss = mean over the calibration sample rows X of ||W' x - W x||^2.
// The alpha with the smallest loss wins (the first on ties). The search is per tensor: the separate-vector
// form, what this scheme produces on its own. llm-awq searches q/k/v (and gate/up) jointly and folds 1/s into
// the preceding RMSNorm weight: the whole-model apply does that where the map allows (awq_fold.h,
// ApplyOptions::foldAwqScales), storing those tensors as their RTN storage without s; the others keep this form.
//
// Packed layout: the row records of int<b>[_g<group>] for W diag(s) (rtn_scheme.cpp), then s as fp16 [cols]
// (ByteBreakdown::meta). Dequantization gives W' = Q(W diag(s)) diag(1/s), each value rtn_value / s_j in
// float: the engine's matmul over these values is y = Q(W diag(s)) (x / s) up to float summation order (the
// dequantizing path; the native RTN kernels are not used for AWQ, which would need the scaled input).
//
// The search and the final quantization run in the serial start() (deterministic, one unit): the result does
// not depend on the thread count. The RTN kernels run on the path asked for (reference == optimised there).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/quant/awq/awq_fold.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/rtn/rtn_vec_dot.h"
#include "core/quant/scheme_family.h"
#include "core/tensor/half.h"
#include "core/util/check.h"

namespace qs {

namespace {

struct AwqParams {
    int bits = 4;
    int64_t group = 0;
};

class AwqScheme final : public CalibratedChunkedScheme {
public:
    AwqScheme(AwqParams p, std::shared_ptr<const ChunkedScheme> storage) : m_p(p), m_storage(std::move(storage)) {}

    std::string name() const override {
        return "awq" + std::to_string(m_p.bits) + (m_p.group > 0 ? "_g" + std::to_string(m_p.group) : std::string());
    }
    std::string family() const override { return "awq"; }
    std::string description() const override {
        return "AWQ (Lin et al. 2023): per-input-channel scales s = mean|x|^alpha, alpha searched on the layer "
               "output error over the calibration samples, then " +
               m_storage->name() + " of W diag(s); s kept as a separate fp16 vector (not folded into the norm)";
    }
    double nominalBits() const override { return m_p.bits; }
    std::string rejectReason(int64_t rows, int64_t cols) const override { return m_storage->rejectReason(rows, cols); }
    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override {
        ByteBreakdown b = m_storage->packedBytes(rows, cols);
        b.meta += 2 * uint64_t(cols);
        return b;
    }
    CalibrationNeeds calibrationNeeds() const override {
        return CalibrationNeeds::MeanAbs | CalibrationNeeds::Samples;
    }

    Result<std::unique_ptr<QuantJob>> startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                      std::string_view tensorName, QuantPath path,
                                                      const TensorCalibration* calibration) const override;

    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override {
        QS_CHECK(firstRow >= 0 && nRows >= 0 && firstRow + nRows <= q.rows, name() + ": row range out of bounds");
        QS_CHECK(q.data.size() == packedBytes(q.rows, q.cols).total(), name() + ": packed size does not match");
        const uint64_t rtnBytes = m_storage->packedBytes(q.rows, q.cols).total();
        const uint64_t record = rtnBytes / uint64_t(q.rows);
        QS_CHECK(rtn::dequantizeRowRecords(*m_storage, q.data.data() + uint64_t(firstRow) * record, q.cols, nRows, dst),
                 name() + ": storage is not a row-wise RTN scheme");
        std::vector<float> s(static_cast<size_t>(q.cols));
        for (int64_t j = 0; j < q.cols; ++j) {
            uint16_t h;
            std::memcpy(&h, q.data.data() + rtnBytes + 2 * j, 2);
            s[size_t(j)] = halfToFloat(h);
        }
        for (int64_t r = 0; r < nRows; ++r)
            for (int64_t j = 0; j < q.cols; ++j) dst[r * q.cols + j] /= s[size_t(j)];
    }

private:
    // W diag(s) quantized by the storage scheme, dequantized and divided by s: W' for one candidate.
    Result<QuantizedTensor> quantizeScaled(std::span<const float> w, int64_t rows, int64_t cols,
                                           std::string_view tensorName, QuantPath path,
                                           const std::vector<float>& s) const {
        std::vector<float> scaled(w.size());
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < cols; ++j) scaled[size_t(r * cols + j)] = w[size_t(r * cols + j)] * s[size_t(j)];
        return m_storage->quantizeWith(scaled, rows, cols, tensorName, path);
    }

    AwqParams m_p;
    std::shared_ptr<const ChunkedScheme> m_storage;
};

// The finished tensor handed over by finish() (all work happened in start()).
class DoneJob final : public QuantJob {
public:
    explicit DoneJob(QuantizedTensor t) : m_t(std::move(t)) {}
    int64_t units() const override { return 1; }
    void run(int64_t, int64_t) override {}
    Result<QuantizedTensor> finish() override { return std::move(m_t); }

private:
    QuantizedTensor m_t;
};

// Mean over the sample rows of ||(W' - W) x||^2 (W' - W given as d [rows, cols]).
double sampleLoss(const std::vector<float>& d, int64_t rows, int64_t cols, const TensorCalibration& c) {
    const int64_t n = c.nSamples();
    double loss = 0;
    for (int64_t t = 0; t < n; ++t) {
        const float* x = c.samples.data() + t * cols;
        for (int64_t r = 0; r < rows; ++r) {
            const float* dr = d.data() + r * cols;
            double y = 0;
            for (int64_t j = 0; j < cols; ++j) y += double(dr[j]) * x[j];
            loss += y * y;
        }
    }
    return loss / double(n);
}

Result<std::unique_ptr<QuantJob>> AwqScheme::startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                             std::string_view tensorName, QuantPath path,
                                                             const TensorCalibration* calibration) const {
    if (auto s = checkCalibration(*this, calibration, tensorName, cols); !s) return s.error();
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    if (const int64_t bad = firstNonFinite(src.data(), int64_t(src.size())); bad >= 0)
        return Error{nonFiniteMessage(*this, tensorName, bad, src[size_t(bad)], cols)};
    const TensorCalibration& c = *calibration;
    std::vector<double> mean(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j) mean[size_t(j)] = c.sumAbs[size_t(j)] / double(c.tokens);

    std::vector<float> s(static_cast<size_t>(cols)), best;
    std::vector<float> d(src.size()), deq(src.size());
    double bestLoss = 0;
    Result<QuantizedTensor> bestQ = Error{"no candidate"};
    for (int k = 0; k < kAwqGridPoints; ++k) {
        const double alpha = double(k) / kAwqGridPoints;
        double lo = 0, hi = 0;
        std::vector<double> sd(static_cast<size_t>(cols));
        for (int64_t j = 0; j < cols; ++j) {
            sd[size_t(j)] = std::max(std::pow(mean[size_t(j)], alpha), 1e-4);
            lo = j == 0 ? sd[0] : std::min(lo, sd[size_t(j)]);
            hi = j == 0 ? sd[0] : std::max(hi, sd[size_t(j)]);
        }
        const double norm = std::sqrt(hi * lo);
        for (int64_t j = 0; j < cols; ++j) s[size_t(j)] = halfToFloat(floatToHalf(float(sd[size_t(j)] / norm)));
        if (std::any_of(s.begin(), s.end(), [](float v) { return !(v > 0.0f) || !std::isfinite(v); }))
            continue;  // the channel magnitudes spread beyond fp16 at this alpha
        auto q = quantizeScaled(src, rows, cols, tensorName, path, s);
        if (!q) {
            if (k == 0) return q.error();  // plain RTN itself cannot store the tensor
            continue;
        }
        QuantizedTensor withS = std::move(q.value());
        withS.data.resize(withS.data.size() + 2 * size_t(cols));
        const size_t rtnBytes = withS.data.size() - 2 * size_t(cols);
        for (int64_t j = 0; j < cols; ++j) {
            const uint16_t h = floatToHalf(s[size_t(j)]);
            std::memcpy(withS.data.data() + rtnBytes + 2 * j, &h, 2);
        }
        withS.scheme = name();
        withS.bytes = packedBytes(rows, cols);
        dequantizeRows(withS, 0, rows, deq.data());
        for (size_t i = 0; i < d.size(); ++i) d[i] = deq[i] - src[i];
        const double loss = sampleLoss(d, rows, cols, c);
        if (k == 0 || loss < bestLoss) {
            bestLoss = loss;
            bestQ = std::move(withS);
        }
    }
    if (!bestQ) return bestQ.error();
    return std::unique_ptr<QuantJob>(std::make_unique<DoneJob>(std::move(bestQ.value())));
}

Result<std::shared_ptr<const Scheme>> parseAwq(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const auto bits = parseNumberAfter(parts.base, "awq");
    const std::string who = "scheme '" + std::string(name) + "'";
    if (!bits || *bits < 2 || *bits > 8) return Error{who + ": AWQ bit width must be awq2 .. awq8"};
    AwqParams p;
    p.bits = int(*bits);
    for (const auto& opt : parts.options) {
        if (auto g = parseNumberAfter(opt, "g"); g && !p.group) {
            if (*g < 2 || *g > (1 << 20)) return Error{who + ": group size must be 2 .. 1048576"};
            p.group = *g;
        } else {
            return Error{who + ": unknown or repeated option '_" + opt + "' (AWQ takes one _g<group>)"};
        }
    }
    const std::string storage = "int" + std::to_string(p.bits) + (p.group ? "_g" + std::to_string(p.group) : "");
    auto st = std::dynamic_pointer_cast<const ChunkedScheme>(findScheme(storage));
    if (!st) return Error{who + ": no storage scheme " + storage};
    return std::shared_ptr<const Scheme>(std::make_shared<AwqScheme>(p, std::move(st)));
}

}  // namespace

SchemeFamily awqSchemeFamily() {
    return prefixedSchemeFamily("awq", "awq", {"awq<2-8>[_g<group>] (e.g. awq4_g128; needs --calib)"},
                                {"awq4_g128"}, parseAwq);
}

}  // namespace qs
