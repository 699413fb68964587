// SPDX-License-Identifier: GPL-3.0-or-later
// The vectorised statistics kernels (core/stats/stat_kernels.h) and the fused quantize + compare pass:
// identical results on every SIMD level this CPU runs (the levels it cannot run are listed as skipped), sums
// within a stated tolerance of a long-double reference, clipping counts equal to a plain transcription of the
// definition in error_stats.h, and quantizeWithErrorStats equal bit for bit to quantizing, dequantizing and
// comparing separately, whatever the thread count.
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <QTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/test_arena.h"
#include "core/quant/apply_map.h"
#include "core/quant/quantize_parallel.h"
#include "core/quant/scheme_family.h"
#include "core/stats/error_stats.h"
#include "core/stats/stat_kernels.h"
#include "core/stats/stat_passes.h"
#include "core/stats/weight_stats.h"

using namespace qs;

namespace {

constexpr cpu::SimdLevel kAllLevels[] = {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512,
                                         cpu::SimdLevel::Avx512Vnni};

// The levels to compare; prints the ones this CPU cannot run once per test function.
std::vector<cpu::SimdLevel> runnableLevels() {
    std::vector<cpu::SimdLevel> out;
    for (auto l : kAllLevels) {
        if (cpu::canRun(l)) out.push_back(l);
        else qInfo("skipped SIMD level %s: not supported by this CPU", std::string(cpu::simdLevelName(l)).c_str());
    }
    return out;
}

bool sameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool sameBits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Normal weights with some exact zeros, a -0 and a few large values; q a block-absmax rounding of w.
struct Pair {
    std::vector<float> w, q;
};
Pair samplePair(size_t n, int64_t block, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> nd(0.0, 0.02);
    Pair p;
    p.w.resize(n);
    for (float& x : p.w) x = float(nd(rng));
    for (size_t i = 0; i < n; i += 97) p.w[i] = 0.0f;
    if (n > 5) p.w[5] = -0.0f;
    for (size_t i = 13; i < n; i += 1009) p.w[i] *= 40.0f;
    p.q.resize(n);
    for (size_t b = 0; b < n; b += size_t(block)) {
        const size_t e = std::min(n, b + size_t(block));
        float amax = 0;
        for (size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(p.w[i]));
        const float d = amax * 0.7f / 7.0f;  // the top of the range clips
        for (size_t i = b; i < e; ++i)
            p.q[i] = d > 0 ? std::clamp(std::round(p.w[i] / d), -7.0f, 7.0f) * d : 0.0f;
    }
    return p;
}

// The definition of "clipped" in error_stats.h, transcribed without any vector code.
uint64_t clippedReference(const float* w, const float* q, int64_t len) {
    float hi = -INFINITY, lo = INFINITY;
    for (int64_t i = 0; i < len; ++i) hi = std::max(hi, q[i]), lo = std::min(lo, q[i]);
    if (!(hi > lo)) return 0;
    float hi2 = -INFINITY, lo2 = INFINITY;
    for (int64_t i = 0; i < len; ++i) {
        if (q[i] < hi) hi2 = std::max(hi2, q[i]);
        if (q[i] > lo) lo2 = std::min(lo2, q[i]);
    }
    const double top = double(hi) + 0.5 * (double(hi) - double(hi2));
    const double bottom = double(lo) - 0.5 * (double(lo2) - double(lo));
    uint64_t n = 0;
    for (int64_t i = 0; i < len; ++i) n += double(w[i]) > top || double(w[i]) < bottom;
    return n;
}

bool sameSums(const ErrorSums& a, const ErrorSums& b) {
    return a.count == b.count && a.clipped == b.clipped && a.zeroed == b.zeroed && sameBits(a.sumSqError, b.sumSqError) &&
           sameBits(a.sumSqOriginal, b.sumSqOriginal) && sameBits(a.sumSqDequantized, b.sumSqDequantized) &&
           sameBits(a.sumProduct, b.sumProduct) && sameBits(a.maxAbsError, b.maxAbsError);
}

}  // namespace

