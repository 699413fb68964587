// SPDX-License-Identifier: GPL-3.0-or-later
// Dequantization of the GGUF types QuantScope reads but does not quantize to (q8_1, q8_K, the i-quants,
// tq1_0, tq2_0, mxfp4, nvfp4, q1_0, q2_0) against ggml's own output: tests/data/ggml-types holds ggml's
// packed bytes and ggml's dequantization of them (see its README for how they were produced). Our floats must
// equal ggml's bit for bit; the dtype table must agree with ggml's block sizes; a GGUF holding such tensors
// opens and Checkpoint::toFloat decodes it.
#include <QTemporaryDir>
#include <QTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/ggml/ggml_dequant.h"
#include "core/io/checkpoint.h"
#include "core/io_fixtures.h"
#include "core/tensor/dtype.h"

using namespace qs;

namespace {

struct Case {
    std::string caseName, typeName;
    int ggmlId = -1, blockElems = 0, blockBytes = 0, rows = 0, rowLen = 0;
    uint64_t qBytes = 0;
};

std::string dataDir() {
    const QString source = qEnvironmentVariable("QS_SOURCE_DIR");
    return source.isEmpty() ? std::string() : source.toStdString() + "/tests/data/ggml-types";
}

std::vector<Case> readIndex() {
    std::vector<Case> out;
    std::ifstream in(dataDir() + "/index.tsv");
    std::string line;
    std::getline(in, line);  // column names
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        Case c;
        ls >> c.caseName >> c.typeName >> c.ggmlId >> c.blockElems >> c.blockBytes >> c.rows >> c.rowLen >>
            c.qBytes;
        if (ls) out.push_back(c);
    }
    return out;
}

std::string file(const Case& c, const char* suffix) {
    return qstest::readBytes(dataDir() + "/" + c.caseName + "." + c.typeName + suffix);
}

std::vector<float> floats(const std::string& bytes) {
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& ch : r) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return r;
}

// Index of the first value whose bits differ from ggml's (NaN equals NaN: random scale bits make NaNs whose
// payload ggml's fp16 conversion and ours both keep, but the order of a NaN * NaN product is the compiler's),
// or -1. Counts the NaNs in `nans`.
int64_t firstMismatch(const std::vector<float>& ours, const std::vector<float>& ggml, int64_t& nans) {
    nans = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
        if (std::isnan(ours[i]) && std::isnan(ggml[i])) {
            ++nans;
            continue;
        }
        if (std::bit_cast<uint32_t>(ours[i]) != std::bit_cast<uint32_t>(ggml[i])) return int64_t(i);
    }
    return -1;
}

}  // namespace

