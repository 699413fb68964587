// SPDX-License-Identifier: GPL-3.0-or-later
// Template implementation of fillHistogramWith (included by histogram.h).
#pragma once

#include <cmath>

#include "core/stats/fixed_reduce.h"
#include "core/stats/histogram.h"
#include "core/util/check.h"

namespace qs {

template <class ValueAt>
void fillHistogramWith(Histogram& h, uint64_t n, tbb::task_arena* arena, ValueAt&& valueAt) {
    QS_CHECK(!h.empty(), "fillHistogram on a histogram without bins");
    struct Part {
        std::vector<uint64_t> counts;
        uint64_t below = 0, above = 0;
    };
    if (n == 0) return;
    const uint64_t per = stats::unitsPerChunk(n, 1);
    const uint64_t chunks = (n + per - 1) / per;
    const int nb = h.bins();
    const Histogram& range = h;
    Part total = stats::fixedReduce<Part>(
        chunks, arena,
        [&](uint64_t c) {
            Part p;
            p.counts.assign(size_t(nb), 0);
            const uint64_t end = std::min(n, (c + 1) * per);
            for (uint64_t i = c * per; i < end; ++i) {
                const double v = valueAt(i);
                if (!std::isfinite(v)) continue;
                const int b = range.binOf(v);
                if (b < 0)
                    ++p.below;
                else if (b >= nb)
                    ++p.above;
                else
                    ++p.counts[size_t(b)];
            }
            return p;
        },
        [](Part& a, const Part& b) {
            for (size_t i = 0; i < a.counts.size(); ++i) a.counts[i] += b.counts[i];
            a.below += b.below;
            a.above += b.above;
        });
    for (int i = 0; i < nb; ++i) h.counts[size_t(i)] += total.counts[size_t(i)];
    h.below += total.below;
    h.above += total.above;
}

}  // namespace qs
