// SPDX-License-Identifier: GPL-3.0-or-later
// Every ggml reference vector (../shared/refvectors/ggml, produced by ggml's own quantize_row_*_ref via
// ggml_quantize_chunk and dequantize_row_*): our quantization must reproduce each .q file byte for byte
// (reference and optimised paths, serial and parallel), and our dequantization each .dequant.f32 bit for bit.
//
// The assets are revision 2 (generated with ggml_init() called first; see their README): every case is compared
// plainly. Also: the q5_0/q8_0 tensors llama-quantize wrote into stories260K-Q4_K_M.gguf from the F32 file are
// reproduced byte for byte from the F32 tensors.
#include <tbb/task_arena.h>

#include <QFile>
#include <QTest>

#include <cstring>
#include <vector>

#include "common/assets.h"
#include "common/test_arena.h"
#include "core/ggml/ggml_dequant.h"
#include "core/ggml/ggml_quantize.h"
#include "core/io/checkpoint.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/quantize_parallel.h"
#include "core/quant/scheme.h"

namespace {
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

QString firstByteDifference(const QByteArray& got, const std::vector<std::byte>& ours) {
    if (size_t(got.size()) != ours.size())
        return QString("size %1 vs expected %2").arg(ours.size()).arg(got.size());
    for (qsizetype i = 0; i < got.size(); ++i)
        if (uint8_t(got[i]) != uint8_t(ours[size_t(i)]))
            return QString("first difference at byte %1: got 0x%2, expected 0x%3")
                .arg(i)
                .arg(uint8_t(ours[size_t(i)]), 2, 16, QChar('0'))
                .arg(uint8_t(got[i]), 2, 16, QChar('0'));
    return {};
}
}  // namespace

class TestGgmlRefvectors : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void refvector_data() {
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("quant");
        QTest::addColumn<QString>("dequant");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        const QString index = qstest::assetPath("refvectors/ggml/index.tsv");
        QFile f(index);
        if (!f.open(QIODevice::ReadOnly)) {
            QTest::newRow("index.tsv missing") << QString() << index << QString() << QString() << 0 << 0;
            return;
        }
        const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
        for (int i = 1; i < lines.size(); ++i) {
            const QStringList c = lines[i].split('\t');
            if (c.size() < 11) continue;
            const QString dir = "refvectors/ggml/";
            QTest::newRow(qPrintable(c[0] + "/" + c[1]))
                << c[1] << dir + c[8] << dir + c[9] << dir + c[10] << c[5].toInt() << c[6].toInt();
        }
    }

    void refvector() {
        QFETCH(QString, scheme);
        QFETCH(QString, input);
        QFETCH(QString, quant);
        QFETCH(QString, dequant);
        QFETCH(int, rows);
        QFETCH(int, cols);
        QS_REQUIRE_ASSET(inputPath, input);
        QS_REQUIRE_ASSET(quantPath, quant);
        QS_REQUIRE_ASSET(dequantPath, dequant);
        const auto s = qs::findScheme(scheme.toStdString());
        QVERIFY2(s, qPrintable("scheme not registered: " + scheme));
        const auto* chunked = dynamic_cast<const qs::ChunkedScheme*>(s.get());
        QVERIFY(chunked);
        const std::vector<float> x = toFloats(readAll(inputPath));
        const QByteArray expectedQ = readAll(quantPath);
        const std::vector<float> expectedD = toFloats(readAll(dequantPath));
        QCOMPARE(qsizetype(x.size()), qsizetype(rows) * cols);

        auto checkQuant = [&](const char* what) {
            for (auto path : {qs::QuantPath::Reference, qs::QuantPath::Optimised}) {
                auto q = chunked->quantizeWith(x, rows, cols, "refvector", path);
                if (!q.ok()) return QString(what) + ": " + QString::fromStdString(q.message());
                if (q->bytes.total() != uint64_t(expectedQ.size())) return QString(what) + ": breakdown total differs";
                const QString diff = firstByteDifference(expectedQ, q->data);
                if (!diff.isEmpty())
                    return QString(what) + (path == qs::QuantPath::Reference ? " reference: " : " optimised: ") + diff;
            }
            return QString();
        };
        auto checkDequant = [&](const char* what) {
            qs::QuantizedTensor ref;  // dequantize ggml's bytes, not ours: a dequantizer bug cannot hide
            ref.scheme = s->name();
            ref.rows = rows;
            ref.cols = cols;
            ref.data.resize(size_t(expectedQ.size()));
            std::memcpy(ref.data.data(), expectedQ.constData(), ref.data.size());
            ref.bytes = s->packedBytes(rows, cols);
            std::vector<float> y(x.size());
            s->dequantize(ref, y.data());
            for (size_t i = 0; i < y.size(); ++i)
                if (std::memcmp(&y[i], &expectedD[i], 4) != 0)
                    return QString("%1: dequantized value %2 is %3, ggml gives %4")
                        .arg(what).arg(i).arg(double(y[i]), 0, 'g', 9).arg(double(expectedD[i]), 0, 'g', 9);
            return QString();
        };

        QString err = checkQuant("quantize");
        QVERIFY2(err.isEmpty(), qPrintable(err));
        err = checkDequant("dequantize");
        QVERIFY2(err.isEmpty(), qPrintable(err));

        // Parallel quantization gives the serial bytes.
        auto serial = chunked->quantize(x, rows, cols, "refvector");
        QVERIFY(serial.ok());
        tbb::task_arena arena(2);
        auto par = qs::quantizeParallel(*s, x, rows, cols, "refvector", &arena, nullptr);
        QVERIFY(par.ok());
        QVERIFY(par->data == serial->data);
    }

    void llamaQuantizeTensors_matchOurBytes();
};


