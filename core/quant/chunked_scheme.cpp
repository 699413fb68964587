// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/chunked_scheme.h"

#include <bit>
#include <cmath>
#include <string>

#include "core/util/check.h"
#include "core/util/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define QS_X86_SIMD 1
#endif

namespace qs {

Result<QuantizedTensor> ChunkedScheme::quantizeWith(std::span<const float> src, int64_t rows, int64_t cols,
                                                    std::string_view tensorName, QuantPath path,
                                                    const TensorCalibration* calibration) const {
    auto job = startCalibrated(src, rows, cols, tensorName, path, calibration);
    if (!job.ok()) return job.error();
    (*job)->run(0, (*job)->units());
    return (*job)->finish();
}

Status validateQuantShape(const Scheme& scheme, std::span<const float> src, int64_t rows, int64_t cols,
                          std::string_view tensorName) {
    const std::string who = "tensor '" + std::string(tensorName) + "'";
    const std::string shape = std::to_string(rows) + " x " + std::to_string(cols);
    if (rows <= 0 || cols <= 0)
        return Error{who + ": shape " + shape + " is empty; " + scheme.name() + " needs at least one value"};
    if (rows > (int64_t(1) << 40) / cols) return Error{who + ": shape " + shape + " is too large"};
    if (uint64_t(rows * cols) != src.size())
        return Error{who + ": " + std::to_string(src.size()) + " values given for a " + shape + " matrix"};
    if (std::string reason = scheme.rejectReason(rows, cols); !reason.empty())
        return Error{who + ": " + scheme.name() + " cannot take shape " + shape + ": " + reason};
    return {};
}

namespace {
int64_t firstNonFiniteScalar(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if ((std::bit_cast<uint32_t>(x[i]) & 0x7f800000u) == 0x7f800000u) return i;
    return -1;
}

#ifdef QS_X86_SIMD
__attribute__((target("avx2"))) int64_t firstNonFiniteAvx2(const float* x, int64_t n) {
    const __m256i expMask = _mm256_set1_epi32(0x7f800000);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i any = _mm256_setzero_si256();
        for (int k = 0; k < 4; ++k) {
            const __m256i v = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 8 * k)),
                                               expMask);
            any = _mm256_or_si256(any, _mm256_cmpeq_epi32(v, expMask));
        }
        if (!_mm256_testz_si256(any, any)) break;
    }
    const int64_t tail = firstNonFiniteScalar(x + i, n - i);
    return tail < 0 ? -1 : i + tail;
}

__attribute__((target("avx2"))) float maxAbsAvx2(const float* x, int64_t n) {
    const __m256 signMask = _mm256_set1_ps(-0.0f);
    __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_andnot_ps(signMask, _mm256_loadu_ps(x + i)));
        m1 = _mm256_max_ps(m1, _mm256_andnot_ps(signMask, _mm256_loadu_ps(x + i + 8)));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_max_ps(m0, m1));
    float m = 0.0f;
    for (float v : lanes) m = v > m ? v : m;
    for (; i < n; ++i) {
        const float a = std::fabs(x[i]);
        m = a > m ? a : m;
    }
    return m;
}
#endif
}  // namespace

float maxAbsValue(const float* x, int64_t n) {
#ifdef QS_X86_SIMD
    static const bool kAvx2 = cpu::simdLevel() >= cpu::SimdLevel::Avx2;
    if (kAvx2) return maxAbsAvx2(x, n);
#endif
    float m = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        m = a > m ? a : m;
    }
    return m;
}

int64_t firstNonFinite(const float* x, int64_t n) {
#ifdef QS_X86_SIMD
    static const bool kAvx2 = cpu::simdLevel() >= cpu::SimdLevel::Avx2;
    if (kAvx2) return firstNonFiniteAvx2(x, n);
#endif
    return firstNonFiniteScalar(x, n);
}

std::string nonFiniteMessage(const Scheme& scheme, std::string_view tensorName, int64_t index, float value,
                             int64_t cols) {
    return "tensor '" + std::string(tensorName) + "': value " + (std::isnan(value) ? "NaN" : "Inf") +
           " at element " + std::to_string(index) + " (row " + std::to_string(index / cols) + ", column " +
           std::to_string(index % cols) + "); " + scheme.name() + " can only quantize finite values";
}

void JobFailure::report(int64_t index, std::string message) {
    std::lock_guard lock(m_mutex);
    if (m_index < 0 || index < m_index) {
        m_index = index;
        m_message = std::move(message);
    }
}

bool JobFailure::failed() const {
    std::lock_guard lock(m_mutex);
    return m_index >= 0;
}

