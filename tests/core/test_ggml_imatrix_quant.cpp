// SPDX-License-Identifier: GPL-3.0-or-later
// The importance-weighted ggml quantizers (quantizeRowWeighted: ggml's quantize_row_*_impl with quant_weights)
// against ggml's own bytes in tests/data/ggml-imatrix (ggml_quantize_chunk with an imatrix; see its README):
// every case, importance vector and type byte for byte, and iq4_xs without importance (a plain scheme now)
// through the registry's reference and optimised paths.
#include <tbb/task_arena.h>

#include <QFile>
#include <QTest>

#include <cstring>
#include <vector>

#include "common/assets.h"
#include "common/test_arena.h"
#include "core/calib/calibration.h"
#include "core/ggml/ggml_quantize.h"
#include "core/ggml/ggml_type_traits.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quantize_parallel.h"
#include "core/quant/scheme.h"
#include "core/tensor/dtype.h"

using namespace qs;

namespace {
QString dataDir() {
    const QString source = qEnvironmentVariable("QS_SOURCE_DIR");
    return source.isEmpty() ? QString() : source + "/tests/data/ggml-imatrix/";
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

std::vector<float> toFloats(const QByteArray& b) {
    std::vector<float> v(size_t(b.size()) / 4);
    std::memcpy(v.data(), b.constData(), v.size() * 4);
    return v;
}

QString firstDifference(const QByteArray& expected, const std::vector<std::byte>& ours) {
    if (size_t(expected.size()) != ours.size())
        return QString("size %1 vs expected %2").arg(ours.size()).arg(expected.size());
    for (qsizetype i = 0; i < expected.size(); ++i)
        if (uint8_t(expected[i]) != uint8_t(ours[size_t(i)]))
            return QString("first difference at byte %1: got 0x%2, ggml 0x%3")
                .arg(i)
                .arg(uint8_t(ours[size_t(i)]), 2, 16, QChar('0'))
                .arg(uint8_t(expected[i]), 2, 16, QChar('0'));
    return {};
}

// Our weighted bytes of rows x cols values, row by row with the same importance vector.
std::vector<std::byte> quantizeWeighted(DType t, const std::vector<float>& x, const std::vector<float>& qw, int rows,
                                        int cols) {
    const size_t rowBytes = size_t(*dtypeBytes(t, uint64_t(cols)));
    std::vector<std::byte> out(rowBytes * size_t(rows), std::byte{0x5A});
    for (int r = 0; r < rows; ++r)
        if (!ggml::quantizeRowWeighted(t, x.data() + size_t(r) * size_t(cols), out.data() + rowBytes * size_t(r), cols,
                                       qw.data()))
            return {};
    return out;
}
}  // namespace

class TestGgmlImatrixQuant : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void matchesGgml_data() {
        QTest::addColumn<QString>("caseName");
        QTest::addColumn<QString>("imatrix");
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QFile f(dataDir() + "index.tsv");
        if (!f.open(QIODevice::ReadOnly)) {
            QTest::newRow("index.tsv missing") << QString() << QString() << QString() << QString() << 0 << 0;
            return;
        }
        const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
        for (int i = 1; i < lines.size(); ++i) {
            const QStringList c = lines[i].split('\t');
            QVERIFY(c.size() == 8);
            QTest::newRow(qPrintable(c[0] + "/" + c[1] + "/" + c[2]))
                << c[0] << c[1] << c[2] << c[7] << c[4].toInt() << c[5].toInt();
        }
        QCOMPARE(lines.size() - 1, 7 * (11 * 2 + 1));  // 7 cases x 11 types x 2 imatrices, + iq4_xs unweighted
    }

