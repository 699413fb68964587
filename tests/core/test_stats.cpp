// SPDX-License-Identifier: GPL-3.0-or-later
// Error and weight statistics: hand-computed values, known distributions, the clipping definition, and
// bit-identical results across thread counts.
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <QTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "common/test_arena.h"
#include "core/stats/error_stats.h"
#include "core/stats/weight_stats.h"

using namespace qs;

namespace {

// Box-Muller over mt19937_64 so the samples do not depend on the standard library's distributions.
std::vector<float> normalSamples(size_t n, uint64_t seed, double sigma = 1.0) {
    std::mt19937_64 rng(seed);
    std::vector<float> v(n);
    const double twoPi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        const double u1 = (double(rng() >> 11) + 1.0) * 0x1.0p-53;
        const double u2 = double(rng() >> 11) * 0x1.0p-53;
        const double r = std::sqrt(-2.0 * std::log(u1)) * sigma;
        v[i] = float(r * std::cos(twoPi * u2));
        if (i + 1 < n) v[i + 1] = float(r * std::sin(twoPi * u2));
    }
    return v;
}

// A crude round-to-nearest quantizer with a per-block absmax scale and `levels` levels per side, so the
// statistics see realistic errors without depending on the scheme registry.
std::vector<float> fakeQuantize(const std::vector<float>& w, int64_t cols, int64_t block, int levels) {
    std::vector<float> q(w.size());
    const int64_t rows = int64_t(w.size()) / cols;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c0 = 0; c0 < cols; c0 += block) {
            const int64_t len = std::min(block, cols - c0);
            const float* src = &w[size_t(r * cols + c0)];
            float* dst = &q[size_t(r * cols + c0)];
            float amax = 0;
            for (int64_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(src[i]));
            // Scale chosen so the top 20% of the range clips, as optimised-scale schemes do.
            const float d = amax * 0.8f / float(levels);
            for (int64_t i = 0; i < len; ++i) {
                float k = d > 0 ? std::round(src[i] / d) : 0.0f;
                k = std::clamp(k, float(-levels), float(levels));
                dst[i] = k * d;
            }
        }
    return q;
}

bool sameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool sameErrorStats(const ErrorReport& a, const ErrorReport& b) {
    const ErrorSums &x = a.stats.sums, &y = b.stats.sums;
    return x.count == y.count && x.clipped == y.clipped && x.zeroed == y.zeroed &&
           sameBits(x.sumSqError, y.sumSqError) && sameBits(x.sumSqOriginal, y.sumSqOriginal) &&
           sameBits(x.sumSqDequantized, y.sumSqDequantized) && sameBits(x.sumProduct, y.sumProduct) &&
           sameBits(x.maxAbsError, y.maxAbsError) && a.weightHistogram.counts == b.weightHistogram.counts &&
           a.errorHistogram.counts == b.errorHistogram.counts && sameBits(a.stats.sqnrDb, b.stats.sqnrDb) &&
           sameBits(a.stats.cosine, b.stats.cosine);
}

bool sameWeightStats(const WeightStats& a, const WeightStats& b) {
    return a.count == b.count && sameBits(a.mean, b.mean) && sameBits(a.std, b.std) &&
           sameBits(a.kurtosis, b.kurtosis) && sameBits(a.min, b.min) && sameBits(a.max, b.max) &&
           a.outliers == b.outliers && a.histogram.counts == b.histogram.counts;
}

}  // namespace

