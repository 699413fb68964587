// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/bnb/bnb4_tables.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace qs::bnb {

namespace {
// Decision thresholds: midpoints of adjacent sorted values, computed in double like bitsandbytes' literals.
template <size_t N>
std::array<float, N - 1> midpoints(const std::array<float, N>& sorted) {
    std::array<float, N - 1> m{};
    for (size_t i = 0; i + 1 < N; ++i) m[i] = float((double(sorted[i]) + double(sorted[i + 1])) / 2.0);
    return m;
}

template <size_t N>
int countBelow(const std::array<float, N>& mids, float x) {
    // Number of thresholds <= x: a value exactly on a midpoint goes to the upper code.
    return int(std::upper_bound(mids.begin(), mids.end(), x) - mids.begin());
}

// FP4 magnitudes sorted, with their codes.
constexpr std::array<float, 8> kFp4Sorted = {0.0f, 0.005208333333f, 0.16666667f, 0.25f,
                                             0.33333333f, 0.5f, 0.66666667f, 1.0f};
constexpr uint8_t kFp4SortedCodes[8] = {0, 1, 6, 7, 4, 5, 2, 3};
}  // namespace

const std::array<float, 256>& dynamicMap8() {
    static const std::array<float, 256> kMap = [] {
        std::vector<double> v;
        for (int i = 0; i < 7; ++i) {
            const int items = (1 << i) + 1;
            for (int k = 0; k + 1 < items; ++k) {
                const double b0 = 0.1 + 0.9 * k / (items - 1), b1 = 0.1 + 0.9 * (k + 1) / (items - 1);
                const double m = std::pow(10.0, i - 6) * (b0 + b1) / 2.0;
                v.push_back(m);
                v.push_back(-m);
            }
        }
        v.push_back(0.0);
        v.push_back(1.0);
        std::sort(v.begin(), v.end());
        std::array<float, 256> out{};
        for (size_t i = 0; i < 256; ++i) out[i] = float(v[i]);
        return out;
    }();
    return kMap;
}

uint8_t nearestNf4(float x) {
    static const std::array<float, 15> kMids = [] {
        std::array<float, 16> t{};
        std::copy(std::begin(kNf4Values), std::end(kNf4Values), t.begin());
        return midpoints(t);
    }();
    return uint8_t(countBelow(kMids, x));
}

uint8_t nearestFp4(float x) {
    static const std::array<float, 7> kMids = midpoints(kFp4Sorted);
    const uint8_t sign = x < 0 ? 8 : 0;
    return uint8_t(sign | kFp4SortedCodes[countBelow(kMids, std::fabs(x))]);
}

uint8_t nearestDynamic8(float x) {
    static const std::array<float, 255> kMids = midpoints(dynamicMap8());
    return uint8_t(countBelow(kMids, x));
}

}  // namespace qs::bnb
