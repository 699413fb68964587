// SPDX-License-Identifier: GPL-3.0-or-later
// Numerical properties every registered scheme must have (registry-driven: a new scheme is covered by
// adding it to the registry): round-trip error inside a two-sided band per bit width, optimised kernels
// equal to the scalar reference, quantized dot products close to float ones, sensible behaviour on
// degenerate data, rejection of NaN/Inf naming the tensor, exact byte accounting.
#include <tbb/task_arena.h>

#include <QProcess>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "common/test_arena.h"
#include "core/infer/linear_weights.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/quantize_parallel.h"
#include "test_schemes_common.h"

using qstest::kCols;
using qstest::kRows;

namespace {
std::vector<float> roundTrip(const qs::Scheme& s, const std::vector<float>& x, int64_t rows, int64_t cols,
                             QString* error = nullptr) {
    auto q = qstest::quantizeAny(s, x, rows, cols, "t");
    if (!q.ok()) {
        if (error) *error = QString::fromStdString(q.message());
        return {};
    }
    std::vector<float> y(x.size());
    s.dequantize(*q, y.data());
    return y;
}

void addSchemeRows() {
    QTest::addColumn<QString>("name");
    for (const auto& s : qstest::schemesUnderTest()) QTest::newRow(s->name().c_str()) << QString::fromStdString(s->name());
}

std::shared_ptr<const qs::Scheme> fetchScheme() {
    QFETCH(QString, name);
    return qs::findScheme(name.toStdString());
}
}  // namespace

