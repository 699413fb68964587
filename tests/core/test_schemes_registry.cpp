// SPDX-License-Identifier: GPL-3.0-or-later
// The registry and the formats' fixed facts: name grammar and errors, effective bits per weight, the
// published code tables, exhaustive dequantization of small code spaces, and whole-tensor parallel
// quantization (identical bytes for any thread count, progress, cancellation).
#include <tbb/task_arena.h>

#include <QTest>

#include <cstring>
#include <set>

#include "common/test_arena.h"
#include "core/ggml/ggml_blocks.h"
#include "core/quant/bnb/bnb4_tables.h"
#include "core/quant/quantize_parallel.h"
#include "core/tensor/half.h"
#include "test_schemes_common.h"

namespace {
qs::QuantizedTensor packed(const qs::Scheme& s, int64_t rows, int64_t cols, const std::vector<uint8_t>& bytes) {
    qs::QuantizedTensor q;
    q.scheme = s.name();
    q.rows = rows;
    q.cols = cols;
    q.bytes = s.packedBytes(rows, cols);
    q.data.resize(bytes.size());
    std::memcpy(q.data.data(), bytes.data(), bytes.size());
    return q;
}
}  // namespace

class TestSchemesRegistry : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parse_canonicalisesNames_data() {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<QString>("canonical");
        QTest::newRow("ggml") << "q4_K" << "q4_K";
        QTest::newRow("ggml upper") << "Q4_K" << "q4_K";
        QTest::newRow("ggml lower") << "q6_k" << "q6_K";
        QTest::newRow("iq4_nl") << "IQ4_NL" << "iq4_nl";
        QTest::newRow("int row") << "int4" << "int4";
        QTest::newRow("int group") << "int4_g128" << "int4_g128";
        QTest::newRow("int sym") << "int8_sym" << "int8_sym";
        QTest::newRow("option order") << "int4_sym_g128" << "int4_g128_sym";
        QTest::newRow("int col") << "int3_col" << "int3_col";
        QTest::newRow("int tensor") << "int2_tensor_sym" << "int2_tensor_sym";
        QTest::newRow("nf4") << "nf4" << "nf4";
        QTest::newRow("nf4 default block") << "nf4_g64" << "nf4";
        QTest::newRow("fp4 dq block") << "fp4_g128_dq" << "fp4_dq_g128";
    }
    void parse_canonicalisesNames() {
        QFETCH(QString, typed);
        QFETCH(QString, canonical);
        auto s = qs::parseScheme(typed.toStdString());
        QVERIFY2(s.ok(), s.ok() ? "" : s.message().c_str());
        QCOMPARE(QString::fromStdString((*s)->name()), canonical);
        QCOMPARE(qs::findScheme(canonical.toStdString()).get(), s->get());  // one shared instance
    }

    void parse_rejectsMalformedNamesListingValidForms_data() {
        QTest::addColumn<QString>("typed");
        for (const char* bad : {"foo", "q4_2", "int9", "int1", "int4_g0", "int4_g128_col", "int4_sym_sym",
                                "int4_x", "nf4_g63", "nf4_dq_dq", "fp4_g", "", "int"})
            QTest::newRow(bad) << bad;
    }
    void parse_rejectsMalformedNamesListingValidForms() {
        QFETCH(QString, typed);
        auto s = qs::parseScheme(typed.toStdString());
        QVERIFY(!s.ok());
        const QString msg = QString::fromStdString(s.message());
        QVERIFY2(msg.contains("q4_K") && msg.contains("int<2-8>") && msg.contains("nf4_dq"), qPrintable(msg));
        QVERIFY(!qs::findScheme(typed.toStdString()));
    }

    // ggml's names of types the readers take and decode but no scheme writes (ggml-org/ggml d99724f2: iq2_xxs,
    // iq1_s and iq1_m have from_float_ref NULL; QuantScope also offers no iq3_*, iq2_s, tq*, mxfp4 scheme) are
    // named as such, pointing at `quantscope-cli types`; other unknown names keep "unknown quantization scheme".
    void parse_readOnlyGgmlTypeNamedAsReadable_data() {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<QString>("quoted");
        QTest::newRow("iq2_xxs") << "iq2_xxs" << "'iq2_xxs' is a ggml type";
        QTest::newRow("IQ2_XXS") << "IQ2_XXS" << "'IQ2_XXS' is a ggml type";
        QTest::newRow("tq1_0") << "tq1_0" << "'tq1_0' is a ggml type";
        QTest::newRow("iq3_s") << "iq3_s" << "'iq3_s' is a ggml type";
        QTest::newRow("mxfp4") << "mxfp4" << "'mxfp4' is a ggml type";
        QTest::newRow("q8_K") << "q8_K" << "'q8_K' is a ggml type";
        QTest::newRow("iq1_m_im") << "iq1_m_im" << "'iq1_m_im': iq1_m is a ggml type";
    }
    void parse_readOnlyGgmlTypeNamedAsReadable() {
        QFETCH(QString, typed);
        QFETCH(QString, quoted);
        auto s = qs::parseScheme(typed.toStdString());
        QVERIFY(!s.ok());
        const QString msg = QString::fromStdString(s.message());
        QVERIFY2(msg.startsWith(quoted + " QuantScope reads and decodes but does not quantize to "
                                         "(`quantscope-cli types` lists what each type supports); valid forms: "),
                 qPrintable(msg));
        QVERIFY2(!msg.contains("unknown quantization scheme"), qPrintable(msg));
        QVERIFY2(msg.contains("q4_K") && msg.contains("int<2-8>"), qPrintable(msg));
    }
    void parse_otherUnknownNamesStayUnknown() {
        for (const char* name : {"foo4", "q9_9", "iq2_xxx", "iq4_nl_x"}) {
            auto s = qs::parseScheme(name);
            QVERIFY(!s.ok());
            const QString msg = QString::fromStdString(s.message());
            QVERIFY2(msg.startsWith(QString("unknown quantization scheme '%1'; valid forms: ").arg(name)),
                     qPrintable(msg));
            QVERIFY2(!msg.contains("is a ggml type"), qPrintable(msg));
        }
    }

    void listSchemes_namesUniqueAndFindable() {
        const auto all = qs::listSchemes();
        QVERIFY(all.size() >= 13 + 4 + 4);
        std::set<std::string> names;
        for (const auto& s : all) {
            QVERIFY(names.insert(s->name()).second);
            QCOMPARE(qs::findScheme(s->name()).get(), s.get());
            QVERIFY(!s->description().empty() && !s->family().empty());
        }
        for (const char* ggml : {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K",
                                 "iq4_nl", "f16", "bf16"})
            QVERIFY2(names.count(ggml), ggml);
    }

    void rejectReason_namesRowLengthAndBlock() {
        QCOMPARE(QString::fromStdString(qs::findScheme("q4_0")->rejectReason(4, 172)),
                 QString("row length 172 is not a multiple of q4_0's block of 32"));
        QCOMPARE(QString::fromStdString(qs::findScheme("q4_K")->rejectReason(4, 512 + 32)),
                 QString("row length 544 is not a multiple of q4_K's block of 256"));
        QCOMPARE(QString::fromStdString(qs::findScheme("int4_g128")->rejectReason(4, 200)),
                 QString("row length 200 is not a multiple of int4_g128's group of 128"));
        QVERIFY(qs::findScheme("int4")->accepts(3, 173));
        QVERIFY(qs::findScheme("nf4")->accepts(3, 173));
        const std::vector<float> x(4 * 172, 1.0f);
        auto q = qs::findScheme("q4_0")->quantize(x, 4, 172, "token_embd.weight");
        QVERIFY(!q.ok());
        QVERIFY(QString::fromStdString(q.message()).contains("token_embd.weight"));
        QVERIFY(QString::fromStdString(q.message()).contains("not a multiple of q4_0's block of 32"));
    }

    void effectiveBitsPerWeight_matchFormats_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<double>("bits");
        QTest::addColumn<double>("tolerance");
        QTest::newRow("q4_0") << "q4_0" << 4.5 << 0.0;
        QTest::newRow("q4_1") << "q4_1" << 5.0 << 0.0;
        QTest::newRow("q5_0") << "q5_0" << 5.5 << 0.0;
        QTest::newRow("q5_1") << "q5_1" << 6.0 << 0.0;
        QTest::newRow("q8_0") << "q8_0" << 8.5 << 0.0;
        QTest::newRow("q2_K") << "q2_K" << 2.625 << 0.0;
        QTest::newRow("q3_K") << "q3_K" << 3.4375 << 0.0;
        QTest::newRow("q4_K") << "q4_K" << 4.5 << 0.0;
        QTest::newRow("q5_K") << "q5_K" << 5.5 << 0.0;
        QTest::newRow("q6_K") << "q6_K" << 6.5625 << 0.0;
        QTest::newRow("iq4_nl") << "iq4_nl" << 4.5 << 0.0;
        QTest::newRow("f16") << "f16" << 16.0 << 0.0;
        QTest::newRow("bf16") << "bf16" << 16.0 << 0.0;
        QTest::newRow("nf4 (fp32 absmax per 64)") << "nf4" << 4.5 << 0.0;
        QTest::newRow("fp4") << "fp4" << 4.5 << 0.0;
        QTest::newRow("nf4_dq") << "nf4_dq" << 4.127 << 0.0005;
        QTest::newRow("int4_g128: fp16 scale + 4-bit zero") << "int4_g128" << 4.0 + 20.0 / 128 << 0.0;
        QTest::newRow("int4_g128_sym") << "int4_g128_sym" << 4.125 << 0.0;
        QTest::newRow("int8_sym per row") << "int8_sym" << 8.0 + 16.0 / 4096 << 0.0;
        QTest::newRow("int3_g64") << "int3_g64" << 3.0 + 19.0 / 64 << 0.0;
    }
    void effectiveBitsPerWeight_matchFormats() {
        QFETCH(QString, name);
        QFETCH(double, bits);
        QFETCH(double, tolerance);
        const auto s = qs::findScheme(name.toStdString());
        QVERIFY(s);
        const int64_t rows = 4096, cols = 4096;
        const double bpw = 8.0 * double(s->packedBytes(rows, cols).total()) / double(rows * cols);
        QVERIFY2(std::fabs(bpw - bits) <= tolerance, qPrintable(QString("%1 bits per weight").arg(bpw, 0, 'g', 10)));
    }

    // Published values: NF4 from the QLoRA paper / bitsandbytes, FP4 from bitsandbytes' e2m1 tree.
    void codeTables_equalPublishedBitsandbytesValues() {
        const double nf4[16] = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};
        const double fp4[8] = {0.0, 0.005208333333, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25};
        for (int i = 0; i < 16; ++i) {
            QCOMPARE(qs::bnb::kNf4Values[i], float(nf4[i]));
            QCOMPARE(qs::bnb::kFp4Values[i], float((i < 8 ? 1 : -1) * fp4[i % 8]));
            QCOMPARE(std::signbit(qs::bnb::kFp4Values[i]), i >= 8);
        }
        const auto& map = qs::bnb::dynamicMap8();
        QVERIFY(std::is_sorted(map.begin(), map.end()));
        QCOMPARE(map[255], 1.0f);
        QVERIFY(std::count(map.begin(), map.end(), 0.0f) == 1);
        QVERIFY(std::fabs(map[0] + 0.99297f) < 1e-4f);  // -10^0 * mean(0.98594, 1) of the finest decade
    }

    void nearestCode_picksNearestTableValue() {
        for (int i = -1000; i <= 1000; ++i) {
            const float x = float(i) / 1000.0f;
            auto nearest = [&](const float* t) {
                int best = 0;
                for (int k = 1; k < 16; ++k)
                    if (std::fabs(t[k] - x) < std::fabs(t[best] - x)) best = k;
                return t[best];
            };
            QCOMPARE(qs::bnb::kNf4Values[qs::bnb::nearestNf4(x)], nearest(qs::bnb::kNf4Values));
            QCOMPARE(std::fabs(qs::bnb::kFp4Values[qs::bnb::nearestFp4(x)]), std::fabs(nearest(qs::bnb::kFp4Values)));
        }
    }

    // Every byte value of a block decodes per the format definition.
    void exhaustiveCodes_ggmlLegacyAndIq4nl() {
        const uint16_t one = qs::floatToHalf(1.0f), half = qs::floatToHalf(0.5f);
        auto block = [&](const char* name, std::vector<uint8_t> b) {
            const auto s = qs::findScheme(name);
            std::vector<float> y(32);
            s->dequantize(packed(*s, 1, 32, b), y.data());
            return y;
        };
        for (int v = 0; v < 256; ++v) {
            std::vector<uint8_t> q40(18, uint8_t(v)), q41(20, uint8_t(v)), q50(22, uint8_t(v)), iq(18, uint8_t(v));
            std::memcpy(q40.data(), &one, 2);
            std::memcpy(iq.data(), &half, 2);
            std::memcpy(q41.data(), &one, 2);
            std::memcpy(q41.data() + 2, &half, 2);
            std::memcpy(q50.data(), &one, 2);
            const auto y40 = block("q4_0", q40), y41 = block("q4_1", q41), y50 = block("q5_0", q50), yiq = block("iq4_nl", iq);
            for (int j = 0; j < 16; ++j) {
                QCOMPARE(y40[j], float((v & 15) - 8));
                QCOMPARE(y40[j + 16], float((v >> 4) - 8));
                QCOMPARE(y41[j], float(v & 15) + 0.5f);
                QCOMPARE(y41[j + 16], float(v >> 4) + 0.5f);
                QCOMPARE(yiq[j], 0.5f * qs::ggml::kIq4nlValues[v & 15]);
                QCOMPARE(yiq[j + 16], 0.5f * qs::ggml::kIq4nlValues[v >> 4]);
            }
            // q5_0 with qh = 0xff repeated: bit 4 is set for values 0..7 and 16..23 (qh bytes 0 and 2).
            for (int j = 0; j < 16; ++j) {
                const int h0 = ((v >> (j % 8)) & 1) ? 16 : 0;
                QCOMPARE(y50[j], float((v & 15) + h0 - 16));
            }
            std::vector<uint8_t> q80(34, uint8_t(v));
            std::memcpy(q80.data(), &one, 2);
            const auto y80 = block("q8_0", q80);
            for (int j = 0; j < 32; ++j) QCOMPARE(y80[j], float(int8_t(v)));
        }
    }

    void exhaustiveCodes_nf4AndFp4() {
        for (const char* name : {"nf4", "fp4"}) {
            const auto s = qs::findScheme(name);
            const float* table = std::string(name) == "nf4" ? qs::bnb::kNf4Values : qs::bnb::kFp4Values;
            // One block of 64 values with absmax 2.0; codes cycle through every byte value.
            std::vector<uint8_t> b(32 + 4);
            for (int v = 0; v < 256; v += 32) {
                for (int k = 0; k < 32; ++k) b[size_t(k)] = uint8_t(v + k);
                const float absmax = 2.0f;
                std::memcpy(b.data() + 32, &absmax, 4);
                std::vector<float> y(64);
                s->dequantize(packed(*s, 1, 64, b), y.data());
                for (int k = 0; k < 32; ++k) {
                    QCOMPARE(y[size_t(2 * k)], table[(v + k) >> 4] * 2.0f);
                    QCOMPARE(y[size_t(2 * k + 1)], table[(v + k) & 15] * 2.0f);
                }
            }
        }
    }

    void exhaustiveCodes_rtn() {
        for (int bits = 2; bits <= 4; ++bits) {
            for (bool sym : {false, true}) {
                const auto s = qs::findScheme("int" + std::to_string(bits) + (sym ? "_sym" : ""));
                const int n = 1 << bits, cols = 8 * n;  // every code, eight times over: whole bytes
                std::vector<uint8_t> codes(static_cast<size_t>(cols));
                for (int i = 0; i < cols; ++i) codes[size_t(i)] = uint8_t(i % n);
                std::vector<uint8_t> rec(s->packedBytes(1, cols).total(), 0);
                uint64_t bit = 0;  // LSB-first b-bit stream
                for (int i = 0; i < cols; ++i, bit += uint64_t(bits))
                    for (int k = 0; k < bits; ++k)
                        if ((codes[size_t(i)] >> k) & 1) rec[(bit + uint64_t(k)) / 8] |= uint8_t(1u << ((bit + uint64_t(k)) % 8));
                const uint64_t codeBytes = (uint64_t(cols) * uint64_t(bits) + 7) / 8;
                const uint16_t scale = qs::floatToHalf(0.25f);
                std::memcpy(rec.data() + codeBytes, &scale, 2);
                const int zero = 1;
                if (!sym) rec[codeBytes + 2] = uint8_t(zero);
                std::vector<float> y(static_cast<size_t>(cols));
                s->dequantize(packed(*s, 1, cols, rec), y.data());
                for (int i = 0; i < cols; ++i) {
                    const int z = sym ? (1 << (bits - 1)) : zero;
                    QCOMPARE(y[size_t(i)], float(int(codes[size_t(i)]) - z) * 0.25f);
                }
            }
        }
    }

    void quantizeParallel_identicalForAnyThreadCount_data() {
        QTest::addColumn<QString>("name");
        for (const auto& s : qstest::schemesUnderTest()) QTest::newRow(s->name().c_str()) << QString::fromStdString(s->name());
    }
    void quantizeParallel_identicalForAnyThreadCount() {
        QFETCH(QString, name);
        const auto s = qs::findScheme(name.toStdString());
        const int64_t rows = 67, cols = 512;  // odd row count; nf4 blocks and rows interleave unevenly
        const auto x = qstest::gaussian(size_t(rows * cols), 21);
        auto serial = qstest::quantizeAny(*s, x, rows, cols, "t");
        QVERIFY(serial.ok());
        for (int threads : {0, 1, 2, 3}) {  // 0: no arena, serially on this thread
            tbb::task_arena arena(std::max(threads, 1));
            double last = -1;
            qs::ProgressSink sink([&](double f, std::string_view) {
                last = std::max(last, f);
                return true;
            });
            auto par = qs::quantizeParallel(*s, x, rows, cols, "t", threads > 0 ? &arena : nullptr, &sink,
                                            qstest::calibrationFor(*s, cols));
            QVERIFY(par.ok());
            QVERIFY2(par->data == serial->data, qPrintable(QString("%1 threads").arg(threads)));
            QCOMPARE(last, 1.0);
        }
    }

    void quantizeParallel_cancelsOnRequest() {
        const auto s = qs::findScheme("q4_K");
        const auto x = qstest::gaussian(256 * 1024, 3);
        int calls = 0;
        qs::ProgressSink sink([&](double, std::string_view) { return ++calls < 3; });
        tbb::task_arena arena(2);
        auto r = qs::quantizeParallel(*s, x, 256, 1024, "t", &arena, &sink);
        QVERIFY(!r.ok());
        QCOMPARE(QString::fromStdString(r.message()), QString::fromUtf8(qs::kCancelledMessage.data(), qsizetype(qs::kCancelledMessage.size())));
    }
};

QTEST_GUILESS_MAIN(TestSchemesRegistry)
#include "test_schemes_registry.moc"
