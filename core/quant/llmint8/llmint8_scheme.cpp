// SPDX-License-Identifier: GPL-3.0-or-later
// LLM.int8 (llmint8_scheme.h has the method, the outlier rules and the packed layout).
#include "core/quant/llmint8/llmint8_scheme.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/model/tensor_naming.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/scheme_family.h"
#include "core/tensor/half.h"
#include "core/util/check.h"

namespace qs {

namespace llmint8 {
bool isTokenEmbedding(std::string_view tensorName) {
    return classifyTensorName(tensorName, 2).kind == TensorKind::TokenEmbedding;
}
}  // namespace llmint8

namespace {

constexpr float kDefaultThreshold = 6.0f;
constexpr float kMaxThreshold = 65504.0f;  // the largest fp16 (the kept columns' type)
constexpr uint64_t kIndexBytes = 4;  // uint32 column index per kept column

// Bytes of `rows` x `cols` with `kept` fp16 columns (llmint8_scheme.h).
ByteBreakdown bytesWithKept(int64_t rows, int64_t cols, int64_t kept) {
    ByteBreakdown b;
    b.payload = uint64_t(rows) * uint64_t(cols);
    b.scales = 4 * uint64_t(rows);
    b.outliers = uint64_t(kept) * (kIndexBytes + 2 * uint64_t(rows));
    return b;
}

// The shortest decimal that reads back as `t` (fixed notation: "6", "6.5", "0.25"): the name's threshold.
std::string thresholdText(float t) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, t, std::chars_format::fixed);
    return std::string(buf, r.ptr);
}

class LlmInt8Scheme final : public CalibratedChunkedScheme {
public:
    explicit LlmInt8Scheme(float threshold) : m_threshold(threshold) {}

    std::string name() const override {
        return m_threshold == kDefaultThreshold ? "llmint8" : "llmint8_t" + thresholdText(m_threshold);
    }
    std::string family() const override { return "llmint8"; }
    std::string description() const override {
        return "LLM.int8 (Dettmers et al. 2022): int8 with a per-row absmax fp32 scale; input columns whose "
               "calibration activation max|x| >= " + thresholdText(m_threshold) +
               " kept in fp16 (embedding: by weight magnitude)";
    }
    double nominalBits() const override { return 8; }
    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        if (cols > int64_t(UINT32_MAX)) return "more columns than a uint32 index can name";
        return {};
    }
    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override { return bytesWithKept(rows, cols, 0); }
    bool bytesDependOnData() const override { return true; }
    Result<ByteBreakdown> packedBytesWith(int64_t rows, int64_t cols, std::string_view tensorName,
                                          const TensorCalibration* calibration) const override;
    Result<ByteBreakdown> packedBytesOfWeights(std::span<const float> w, int64_t rows, int64_t cols,
                                               std::string_view tensorName,
                                               const TensorCalibration* calibration) const override {
        if (!llmint8::isTokenEmbedding(tensorName)) return packedBytesWith(rows, cols, tensorName, calibration);
        if (w.size() != size_t(rows * cols))
            return Error{name() + " on '" + std::string(tensorName) + "': " + std::to_string(w.size()) +
                         " weights for " + std::to_string(rows) + " x " + std::to_string(cols)};
        return bytesWithKept(rows, cols, int64_t(keptByWeight(w, rows, cols).size()));
    }
    CalibrationNeeds calibrationNeeds() const override { return CalibrationNeeds::MaxAbs; }
    bool needsCalibrationFor(std::string_view tensorName) const override {
        return !llmint8::isTokenEmbedding(tensorName);
    }

    Result<std::unique_ptr<QuantJob>> startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                      std::string_view tensorName, QuantPath path,
                                                      const TensorCalibration* calibration) const override;
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override;

    float threshold() const { return m_threshold; }
    // The kept columns of an activation-calibrated tensor: j with maxAbs_j >= T, ascending.
    std::vector<uint32_t> keptByActivation(const TensorCalibration& c) const {
        std::vector<uint32_t> kept;
        for (int64_t j = 0; j < c.cols; ++j)
            if (c.maxAbs[size_t(j)] >= threshold()) kept.push_back(uint32_t(j));
        return kept;
    }
    // The kept columns of an embedding: j with max over rows |W[r, j]| >= T, ascending (NaN never kept).
    std::vector<uint32_t> keptByWeight(std::span<const float> w, int64_t rows, int64_t cols) const {
        std::vector<float> colMax(size_t(cols), 0.0f);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < cols; ++j)
                colMax[size_t(j)] = std::max(colMax[size_t(j)], std::fabs(w[size_t(r * cols + j)]));
        std::vector<uint32_t> kept;
        for (int64_t j = 0; j < cols; ++j)
            if (colMax[size_t(j)] >= threshold()) kept.push_back(uint32_t(j));
        return kept;
    }

private:
    float m_threshold;
};

