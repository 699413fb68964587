// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/stats/histogram.h"

#include <cmath>

#include "core/util/check.h"

namespace qs {

uint64_t Histogram::total() const {
    uint64_t t = 0;
    for (uint64_t c : counts) t += c;
    return t;
}

int Histogram::binOf(double x) const {
    const int n = bins();
    if (x < lo) return -1;
    if (x > hi) return n;
    // Computed in double from the stored range, so every caller bins a value identically.
    const double f = (x - lo) / (hi - lo) * double(n);
    int b = int(f);
    return b >= n ? n - 1 : b;
}

Histogram makeHistogram(double lo, double hi, int bins) {
    QS_CHECK(bins >= 1, "histogram needs at least one bin, got " + std::to_string(bins));
    Histogram h;
    if (!(hi > lo)) {
        hi = lo + 0.5;
        lo = lo - 0.5;
    }
    h.lo = lo;
    h.hi = hi;
    h.counts.assign(size_t(bins), 0);
    return h;
}

void fillHistogram(Histogram& h, std::span<const float> values) {
    fillHistogramWith(h, values.size(), [&](uint64_t i) { return double(values[i]); });
}

}  // namespace qs