// llama-quantize (without an imatrix) wrote the Q5_0 and Q8_0 tensors of stories260K-Q4_K_M.gguf from the F32
// tensors of stories260K.gguf with ggml's reference quantizers: ours must give the same bytes.
void TestGgmlRefvectors::llamaQuantizeTensors_matchOurBytes() {
    QS_REQUIRE_ASSET(f32Path, "models/stories260K-gguf/stories260K.gguf");
    QS_REQUIRE_ASSET(quantPath, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
    auto f32 = qs::openCheckpoint(f32Path.toStdString());
    auto quant = qs::openCheckpoint(quantPath.toStdString());
    QVERIFY2(f32.ok(), f32.ok() ? "" : f32.message().c_str());
    QVERIFY2(quant.ok(), quant.ok() ? "" : quant.message().c_str());
    int compared[2] = {0, 0};  // q5_0, q8_0
    for (size_t i = 0; i < (*quant)->tensors.size(); ++i) {
        const qs::TensorInfo& t = (*quant)->tensors[i];
        const char* scheme = t.dtype == qs::DType::Q5_0 ? "q5_0" : t.dtype == qs::DType::Q8_0 ? "q8_0" : nullptr;
        if (!scheme) continue;
        size_t j = 0;
        while (j < (*f32)->tensors.size() && (*f32)->tensors[j].name != t.name) ++j;
        QVERIFY2(j < (*f32)->tensors.size(), qPrintable(QString::fromStdString("no F32 tensor " + t.name)));
        auto x = (*f32)->toFloat(j);
        QVERIFY(x.ok());
        QCOMPARE(t.shape.size(), size_t(2));
        const auto s = qs::findScheme(scheme);
        QVERIFY(s);
        auto q = s->quantize(*x, t.shape[0], t.shape[1], t.name);
        QVERIFY2(q.ok(), q.ok() ? "" : q.message().c_str());
        auto stored = (*quant)->data(i);
        QVERIFY(stored.ok());
        QByteArray expected(reinterpret_cast<const char*>(stored->bytes.data()), qsizetype(stored->bytes.size()));
        const QString diff = firstByteDifference(expected, q->data);
        QVERIFY2(diff.isEmpty(), qPrintable(QString::fromStdString(t.name + " (" + scheme + "): ") + diff));
        ++compared[t.dtype == qs::DType::Q8_0];
    }
    // The file holds 29 Q5_0 and 3 Q8_0 tensors (shared/ASSETS.md).
    QCOMPARE(compared[0], 29);
    QCOMPARE(compared[1], 3);
}

QTEST_GUILESS_MAIN(TestGgmlRefvectors)
#include "test_ggml_refvectors.moc"
