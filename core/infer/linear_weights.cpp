// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/linear_weights.h"

#include <algorithm>
#include <cstring>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "core/infer/kernels.h"
#include "core/io/checkpoint.h"
#include "core/util/check.h"

namespace qs {

namespace {

// Below this many multiply-adds a parallel_for costs more than it saves.
constexpr int64_t kParallelMinWork = 1 << 15;

template <class F>
void forRows(int64_t rows, int64_t grain, tbb::task_arena* arena, F&& body) {
    if (!arena || arena->max_concurrency() <= 1) {
        body(int64_t(0), rows);
        return;
    }
    arena->execute([&] {
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, std::max<int64_t>(1, grain)),
                          [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
    });
}

}  // namespace

FloatLinearWeights::FloatLinearWeights(int64_t rows, int64_t cols, const float* data, std::shared_ptr<const void> owner,
                                       std::string what)
    : LinearWeights(rows, cols), m_owner(std::move(owner)), m_data(data), m_what(std::move(what)) {
    QS_CHECK(reinterpret_cast<uintptr_t>(data) % alignof(float) == 0, "unaligned float view for " + m_what);
}

FloatLinearWeights::FloatLinearWeights(int64_t rows, int64_t cols, std::vector<float> values, std::string what)
    : LinearWeights(rows, cols), m_owned(std::move(values)), m_data(m_owned.data()), m_what(std::move(what)) {
    QS_CHECK(int64_t(m_owned.size()) == rows * cols, m_what + ": value count does not match the shape");
}

void FloatLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    const int64_t n = cols(), m = rows();
    for (int64_t r = r0; r < r1; ++r) {
        const float* w = m_data + r * n;
        for (int64_t b = 0; b < batch; ++b) y[b * m + r] = kernels::dot(w, x + b * n, n);
    }
}

void FloatLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of " + m_what);
    std::memcpy(dst, m_data + r * cols(), size_t(cols()) * sizeof(float));
}

QuantizedLinearWeights::QuantizedLinearWeights(std::shared_ptr<const QuantizedTensor> tensor,
                                               std::shared_ptr<const Scheme> scheme)
    : LinearWeights(tensor->rows, tensor->cols), m_tensor(std::move(tensor)), m_scheme(std::move(scheme)) {}

void QuantizedLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    const int64_t n = cols(), m = rows();
    std::vector<float> block(size_t(std::min(kBlockRows, r1 - r0) * n));
    for (int64_t rb = r0; rb < r1; rb += kBlockRows) {
        const int64_t nr = std::min(kBlockRows, r1 - rb);
        m_scheme->dequantizeRows(*m_tensor, rb, nr, block.data());
        for (int64_t i = 0; i < nr; ++i) {
            const float* w = block.data() + i * n;
            for (int64_t b = 0; b < batch; ++b) y[b * m + rb + i] = kernels::dot(w, x + b * n, n);
        }
    }
}

void QuantizedLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of a " + m_tensor->scheme + " tensor");
    m_scheme->dequantizeRows(*m_tensor, r, 1, dst);
}

std::string QuantizedLinearWeights::describe() const {
    return m_tensor->scheme + ", dequantized per " + std::to_string(kBlockRows) + " rows";
}

StoredLinearWeights::StoredLinearWeights(int64_t rows, int64_t cols, DType dtype, int group,
                                         std::span<const std::byte> bytes, std::shared_ptr<const void> owner)
    : LinearWeights(rows, cols), m_dtype(dtype), m_group(group), m_bytes(bytes), m_owner(std::move(owner)) {}

void StoredLinearWeights::decode(int64_t firstRow, int64_t nRows, float* dst) const {
    const uint64_t n = uint64_t(cols());
    const Status s = decodeToFloat(m_dtype, m_bytes, uint64_t(rows()) * n, m_group, uint64_t(firstRow) * n,
                                   uint64_t(nRows) * n, dst);
    // The loader decoded this tensor's shape and type successfully before choosing this path.
    QS_CHECK(s.ok(), "decoding rows of a " + std::string(dtypeName(m_dtype)) + " tensor: " + s.message());
}

void StoredLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    const int64_t n = cols(), m = rows();
    std::vector<float> block(size_t(std::min(kBlockRows, r1 - r0) * n));
    for (int64_t rb = r0; rb < r1; rb += kBlockRows) {
        const int64_t nr = std::min(kBlockRows, r1 - rb);
        decode(rb, nr, block.data());
        for (int64_t i = 0; i < nr; ++i) {
            const float* w = block.data() + i * n;
            for (int64_t b = 0; b < batch; ++b) y[b * m + rb + i] = kernels::dot(w, x + b * n, n);
        }
    }
}

void StoredLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of a stored tensor");
    decode(r, 1, dst);
}

std::string StoredLinearWeights::describe() const {
    return std::string(dtypeName(m_dtype)) + " (mapped), decoded per " + std::to_string(kBlockRows) + " rows";
}

std::shared_ptr<const LinearWeights> dequantizeOnce(const QuantizedTensor& tensor, const Scheme& scheme,
                                                    tbb::task_arena* arena) {
    std::vector<float> values(size_t(tensor.rows * tensor.cols));
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (tensor.rows + kBlock - 1) / kBlock;
    forRows(blocks, 1, arena, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t first = b * kBlock, nr = std::min(kBlock, tensor.rows - first);
            scheme.dequantizeRows(tensor, first, nr, values.data() + first * tensor.cols);
        }
    });
    return std::make_shared<FloatLinearWeights>(tensor.rows, tensor.cols, std::move(values),
                                                tensor.scheme + ", dequantized once to f32");
}

void matmul(const LinearWeights& w, const float* x, int64_t batch, float* y, tbb::task_arena* arena) {
    const int64_t work = w.rows() * w.cols() * batch;
    if (work < kParallelMinWork) {
        w.matmulRows(x, batch, y, 0, w.rows());
        return;
    }
    // Enough rows per task to amortise scheduling; never fewer than the matrix's own grain.
    const int64_t perRow = std::max<int64_t>(1, w.cols() * batch);
    const int64_t grain = std::max(w.rowGrain(), kParallelMinWork / perRow);
    forRows(w.rows(), grain, arena, [&](int64_t r0, int64_t r1) { w.matmulRows(x, batch, y, r0, r1); });
}

}  // namespace qs