std::string JobFailure::message() const {
    std::lock_guard lock(m_mutex);
    return m_message;
}

ByteBreakdown RowScheme::packedBytes(int64_t rows, int64_t cols) const {
    const ByteBreakdown row = rowBreakdown(cols);
    const uint64_t r = uint64_t(rows);
    ByteBreakdown total;
    total.payload = row.payload * r;
    total.scales = row.scales * r;
    total.zeros = row.zeros * r;
    total.codebook = row.codebook * r;
    total.outliers = row.outliers * r;
    total.meta = row.meta * r;
    return total;
}

namespace {
class RowJob final : public QuantJob {
public:
    RowJob(const RowScheme& scheme, std::span<const float> src, int64_t rows, int64_t cols,
           std::string_view name, std::function<std::string(const float*, int64_t, std::byte*)> quantizeRow)
        : m_scheme(scheme),
          m_src(src),
          m_cols(cols),
          m_name(name),
          m_rowBytes(scheme.rowBreakdown(cols).total()),
          m_quantizeRow(std::move(quantizeRow)) {
        m_out.scheme = scheme.name();
        m_out.rows = rows;
        m_out.cols = cols;
        m_out.bytes = scheme.packedBytes(rows, cols);
        m_out.data.resize(m_out.bytes.total());
    }
    int64_t units() const override { return m_out.rows; }
    void run(int64_t first, int64_t last) override {
        for (int64_t r = first; r < last; ++r) {
            const float* x = m_src.data() + r * m_cols;
            if (const int64_t bad = firstNonFinite(x, m_cols); bad >= 0) {
                m_failure.report(r * m_cols + bad, nonFiniteMessage(m_scheme, m_name, r * m_cols + bad, x[bad], m_cols));
                return;
            }
            const std::string why = m_quantizeRow(x, m_cols, m_out.data.data() + uint64_t(r) * m_rowBytes);
            if (!why.empty()) {
                m_failure.report(r * m_cols, "tensor '" + m_name + "', row " + std::to_string(r) + ": " + why);
                return;
            }
        }
    }
    Result<QuantizedTensor> finish() override {
        if (m_failure.failed()) return Error{m_failure.message()};
        return std::move(m_out);
    }
    const QuantizedTensor* rowsFinal() const override { return &m_out; }

private:
    const RowScheme& m_scheme;
    std::span<const float> m_src;
    int64_t m_cols;
    std::string m_name;
    uint64_t m_rowBytes;
    std::function<std::string(const float*, int64_t, std::byte*)> m_quantizeRow;
    QuantizedTensor m_out;
    JobFailure m_failure;
};
}  // namespace

std::unique_ptr<QuantJob> RowScheme::rowJob(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, RowQuantizer quantizeRow) const {
    return std::make_unique<RowJob>(*this, src, rows, cols, tensorName, std::move(quantizeRow));
}

std::string RowScheme::quantizeRowWeighted(const float*, int64_t, std::byte*, const float*) const {
    QS_CHECK(false, name() + ": started a weighted job without a weighted row quantizer");
    return {};
}

Result<std::unique_ptr<QuantJob>> RowScheme::startWeighted(std::span<const float> src, int64_t rows, int64_t cols,
                                                           std::string_view tensorName,
                                                           std::vector<float> weights) const {
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    QS_CHECK(int64_t(weights.size()) == cols, name() + ": weights for " + std::to_string(weights.size()) +
                                                  " columns, the tensor has " + std::to_string(cols));
    return rowJob(src, rows, cols, tensorName,
                  [this, w = std::move(weights)](const float* x, int64_t n, std::byte* out) {
                      return quantizeRowWeighted(x, n, out, w.data());
                  });
}

Result<std::unique_ptr<QuantJob>> RowScheme::start(std::span<const float> src, int64_t rows, int64_t cols,
                                                   std::string_view tensorName, QuantPath path) const {
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    return rowJob(src, rows, cols, tensorName, [this, path](const float* x, int64_t n, std::byte* out) {
        return quantizeRow(x, n, out, path);
    });
}

void RowScheme::dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const {
    const uint64_t rowBytes = rowBreakdown(q.cols).total();
    QS_CHECK(firstRow >= 0 && nRows >= 0 && firstRow + nRows <= q.rows, name() + ": row range out of bounds");
    QS_CHECK(q.data.size() >= uint64_t(q.rows) * rowBytes, name() + ": packed data shorter than its shape");
    for (int64_t r = 0; r < nRows; ++r)
        dequantizeRow(q.data.data() + uint64_t(firstRow + r) * rowBytes, q.cols, dst + r * q.cols);
}

}  // namespace qs