    void matchesGgml() {
        QFETCH(QString, caseName);
        QFETCH(QString, imatrix);
        QFETCH(QString, type);
        QFETCH(QString, file);
        QFETCH(int, rows);
        QFETCH(int, cols);
        QVERIFY2(!file.isEmpty(), qPrintable("cannot read " + dataDir() + "index.tsv (is QS_SOURCE_DIR set?)"));
        QS_REQUIRE_ASSET(inputPath, "refvectors/ggml/" + caseName + ".input.f32");
        const std::vector<float> x = toFloats(readAll(inputPath));
        QCOMPARE(qsizetype(x.size()), qsizetype(rows) * cols);
        const QByteArray expected = readAll(dataDir() + file);
        QVERIFY(!expected.isEmpty());
        const ggml::TypeTraits* row = ggml::findTypeTraits(type.toStdString());
        QVERIFY2(row, qPrintable(type));
        if (imatrix == "none") {
            // Plain quantization through the registry (reference and optimised paths).
            const auto s = findScheme(type.toStdString());
            QVERIFY2(s, qPrintable(type + " is not a registered scheme"));
            const auto* chunked = dynamic_cast<const ChunkedScheme*>(s.get());
            QVERIFY(chunked);
            for (auto path : {QuantPath::Reference, QuantPath::Optimised}) {
                auto q = chunked->quantizeWith(x, rows, cols, "ref", path);
                if (!q.ok()) QFAIL(q.message().c_str());
                const QString diff = firstDifference(expected, q->data);
                QVERIFY2(diff.isEmpty(), qPrintable(diff));
            }
            return;
        }
        const std::vector<float> qw = toFloats(readAll(dataDir() + imatrix + ".imatrix.f32"));
        QCOMPARE(qsizetype(qw.size()), qsizetype(cols));
        QVERIFY(ggml::hasWeightedQuantizer(row->type));
        const auto ours = quantizeWeighted(row->type, x, qw, rows, cols);
        const QString diff = firstDifference(expected, ours);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        // Scaling the importance by a power of two scales every weighted sum exactly: the same bytes (the
        // imatrix is a mean; llama.cpp's counts do not change the result).
        std::vector<float> qw4(qw);
        for (float& v : qw4) v *= 4.0f;
        QVERIFY(quantizeWeighted(row->type, x, qw4, rows, cols) == ours);
    }

    // ggml treats an all-equal importance vector differently from none: the K-quants and legacy types switch
    // to the weighted search (w = sqrt(sigma2 + x^2)) and make_qp_quants, so "ones" is not the plain bytes.
    // The plain bytes of gaussian q4_K are ../shared/refvectors/ggml/gaussian.q4_K.q.
    void equalWeights_areNotThePlainPath() {
        QS_REQUIRE_ASSET(inputPath, "refvectors/ggml/gaussian.input.f32");
        QS_REQUIRE_ASSET(plainPath, "refvectors/ggml/gaussian.q4_K.q");
        const std::vector<float> x = toFloats(readAll(inputPath));
        const QByteArray plain = readAll(plainPath);
        const QByteArray ones = readAll(dataDir() + "gaussian.ones.q4_K.q");
        QCOMPARE(ones.size(), plain.size());
        QVERIFY(ones != plain);
        const std::vector<float> qw(512, 1.0f);
        QVERIFY(firstDifference(ones, quantizeWeighted(DType::Q4_K, x, qw, 4, 512)).isEmpty());
    }

    // ggml's quantize_q8_0 ignores quant_weights: no weighted quantizer for it (nor f16/bf16), one for every
    // type whose ggml quantizer takes the importance.
    void weightedTypes_areTheOnesGgmlWeights() {
        for (DType t : {DType::Q8_0, DType::F16, DType::BF16, DType::Q8_K, DType::IQ2_XXS})
            QVERIFY(!ggml::hasWeightedQuantizer(t));
        int n = 0;
        for (const ggml::TypeTraits& r : ggml::typeTraitsTable())
            if (r.fromFloatWeighted) {
                QVERIFY2(r.isScheme(), std::string(r.info().name).c_str());
                ++n;
            }
        QCOMPARE(n, 11);
    }

