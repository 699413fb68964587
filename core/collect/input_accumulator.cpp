// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/collect/input_accumulator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/util/check.h"

namespace qs {

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

InputAccumulator::InputAccumulator(int64_t cols, CalibrationNeeds needs, int samples, uint64_t seed)
    : m_needs(needs), m_rng(seed) {
    QS_CHECK(cols > 0, "calibration input with no columns");
    m_c.cols = cols;
    const size_t c = size_t(cols);
    if (hasAll(needs, CalibrationNeeds::Importance)) m_c.sumSquares.assign(c, 0.0);
    if (hasAll(needs, CalibrationNeeds::MaxAbs)) m_c.maxAbs.assign(c, 0.0f);
    if (hasAll(needs, CalibrationNeeds::MeanAbs)) m_c.sumAbs.assign(c, 0.0);
    if (hasAll(needs, CalibrationNeeds::Hessian)) m_c.hessian.assign(c * c, 0.0);
    if (hasAll(needs, CalibrationNeeds::Samples)) m_capacity = std::max(0, samples);
}

void InputAccumulator::addColumns(const float* x, int64_t n, int64_t j0, int64_t j1) {
    const int64_t cols = m_c.cols;
    double* sq = m_c.sumSquares.empty() ? nullptr : m_c.sumSquares.data();
    double* sa = m_c.sumAbs.empty() ? nullptr : m_c.sumAbs.data();
    float* mx = m_c.maxAbs.empty() ? nullptr : m_c.maxAbs.data();
    for (int64_t t = 0; t < n; ++t) {  // token order per column: the sums do not depend on the batching
        const float* row = x + t * cols;
        for (int64_t j = j0; j < j1; ++j) {
            const double v = double(row[j]);
            if (sq) sq[j] += v * v;  // exact product (24-bit mantissas), one rounding per addition
            if (sa) sa[j] += std::fabs(v);
            if (mx) mx[j] = std::max(mx[j], std::fabs(row[j]));
        }
    }
}

void InputAccumulator::addHessianRows(const float* x, int64_t n, int64_t i0, int64_t i1) {
    // Lower triangle j <= i, element by element in token order; mirrored in take().
    const int64_t cols = m_c.cols;
    for (int64_t i = i0; i < i1; ++i) {
        double* h = m_c.hessian.data() + i * cols;
        for (int64_t t = 0; t < n; ++t) {
            const float* row = x + t * cols;
            const double xi = double(row[i]);
            if (xi == 0.0) continue;  // adds exact zeros: skipping changes nothing
            for (int64_t j = 0; j <= i; ++j) h[j] += xi * double(row[j]);
        }
    }
}

void InputAccumulator::addSamples(const float* x, int64_t n) {
    const int64_t cols = m_c.cols;
    for (int64_t t = 0; t < n; ++t) {
        const int64_t seen = m_c.tokens + t;  // rows before this one
        int64_t slot = -1;
        if (seen < m_capacity) {
            slot = seen;
            m_c.samples.resize(size_t(seen + 1) * size_t(cols));
        } else {
            // Algorithm R: keep row `seen` with probability capacity / (seen + 1), in a uniform slot.
            const uint64_t r = splitmix64(m_rng) % uint64_t(seen + 1);
            if (r < uint64_t(m_capacity)) slot = int64_t(r);
        }
        if (slot >= 0) std::memcpy(m_c.samples.data() + slot * cols, x + t * cols, size_t(cols) * sizeof(float));
    }
}

void InputAccumulator::add(const float* x, int64_t n, tbb::task_arena* arena) {
    if (n <= 0) return;
    const int64_t cols = m_c.cols;
    const bool columns = !m_c.sumSquares.empty() || !m_c.sumAbs.empty() || !m_c.maxAbs.empty();
    const bool hessian = !m_c.hessian.empty();
    const bool parallel = arena && arena->max_concurrency() > 1 && (hessian || n * cols >= (1 << 15));
    if (parallel) {
        arena->execute([&] {
            if (columns) {
                const int64_t block = 64;  // columns per task: a cache line of doubles per sum, many tasks
                tbb::parallel_for(tbb::blocked_range<int64_t>(0, (cols + block - 1) / block),
                                  [&](const tbb::blocked_range<int64_t>& r) {
                                      addColumns(x, n, r.begin() * block, std::min(cols, r.end() * block));
                                  });
            }
            if (hessian)
                tbb::parallel_for(
                    tbb::blocked_range<int64_t>(0, cols, 8),
                    [&](const tbb::blocked_range<int64_t>& r) { addHessianRows(x, n, r.begin(), r.end()); });
        });
    } else {
        if (columns) addColumns(x, n, 0, cols);
        if (hessian) addHessianRows(x, n, 0, cols);
    }
    if (m_capacity > 0) addSamples(x, n);
    m_c.tokens += n;
}

TensorCalibration InputAccumulator::take() {
    const int64_t cols = m_c.cols;
    if (!m_c.hessian.empty())
        for (int64_t i = 0; i < cols; ++i)
            for (int64_t j = i + 1; j < cols; ++j) m_c.hessian[size_t(i * cols + j)] = m_c.hessian[size_t(j * cols + i)];
    TensorCalibration out = std::move(m_c);
    m_c = TensorCalibration{};
    m_c.cols = cols;
    return out;
}

}  // namespace qs
