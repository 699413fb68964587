// SPDX-License-Identifier: GPL-3.0-or-later
// The k-means codebook family, `kmeans<b>[_g<g>]` (b = 1..8): per group of g values along a row (per row
// without _g), a codebook of K = 2^b fp16 centroids fitted by Lloyd's algorithm (Lloyd 1982, "Least squares
// quantization in PCM"; the scalar k-means of non-uniform weight codebooks, e.g. SqueezeLLM without its
// sensitivity weights). Layout and bytes: codebook_scheme.h.
//
// Per group (n >= K values), deterministic. Lloyd's algorithm only reaches a local optimum and in 1-D its
// result depends strongly on the start (from equal-population means alone it stays near them and loses to a
// uniform grid on heavy-tailed groups), so it runs from two starts and the best of three codebooks is kept:
//   A: the equal-population bin means of the sorted group (the sortbins codebook, sortbins_scheme.cpp);
//   B: Lloyd from A;
//   C: Lloyd from the uniform grid lo + k (hi - lo) / (K - 1) over the group's range (the levels of a min-max
//      uniform quantizer).
//   Lloyd iteration: assign every value to its nearest centroid (ties to the lower index), then move each
//   centroid to the mean of its values (accumulated in double, in sorted order; a centroid with no value keeps
//   its place); at most kMaxIterations (30) updates, stopping early when an assignment equals the previous one
//   (converged: the next update would change nothing).
//   Each candidate is rounded to fp16 (what is stored) and scored by its squared error with nearest-entry
//   codes (summed in double, in sorted order); the lowest wins, ties to the earlier candidate. The final codes
//   are the nearest fp16 entry of each value.
// Consequences the tests rely on: k-means' error is at most sortbins' (A with nearest codes is no worse, value
// by value, than A with sortbins' rank codes) and at most that of the uniform grid C starts from, up to the
// fp16 rounding of C's entries.
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
        thread_local std::vector<float> sorted, start, best, cand;
        sorted.assign(x, x + n);
        std::sort(sorted.begin(), sorted.end());
        start.resize(size_t(K));
        codebook::binMeans(sorted.data(), n, K, start.data());
        best = start;
        double bestErr = roundedError(sorted, best, path);
        for (int from = 0; from < 2; ++from) {
            if (from == 0) {
                cand = start;
            } else {
                cand.resize(size_t(K));
                const float lo = sorted.front(), hi = sorted.back();
                for (int k = 0; k < K; ++k) cand[size_t(k)] = lo + float(k) * ((hi - lo) / float(K - 1));
            }
            lloyd(sorted, cand, path);
            const double err = roundedError(sorted, cand, path);
            if (err < bestErr) {
                bestErr = err;
                best = cand;
            }
        }
        for (int k = 0; k < K; ++k) book[k] = floatToHalf(best[size_t(k)]);
        codebook::nearest(x, n, best.data(), K, codes, path);
    }

private:
    // Lloyd iterations on the sorted group, moving `c` in place.
    void lloyd(const std::vector<float>& sorted, std::vector<float>& c, QuantPath path) const {
        const int K = entries();
        const int64_t n = int64_t(sorted.size());
        thread_local std::vector<uint8_t> assign, prev;
        thread_local std::vector<double> sums;
        thread_local std::vector<int64_t> counts;
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
    }

    // Rounds `c` to its fp16 values in place and returns the squared error of the sorted group with
    // nearest-entry codes.
    double roundedError(const std::vector<float>& sorted, std::vector<float>& c, QuantPath path) const {
        thread_local std::vector<uint8_t> assign;
        for (float& v : c) v = halfToFloat(floatToHalf(v));
        assign.resize(sorted.size());
        codebook::nearest(sorted.data(), int64_t(sorted.size()), c.data(), entries(), assign.data(), path);
        double e = 0.0;
        for (size_t i = 0; i < sorted.size(); ++i) {
            const double d = double(sorted[i]) - double(c[assign[i]]);
            e += d * d;
        }
        return e;
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
    return prefixedSchemeFamily(
        "kmeans", "kmeans",
        {"kmeans<1-8>[_g<group>] (k-means codebook per group or per row, e.g. kmeans4_g64, kmeans3)"},
        {"kmeans4_g64", "kmeans3_g64", "kmeans4"}, parseKmeans);
}

}  // namespace qs
