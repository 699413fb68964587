// SPDX-License-Identifier: GPL-3.0-or-later
// The repacked q8_0/q4_0/q4_K/q6_K GEMM (core/ggml/ggml_repack.h) as PackedLinearWeights runs it: every SIMD path
// this machine can run equals the scalar reference ggml::gemmRef bit for bit (random codes including the
// extremes, row counts that are no multiple of 16, 1..9 columns, rows 32..4096 long, row ranges cutting a
// group); the reference stays within the activation-quantization and rounding bound of dequantize-then-
// multiply in double; copyRow returns exactly the dequantized stored row; the padding is counted in
// ownedBytes; below AVX2 the stored bytes and the per-pair dots are kept. Skipped SIMD levels are printed.
#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_quantize.h"
#include "core/ggml/ggml_repack.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/infer/linear_weights.h"
#include "core/io/checkpoint.h"
#include "core/tensor/half.h"
#include "core/util/cpu_features.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <random>

using namespace qs;

namespace {

// Random stored blocks: every code value (q8_0 -127..127 with the extremes forced into the first rows' first
// block, q4_0 0..15 with 0 and 15 likewise; q4_K / q6_K: random codes, 6-bit scales and mins / int8 scales,
// the first block all maximal codes and scales: q4_K 15 and 63, q6_K 63 with scales 127 and -128) and
// positive/negative normal fp16 scales (q4_K's d and dmin: positive, as its quantizer writes).
std::vector<std::byte> randomBlocks(DType t, int64_t rows, int64_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    const int64_t nb = cols / ggml::repackBlockElems(t);
    std::vector<std::byte> bytes(size_t(*dtypeBytes(t, uint64_t(rows * cols))));
    const auto magnitude = [&] { return std::ldexp(float(1 + rng() % 1000) / 1000.0f, -int(rng() % 12)); };
    const auto scale = [&] { return floatToHalf(magnitude() * (rng() % 2 ? 1.0f : -1.0f)); };
    for (int64_t i = 0; i < rows * nb; ++i) {
        if (t == DType::Q8_0) {
            auto& b = reinterpret_cast<ggml::BlockQ8_0*>(bytes.data())[i];
            b.d = scale();
            for (int j = 0; j < 32; ++j) b.qs[j] = int8_t(i == 0 ? (j % 2 ? 127 : -127) : int(rng() % 255) - 127);
        } else if (t == DType::Q4_0) {
            auto& b = reinterpret_cast<ggml::BlockQ4_0*>(bytes.data())[i];
            b.d = scale();
            for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(i == 0 ? (j % 2 ? 0xF0 : 0x0F) : rng() & 0xFF);
        } else if (t == DType::Q4_K) {
            auto& b = reinterpret_cast<ggml::BlockQ4_K*>(bytes.data())[i];
            b.d = floatToHalf(magnitude());
            b.dmin = floatToHalf(magnitude());
            for (auto& v : b.scales) v = uint8_t(i == 0 ? 0xFF : rng() & 0xFF);
            for (auto& v : b.qs) v = uint8_t(i == 0 ? 0xFF : rng() & 0xFF);
        } else {
            auto& b = reinterpret_cast<ggml::BlockQ6_K*>(bytes.data())[i];
            b.d = scale();
            for (auto& v : b.ql) v = uint8_t(i == 0 ? 0xFF : rng() & 0xFF);
            for (auto& v : b.qh) v = uint8_t(i == 0 ? 0xFF : rng() & 0xFF);
            for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(i == 0 ? (j % 2 ? 127 : -128) : int(rng() % 256) - 128);
        }
    }
    return bytes;
}

bool kQuant(DType t) { return t == DType::Q4_K || t == DType::Q6_K; }

std::vector<float> gaussian(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    if (n > 40) v[40] = 25.0f;  // an outlier: its block's activation scale is large
    return v;
}

// y[c * rows + r] by the scalar reference on the repacked rows.
std::vector<float> reference(DType t, const std::vector<std::byte>& stored, int64_t rows, int64_t cols,
                             const std::vector<float>& x, int64_t batch) {
    std::vector<std::byte> packed(ggml::repackedBytes(t, rows, cols));
    ggml::repack(t, stored.data(), rows, cols, packed.data());
    std::vector<std::byte> act(size_t(batch) * ggml::actColumnBytes(t, cols)),
        scratch(ggml::activationBytes(kQuant(t) ? DType::Q8_K : DType::Q8_0, cols));
    ggml::prepareActivations(t, x.data(), batch, cols, act.data(), scratch.data());
    const size_t groupBytes = size_t(cols / ggml::repackBlockElems(t)) * ggml::repackedBlockBytes(t);
    std::vector<float> y(size_t(batch * rows)), tile(size_t(batch) * ggml::kRepackRows);
    for (int64_t g = 0; g * ggml::kRepackRows < rows; ++g) {
        ggml::gemmRef(t, cols, packed.data() + size_t(g) * groupBytes, act.data(), int(batch), tile.data());
        for (int64_t c = 0; c < batch; ++c)
            for (int64_t s = 0; s < ggml::kRepackRows && g * ggml::kRepackRows + s < rows; ++s)
                y[size_t(c * rows + g * ggml::kRepackRows + s)] = tile[size_t(c * ggml::kRepackRows + s)];
    }
    return y;
}

const cpu::SimdLevel kLevels[] = {cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512, cpu::SimdLevel::Avx512Vnni};

}  // namespace

