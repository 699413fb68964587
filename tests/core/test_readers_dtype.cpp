// SPDX-License-Identifier: GPL-3.0-or-later
// The dtype table and the element decoders: sizes, GGUF ids, names, and the bit-level semantics of the small
// float formats (OCP OFP8 E4M3/E5M2, MX E8M0 and FP4 E2M1).
#include <QTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "core/io/checkpoint.h"
#include "core/tensor/dtype.h"
#include "core/tensor/half.h"

using namespace qs;

namespace {

float decode1(DType t, uint8_t byte) {
    std::byte b{byte};
    float out = -12345.0f;
    if (!decodeToFloat(t, std::span<const std::byte>(&b, 1), 1, 0, 0, 1, &out).ok()) return -12345.0f;
    return out;
}

}  // namespace

class TestReadersDtype : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void dtypeTable_ggmlBlockSizes_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("ggmlId");
        QTest::addColumn<int>("blockElems");
        QTest::addColumn<int>("blockBytes");
        // ggml-common.h block structs; ids from enum ggml_type.
        auto row = [](const char* n, DType t, int id, int be, int bb) { QTest::newRow(n) << int(t) << id << be << bb; };
        row("F32", DType::F32, 0, 1, 4);
        row("F16", DType::F16, 1, 1, 2);
        row("Q4_0", DType::Q4_0, 2, 32, 18);
        row("Q4_1", DType::Q4_1, 3, 32, 20);
        row("Q5_0", DType::Q5_0, 6, 32, 22);
        row("Q5_1", DType::Q5_1, 7, 32, 24);
        row("Q8_0", DType::Q8_0, 8, 32, 34);
        row("Q8_1", DType::Q8_1, 9, 32, 36);
        row("Q2_K", DType::Q2_K, 10, 256, 84);
        row("Q3_K", DType::Q3_K, 11, 256, 110);
        row("Q4_K", DType::Q4_K, 12, 256, 144);
        row("Q5_K", DType::Q5_K, 13, 256, 176);
        row("Q6_K", DType::Q6_K, 14, 256, 210);
        row("Q8_K", DType::Q8_K, 15, 256, 292);
        row("IQ2_XXS", DType::IQ2_XXS, 16, 256, 66);
        row("IQ2_XS", DType::IQ2_XS, 17, 256, 74);
        row("IQ3_XXS", DType::IQ3_XXS, 18, 256, 98);
        row("IQ1_S", DType::IQ1_S, 19, 256, 50);
        row("IQ4_NL", DType::IQ4_NL, 20, 32, 18);
        row("IQ3_S", DType::IQ3_S, 21, 256, 110);
        row("IQ2_S", DType::IQ2_S, 22, 256, 82);
        row("IQ4_XS", DType::IQ4_XS, 23, 256, 136);
        row("I8", DType::I8, 24, 1, 1);
        row("I16", DType::I16, 25, 1, 2);
        row("I32", DType::I32, 26, 1, 4);
        row("I64", DType::I64, 27, 1, 8);
        row("F64", DType::F64, 28, 1, 8);
        row("IQ1_M", DType::IQ1_M, 29, 256, 56);
        row("BF16", DType::BF16, 30, 1, 2);
        row("TQ1_0", DType::TQ1_0, 34, 256, 54);
        row("TQ2_0", DType::TQ2_0, 35, 256, 66);
        row("MXFP4", DType::MXFP4, 39, 32, 17);
        row("NVFP4", DType::NVFP4, 40, 64, 36);
        row("Q1_0", DType::Q1_0, 41, 128, 18);
        row("Q2_0", DType::Q2_0, 42, 64, 18);
    }
    void dtypeTable_ggmlBlockSizes() {
        QFETCH(int, type);
        QFETCH(int, ggmlId);
        QFETCH(int, blockElems);
        QFETCH(int, blockBytes);
        const DType t = DType(type);
        QCOMPARE(dtypeInfo(t).ggmlId, ggmlId);
        QCOMPARE(dtypeInfo(t).blockElems, blockElems);
        QCOMPARE(dtypeInfo(t).blockBits, blockBytes * 8);
        QCOMPARE(dtypeFromGgmlId(uint32_t(ggmlId)), std::optional<DType>(t));
        QCOMPARE(dtypeBytes(t, uint64_t(blockElems) * 3), std::optional<uint64_t>(uint64_t(blockBytes) * 3));
        if (blockElems > 1) QCOMPARE(dtypeBytes(t, uint64_t(blockElems) + 1), std::nullopt);
    }

    void dtypeTable_retiredGgmlIdsAreUnknown() {
        for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 43u, 1000u}) QCOMPARE(dtypeFromGgmlId(id), std::nullopt);
    }

    void dtypeTable_safetensorsNamesAndBits_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("bits");
        for (auto [n, b] : std::initializer_list<std::pair<const char*, int>>{
                 {"BOOL", 8}, {"U8", 8}, {"I8", 8}, {"I16", 16}, {"U16", 16}, {"I32", 32}, {"U32", 32},
                 {"I64", 64}, {"U64", 64}, {"F64", 64}, {"F32", 32}, {"F16", 16}, {"BF16", 16}, {"F8_E4M3", 8},
                 {"F8_E5M2", 8}, {"F8_E8M0", 8}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"F4", 4}, {"C64", 64}})
            QTest::newRow(n) << QString(n) << b;
    }
    void dtypeTable_safetensorsNamesAndBits() {
        QFETCH(QString, name);
        QFETCH(int, bits);
        const auto t = dtypeFromSafetensorsName(name.toStdString());
        QVERIFY(t.has_value());
        QCOMPARE(QString::fromStdString(std::string(dtypeName(*t))), name);
        QCOMPARE(dtypeInfo(*t).blockBits, bits);
        // 8 values always fill whole bytes; 3 values of a sub-byte type may not.
        QCOMPARE(dtypeBytes(*t, 8), std::optional<uint64_t>(uint64_t(bits)));
        QCOMPARE(dtypeBytes(*t, 3).has_value(), bits * 3 % 8 == 0);
    }

    void dtypeTable_rejectsBlockNamesAndOverflow() {
        QCOMPARE(dtypeFromSafetensorsName("Q4_K"), std::nullopt);
        QCOMPARE(dtypeFromSafetensorsName("f32"), std::nullopt);
        QCOMPARE(dtypeBytes(DType::F32, uint64_t(1) << 62), std::nullopt);
        QCOMPARE(dtypeBytes(DType::Llama2cQ8, 64), std::nullopt);
        QCOMPARE(llama2cQ8Bytes(64, 8), uint64_t(64 + 8 * 4));
        QCOMPARE(dtypeBytes(DType::F6_E2M3, 4), std::optional<uint64_t>(3));
        QCOMPARE(dtypeBytes(DType::F4_E2M1, 1), std::nullopt);
        std::set<std::string_view> names;
        for (int i = 0; i < int(DType::Count); ++i) names.insert(dtypeName(DType(i)));
        QCOMPARE(names.size(), size_t(DType::Count));  // every name distinct
    }

    // OCP OFP8 v1.0: E4M3 bias 7, no infinity, only S.1111.111 is NaN (max 448); E5M2 is IEEE-like.
    void decode_fp8E4M3_ocpSemantics() {
        QCOMPARE(decode1(DType::F8_E4M3, 0x00), 0.0f);
        QVERIFY(std::signbit(decode1(DType::F8_E4M3, 0x80)));
        QCOMPARE(decode1(DType::F8_E4M3, 0x38), 1.0f);          // e=7, m=0
        QCOMPARE(decode1(DType::F8_E4M3, 0x7E), 448.0f);        // largest finite
        QCOMPARE(decode1(DType::F8_E4M3, 0xFE), -448.0f);
        QCOMPARE(decode1(DType::F8_E4M3, 0x78), 256.0f);        // S.1111.000 is a number, not inf
        QCOMPARE(decode1(DType::F8_E4M3, 0x08), std::ldexp(1.0f, -6));  // smallest normal
        QCOMPARE(decode1(DType::F8_E4M3, 0x01), std::ldexp(1.0f, -9));  // smallest subnormal
        QCOMPARE(decode1(DType::F8_E4M3, 0x07), 7 * std::ldexp(1.0f, -9));
        QVERIFY(std::isnan(decode1(DType::F8_E4M3, 0x7F)));
        QVERIFY(std::isnan(decode1(DType::F8_E4M3, 0xFF)));
        int nans = 0;
        for (int b = 0; b < 256; ++b) {
            const float v = decode1(DType::F8_E4M3, uint8_t(b));
            QVERIFY(!std::isinf(v));
            nans += std::isnan(v);
        }
        QCOMPARE(nans, 2);
    }

    void decode_fp8E5M2_isTopByteOfHalf() {
        QCOMPARE(decode1(DType::F8_E5M2, 0x3C), 1.0f);
        QCOMPARE(decode1(DType::F8_E5M2, 0x7B), 57344.0f);
        QCOMPARE(decode1(DType::F8_E5M2, 0x7C), std::numeric_limits<float>::infinity());
        QVERIFY(std::isnan(decode1(DType::F8_E5M2, 0x7D)));
        QCOMPARE(decode1(DType::F8_E5M2, 0x01), std::ldexp(1.0f, -16));
        for (int b = 0; b < 256; ++b) {
            const float v = decode1(DType::F8_E5M2, uint8_t(b)), h = halfToFloat(uint16_t(b << 8));
            QVERIFY(std::memcmp(&v, &h, 4) == 0 || (std::isnan(v) && std::isnan(h)));
        }
    }

    void decode_e8m0AndFp4() {
        QCOMPARE(decode1(DType::F8_E8M0, 127), 1.0f);
        QCOMPARE(decode1(DType::F8_E8M0, 130), 8.0f);
        QCOMPARE(decode1(DType::F8_E8M0, 0), std::ldexp(1.0f, -127));
        QVERIFY(std::isnan(decode1(DType::F8_E8M0, 0xFF)));
        // FP4 E2M1: two values per byte, the first in the low nibble.
        const std::byte packed[2] = {std::byte{0x72}, std::byte{0xF9}};  // 1.0, 6.0, -0.5, -6.0
        float out[4];
        QVERIFY(decodeToFloat(DType::F4_E2M1, packed, 4, 0, 0, 4, out).ok());
        QCOMPARE(out[0], 1.0f);
        QCOMPARE(out[1], 6.0f);
        QCOMPARE(out[2], -0.5f);
        QCOMPARE(out[3], -6.0f);
        float odd[2];
        QVERIFY(decodeToFloat(DType::F4_E2M1, packed, 4, 0, 1, 2, odd).ok());
        QCOMPARE(odd[0], 6.0f);
        QCOMPARE(odd[1], -0.5f);
    }

    void decode_integersAsValues() {
        const int16_t i16[3] = {-32768, 0, 32767};
        const uint32_t u32[2] = {0, 4000000000u};
        const int64_t i64[2] = {-5, int64_t(1) << 40};
        float out[3];
        QVERIFY(decodeToFloat(DType::I16, std::as_bytes(std::span(i16)), 3, 0, 0, 3, out).ok());
        QCOMPARE(out[0], -32768.0f);
        QCOMPARE(out[2], 32767.0f);
        QVERIFY(decodeToFloat(DType::U32, std::as_bytes(std::span(u32)), 2, 0, 0, 2, out).ok());
        QCOMPARE(out[1], 4e9f);
        QVERIFY(decodeToFloat(DType::I64, std::as_bytes(std::span(i64)), 2, 0, 0, 2, out).ok());
        QCOMPARE(out[0], -5.0f);
        QCOMPARE(out[1], std::ldexp(1.0f, 40));
        const uint8_t bools[2] = {0, 7};
        QVERIFY(decodeToFloat(DType::BOOL, std::as_bytes(std::span(bools)), 2, 0, 0, 2, out).ok());
        QCOMPARE(out[1], 1.0f);
    }

    void decode_halfBf16AndF64() {
        const uint16_t h[2] = {floatToHalf(0.333f), floatToHalf(-2.5f)};
        const uint16_t b[2] = {floatToBf16(3.140625f), floatToBf16(-1.0f)};
        const double d[1] = {0.1};
        float out[2];
        QVERIFY(decodeToFloat(DType::F16, std::as_bytes(std::span(h)), 2, 0, 0, 2, out).ok());
        QCOMPARE(out[0], halfToFloat(h[0]));
        QCOMPARE(out[1], -2.5f);
        QVERIFY(decodeToFloat(DType::BF16, std::as_bytes(std::span(b)), 2, 0, 0, 2, out).ok());
        QCOMPARE(out[0], 3.140625f);
        QCOMPARE(out[1], -1.0f);
        QVERIFY(decodeToFloat(DType::F64, std::as_bytes(std::span(d)), 1, 0, 0, 1, out).ok());
        QCOMPARE(out[0], 0.1f);
    }

    void decode_llama2cQ8GroupsFollowTheCodes() {
        // 16 codes, then 2 fp32 scales (group 8): value i = code[i] * scale[i / 8].
        std::vector<std::byte> buf(16 + 8);
        for (int i = 0; i < 16; ++i) buf[size_t(i)] = std::byte(uint8_t(int8_t(i - 8)));
        const float scales[2] = {0.5f, -2.0f};
        std::memcpy(buf.data() + 16, scales, 8);
        float out[16];
        QVERIFY(decodeToFloat(DType::Llama2cQ8, buf, 16, 8, 0, 16, out).ok());
        for (int i = 0; i < 16; ++i) QCOMPARE(out[i], float(i - 8) * scales[i / 8]);
        QVERIFY(decodeToFloat(DType::Llama2cQ8, buf, 16, 8, 7, 2, out).ok());
        QCOMPARE(out[0], -1 * 0.5f);
        QCOMPARE(out[1], 0 * -2.0f);
    }

    void convertibility_followsTheDequantizers() {
        QVERIFY(dtypeConvertibleToFloat(DType::F8_E4M3));
        QVERIFY(dtypeConvertibleToFloat(DType::Llama2cQ8));
        QVERIFY(dtypeConvertibleToFloat(DType::Q8_0));  // dequantizer present from the start
        QVERIFY(!dtypeConvertibleToFloat(DType::F6_E2M3));
        QVERIFY(!dtypeConvertibleToFloat(DType::C64));
        std::vector<std::byte> q(34);
        float out[32];
        Status s = decodeToFloat(DType::Q8_0, q, 32, 0, 16, 16, out);  // not block-aligned
        QVERIFY(!s.ok());
        QVERIFY(s.message().find("blocks of 32") != std::string::npos);
        QVERIFY(decodeToFloat(DType::Q8_0, q, 32, 0, 0, 32, out).ok());
    }
};

QTEST_GUILESS_MAIN(TestReadersDtype)
#include "test_readers_dtype.moc"