class TestSchemes : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void roundTrip_errorWithinNoiseBand_data() { addSchemeRows(); }
    void roundTrip_errorWithinNoiseBand() {
        const auto s = fetchScheme();
        QVERIFY(s);
        const auto x = qstest::gaussian(size_t(kRows * kCols), 42);
        QString err;
        const auto y = roundTrip(*s, x, kRows, kCols, &err);
        QVERIFY2(!y.empty(), qPrintable(err));
        const double e = qstest::relRmse(x, y);
        QVERIFY2(e >= qstest::bandLow(*s) && e <= qstest::bandHigh(*s),
                 qPrintable(QString("relative RMSE %1 outside [%2, %3]")
                                .arg(e).arg(qstest::bandLow(*s)).arg(qstest::bandHigh(*s))));
    }

    void optimisedPath_equalsReference_data() { addSchemeRows(); }
    void optimisedPath_equalsReference() {
        const auto s = fetchScheme();
        const auto* c = dynamic_cast<const qs::ChunkedScheme*>(s.get());
        QVERIFY(c);
        // Gaussian rows plus rows with ties on the rounding grid (integers and halves) and outliers.
        auto x = qstest::gaussian(size_t(kRows * kCols), 7);
        for (int64_t i = 0; i < kCols; ++i) x[size_t(kCols + i)] = float(i % 17) * 0.5f - 4.0f;
        for (int64_t i = 0; i < kCols; i += 97) x[size_t(2 * kCols + i)] *= 50.0f;
        const auto* cal = qstest::calibrationFor(*s, kCols);
        auto ref = c->quantizeWith(x, kRows, kCols, "t", qs::QuantPath::Reference, cal);
        auto opt = c->quantizeWith(x, kRows, kCols, "t", qs::QuantPath::Optimised, cal);
        QVERIFY(ref.ok() && opt.ok());
        QVERIFY2(ref->data == opt->data, "optimised kernel bytes differ from the reference");
        // A row length that is not a multiple of the vector width, where the shape allows it.
        if (s->accepts(3, 200)) {
            const auto z = qstest::gaussian(600, 8);
            const auto* cal2 = qstest::calibrationFor(*s, 200);
            auto r2 = c->quantizeWith(z, 3, 200, "t", qs::QuantPath::Reference, cal2);
            auto o2 = c->quantizeWith(z, 3, 200, "t", qs::QuantPath::Optimised, cal2);
            QVERIFY(r2.ok() && o2.ok());
            QVERIFY(r2->data == o2->data);
        }
    }

    // The same comparison with the AVX2 kernels (this machine may default to AVX-512): rerun this test
    // binary with QS_SIMD=avx2 (and =scalar) restricted to the test function above.
    void optimisedPath_equalsReference_everySimdLevel() {
        if (qEnvironmentVariableIsSet("QS_SIMD")) QSKIP("already running at a forced SIMD level");
        for (const char* level : {"avx2", "scalar"}) {
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert("QS_SIMD", level);
            p.setProcessEnvironment(env);
            p.start(QCoreApplication::applicationFilePath(), {"optimisedPath_equalsReference"});
            QVERIFY(p.waitForFinished(300000));
            QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
                     qPrintable(QString("QS_SIMD=%1: ").arg(level) + p.readAllStandardOutput().right(2000)));
        }
    }

    void quantizedDot_closeToFloatDot_data() { addSchemeRows(); }
    void quantizedDot_closeToFloatDot() {
        const auto s = fetchScheme();
        const auto x = qstest::gaussian(size_t(kRows * kCols), 11);
        const auto v = qstest::gaussian(size_t(kCols), 12);
        auto q = qstest::quantizeAny(*s, x, kRows, kCols, "t");
        QVERIFY2(q.ok(), q.ok() ? "" : q.message().c_str());
        const auto qt = std::make_shared<const qs::QuantizedTensor>(std::move(*q));
        const std::vector<float> y = qstest::dequantized(*s, *qt);
        // The dot of the dequantized values is close to the float dot (the scheme's error band), and where the
        // scheme has a native kernel (ggml types, RTN int4/int8, hqq4: activations quantized once to 8 bits, as
        // ggml does) the engine's quantized dot equals it up to the activations' rounding.
        const auto native = qs::packedWeights(qt, s);
        if (s->name() == "q4_0" || s->name() == "q4_K" || s->name() == "int8_sym") QVERIFY2(native, "no native kernel");
        std::vector<float> nativeOut(static_cast<size_t>(kRows));
        if (native) qs::matmul(*native, v.data(), 1, nativeOut.data(), nullptr);
        // 8-bit activations: each v_c moves by at most half a step of its block's scale amax/127 (blocks of 32
        // or 256; the larger block bounds both), an error of variance step^2/12 per value.
        std::vector<double> step2(static_cast<size_t>(kCols));
        for (int64_t b = 0; b < kCols; b += 256) {
            double amax = 0;
            for (int64_t c = b; c < std::min<int64_t>(b + 256, kCols); ++c) amax = std::max(amax, std::fabs(double(v[size_t(c)])));
            for (int64_t c = b; c < std::min<int64_t>(b + 256, kCols); ++c) step2[size_t(c)] = (amax / 127) * (amax / 127);
        }
        double vv = 0;
        for (float a : v) vv += double(a) * a;
        for (int64_t r = 0; r < kRows; ++r) {
            double d = 0, dq = 0, xx = 0, act = 0;
            for (int64_t c = 0; c < kCols; ++c) {
                const double w = x[size_t(r * kCols + c)], wq = y[size_t(r * kCols + c)];
                d += w * v[size_t(c)];
                dq += wq * v[size_t(c)];
                xx += w * w;
                act += wq * wq * step2[size_t(c)] / 12;
            }
            // The error e = x' - x is roughly uncorrelated with v: |e.v| ~ |e| * rms(v). Allow 6 sigma of
            // the band's upper error bound, plus float rounding of the sums.
            const double tol = 6.0 * qstest::bandHigh(*s) * std::sqrt(xx) * std::sqrt(vv / double(kCols)) +
                               1e-5 * std::sqrt(xx * vv);
            QVERIFY2(std::fabs(dq - d) <= tol,
                     qPrintable(QString("row %1: dot %2 vs %3 (tolerance %4)").arg(r).arg(dq).arg(d).arg(tol)));
            // The native kernel computes the same dot up to the rounding of the activations: 6 sigma of it.
            if (!native) continue;
            const double nativeTol = 6.0 * std::sqrt(act) + 1e-5 * std::sqrt(xx * vv);
            QVERIFY2(std::fabs(double(nativeOut[size_t(r)]) - dq) <= nativeTol,
                     qPrintable(QString("row %1: native dot %2 vs dequantized %3 (tolerance %4)")
                                    .arg(r)
                                    .arg(nativeOut[size_t(r)])
                                    .arg(dq)
                                    .arg(nativeTol)));
        }
    }

    void degenerateInputs_roundTripFiniteAndSensible_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("kind");
        for (const auto& s : qstest::schemesUnderTest())
            for (const char* kind : {"zeros", "constant", "spike", "tiny", "huge"})
                QTest::newRow((s->name() + "/" + kind).c_str()) << QString::fromStdString(s->name()) << kind;
    }
    void degenerateInputs_roundTripFiniteAndSensible() {
        const auto s = fetchScheme();
        QFETCH(QString, kind);
        std::vector<float> x(size_t(kRows * kCols), 0.0f);
        if (kind == "constant") std::fill(x.begin(), x.end(), 0.37f);
        if (kind == "spike")
            for (int64_t r = 0; r < kRows; ++r) x[size_t(r * kCols + (r * 37) % kCols)] = 100.0f;
        if (kind == "tiny") x = qstest::gaussian(x.size(), 3, 1e-8f);
        if (kind == "huge") x = qstest::gaussian(x.size(), 4, 1e4f);
        QString err;
        const auto y = roundTrip(*s, x, kRows, kCols, &err);
        QVERIFY2(!y.empty(), qPrintable(err));
        float xmax = 0, emax = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            QVERIFY2(std::isfinite(y[i]), qPrintable(QString("non-finite output at %1").arg(i)));
            xmax = std::max(xmax, std::fabs(x[i]));
            emax = std::max(emax, std::fabs(x[i] - y[i]));
        }
        if (kind == "zeros") {
            QCOMPARE(emax, 0.0f);
        } else if (kind == "tiny") {
            // fp16 scales may flush 1e-8 values to zero; they must never be amplified beyond the resolution
            // of an fp16 scale or minimum (its smallest subnormal, 2^-24).
            // GPTQ propagates each rounding error to the later columns, so a weight may land on any level of
            // its group's grid, whose step is at least that subnormal: up to 2^bits of them.
            const float resolution = std::ldexp(1.0f, -24) * (s->family() == "gptq" ? std::ldexp(1.0f, int(s->nominalBits())) : 1.0f);
            QVERIFY2(emax <= 1.01f * xmax + resolution, qPrintable(QString("%1 vs %2").arg(emax).arg(xmax)));
        } else if (kind == "huge") {
            const double e = qstest::relRmse(x, y);
            QVERIFY2(e >= qstest::bandLow(*s) && e <= qstest::bandHigh(*s), qPrintable(QString::number(e)));
        } else if (kind == "spike" && s->family() == "sortbins") {
            // Equal-population bins cannot isolate an outlier: the spike shares its bin with m - 1 zeros
            // (m = group / 2^bits) and all m get the mean 100/m, so the relative RMSE is exactly
            // sqrt((100 - 100/m)^2 + (m - 1)(100/m)^2) / 100 = sqrt((m - 1) / m).
            const std::string n = s->name();
            const double m = std::stod(n.substr(n.find("_g") + 2)) / std::ldexp(1.0, int(s->nominalBits()));
            QVERIFY2(std::fabs(qstest::relRmse(x, y) - std::sqrt((m - 1) / m)) < 1e-3,
                     qPrintable(QString::number(qstest::relRmse(x, y))));
        } else {
            // Constant rows and isolated spikes are easy: small relative error, spike kept.
            QVERIFY2(qstest::relRmse(x, y) <= qstest::bandHigh(*s), qPrintable(QString::number(qstest::relRmse(x, y))));
            QVERIFY(emax <= 0.5f * xmax);
        }
    }

    void nonFiniteInput_rejectedNamingTheTensor_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<float>("bad");
        for (const auto& s : qstest::schemesUnderTest()) {
            QTest::newRow((s->name() + "/nan").c_str()) << QString::fromStdString(s->name())
                                                        << std::numeric_limits<float>::quiet_NaN();
            QTest::newRow((s->name() + "/inf").c_str()) << QString::fromStdString(s->name())
                                                        << -std::numeric_limits<float>::infinity();
        }
    }
    void nonFiniteInput_rejectedNamingTheTensor() {
        const auto s = fetchScheme();
        QFETCH(float, bad);
        auto x = qstest::gaussian(size_t(kRows * kCols), 5);
        x[size_t(5 * kCols + 17)] = bad;
        for (int threads : {0, 2}) {
            qs::Result<qs::QuantizedTensor> q = qs::Error{};
            if (threads == 0) {
                q = qstest::quantizeAny(*s, x, kRows, kCols, "blk.3.attn_q.weight");
            } else {
                tbb::task_arena arena(threads);
                q = qs::quantizeParallel(*s, x, kRows, kCols, "blk.3.attn_q.weight", &arena, nullptr,
                                         qstest::calibrationFor(*s, kCols));
            }
            QVERIFY(!q.ok());
            const QString msg = QString::fromStdString(q.message());
            QVERIFY2(msg.contains("blk.3.attn_q.weight") && msg.contains(std::isnan(bad) ? "NaN" : "Inf") &&
                         msg.contains("row 5") && msg.contains("column 17"),
                     qPrintable(msg));
        }
    }

    // Large weights: a scheme either stores them (the round trip then stays inside its usual band, nothing
    // became Inf or zero) or refuses with a reason; it refuses only when a stored fp16 value would overflow, not
    // because a weight exceeds 65504 (q8_0 stores amax/127, so 1e5 fits; 1e7 does not). 1e30 overflows float
    // arithmetic inside the quantizers (a sum of squares), as one outlier among unit weights or scaling them all;
    // ggml's q3_K, q6_K and iq4_xs used to store such rows as zeros, silently.
    void largeValues_storedOrRefusedByStoredRange_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<double>("scale");
        QTest::addColumn<bool>("outlier");
        for (const auto& s : qstest::schemesUnderTest())
            for (double scale : {1e5, 1e7, 1e30})
                for (bool outlier : {false, true}) {
                    if (outlier && scale != 1e30) continue;
                    const QString row = QString::fromStdString(s->name()) + " x" + QString::number(scale) +
                                        (outlier ? " one" : " all");
                    QTest::newRow(qPrintable(row)) << QString::fromStdString(s->name()) << scale << outlier;
                }
    }
    void largeValues_storedOrRefusedByStoredRange() {
        const auto s = fetchScheme();
        QFETCH(double, scale);
        QFETCH(bool, outlier);
        QVERIFY(s);
        auto x = qstest::gaussian(size_t(kRows * kCols), 7);
        float amax = 0;
        for (float v : x) amax = std::max(amax, std::fabs(v));
        if (outlier)
            x[3] = float(scale);  // one weight of row 0 reaches `scale`, the others stay near 1
        else
            for (float& v : x) v = float(v / amax * scale);  // |x| reaches exactly `scale`
        QString err;
        const auto y = roundTrip(*s, x, kRows, kCols, &err);
        const QString name = QString::fromStdString(s->name());
        if (y.empty()) {
            QVERIFY2(err.contains("65504") || err.contains("overflow"), qPrintable(err));
            // Schemes whose stored values are this small must not refuse.
            QVERIFY2(!(scale == 1e5 && (name == "q8_0" || name == "q4_0" || name == "q6_K")),
                     qPrintable(name + " refused although its stored scales fit fp16: " + err));
            return;
        }
        QVERIFY2(!(name == "f16"), "f16 stored values above 65504");
        for (float v : y) QVERIFY2(std::isfinite(v), qPrintable(name + " stored a non-finite value"));
        const double e = qstest::relRmse(x, y);
        QVERIFY2(e <= qstest::bandHigh(*s), qPrintable(QString("relative RMSE %1 above %2").arg(e).arg(qstest::bandHigh(*s))));
    }

    void packedBytes_equalsProducedSize_data() { addSchemeRows(); }
    void packedBytes_equalsProducedSize() {
        const auto s = fetchScheme();
        for (auto [rows, cols] : {std::pair<int64_t, int64_t>{kRows, kCols}, {3, 256}, {1, 512}, {5, 200}, {7, 33}}) {
            if (!s->accepts(rows, cols)) continue;
            const auto x = qstest::gaussian(size_t(rows * cols), 9);
            auto q = qstest::quantizeAny(*s, x, rows, cols, "t");
            QVERIFY2(q.ok(), q.ok() ? "" : q.message().c_str());
            const qs::ByteBreakdown b = s->packedBytes(rows, cols);
            QCOMPARE(q->data.size(), b.total());
            QCOMPARE(q->bytes.total(), b.total());
            QCOMPARE(q->bytes.payload, b.payload);
            QCOMPARE(q->bytes.scales, b.scales);
            QCOMPARE(q->bytes.zeros, b.zeros);
            QCOMPARE(q->bytes.meta, b.meta);
            QVERIFY(b.payload > 0);
            QCOMPARE(q->scheme, s->name());
            // Partial dequantization equals the matching rows of a full one.
            std::vector<float> full(x.size()), part(static_cast<size_t>(cols));
            s->dequantize(*q, full.data());
            s->dequantizeRows(*q, rows - 1, 1, part.data());
            QVERIFY(std::equal(part.begin(), part.end(), full.begin() + (rows - 1) * cols));
        }
    }
};

QTEST_GUILESS_MAIN(TestSchemes)
#include "test_schemes.moc"