// Kept columns of a packed tensor, from its size (the layout is self-describing given rows and cols).
int64_t keptOf(const QuantizedTensor& q, const std::string& who) {
    const uint64_t base = uint64_t(q.rows) * (uint64_t(q.cols) + 4);
    const uint64_t per = kIndexBytes + 2 * uint64_t(q.rows);
    QS_CHECK(q.data.size() >= base && (q.data.size() - base) % per == 0,
             who + ": packed size " + std::to_string(q.data.size()) + " does not fit " + std::to_string(q.rows) +
                 " x " + std::to_string(q.cols));
    return int64_t((q.data.size() - base) / per);
}

class LlmInt8Job final : public QuantJob {
public:
    LlmInt8Job(const LlmInt8Scheme& scheme, std::span<const float> src, int64_t rows, int64_t cols,
               std::string_view name, std::vector<uint32_t> kept, std::string rule)
        : m_scheme(scheme), m_src(src), m_cols(cols), m_name(name), m_kept(std::move(kept)) {
        const int64_t k = int64_t(m_kept.size());
        m_isKept.assign(size_t(cols), 0);
        for (uint32_t j : m_kept) m_isKept[j] = 1;
        m_out.scheme = scheme.name();
        m_out.rows = rows;
        m_out.cols = cols;
        m_out.bytes = bytesWithKept(rows, cols, k);
        m_out.keptColumns = k;
        m_out.outlierRule = std::move(rule);
        m_out.data.resize(m_out.bytes.total());
        if (k > 0) std::memcpy(m_out.data.data(), m_kept.data(), size_t(k) * kIndexBytes);
        m_recordBytes = uint64_t(cols) + 4 + 2 * uint64_t(k);
    }
    int64_t units() const override { return m_out.rows; }
    void run(int64_t first, int64_t last) override {
        for (int64_t r = first; r < last; ++r)
            if (!quantizeRow(r)) return;
    }
    Result<QuantizedTensor> finish() override {
        if (m_failure.failed()) return Error{m_failure.message()};
        return std::move(m_out);
    }
    const QuantizedTensor* rowsFinal() const override { return &m_out; }

private:
    bool quantizeRow(int64_t r) {
        const float* x = m_src.data() + r * m_cols;
        if (const int64_t bad = firstNonFinite(x, m_cols); bad >= 0) {
            m_failure.report(r * m_cols + bad, nonFiniteMessage(m_scheme, m_name, r * m_cols + bad, x[bad], m_cols));
            return false;
        }
        std::byte* rec = m_out.data.data() + m_kept.size() * kIndexBytes + uint64_t(r) * m_recordBytes;
        float absmax = 0.0f;
        for (int64_t j = 0; j < m_cols; ++j)
            if (!m_isKept[size_t(j)]) absmax = std::max(absmax, std::fabs(x[j]));
        const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
        auto* codes = reinterpret_cast<int8_t*>(rec);
        for (int64_t j = 0; j < m_cols; ++j) {
            if (m_isKept[size_t(j)]) {
                codes[j] = 0;
                continue;
            }
            float v = std::nearbyint(x[j] * inv);
            // A subnormal absmax makes 127 / absmax overflow to inf: the ratio in double stays in [-127, 127].
            if (!(std::fabs(v) <= 127.0f)) v = float(std::nearbyint(double(x[j]) / double(absmax) * 127.0));
            codes[j] = int8_t(v);
        }
        std::memcpy(rec + m_cols, &absmax, 4);
        std::byte* kv = rec + m_cols + 4;
        for (size_t i = 0; i < m_kept.size(); ++i) {
            const float v = x[m_kept[i]];
            const uint16_t h = floatToHalf(v);
            if (!std::isfinite(halfToFloat(h))) {
                m_failure.report(r * m_cols + m_kept[i],
                                 "tensor '" + m_name + "', row " + std::to_string(r) + ", kept column " +
                                     std::to_string(m_kept[i]) + ": value " + std::to_string(v) +
                                     " overflows the fp16 outlier column of " + m_scheme.name());
                return false;
            }
            std::memcpy(kv + 2 * i, &h, 2);
        }
        return true;
    }

    const LlmInt8Scheme& m_scheme;
    std::span<const float> m_src;
    int64_t m_cols;
    std::string m_name;
    std::vector<uint32_t> m_kept;
    std::vector<uint8_t> m_isKept;  // [cols]
    uint64_t m_recordBytes = 0;
    QuantizedTensor m_out;
    JobFailure m_failure;
};

std::string calibrationText(const TensorCalibration& c) {
    return "over " + std::to_string(c.tokens) + " calibration tokens";
}