    // Every "<type>_im" scheme: the same blocks as <type> (bytes, storage type), refused by name without
    // calibration, and with a calibration whose importance() is ggml's imatrix it writes ggml's bytes, serially
    // and in parallel (gaussian_outliers case, "wide" importance).
    void imSchemes_writeGgmlBytesFromCalibration_data() {
        QTest::addColumn<QString>("type");
        for (const ggml::TypeTraits& r : ggml::typeTraitsTable())
            if (r.fromFloatWeighted) QTest::newRow(std::string(r.info().ggmlName).c_str()) << QString(r.info().ggmlName.data());
    }
    void imSchemes_writeGgmlBytesFromCalibration() {
        QFETCH(QString, type);
        const std::string name = type.toStdString() + "_im";
        const auto s = findScheme(name);
        QVERIFY2(s, name.c_str());
        QCOMPARE(s->name(), name);
        QCOMPARE(s->family(), std::string("ggml"));
        QVERIFY(s->calibrationNeeds() == CalibrationNeeds::Importance);
        QCOMPARE(ggml::findSchemeStorage(name), ggml::findTypeTraits(type.toStdString()));
        const auto plain = findScheme(type.toStdString());
        QCOMPARE(s->packedBytes(4, 512).total(), plain->packedBytes(4, 512).total());
        QS_REQUIRE_ASSET(inputPath, "refvectors/ggml/gaussian_outliers.input.f32");
        const std::vector<float> x = toFloats(readAll(inputPath));
        const std::vector<float> qw = toFloats(readAll(dataDir() + "wide.imatrix.f32"));
        QCOMPARE(qw.size(), size_t(512));

        auto none = s->quantize(x, 4, 512, "blk.0.attn_q.weight");
        QVERIFY(!none.ok());
        QCOMPARE(QString::fromStdString(none.message()),
                 QString::fromStdString(name + " on 'blk.0.attn_q.weight' needs calibration data (pass --calib FILE "
                                               "or --imatrix FILE)"));

        TensorCalibration c;  // importance() = float(sumSquares / tokens) = qw exactly
        c.cols = 512;
        c.tokens = 1;
        for (float v : qw) c.sumSquares.push_back(double(v));
        const QByteArray expected = readAll(dataDir() + "gaussian_outliers.wide." + type + ".q");
        auto q = s->quantizeCalibrated(x, 4, 512, "blk.0.attn_q.weight", &c);
        if (!q.ok()) QFAIL(q.message().c_str());
        QCOMPARE(q->scheme, name);
        QVERIFY2(firstDifference(expected, q->data).isEmpty(), qPrintable(firstDifference(expected, q->data)));
        auto par = quantizeParallel(*s, x, 4, 512, "blk.0.attn_q.weight", qstest::testArena(), nullptr, &c);
        QVERIFY(par.ok() && par->data == q->data);

        TensorCalibration bad = c;
        bad.sumSquares[17] = -1.0;
        auto refused = s->quantizeCalibrated(x, 4, 512, "blk.0.attn_q.weight", &bad);
        QVERIFY(!refused.ok());
        QVERIFY2(QString::fromStdString(refused.message()).contains("input column 17"), refused.message().c_str());
    }

    // No _im variant where ggml ignores the importance; the K-quant fallbacks keep it where they can.
    void imNames_refusedWhereGgmlIgnoresImportance() {
        QVERIFY(!parseScheme("q8_0_im").ok());
        QVERIFY(QString::fromStdString(parseScheme("q8_0_im").message()).contains("ignores an importance matrix"));
        QCOMPARE(fallbackChain("q4_K_im", 64), (std::vector<std::string>{"q5_0_im", "f16"}));
        QCOMPARE(fallbackChain("q6_K_im", 64), (std::vector<std::string>{"q8_0", "f16"}));
        QCOMPARE(fallbackChain("q3_K_im", 64), (std::vector<std::string>{"iq4_nl_im", "q4_0_im", "f16"}));
    }
};

QTEST_GUILESS_MAIN(TestGgmlImatrixQuant)
#include "test_ggml_imatrix_quant.moc"
