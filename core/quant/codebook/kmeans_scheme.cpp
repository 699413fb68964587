// SPDX-License-Identifier: GPL-3.0-or-later
// The k-means codebook family, `kmeans<b>[_g<g>]` (b = 1..8): per group of g values along a row (per row
// without _g), a codebook of K = 2^b fp16 centroids fitted by Lloyd's algorithm (Lloyd 1982, "Least squares
// quantization in PCM"; the scalar k-means of non-uniform weight codebooks, e.g. SqueezeLLM without its
// sensitivity weights). Layout and bytes: codebook_scheme.h.
//
// Per group (n >= K values), deterministic:
//   init:      the equal-population bin means of the sorted group (the sortbins codebook: sortbins_scheme.cpp),
//              so k-means starts where sortbins ends and, as each Lloyd step cannot raise the squared error,
//              ends at or below it (up to the final fp16 rounding of the centroids);
//   iteration: assign every value to its nearest centroid (ties to the lower index), then move each centroid
//              to the mean of its values (accumulated in double, in sorted order; a centroid with no value
//              keeps its place); at most kMaxIterations (30) updates, stopping early when an assignment
//              equals the previous one (converged: the next update would change nothing);
//   store:     the centroids rounded to fp16; the final codes are the nearest fp16 centroid of each value.
// The assignment runs through codebook::nearest (scalar reference or AVX2: identical results), so both
// QuantPaths produce the same bytes.
#include <algorithm>
#include <vector>

#include "core/quant/codebook/codebook_scheme.h"
#include "core/quant/scheme_family.h"
#include "core/tensor/half.h"

namespace qs {

namespace {
constexpr int kMaxIterations = 30;

class KmeansScheme final : public CodebookScheme {
public:
    KmeansScheme(int bits, int64_t group) : CodebookScheme("kmeans", bits, group) {}
    std::string family() const override { return "kmeans"; }
    std::string description() const override {
        return "k-means codebook of " + std::to_string(entries()) + " fp16 centroids " + groupText() +
               " (Lloyd, " + std::to_string(bits()) + "-bit indices)";
    }

protected:
    void fitGroup(const float* x, int64_t n, uint16_t* book, uint8_t* codes, QuantPath path) const override {
        const int K = entries();
        thread_local std::vector<float> sorted, c;
        thread_local std::vector<uint8_t> assign, prev;
        thread_local std::vector<double> sums;
        thread_local std::vector<int64_t> counts;
        sorted.assign(x, x + n);
        std::sort(sorted.begin(), sorted.end());
        c.resize(size_t(K));
        codebook::binMeans(sorted.data(), n, K, c.data());
        assign.resize(size_t(n));
        prev.assign(size_t(n), 0);
        for (int it = 0; it < kMaxIterations; ++it) {
            codebook::nearest(sorted.data(), n, c.data(), K, assign.data(), path);
            if (it > 0 && assign == prev) break;
            sums.assign(size_t(K), 0.0);
            counts.assign(size_t(K), 0);
            for (int64_t i = 0; i < n; ++i) {
                sums[assign[size_t(i)]] += sorted[size_t(i)];
                ++counts[assign[size_t(i)]];
            }
            for (int k = 0; k < K; ++k)
                if (counts[size_t(k)] > 0) c[size_t(k)] = float(sums[size_t(k)] / double(counts[size_t(k)]));
            std::swap(assign, prev);
        }
        for (int k = 0; k < K; ++k) {
            book[k] = floatToHalf(c[size_t(k)]);
            c[size_t(k)] = halfToFloat(book[k]);
        }
        codebook::nearest(x, n, c.data(), K, codes, path);
    }
};

Result<std::shared_ptr<const Scheme>> parseKmeans(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const std::string who = "scheme '" + std::string(name) + "'";
    const auto bits = parseNumberAfter(parts.base, "kmeans");
    if (!bits || *bits < 1 || *bits > 8) return Error{who + ": k-means bit width must be kmeans1 .. kmeans8"};
    int64_t group = 0;
    for (const auto& opt : parts.options) {
        auto g = parseNumberAfter(opt, "g");
        if (!g || group != 0) return Error{who + ": unexpected '_" + opt + "' (kmeans takes _g<group>)"};
        if (*g < (1LL << *bits) || *g > (1 << 20))
            return Error{who + ": group size must be at least the " + std::to_string(1LL << *bits) +
                         " codebook entries and at most 1048576"};
        group = *g;
    }
    return std::shared_ptr<const Scheme>(std::make_shared<KmeansScheme>(int(*bits), group));
}
}  // namespace

SchemeFamily kmeansSchemeFamily() {
    SchemeFamily f;
    f.id = "kmeans";
    f.forms = {"kmeans<1-8>[_g<group>] (k-means codebook per group or per row, e.g. kmeans4_g64, kmeans3)"};
    f.representatives = {"kmeans4_g64", "kmeans3_g64", "kmeans4"};
    f.parse = [](std::string_view name) -> std::optional<Result<std::shared_ptr<const Scheme>>> {
        const SchemeNameParts parts = splitSchemeName(name);
        if (parts.base.rfind("kmeans", 0) != 0) return std::nullopt;
        return parseKmeans(name);
    };
    return f;
}

}  // namespace qs