class TestGgmlDequantTypes : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(!dataDir().empty(), "QS_SOURCE_DIR is not set (CTest sets it)");
        QVERIFY2(std::filesystem::exists(dataDir() + "/index.tsv"),
                 (dataDir() + "/index.tsv missing").c_str());
        QVERIFY(readIndex().size() >= 16 * 6);
    }

    void dequantize_equalsGgmlBitForBit_data() {
        QTest::addColumn<int>("index");
        const auto cases = readIndex();
        for (size_t i = 0; i < cases.size(); ++i)
            QTest::newRow((cases[i].caseName + "/" + cases[i].typeName).c_str()) << int(i);
    }
    void dequantize_equalsGgmlBitForBit() {
        QFETCH(int, index);
        const Case c = readIndex()[size_t(index)];
        const auto t = dtypeFromGgmlId(uint32_t(c.ggmlId));
        QVERIFY2(t.has_value(), ("ggml id " + std::to_string(c.ggmlId) + " unknown").c_str());
        // The table agrees with ggml's type_traits (name, block elements, block bytes).
        QCOMPARE(std::string(dtypeInfo(*t).ggmlName), c.typeName);
        QCOMPARE(dtypeInfo(*t).blockElems, c.blockElems);
        QCOMPARE(dtypeInfo(*t).blockBits, c.blockBytes * 8);
        const uint64_t n = uint64_t(c.rows) * uint64_t(c.rowLen);
        QCOMPARE(dtypeBytes(*t, n), std::optional<uint64_t>(c.qBytes));
        QVERIFY(ggml::hasDequantizer(*t));
        QVERIFY(dtypeConvertibleToFloat(*t));

        const std::string q = file(c, ".q");
        const std::vector<float> ref = floats(file(c, ".dequant.f32"));
        QCOMPARE(uint64_t(q.size()), c.qBytes);
        QCOMPARE(uint64_t(ref.size()), n);

        // The whole tensor at once, then row by row through decodeToFloat's range path.
        std::vector<float> ours(n, -1.0f);
        QVERIFY(ggml::dequantize(*t, q.data(), ours.data(), int64_t(n)));
        int64_t nans = 0;
        const int64_t bad = firstMismatch(ours, ref, nans);
        QVERIFY2(bad < 0, (c.caseName + "." + c.typeName + ": value " + std::to_string(bad) + " is " +
                           std::to_string(ours[size_t(std::max<int64_t>(bad, 0))]) + ", ggml " +
                           std::to_string(ref[size_t(std::max<int64_t>(bad, 0))]))
                              .c_str());
        if (c.caseName != "random_bytes") QCOMPARE(nans, int64_t(0));
        // The same bytes at an odd address (a GGUF may declare general.alignment 1) decode to the same
        // floats.
        std::vector<uint32_t> storage(q.size() / 4 + 2);
        char* odd = reinterpret_cast<char*>(storage.data()) + 1;
        std::memcpy(odd, q.data(), q.size());
        std::vector<float> fromOdd(n, -1.0f);
        QVERIFY(ggml::dequantize(*t, odd, fromOdd.data(), int64_t(n)));
        QVERIFY(std::memcmp(fromOdd.data(), ours.data(), n * 4) == 0);
        const auto bytes = std::as_bytes(std::span(q.data(), q.size()));
        std::vector<float> row(size_t(c.rowLen));
        for (int r = 0; r < c.rows; ++r) {
            const uint64_t first = uint64_t(r) * uint64_t(c.rowLen);
            QVERIFY(decodeToFloat(*t, bytes, n, 0, first, uint64_t(c.rowLen), row.data()).ok());
            QVERIFY(std::memcmp(row.data(), ours.data() + first, row.size() * 4) == 0);
        }
    }

    // Every ggml block type of the table (all ids ggml defines at the commit the data names) decodes; the
    // types without files here (q4_0 .. q6_K, iq4_nl) are checked bit for bit by test_ggml_refvectors.
    void dtypeTable_everyGgmlBlockTypeDecodes() {
        std::set<std::string> withData;
        for (const Case& c : readIndex()) withData.insert(lower(c.typeName));
        const std::set<std::string> legacy = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0",  "q2_k",
                                              "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl"};
        int blockTypes = 0;
        for (int i = 0; i < int(DType::Count); ++i) {
            const DTypeInfo& info = dtypeInfo(DType(i));
            if (info.ggmlId < 0 || info.blockElems == 1) continue;
            ++blockTypes;
            const std::string name = lower(info.name);
            QVERIFY2(ggml::hasDequantizer(DType(i)), name.c_str());
            QVERIFY2(withData.count(name) || legacy.count(name), (name + " has no reference data").c_str());
        }
        QCOMPARE(blockTypes, 27);  // ggml.h at d99724f2: 43 ids, minus 9 retired, minus 7 plain types
        // ggml's GGML_TYPE_COUNT is 43: the next id is unknown and a file using it is refused by id.
        QCOMPARE(dtypeFromGgmlId(43), std::nullopt);
    }

    // A GGUF holding one tensor of each type (ggml's bytes of the gaussian case) opens, and
    // Checkpoint::toFloat decodes every tensor to ggml's floats, whole and by row range.
    void gguf_withEveryTypeOpensAndDecodes() {
        std::vector<qstest::GgufTensor> tensors;
        std::map<std::string, Case> byName;
        for (const Case& c : readIndex()) {
            if (c.caseName != "gaussian") continue;
            const std::string name = "blk.0." + c.typeName + ".weight";
            tensors.push_back({name, {uint64_t(c.rowLen), uint64_t(c.rows)}, uint32_t(c.ggmlId), file(c, ".q")});
            byName[name] = c;
        }
        QCOMPARE(tensors.size(), size_t(16));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString() + "/types.gguf";
        qstest::writeBytes(path, qstest::makeGguf(nlohmann::ordered_json::object(), tensors));
        auto ck = openCheckpoint(path);
        QVERIFY2(ck.ok(), ck.ok() ? "" : ck.error().message.c_str());
        QCOMPARE((*ck)->tensors.size(), tensors.size());
        for (const auto& [name, c] : byName) {
            const int i = (*ck)->find(name);
            QVERIFY2(i >= 0, name.c_str());
            QCOMPARE(int((*ck)->tensors[size_t(i)].dtype), int(*dtypeFromGgmlId(uint32_t(c.ggmlId))));
            auto v = (*ck)->toFloat(size_t(i));
            QVERIFY2(v.ok(), v.ok() ? "" : v.error().message.c_str());
            const std::vector<float> ref = floats(file(c, ".dequant.f32"));
            QCOMPARE(v->size(), ref.size());
            QVERIFY2(std::memcmp(v->data(), ref.data(), ref.size() * 4) == 0, name.c_str());
            std::vector<float> lastRow(size_t(c.rowLen));
            const uint64_t first = uint64_t(c.rows - 1) * uint64_t(c.rowLen);
            QVERIFY((*ck)->toFloat(size_t(i), first, uint64_t(c.rowLen), lastRow.data()).ok());
            QVERIFY(std::memcmp(lastRow.data(), ref.data() + first, lastRow.size() * 4) == 0);
        }
    }
};

QTEST_GUILESS_MAIN(TestGgmlDequantTypes)
#include "test_ggml_dequant_types.moc"
