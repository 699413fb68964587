// SPDX-License-Identifier: GPL-3.0-or-later
// The attention kernels (core/infer/kernels.h): expApprox within 2 ulp of e^x computed in double over
// its whole range, and its edges (underflow to 0, overflow to +inf, NaN); softmax and the weighted row sum
// within float-rounding bounds of double-precision references, and every SIMD path this machine can run equal
// to the scalar reference bit for bit (lengths around the 8-lane boundary, head widths 64/128/256 and odd ones).
// Skipped SIMD levels are printed.
#include "core/infer/kernels.h"
#include "core/util/cpu_features.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace qs;

namespace {

// Distance in units in the last place of `want` (a float near the exact value).
double ulpDistance(float got, double exact) {
    const float want = float(exact);
    const double ulp = double(std::nextafter(std::fabs(want), std::numeric_limits<float>::infinity())) - std::fabs(want);
    return std::fabs(double(got) - exact) / ulp;
}

// The SIMD levels above scalar this machine runs; the others are listed in `skipped`.
std::vector<cpu::SimdLevel> runnableLevels(const char* what) {
    std::vector<cpu::SimdLevel> levels;
    QString skipped;
    for (auto level : {cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512}) {
        if (cpu::canRun(level))
            levels.push_back(level);
        else
            skipped += QString(" ") + QString::fromStdString(std::string(cpu::simdLevelName(level)));
    }
    if (!skipped.isEmpty()) qInfo("%s: SIMD levels skipped on this machine:%s", what, qPrintable(skipped));
    return levels;
}

}  // namespace

class TestFloatKernels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void expApprox_within2UlpOfExp() {
        double worst = 0;
        float worstAt = 0;
        // Every 16385th float of the defined range, both signs (about 130,000 arguments), plus the edges.
        const float lo = -87.3365f, hi = 88.3762f;
        for (float x = lo; x < hi; x = std::nextafter(x, hi)) {
            const double d = ulpDistance(kernels::expApprox(x), std::exp(double(x)));
            if (d > worst) worst = d, worstAt = x;
            for (int skip = 0; skip < 16384 && x < hi; ++skip) x = std::nextafter(x, hi);
        }
        QVERIFY2(worst <= 2.0, qPrintable(QString("%1 ulp at x = %2").arg(worst).arg(double(worstAt), 0, 'g', 9)));
        QCOMPARE(kernels::expApprox(0.0f), 1.0f);
        QCOMPARE(kernels::expApprox(-88.0f), 0.0f);  // e^-88 is subnormal: 0, as documented
        QCOMPARE(kernels::expApprox(-std::numeric_limits<float>::infinity()), 0.0f);
        QVERIFY(std::isinf(kernels::expApprox(89.0f)));
        QVERIFY(std::isnan(kernels::expApprox(std::nanf(""))));
    }

    void softmax_pathsEqualScalarAndStayWithinBound() {
        std::mt19937 rng(21);
        std::normal_distribution<float> g(0.0f, 4.0f);
        const auto levels = runnableLevels("softmax");
        for (int n : {1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 129, 1000, 4099}) {
            std::vector<float> x(static_cast<size_t>(n));
            for (float& v : x) v = g(rng);
            if (n > 3) x[2] = x[0] - 200.0f;  // an exp that underflows to 0
            std::vector<float> ref = x;
            kernels::softmax(ref.data(), n, cpu::SimdLevel::Scalar);
            double m = x[0], sum = 0;
            for (float v : x) m = std::max(m, double(v));
            for (float v : x) sum += std::exp(double(v) - m);
            double total = 0;
            for (int i = 0; i < n; ++i) {
                const double exact = std::exp(double(x[size_t(i)]) - m) / sum;
                // 2 ulp of the exponential, the rounding of the eight-lane sum and of the division.
                const double bound = exact * (double(n) / 8 + 8) * std::ldexp(1.0, -23) + 1e-38;
                QVERIFY2(std::fabs(ref[size_t(i)] - exact) <= bound,
                         qPrintable(QString("n %1, i %2: %3 vs %4").arg(n).arg(i).arg(ref[size_t(i)]).arg(exact)));
                total += ref[size_t(i)];
            }
            QVERIFY(std::fabs(total - 1.0) < 1e-5);
            for (auto level : levels) {
                std::vector<float> got = x;
                kernels::softmax(got.data(), n, level);
                QVERIFY2(std::memcmp(got.data(), ref.data(), size_t(n) * sizeof(float)) == 0,
                         qPrintable(QString("%1 path, n %2").arg(kernels::floatKernelPathName(level)).arg(n)));
            }
        }
    }

    void weightedRowSum_pathsEqualScalarAndStayWithinBound() {
        std::mt19937 rng(22);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        const auto levels = runnableLevels("weightedRowSum");
        for (int64_t width : {int64_t(64), int64_t(128), int64_t(256), int64_t(80), int64_t(7), int64_t(203)}) {
            for (int64_t count : {int64_t(0), int64_t(1), int64_t(5), int64_t(130)}) {
                const int64_t ld = width * 3 + 5;  // rows of one head inside wider KV-cache rows
                std::vector<float> rows(size_t(std::max<int64_t>(count, 1) * ld));
                std::vector<float> p(static_cast<size_t>(count));
                for (float& v : rows) v = u(rng) * std::ldexp(1.0f, int(rng() % 20) - 10);
                for (float& v : p) v = std::fabs(u(rng));
                std::vector<float> ref(size_t(width) + 1, -7.0f);
                kernels::weightedRowSum(p.data(), count, rows.data(), ld, width, ref.data(), cpu::SimdLevel::Scalar);
                QCOMPARE(ref[size_t(width)], -7.0f);  // nothing written past `width`
                for (int64_t d = 0; d < width; ++d) {
                    double exact = 0, magnitude = 0;
                    for (int64_t i = 0; i < count; ++i) {
                        exact += double(p[size_t(i)]) * rows[size_t(i * ld + d)];
                        magnitude += std::fabs(double(p[size_t(i)]) * rows[size_t(i * ld + d)]);
                    }
                    QVERIFY2(std::fabs(ref[size_t(d)] - exact) <= double(count) * std::ldexp(1.0, -24) * magnitude,
                             qPrintable(QString("width %1, count %2, d %3").arg(width).arg(count).arg(d)));
                }
                for (auto level : levels) {
                    std::vector<float> got(size_t(width) + 1, -7.0f);
                    kernels::weightedRowSum(p.data(), count, rows.data(), ld, width, got.data(), level);
                    QVERIFY2(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0,
                             qPrintable(QString("%1 path, width %2, count %3")
                                            .arg(kernels::floatKernelPathName(level)).arg(width).arg(count)));
                }
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestFloatKernels)
#include "test_float_kernels.moc"