class TestRepackGemm : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyPath_equalsScalarReference_data() {
        QTest::addColumn<int>("type");
        QTest::newRow("q8_0") << int(DType::Q8_0);
        QTest::newRow("q4_0") << int(DType::Q4_0);
        QTest::newRow("q4_K") << int(DType::Q4_K);
        QTest::newRow("q6_K") << int(DType::Q6_K);
    }
    void everyPath_equalsScalarReference() {
        QFETCH(int, type);
        const DType t = DType(type);
        QString skipped;
        for (const auto level : kLevels)
            if (!cpu::canRun(level)) skipped += " " + QString::fromStdString(std::string(cpu::simdLevelName(level)));
        if (!skipped.isEmpty()) qInfo("%s: SIMD paths skipped on this machine:%s", std::string(dtypeName(t)).c_str(), qPrintable(skipped));
        QVERIFY2(cpu::canRun(cpu::SimdLevel::Avx2), "no AVX2: no repacked path to compare");
        for (const int64_t rows : {int64_t(1), int64_t(16), int64_t(37)})
            for (const int64_t cols : kQuant(t) ? std::vector<int64_t>{256, 768, 4096} : std::vector<int64_t>{32, 96, 4096}) {
                const auto stored = randomBlocks(t, rows, cols, uint32_t(rows * 7 + cols));
                const auto x = gaussian(size_t(9 * cols), uint32_t(cols));
                const auto expected = reference(t, stored, rows, cols, x, 9);
                for (const auto level : kLevels) {
                    if (!cpu::canRun(level)) continue;
                    const PackedLinearWeights w(rows, cols, t, stored, nullptr, 0, level);
                    QVERIFY2(w.repacked(), qPrintable(QString::fromStdString(w.describe())));
                    const QString what = QString("%1, %2 x %3").arg(QString::fromStdString(w.describe())).arg(rows).arg(cols);
                    for (int64_t batch = 1; batch <= 9; ++batch) {
                        std::vector<float> y(size_t(batch * rows), std::nanf(""));
                        matmul(w, x.data(), batch, y.data(), nullptr);
                        QVERIFY2(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)) == 0,
                                 qPrintable(what + QString(", %1 columns: differs from gemmRef").arg(batch)));
                    }
                    // A row range that cuts groups (rows 3 .. rows - 2): those rows, the others untouched.
                    if (rows >= 6) {
                        std::vector<float> y(size_t(9 * rows), -1.0f);
                        w.matmulRows(x.data(), 9, y.data(), 3, rows - 2);
                        for (int64_t c = 0; c < 9; ++c)
                            for (int64_t r = 0; r < rows; ++r) {
                                const float want = r >= 3 && r < rows - 2 ? expected[size_t(c * rows + r)] : -1.0f;
                                QVERIFY2(std::memcmp(&y[size_t(c * rows + r)], &want, sizeof(float)) == 0,
                                         qPrintable(what + QString(": row range, row %1 column %2").arg(r).arg(c)));
                            }
                    }
                }
            }
    }

    // |y - sum_i w_i x_i| <= sum_i |w_i| e_i + (blocks + 2) 2^-24 sum_i |w_i| (|x_i| + e_i): e_i the q8_0
    // activation error d (1/2 + 127 2^-11) (round to the nearest code, fp16 scale), per block one rounding of
    // dw * da and of the fused step, the running sum rounded once per block.
    void reference_withinBoundOfDequantizeThenMultiply() {
        for (const DType t : {DType::Q8_0, DType::Q4_0}) {
            const int64_t rows = 21, cols = 1024, batch = 5;
            const auto wf = gaussian(size_t(rows * cols), 3);
            std::vector<std::byte> stored(size_t(*dtypeBytes(t, uint64_t(rows * cols))));
            QVERIFY(ggml::quantize(t, wf.data(), stored.data(), rows * cols));
            std::vector<float> values(size_t(rows * cols));
            QVERIFY(decodeToFloat(t, stored, uint64_t(rows * cols), 0, 0, uint64_t(rows * cols), values.data()).ok());
            const auto x = gaussian(size_t(batch * cols), 4);
            const auto y = reference(t, stored, rows, cols, x, batch);
            for (int64_t c = 0; c < batch; ++c)
                for (int64_t r = 0; r < rows; ++r) {
                    double exact = 0, actErr = 0, magnitude = 0;
                    for (int64_t i0 = 0; i0 < cols; i0 += 32) {
                        double amax = 0;
                        for (int64_t i = i0; i < i0 + 32; ++i) amax = std::max(amax, std::fabs(double(x[size_t(c * cols + i)])));
                        const double e = amax / 127.0 * (0.5 + 127.0 / 2048.0);
                        for (int64_t i = i0; i < i0 + 32; ++i) {
                            const double wi = values[size_t(r * cols + i)], xi = x[size_t(c * cols + i)];
                            exact += wi * xi;
                            actErr += std::fabs(wi) * e;
                            magnitude += std::fabs(wi) * (std::fabs(xi) + e);
                        }
                    }
                    const double bound = actErr + (cols / 32.0 + 2) * std::ldexp(1.0, -24) * magnitude * 1.01;
                    const double got = y[size_t(c * rows + r)];
                    QVERIFY2(std::fabs(got - exact) <= bound,
                             qPrintable(QString("%1 row %2 column %3: %4 vs %5, bound %6")
                                            .arg(QString::fromStdString(std::string(dtypeName(t)))).arg(r).arg(c)
                                            .arg(got).arg(exact).arg(bound)));
                    // The band is not vacuous: the activation error term dominates and stays small.
                    QVERIFY(bound < 0.05 * magnitude);
                }
        }
    }

    // The K-quants: |y - sum_i w_i x_i| <= sum_i |w_i| e_i + (6 nb + 10) 2^-24 sum_i (|w_i| + 2 dmin m_i)
    // (|x_i| + e_i): e_i = amax / 128 the q8_K activation error (round to nearest; the clamp of the code 128 to
    // 127 when the block's largest magnitude is negative costs at most one step), w_i the dequantized value
    // (q4_K: d sc q - dmin m, whose terms are each at most |w_i| + dmin m), per super-block at most six
    // roundings (int32 to float, the scale product, the fused step; twice for q4_K) and three for w_i itself.
    void kQuantReference_withinBoundOfDequantizeThenMultiply() {
        for (const DType t : {DType::Q4_K, DType::Q6_K}) {
            const int64_t rows = 21, cols = 1024, batch = 5, nb = cols / 256;
            auto wf = gaussian(size_t(rows * cols), 3);
            for (size_t i = 0; i < wf.size(); i += 3) wf[i] += 0.7f;  // q4_K: non-zero mins
            std::vector<std::byte> stored(size_t(*dtypeBytes(t, uint64_t(rows * cols))));
            QVERIFY(ggml::quantize(t, wf.data(), stored.data(), rows * cols));
            std::vector<float> values(size_t(rows * cols)), mins(size_t(rows * cols), 0.0f);
            QVERIFY(decodeToFloat(t, stored, uint64_t(rows * cols), 0, 0, uint64_t(rows * cols), values.data()).ok());
            if (t == DType::Q4_K)
                for (int64_t i = 0; i < rows * cols; ++i) {
                    const auto& b = reinterpret_cast<const ggml::BlockQ4_K*>(stored.data())[i / 256];
                    uint8_t sc, m;
                    ggml::detail::scaleMinK4(int(i % 256 / 32), b.scales, sc, m);
                    mins[size_t(i)] = halfToFloat(b.dmin) * float(m);
                }
            const auto x = gaussian(size_t(batch * cols), 4);
            const auto y = reference(t, stored, rows, cols, x, batch);
            bool anyMin = false;
            for (int64_t c = 0; c < batch; ++c)
                for (int64_t r = 0; r < rows; ++r) {
                    double exact = 0, actErr = 0, magnitude = 0;
                    for (int64_t i0 = 0; i0 < cols; i0 += 256) {
                        double amax = 0;
                        for (int64_t i = i0; i < i0 + 256; ++i) amax = std::max(amax, std::fabs(double(x[size_t(c * cols + i)])));
                        const double e = amax / 128.0 * (1 + 1e-6);
                        for (int64_t i = i0; i < i0 + 256; ++i) {
                            const double wi = values[size_t(r * cols + i)], xi = x[size_t(c * cols + i)];
                            const double mi = mins[size_t(r * cols + i)];
                            anyMin = anyMin || mi > 0;
                            exact += wi * xi;
                            actErr += std::fabs(wi) * e;
                            magnitude += (std::fabs(wi) + 2 * mi) * (std::fabs(xi) + e);
                        }
                    }
                    const double bound = actErr + (6.0 * nb + 10) * std::ldexp(1.0, -24) * magnitude * 1.01;
                    const double got = y[size_t(c * rows + r)];
                    QVERIFY2(std::fabs(got - exact) <= bound,
                             qPrintable(QString("%1 row %2 column %3: %4 vs %5, bound %6")
                                            .arg(QString::fromStdString(std::string(dtypeName(t)))).arg(r).arg(c)
                                            .arg(got).arg(exact).arg(bound)));
                    QVERIFY(bound < 0.1 * magnitude);  // not vacuous
                }
            QVERIFY(t != DType::Q4_K || anyMin);
        }
    }

    void copyRow_isTheDequantizedRow_andPaddingIsOwned() {
        for (const DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) {
            const int64_t rows = 37, cols = kQuant(t) ? 512 : 96;
            const auto stored = randomBlocks(t, rows, cols, 11);
            std::vector<float> values(size_t(rows * cols));
            QVERIFY(decodeToFloat(t, stored, uint64_t(rows * cols), 0, 0, uint64_t(rows * cols), values.data()).ok());
            for (const auto level : kLevels) {
                if (!cpu::canRun(level)) continue;
                const PackedLinearWeights w(rows, cols, t, stored, nullptr, 0, level);
                QVERIFY(w.repacked());
                // 37 rows: three groups of 16, the last with 11 zero rows of padding.
                const uint64_t perBlockRow = t == DType::Q8_0 ? 34 : t == DType::Q4_0 ? 18 : t == DType::Q4_K ? 148 : 210;
                QCOMPARE(w.ownedBytes(), uint64_t(48 * cols / ggml::repackBlockElems(t)) * perBlockRow);
                QCOMPARE(w.rowAlign(), int64_t(16));
                std::vector<float> row(static_cast<size_t>(cols));
                for (int64_t r = 0; r < rows; ++r) {
                    w.copyRow(r, row.data());
                    QVERIFY2(std::memcmp(row.data(), values.data() + r * cols, size_t(cols) * sizeof(float)) == 0,
                             qPrintable(QString("%1 row %2").arg(QString::fromStdString(w.describe())).arg(r)));
                }
            }
        }
    }

    // Below AVX2 the stored bytes stay and the per-pair dots run (ggml_vec_dot.h's contract).
    void scalarLevel_keepsStoredRows() {
        const auto stored = randomBlocks(DType::Q4_0, 20, 64, 5);
        QVERIFY(!ggml::findRepackGemm(DType::Q4_0, cpu::SimdLevel::Scalar));
        QVERIFY(!ggml::findRepackGemm(DType::Q4_1, cpu::SimdLevel::Avx512Vnni));
        const PackedLinearWeights w(20, 64, DType::Q4_0, stored, nullptr, 0, cpu::SimdLevel::Scalar);
        QVERIFY(!w.repacked());
        QCOMPARE(w.ownedBytes(), uint64_t(0));
        QVERIFY(w.describe().find("native scalar") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestRepackGemm)
#include "test_repack_gemm.moc"