Result<ByteBreakdown> LlmInt8Scheme::packedBytesWith(int64_t rows, int64_t cols, std::string_view tensorName,
                                                     const TensorCalibration* calibration) const {
    if (llmint8::isTokenEmbedding(tensorName))
        return Error{name() + " on '" + std::string(tensorName) + "': the kept columns of an embedding are chosen by "
                     "weight magnitude, so its size is known once it is quantized"};
    if (auto s = checkCalibration(*this, calibration, tensorName, cols); !s)
        return Error{s.message() + "; its size depends on the calibration (the columns kept in fp16)"};
    return bytesWithKept(rows, cols, int64_t(keptByActivation(*calibration).size()));
}

Result<std::unique_ptr<QuantJob>> LlmInt8Scheme::startCalibrated(std::span<const float> src, int64_t rows,
                                                                 int64_t cols, std::string_view tensorName,
                                                                 QuantPath path,
                                                                 const TensorCalibration* calibration) const {
    (void)path;  // one scalar path: the reference
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    std::vector<uint32_t> kept;
    std::string rule;
    const std::string t = thresholdText(m_threshold);
    if (llmint8::isTokenEmbedding(tensorName)) {
        // By weight magnitude (llmint8_scheme.h); NaN/Inf are reported by the rows.
        kept = keptByWeight(src, rows, cols);
        rule = "embedding (a lookup, no input activations): weight max|W[:, j]| >= " + t + " over its " +
               std::to_string(rows) + " rows";
    } else {
        if (auto s = checkCalibration(*this, calibration, tensorName, cols); !s) return s.error();
        kept = keptByActivation(*calibration);
        rule = "activation max|x_j| >= " + t + " " + calibrationText(*calibration);
    }
    return std::unique_ptr<QuantJob>(
        std::make_unique<LlmInt8Job>(*this, src, rows, cols, tensorName, std::move(kept), std::move(rule)));
}

void LlmInt8Scheme::dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const {
    QS_CHECK(firstRow >= 0 && nRows >= 0 && firstRow + nRows <= q.rows, name() + ": row range out of bounds");
    const int64_t k = keptOf(q, name());
    std::vector<uint32_t> kept(static_cast<size_t>(k));
    if (k > 0) std::memcpy(kept.data(), q.data.data(), size_t(k) * kIndexBytes);
    const uint64_t record = uint64_t(q.cols) + 4 + 2 * uint64_t(k);
    for (int64_t r = 0; r < nRows; ++r) {
        const std::byte* rec = q.data.data() + uint64_t(k) * kIndexBytes + uint64_t(firstRow + r) * record;
        const auto* codes = reinterpret_cast<const int8_t*>(rec);
        float absmax;
        std::memcpy(&absmax, rec + q.cols, 4);
        const float step = absmax / 127.0f;
        float* out = dst + r * q.cols;
        for (int64_t j = 0; j < q.cols; ++j) out[j] = float(codes[j]) * step;
        for (int64_t i = 0; i < k; ++i) {
            uint16_t h;
            std::memcpy(&h, rec + q.cols + 4 + 2 * i, 2);
            QS_CHECK(kept[size_t(i)] < uint64_t(q.cols), name() + ": kept column index out of range");
            out[kept[size_t(i)]] = halfToFloat(h);
        }
    }
}

Result<std::shared_ptr<const Scheme>> parseLlmInt8(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const std::string who = "scheme '" + std::string(name) + "'";
    if (parts.base != "llmint8") return Error{who + ": LLM.int8 is spelled llmint8[_t<threshold>]"};
    std::optional<float> threshold;
    for (const auto& opt : parts.options) {
        if (opt.size() > 1 && opt[0] == 't' && !threshold) {
            // A decimal number, fractions allowed ("t6.5"); digits and one point only, no sign or exponent.
            const std::string text = opt.substr(1);
            const bool plain = text.find_first_not_of("0123456789.") == std::string::npos &&
                               std::count(text.begin(), text.end(), '.') <= 1 && text != ".";
            char* end = nullptr;
            const double t = plain ? std::strtod(text.c_str(), &end) : 0.0;
            if (!plain || end != text.c_str() + text.size() || !(t > 0.0) || t > double(kMaxThreshold))
                return Error{who + ": LLM.int8 threshold '_" + opt + "' must be _t<T> with a decimal 0 < T <= 65504 "
                                   "(e.g. llmint8_t6.5)"};
            threshold = float(t);
        } else {
            return Error{who + ": unknown or repeated option '_" + opt + "' (LLM.int8 takes one _t<threshold>)"};
        }
    }
    return std::shared_ptr<const Scheme>(std::make_shared<LlmInt8Scheme>(threshold.value_or(kDefaultThreshold)));
}

}  // namespace

SchemeFamily llmint8SchemeFamily() {
    return prefixedSchemeFamily(
        "llmint8", "llmint8",
        {"llmint8[_t<threshold>] (LLM.int8, fp16 outlier columns at max|x| >= 6 by default; needs --calib)"},
        {"llmint8"}, parseLlmInt8);
}

}  // namespace qs
