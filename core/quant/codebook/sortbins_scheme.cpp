// SPDX-License-Identifier: GPL-3.0-or-later
// The sorted-bin codebook family, `sortbins<b>_g<g>` (b = 1..8): the equal-population codebook tried for
// llama2.c's 4-bit export (sort a block, split it into 2^b bins of equal population, store the bin means).
// Layout and bytes: codebook_scheme.h.
//
// Per group of g values (g >= K = 2^b):
//   sort the values with their positions (ascending by value, equal values by position: a total order, so
//   the result is deterministic); rank r falls in bin k when binBegin(k) <= r < binBegin(k + 1) with
//   binBegin(k) = floor(k * g / K): when K does not divide g the bins differ by one value and the larger ones
//   are the later (higher) bins, e.g. g = 5, K = 2 -> 2 and 3 values; codebook entry k = fp16(mean of bin k)
//   (accumulated in double in rank order); every value's code is the bin of its rank (not the nearest
//   entry: equal values on a bin boundary may get different codes, as the method defines).
// There is nothing to vectorise beyond the sort: the reference and optimised QuantPaths are one code path.
#include <algorithm>
#include <numeric>
#include <vector>

#include "core/quant/codebook/codebook_scheme.h"
#include "core/quant/scheme_family.h"
#include "core/tensor/half.h"

namespace qs {

namespace {
class SortbinsScheme final : public CodebookScheme {
public:
    SortbinsScheme(int bits, int64_t group) : CodebookScheme("sortbins", bits, group) {}
    std::string family() const override { return "sortbins"; }
    std::string description() const override {
        return "equal-population sorted-bin codebook of " + std::to_string(entries()) + " fp16 bin means " +
               groupText() + " (" + std::to_string(bits()) + "-bit bin indices)";
    }

protected:
    void fitGroup(const float* x, int64_t n, uint16_t* book, uint8_t* codes, QuantPath) const override {
        const int K = entries();
        thread_local std::vector<int64_t> order;
        thread_local std::vector<float> sorted, means;
        order.resize(size_t(n));
        std::iota(order.begin(), order.end(), int64_t(0));
        std::sort(order.begin(), order.end(), [x](int64_t a, int64_t b) { return x[a] < x[b] || (x[a] == x[b] && a < b); });
        sorted.resize(size_t(n));
        for (int64_t r = 0; r < n; ++r) sorted[size_t(r)] = x[order[size_t(r)]];
        means.resize(size_t(K));
        codebook::binMeans(sorted.data(), n, K, means.data());
        for (int k = 0; k < K; ++k) {
            book[k] = floatToHalf(means[size_t(k)]);
            for (int64_t r = codebook::binBegin(k, n, K); r < codebook::binBegin(k + 1, n, K); ++r)
                codes[order[size_t(r)]] = uint8_t(k);
        }
    }
};

Result<std::shared_ptr<const Scheme>> parseSortbins(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const std::string who = "scheme '" + std::string(name) + "'";
    const auto bits = parseNumberAfter(parts.base, "sortbins");
    if (!bits || *bits < 1 || *bits > 8) return Error{who + ": sorted-bin bit width must be sortbins1 .. sortbins8"};
    int64_t group = 0;
    for (const auto& opt : parts.options) {
        auto g = parseNumberAfter(opt, "g");
        if (!g || group != 0) return Error{who + ": unexpected '_" + opt + "' (sortbins takes _g<group>)"};
        if (*g < (1LL << *bits) || *g > (1 << 20))
            return Error{who + ": group size must be at least the " + std::to_string(1LL << *bits) +
                         " bins and at most 1048576"};
        group = *g;
    }
    if (group == 0) return Error{who + ": sortbins needs a group size, e.g. sortbins4_g64"};
    return std::shared_ptr<const Scheme>(std::make_shared<SortbinsScheme>(int(*bits), group));
}
}  // namespace

SchemeFamily sortbinsSchemeFamily() {
    return prefixedSchemeFamily("sortbins", "sortbins",
                                {"sortbins<1-8>_g<group> (equal-population sorted bins, e.g. sortbins4_g64)"},
                                {"sortbins4_g64", "sortbins3_g64"}, parseSortbins);
}

}  // namespace qs