class TestStats : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void weightStats_matchHandComputedValues() {
        const std::vector<float> v{1, 2, 3, 4};
        WeightStats s = computeWeightStats(v, qstest::testArena());
        QCOMPARE(s.count, uint64_t(4));
        QCOMPARE(s.min, 1.0);
        QCOMPARE(s.max, 4.0);
        QCOMPARE(s.absmax, 4.0);
        QCOMPARE(s.mean, 2.5);
        QVERIFY(std::fabs(s.std - std::sqrt(1.25)) < 1e-15);
        // m2 = 1.25, m4 = (2 * 1.5^4 + 2 * 0.5^4) / 4 = 2.5625, excess kurtosis = 2.5625 / 1.5625 - 3.
        QVERIFY(std::fabs(s.kurtosis - (2.5625 / 1.5625 - 3.0)) < 1e-12);
    }

    void weightStats_absmaxComesFromTheNegativeSide() {
        const std::vector<float> v{-5, 0, 1};
        WeightStats s = computeWeightStats(v, qstest::testArena());
        QCOMPARE(s.absmax, 5.0);
        QCOMPARE(s.zeros, uint64_t(1));
    }

    void weightStats_excludeNonFiniteValues() {
        const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
        const std::vector<float> v{nan, 1, inf, 3, -inf};
        WeightStats s = computeWeightStats(v, qstest::testArena());
        QCOMPARE(s.count, uint64_t(2));
        QCOMPARE(s.nonFinite, uint64_t(3));
        QCOMPARE(s.mean, 2.0);
        QCOMPARE(s.std, 1.0);
    }

    void weightStats_emptyAndConstantInputs() {
        WeightStats e = computeWeightStats(std::vector<float>{}, qstest::testArena());
        QCOMPARE(e.count, uint64_t(0));
        WeightStatsOptions o;
        o.histogramBins = 4;
        WeightStats c = computeWeightStats(std::vector<float>(10, 2.0f), qstest::testArena(), o);
        QCOMPARE(c.std, 0.0);
        QCOMPARE(c.kurtosis, 0.0);
        QCOMPARE(c.outliers, (std::vector<uint64_t>{0, 0}));
        QCOMPARE(c.histogram.total(), uint64_t(10));  // degenerate range widened, nothing lost
    }

    void weightStats_normalDistributionMoments() {
        const auto v = normalSamples(1 << 20, 42, 0.02);
        WeightStatsOptions o;
        o.outlierSigmas = {1.0, 2.0, 3.0};
        WeightStats s = computeWeightStats(v, qstest::testArena(), o);
        QVERIFY2(std::fabs(s.mean) < 0.02 * 0.005, qPrintable(QString::number(s.mean)));
        QVERIFY2(std::fabs(s.std / 0.02 - 1.0) < 0.005, qPrintable(QString::number(s.std)));
        QVERIFY2(std::fabs(s.kurtosis) < 0.03, qPrintable(QString::number(s.kurtosis)));
        // Two-sided normal tail probabilities: 0.3173, 0.0455, 0.0027.
        const double n = double(s.count);
        QVERIFY(std::fabs(s.outliers[0] / n - 0.31731) < 0.003);
        QVERIFY(std::fabs(s.outliers[1] / n - 0.04550) < 0.001);
        QVERIFY(std::fabs(s.outliers[2] / n - 0.00270) < 0.0003);
    }

    void weightStats_uniformDistributionKurtosis() {
        std::mt19937_64 rng(7);
        std::vector<float> v(1 << 20);
        for (float& x : v) x = float(double(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0);
        WeightStats s = computeWeightStats(v, qstest::testArena());
        QVERIFY(std::fabs(s.kurtosis - (-1.2)) < 0.01);           // uniform: excess kurtosis -6/5
        QVERIFY(std::fabs(s.std - 1.0 / std::sqrt(3.0)) < 0.002);  // (b - a) / sqrt(12)
    }

    void histogram_countsValuesIntoEqualBins() {
        const std::vector<float> v{0.0f, 0.1f, 0.26f, 0.5f, 0.74f, 0.99f, 1.0f};
        Histogram h = makeHistogram(0.0, 1.0, 4);
        fillHistogram(h, v, qstest::testArena());
        QCOMPARE(h.counts, (std::vector<uint64_t>{2, 1, 2, 2}));  // 1.0 (== hi) lands in the last bin
        Histogram narrow = makeHistogram(0.2, 0.6, 2);
        fillHistogram(narrow, v, qstest::testArena());
        QCOMPARE(narrow.below, uint64_t(2));
        QCOMPARE(narrow.above, uint64_t(3));
        QCOMPARE(narrow.total(), uint64_t(2));
    }

    void weightStats_histogramCoversEveryFiniteValue() {
        const auto v = normalSamples(100001, 3);
        WeightStatsOptions o;
        o.histogramBins = 64;
        WeightStats s = computeWeightStats(v, qstest::testArena(), o);
        QCOMPARE(s.histogram.total(), uint64_t(v.size()));
        QCOMPARE(s.histogram.lo, s.min);
        QCOMPARE(s.histogram.hi, s.max);
        // Normal: the central bins hold the most values.
        QVERIFY(s.histogram.counts[31] > s.histogram.counts[5] * 10);
    }

    void rowColumnAbsmax_matchesHandComputedValues() {
        const std::vector<float> m{1, -7, 2,   //
                                   -3, 0, 4};
        RowColumnAbsmax a = rowColumnAbsmax(m, 2, 3, qstest::testArena());
        QCOMPARE(a.rows, (std::vector<float>{7, 4}));
        QCOMPARE(a.columns, (std::vector<float>{3, 7, 4}));
    }

    void errorStats_matchHandComputedValues() {
        const std::vector<float> w{1, -2, 3, 0}, q{1.5f, -2, 2, 0};
        ErrorStats s = computeErrorStats(w, q, 1, 4, qstest::testArena()).stats;
        // e = {0.5, 0, -1, 0}; sum e^2 = 1.25, sum w^2 = 14, sum q^2 = 10.25, sum wq = 11.5.
        QCOMPARE(s.count, uint64_t(4));
        QCOMPARE(s.mse, 1.25 / 4);
        QCOMPARE(s.rmse, std::sqrt(1.25 / 4));
        QCOMPARE(s.maxAbsError, 1.0);
        QVERIFY(std::fabs(s.sqnrDb - 10.0 * std::log10(14.0 / 1.25)) < 1e-12);
        QVERIFY(std::fabs(s.cosine - 11.5 / std::sqrt(14.0 * 10.25)) < 1e-15);
        QVERIFY(std::fabs(s.relFrobenius - std::sqrt(1.25 / 14.0)) < 1e-15);
        QCOMPARE(s.fractionZeroed, 0.0);
    }

    void errorStats_exactReconstructionHasInfiniteSqnr() {
        const std::vector<float> w{1, 2, 3};
        ErrorStats s = computeErrorStats(w, w, 1, 3, qstest::testArena()).stats;
        QVERIFY(std::isinf(s.sqnrDb) && s.sqnrDb > 0);
        QCOMPARE(s.cosine, 1.0);
        QCOMPARE(s.relFrobenius, 0.0);
        const std::vector<float> z{0, 0, 0};
        ErrorStats zs = computeErrorStats(z, z, 1, 3, qstest::testArena()).stats;
        QCOMPARE(zs.cosine, 1.0);
        ErrorStats allZeroed = computeErrorStats(w, z, 1, 3, qstest::testArena()).stats;
        QCOMPARE(allZeroed.cosine, 0.0);
        QCOMPARE(allZeroed.sqnrDb, 0.0);  // the error is as large as the signal
    }

    void errorStats_countValuesRoundedToZero() {
        const std::vector<float> w{0.1f, 0.0f, -0.2f, 0.01f}, q{0.0f, 0.0f, -0.2f, -0.0f};
        ErrorStats s = computeErrorStats(w, q, 1, 4, qstest::testArena()).stats;
        QCOMPARE(s.sums.zeroed, uint64_t(2));  // 0.1 and 0.01; an original 0 is not "rounded to zero"
        QCOMPARE(s.fractionZeroed, 0.5);
    }

    void errorStats_clippedMeansBeyondHalfAStepPastTheGridEdge_data() {
        QTest::addColumn<float>("top");
        QTest::addColumn<bool>("clipped");
        // Grid used in the block: -1, -0.5, 0, 0.5, 0.75 (spacing 0.25 at the top): threshold 0.75 + 0.125.
        QTest::newRow("just inside half a step") << 0.87f << false;
        QTest::newRow("beyond half a step") << 0.88f << true;
        QTest::newRow("far beyond") << 3.0f << true;
    }
    void errorStats_clippedMeansBeyondHalfAStepPastTheGridEdge() {
        QFETCH(float, top);
        QFETCH(bool, clipped);
        const std::vector<float> w{-1.0f, -0.5f, 0.0f, 0.5f, top}, q{-1.0f, -0.5f, 0.0f, 0.5f, 0.75f};
        ErrorStats s = computeErrorStats(w, q, 1, 5, qstest::testArena()).stats;
        QCOMPARE(s.sums.clipped, uint64_t(clipped ? 1 : 0));
    }

    void errorStats_clippingIsJudgedPerScaleBlock() {
        // Block 0 has a wide grid, block 1 a narrow one that saturates at 0.1 while w reaches 0.3.
        const std::vector<float> w{-4, 4, 0.0f, 0.3f}, q{-4, 4, 0.0f, 0.1f};
        // whole row: inside [-4, 4]
        QCOMPARE(computeErrorStats(w, q, 1, 4, qstest::testArena()).stats.sums.clipped, uint64_t(0));
        ErrorStatsOptions o;
        o.clipBlock = 2;
        QCOMPARE(computeErrorStats(w, q, 1, 4, qstest::testArena(), o).stats.sums.clipped, uint64_t(1));
    }

    void errorStats_fp16RoundingOfTheAbsmaxIsNotClipping() {
        const std::vector<float> w{0.1f, -0.3f, 1.00049f}, q{0.0999756f, -0.2999268f, 1.0f};
        QCOMPARE(computeErrorStats(w, q, 1, 3, qstest::testArena()).stats.sums.clipped, uint64_t(0));
    }

    void errorStats_histogramsCoverEveryValue() {
        const auto w = normalSamples(64 * 300, 11);
        const auto q = fakeQuantize(w, 300, 32, 7);
        ErrorStatsOptions o;
        o.histogramBins = 50;
        o.clipBlock = 32;
        ErrorReport r = computeErrorStats(w, q, 64, 300, qstest::testArena(), o);
        QCOMPARE(r.weightHistogram.total(), uint64_t(w.size()));
        QCOMPARE(r.errorHistogram.total(), uint64_t(w.size()));
        QCOMPARE(r.errorHistogram.hi, r.stats.maxAbsError);
        QVERIFY(r.stats.sums.clipped > 0);
        QVERIFY(r.stats.fractionClipped < 0.2);
    }

    void errorStats_mergedSumsEqualStatsOfTheConcatenation() {
        const auto w = normalSamples(4000, 5);
        const auto q = fakeQuantize(w, 100, 100, 7);
        const std::span<const float> ws(w), qs(q);
        ErrorSums merged =
            computeErrorStats(ws.first(1500), qs.first(1500), 15, 100, qstest::testArena()).stats.sums;
        merged +=
            computeErrorStats(ws.subspan(1500), qs.subspan(1500), 25, 100, qstest::testArena()).stats.sums;
        const ErrorStats whole = computeErrorStats(w, q, 40, 100, qstest::testArena()).stats;
        const ErrorStats m = ErrorStats::fromSums(merged);
        QCOMPARE(m.count, whole.count);
        QCOMPARE(m.sums.clipped, whole.sums.clipped);
        QCOMPARE(m.maxAbsError, whole.maxAbsError);
        QVERIFY(std::fabs(m.mse / whole.mse - 1.0) < 1e-12);
        QVERIFY(std::fabs(m.sqnrDb - whole.sqnrDb) < 1e-10);
    }

    void errorStats_sumsMatchAHighPrecisionReference() {
        const auto w = normalSamples(1 << 20, 9);
        const auto q = fakeQuantize(w, 1024, 32, 7);
        long double se = 0, sw = 0;
        for (size_t i = 0; i < w.size(); ++i) {
            const long double e = (long double)q[i] - (long double)w[i];
            se += e * e;
            sw += (long double)w[i] * w[i];
        }
        const ErrorSums s = computeErrorStats(w, q, 1024, 1024, qstest::testArena()).stats.sums;
        QVERIFY(std::fabs(double(s.sumSqError / se) - 1.0) < 1e-13);
        QVERIFY(std::fabs(double(s.sumSqOriginal / sw) - 1.0) < 1e-13);
    }

    void stats_areBitIdenticalAcrossThreadCounts_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("block");
        QTest::newRow("1024x1024 block 32") << 1024 << 1024 << 32;
        QTest::newRow("777x1333 whole rows") << 777 << 1333 << 0;
        QTest::newRow("1x3000000 block 256") << 1 << 3000000 << 256;
    }
    void stats_areBitIdenticalAcrossThreadCounts() {
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(int, block);
        const auto w = normalSamples(size_t(rows) * cols, 1234);
        const auto q = fakeQuantize(w, cols, block > 0 ? block : cols, 7);
        ErrorStatsOptions eo;
        eo.clipBlock = block;
        eo.histogramBins = 64;
        WeightStatsOptions wo;
        wo.histogramBins = 64;
        std::vector<ErrorReport> er;
        std::vector<WeightStats> ws;
        std::vector<RowColumnAbsmax> rc;
        // TBB caps workers at the core count by default; lift the cap so 3 threads really run.
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        for (int threads : {0, 1, 2, 3}) {  // 0: no arena, serially on this thread
            std::optional<tbb::task_arena> arena;
            if (threads > 0) arena.emplace(threads);
            tbb::task_arena* a = arena ? &*arena : nullptr;
            er.push_back(computeErrorStats(w, q, rows, cols, a, eo));
            ws.push_back(computeWeightStats(w, a, wo));
            rc.push_back(rowColumnAbsmax(w, rows, cols, a));
        }
        for (size_t i = 1; i < er.size(); ++i) {
            QVERIFY(sameErrorStats(er[0], er[i]));
            QVERIFY(sameWeightStats(ws[0], ws[i]));
            QVERIFY(rc[0].rows == rc[i].rows && rc[0].columns == rc[i].columns);
        }
    }
};

QTEST_APPLESS_MAIN(TestStats)
#include "test_stats.moc"