class TestStatsKernels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void errorSums_identicalOnEveryLevel_andWithinToleranceOfLongDouble_data() {
        QTest::addColumn<int>("n");
        for (int n : {0, 1, 7, 8, 9, 31, 32, 33, 1000, 65537}) QTest::newRow(std::to_string(n).c_str()) << n;
    }
    void errorSums_identicalOnEveryLevel_andWithinToleranceOfLongDouble() {
        QFETCH(int, n);
        const Pair p = samplePair(size_t(n), 32, 7 + uint64_t(n));
        std::vector<stats::ErrorLanes> out;
        for (auto l : runnableLevels()) {
            stats::ErrorLanes acc;
            // Two calls: the kernels continue from the accumulator they are given.
            const int half = n / 2;
            stats::kernels(l).errorSums(p.w.data(), p.q.data(), uint64_t(half), acc);
            stats::ErrorLanes rest;
            stats::kernels(l).errorSums(p.w.data() + half, p.q.data() + half, uint64_t(n - half), rest);
            out.push_back(acc);
            out.push_back(rest);
        }
        for (size_t i = 2; i < out.size(); ++i) {
            const auto& a = out[i % 2];
            const auto& b = out[i];
            for (int k = 0; k < stats::kLanes; ++k) {
                QVERIFY(sameBits(a.sqError[k], b.sqError[k]) && sameBits(a.sqOriginal[k], b.sqOriginal[k]));
                QVERIFY(sameBits(a.sqDequantized[k], b.sqDequantized[k]) && sameBits(a.product[k], b.product[k]));
            }
            QVERIFY(sameBits(a.maxAbsError, b.maxAbsError) && sameBits(a.wMin, b.wMin) && sameBits(a.wMax, b.wMax));
            QCOMPARE(a.zeroed, b.zeroed);
        }
        // Long-double reference for the whole span (sum of both halves).
        long double se = 0, sw = 0, sq = 0, sp = 0, emax = 0;
        uint64_t zeroed = 0;
        for (int i = 0; i < n; ++i) {
            const long double a = p.w[size_t(i)], b = p.q[size_t(i)], e = b - a;
            se += e * e, sw += a * a, sq += b * b, sp += a * b;
            emax = std::max(emax, std::fabs(e));
            zeroed += p.w[size_t(i)] != 0.0f && p.q[size_t(i)] == 0.0f;
        }
        const double got[4] = {stats::foldLanes(out[0].sqError) + stats::foldLanes(out[1].sqError),
                               stats::foldLanes(out[0].sqOriginal) + stats::foldLanes(out[1].sqOriginal),
                               stats::foldLanes(out[0].sqDequantized) + stats::foldLanes(out[1].sqDequantized),
                               stats::foldLanes(out[0].product) + stats::foldLanes(out[1].product)};
        const long double want[4] = {se, sw, sq, sp};
        // Double sums of n terms: relative error below n * 2^-53 (each lane adds n/8 terms, then 4 levels of
        // folding); 1e-12 leaves a wide margin for n <= 65537. The product sum is measured against its
        // Cauchy-Schwarz bound sqrt(sw * sq), since it may cancel.
        const long double scale[4] = {se, sw, sq, std::sqrt(sw * sq)};
        for (int j = 0; j < 4; ++j)
            QVERIFY2(std::fabs((long double)got[j] - want[j]) <= 1e-12L * scale[j] + 1e-300L,
                     qPrintable(QString("sum %1: %2 vs %3").arg(j).arg(got[j]).arg(double(want[j]))));
        QCOMPARE(out[0].zeroed + out[1].zeroed, zeroed);
        QCOMPARE(std::max(out[0].maxAbsError, out[1].maxAbsError), double(emax));  // e is exact in double
    }

    void countClipped_equalsTheDefinitionOnEveryLevel() {
        const auto levels = runnableLevels();
        for (int len : {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 256}) {
            for (uint64_t seed = 0; seed < 20; ++seed) {
                Pair p = samplePair(size_t(len), len, seed * 31 + uint64_t(len));
                if (seed % 5 == 1) std::fill(p.q.begin(), p.q.end(), 0.25f);  // one level: nothing clips
                if (seed % 5 == 2 && len > 2) p.w[1] = 10.0f, p.w[2] = -10.0f;  // far outside
                const uint64_t want = clippedReference(p.w.data(), p.q.data(), len);
                for (auto l : levels)
                    QCOMPARE(stats::kernels(l).countClipped(p.w.data(), p.q.data(), len), want);
            }
        }
    }

    void weightPasses_identicalOnEveryLevel_withNonFiniteValues() {
        std::vector<float> v = samplePair(100003, 32, 5).w;
        v[3] = NAN, v[100] = INFINITY, v[1001] = -INFINITY, v[100002] = NAN;
        const std::vector<double> thresholds = {0.01, 0.05, 1.0};
        long double sum = 0;
        uint64_t finite = 0;
        for (float x : v)
            if (std::isfinite(x)) sum += x, ++finite;
        const long double mean = sum / finite;
        long double m2 = 0, m4 = 0;
        for (float x : v)
            if (std::isfinite(x)) {
                const long double d = x - mean;
                m2 += d * d, m4 += d * d * d * d;
            }
        std::vector<stats::RangePart> r;
        std::vector<stats::MomentPart> m;
        std::vector<std::vector<uint64_t>> c;
        std::vector<Histogram> h;
        for (auto l : runnableLevels()) {
            r.push_back(stats::rangePass(v, qstest::testArena(), l));
            m.push_back(stats::momentPass(v, double(mean), qstest::testArena(), l));
            c.emplace_back(thresholds.size(), 0);
            stats::countAbovePass(v, thresholds, c.back(), qstest::testArena(), l);
            h.push_back(makeHistogram(-0.05, 0.05, 77));  // values fall outside on both sides
            fillHistogram(h.back(), v, qstest::testArena(), l);
        }
        for (size_t i = 0; i < r.size(); ++i) {
            QCOMPARE(r[i].count, finite);
            QCOMPARE(r[i].nonFinite, uint64_t(4));
            QVERIFY(sameBits(r[i].sum, r[0].sum) && sameBits(r[i].min, r[0].min) && sameBits(r[i].max, r[0].max));
            QCOMPARE(r[i].zeros, r[0].zeros);
            QVERIFY(sameBits(m[i].m2, m[0].m2) && sameBits(m[i].m4, m[0].m4));
            QCOMPARE(c[i], c[0]);
            QCOMPARE(h[i].counts, h[0].counts);
            QCOMPARE(h[i].below, h[0].below);
            QCOMPARE(h[i].above, h[0].above);
        }
        // Against long double and against Histogram::binOf, value by value.
        QVERIFY(std::fabs((long double)r[0].sum - sum) <= 1e-12L * 0.02L * finite);
        QVERIFY(std::fabs((long double)m[0].m2 / m2 - 1.0L) < 1e-12L);
        QVERIFY(std::fabs((long double)m[0].m4 / m4 - 1.0L) < 1e-12L);
        Histogram ref = makeHistogram(-0.05, 0.05, 77);
        std::vector<uint64_t> above(thresholds.size(), 0);
        for (float x : v) {
            if (!std::isfinite(x)) continue;
            const int b = ref.binOf(x);
            if (b < 0) ++ref.below;
            else if (b >= ref.bins()) ++ref.above;
            else ++ref.counts[size_t(b)];
            for (size_t k = 0; k < thresholds.size(); ++k) above[k] += std::fabs(double(x)) > thresholds[k];
        }
        QCOMPARE(h[0].counts, ref.counts);
        QCOMPARE(h[0].below, ref.below);
        QCOMPARE(h[0].above, ref.above);
        QCOMPARE(c[0], above);
    }

    void computeErrorStats_identicalAcrossThreadsAndLevels_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("block");
        QTest::newRow("768x768 block 32") << 768 << 768 << 32;
        QTest::newRow("333x1000 block 16") << 333 << 1000 << 16;
        QTest::newRow("101x999 whole rows") << 101 << 999 << 0;
        QTest::newRow("2x300007 block 64 (chunks inside rows)") << 2 << 300007 << 64;
    }
    void computeErrorStats_identicalAcrossThreadsAndLevels() {
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(int, block);
        const Pair p = samplePair(size_t(rows) * size_t(cols), block > 0 ? block : cols, 99);
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        std::vector<ErrorReport> out;
        for (auto l : runnableLevels())
            for (int threads : {0, 1, 2, 3}) {  // 0: no arena, serially on this thread
                ErrorStatsOptions o;
                o.clipBlock = block;
                o.histogramBins = 50;
                o.simdLevel = l;
                tbb::task_arena arena(std::max(threads, 1));
                out.push_back(computeErrorStats(p.w, p.q, rows, cols, threads > 0 ? &arena : nullptr, o));
            }
        uint64_t clipped = 0;
        const int64_t b = block > 0 ? block : cols;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c0 = 0; c0 < cols; c0 += b)
                clipped += clippedReference(&p.w[size_t(r * cols + c0)], &p.q[size_t(r * cols + c0)],
                                            std::min<int64_t>(b, cols - c0));
        QVERIFY(clipped > 0);
        QCOMPARE(out[0].stats.sums.clipped, clipped);
        for (const ErrorReport& e : out) {
            QVERIFY(sameSums(e.stats.sums, out[0].stats.sums));
            QCOMPARE(e.weightHistogram.counts, out[0].weightHistogram.counts);
            QCOMPARE(e.errorHistogram.counts, out[0].errorHistogram.counts);
            QVERIFY(sameBits(e.weightHistogram.lo, out[0].weightHistogram.lo));
        }
    }

    void quantizeWithErrorStats_equalsQuantizeThenCompare_data() {
        QTest::addColumn<QString>("scheme");
        for (const char* s : {"q8_0", "q4_0", "q4_K", "q6_K", "f16", "nf4", "int4_g128"}) QTest::newRow(s) << QString(s);
    }
    void quantizeWithErrorStats_equalsQuantizeThenCompare() {
        QFETCH(QString, scheme);
        auto s = findScheme(scheme.toStdString());
        QVERIFY(s);
        const int64_t rows = 300, cols = 512;
        const Pair p = samplePair(size_t(rows * cols), 32, 3);
        auto q = s->quantize(p.w, rows, cols, "t");
        QVERIFY(q.ok());
        std::vector<float> deq(p.w.size());
        s->dequantize(*q, deq.data());
        ErrorStatsOptions o;
        o.clipBlock = clipBlockOf(*s);
        const ErrorReport want = computeErrorStats(p.w, deq, rows, cols, qstest::testArena(), o);
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        for (int threads : {0, 1, 2, 3}) {  // 0: no arena, serially on this thread
            std::optional<Result<QuantizedWithStats>> got;
            tbb::task_arena arena(std::max(threads, 1));
            got.emplace(
                quantizeWithErrorStats(*s, p.w, rows, cols, "t", o, threads > 0 ? &arena : nullptr, nullptr));
            QVERIFY2(got->ok(), got->ok() ? "" : got->message().c_str());
            QVERIFY((*got)->tensor.data == q->data);
            QVERIFY(sameSums((*got)->error.stats.sums, want.stats.sums));
        }
    }

    void quantizeWithErrorStats_namesTheNonFiniteValue() {
        auto s = findScheme("q8_0");
        std::vector<float> w(64 * 256, 0.5f);
        w[70 * 64 + 3] = NAN;
        auto got =
            quantizeWithErrorStats(*s, w, 256, 64, "blk.0.attn_q.weight", {}, qstest::testArena(), nullptr);
        QVERIFY(!got.ok());
        QVERIFY2(got.message().find("blk.0.attn_q.weight") != std::string::npos &&
                     got.message().find("row 70") != std::string::npos,
                 got.message().c_str());
    }
};

QTEST_APPLESS_MAIN(TestStatsKernels)
#include "test_stats_kernels.moc"
