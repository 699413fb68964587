// SPDX-License-Identifier: GPL-3.0-or-later
// The type table (core/tensor/dtype.h facts + core/ggml/ggml_type_traits.h functions) is consistent:
// names and GGUF ids are unique and ids, block elements and block bytes match ggml's own numbers as the
// reference data lists them (tests/data/ggml-types/index.tsv and ../shared/refvectors/ggml/index.tsv, both
// written by ggml at d99724f2 from ggml_blck_size/ggml_type_size); block bytes equal sizeof the block structs;
// every row with from_float round-trips through its to_float; every vec_dot pairs with a row we can quantize
// activations to; the ggml schemes are exactly the rows that carry a scheme layout. Every check iterates the
// table, so a new row is checked without a test edit.
#include <QTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/assets.h"
#include "core/ggml/ggml_dequant.h"
#include "core/ggml/ggml_quantize.h"
#include "core/ggml/ggml_type_traits.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/quant/scheme.h"
#include "core/tensor/dtype.h"
#include "test_schemes_common.h"

using namespace qs;
using ggml::TypeTraits;

namespace {

struct GgmlFacts {
    int id = -1, blockElems = 0, blockBytes = 0;
};

// ggml type name -> (id, block elements, block bytes) from an index.tsv whose columns 2..5 are type, id,
// block elements, block bytes (both reference indexes share that order).
void readIndex(const std::string& path, std::map<std::string, GgmlFacts>& out) {
    std::ifstream in(path);
    QVERIFY2(in, ("cannot read " + path).c_str());
    std::string line;
    std::getline(in, line);  // column names
    int rows = 0;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string caseName, type;
        GgmlFacts f;
        ls >> caseName >> type >> f.id >> f.blockElems >> f.blockBytes;
        QVERIFY2(ls, ("malformed line in " + path + ": " + line).c_str());
        auto [it, inserted] = out.try_emplace(type, f);
        QVERIFY2(it->second.id == f.id && it->second.blockElems == f.blockElems && it->second.blockBytes == f.blockBytes,
                 (type + " listed with two different layouts").c_str());
        ++rows;
    }
    QVERIFY2(rows > 0, (path + " has no rows").c_str());
}

std::string nameOf(const TypeTraits& r) { return std::string(r.info().name); }

}  // namespace

class TestTypeTable : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void rows_coverEveryDTypeWithUniqueNamesAndIds() {
        const auto table = ggml::typeTraitsTable();
        QCOMPARE(table.size(), size_t(DType::Count));
        std::set<std::string_view> names, ggmlNames;
        std::set<int> ids;
        for (size_t i = 0; i < table.size(); ++i) {
            const TypeTraits& r = table[i];
            QCOMPARE(size_t(r.type), i);
            QCOMPARE(&ggml::typeTraits(r.type), &r);
            QVERIFY2(names.insert(r.info().name).second, nameOf(r).c_str());
            const DTypeInfo& info = r.info();
            QCOMPARE(info.ggmlId >= 0, !info.ggmlName.empty());  // a ggml name exactly when ggml has the type
            if (info.ggmlId < 0) continue;
            QVERIFY2(ggmlNames.insert(info.ggmlName).second, nameOf(r).c_str());
            QVERIFY2(ids.insert(info.ggmlId).second, (nameOf(r) + ": GGUF id used twice").c_str());
            QCOMPARE(dtypeFromGgmlId(uint32_t(info.ggmlId)), std::optional<DType>(r.type));
            QCOMPARE(ggml::findTypeTraits(info.ggmlName), &r);
        }
        QCOMPARE(ggml::findTypeTraits(""), nullptr);
        QCOMPARE(ggml::findTypeTraits("Q4_K"), nullptr);  // ggml's spelling only
    }

    // GGUF ids, block elements and block bytes of every ggml block type (and f16/bf16) as ggml reports them.
    void ggmlRows_matchGgmlReferenceData() {
        std::map<std::string, GgmlFacts> ggml;
        const QString source = qEnvironmentVariable("QS_SOURCE_DIR");
        QVERIFY2(!source.isEmpty(), "QS_SOURCE_DIR is not set (CTest sets it)");
        readIndex(source.toStdString() + "/tests/data/ggml-types/index.tsv", ggml);
        if (QTest::currentTestFailed()) return;
        QS_REQUIRE_ASSET(refIndex, "refvectors/ggml/index.tsv");
        readIndex(refIndex.toStdString(), ggml);
        if (QTest::currentTestFailed()) return;
        for (const auto& [name, f] : ggml) {
            const TypeTraits* r = ggml::findTypeTraits(name);
            QVERIFY2(r, ("ggml type " + name + " has no row").c_str());
            QCOMPARE(r->info().ggmlId, f.id);
            QCOMPARE(r->info().blockElems, f.blockElems);
            QCOMPARE(r->info().blockBits, 8 * f.blockBytes);
        }
        int blockRows = 0;
        for (const TypeTraits& r : ggml::typeTraitsTable()) {
            if (r.info().ggmlId < 0 || r.info().blockElems == 1) continue;
            ++blockRows;
            QVERIFY2(ggml.count(std::string(r.info().ggmlName)), (nameOf(r) + " is in no reference index").c_str());
        }
        QCOMPARE(blockRows, 27);  // ggml.h at d99724f2: 43 ids, minus 9 retired, minus 7 plain types
    }

    // The bytes column is sizeof the block struct the functions read (ggml_blocks.h); the facts' block bits
    // must agree, and every ggml block type has a struct and a to_float.
    void blockBytes_equalBlockStructSizes() {
        for (const TypeTraits& r : ggml::typeTraitsTable()) {
            const DTypeInfo& info = r.info();
            if (info.ggmlId >= 0 && info.blockElems > 1) {
                QVERIFY2(r.blockBytes > 0 && r.toFloat, (nameOf(r) + " has no block struct or to_float").c_str());
            }
            if (r.blockBytes == 0) {
                QVERIFY2(!r.toFloat && !r.fromFloatRef, (nameOf(r) + ": functions without a block size").c_str());
                continue;
            }
            QCOMPARE(r.blockBytes * 8, info.blockBits);
            QVERIFY(r.blockAlign >= 1 && (r.blockAlign & (r.blockAlign - 1)) == 0 && r.blockBytes % r.blockAlign == 0);
        }
    }

    // Quantize a gaussian row with from_float_ref (and from_float: same bytes) and decode with to_float.
    // Block types: relative RMSE within [2^-(b+2), 2^(1.5-b)] for b code bits (the scheme's nominal bits; 8
    // for the activation formats q8_1/q8_K); plain types: every value within 2^-8 relative (bf16 keeps 8
    // significant bits, f16 11).
    void fromFloat_roundTripsThroughToFloat_data() {
        QTest::addColumn<int>("type");
        int rows = 0;
        for (const TypeTraits& r : ggml::typeTraitsTable())
            if (r.fromFloatRef) {
                QTest::newRow(nameOf(r).c_str()) << int(r.type);
                ++rows;
            }
        QVERIFY(rows >= 15);
    }
    void fromFloat_roundTripsThroughToFloat() {
        QFETCH(int, type);
        const TypeTraits& r = ggml::typeTraits(DType(type));
        QVERIFY2(r.toFloat, "a type we quantize to must decode");
        const int64_t n = 4 * 256;
        QVERIFY(n % r.info().blockElems == 0);
        const auto x = qstest::gaussian(size_t(n), 11);
        std::vector<std::byte> ref(size_t(*dtypeBytes(r.type, uint64_t(n)))), fast(ref.size(), std::byte{0x5A});
        QVERIFY(ggml::quantizeRef(r.type, x.data(), ref.data(), n));
        QVERIFY(ggml::quantize(r.type, x.data(), fast.data(), n));
        QVERIFY2(std::memcmp(ref.data(), fast.data(), ref.size()) == 0, "from_float differs from from_float_ref");
        std::vector<float> y(size_t(n), std::nanf(""));
        QVERIFY(ggml::dequantize(r.type, ref.data(), y.data(), n));
        if (r.info().blockElems == 1) {
            for (int64_t i = 0; i < n; ++i)
                QVERIFY2(std::fabs(y[size_t(i)] - x[size_t(i)]) <= std::ldexp(std::fabs(x[size_t(i)]), -8),
                         qPrintable(QString("value %1: %2 -> %3").arg(i).arg(x[size_t(i)]).arg(y[size_t(i)])));
            return;
        }
        double err = 0, ref2 = 0;
        for (int64_t i = 0; i < n; ++i) {
            err += double(y[size_t(i)] - x[size_t(i)]) * double(y[size_t(i)] - x[size_t(i)]);
            ref2 += double(x[size_t(i)]) * double(x[size_t(i)]);
        }
        const double rel = std::sqrt(err / ref2);
        const double bits = r.isScheme() ? r.scheme.nominalBits : 8;
        QVERIFY2(rel >= std::exp2(-bits - 2) && rel <= std::exp2(1.5 - bits),
                 qPrintable(QString("%1: relative RMSE %2 outside the %3-bit band").arg(nameOf(r).c_str()).arg(rel).arg(bits)));
    }

    // A weight type's vec_dot_type is a row we can produce activations of (f32 is the input itself); every
    // native kernel's weight type names one; the activation formats (rows we quantize to that pair with
    // nothing) are some row's vec_dot_type.
    void vecDot_pairsWithARowWeQuantizeTo() {
        std::set<DType> activationTypes;
        int kernels = 0;
        for (const TypeTraits& r : ggml::typeTraitsTable()) {
            for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512, cpu::SimdLevel::Avx512Vnni}) {
                const ggml::DotKernel* k = ggml::findDotKernel(r.type, level);
                if (!k) continue;
                ++kernels;
                QCOMPARE(k->weight, r.type);
                QVERIFY2(r.hasVecDotType() && r.toFloat, (nameOf(r) + ": a kernel without vec_dot_type or to_float").c_str());
                QCOMPARE(k->blockElems() % r.info().blockElems, int64_t(0));
                QCOMPARE(k->blockElems() % dtypeInfo(r.vecDotType).blockElems, int64_t(0));
            }
            if (!r.hasVecDotType()) continue;
            activationTypes.insert(r.vecDotType);
            const TypeTraits& a = ggml::typeTraits(r.vecDotType);
            QVERIFY2(a.type == DType::F32 || (a.fromFloatRef && a.toFloat),
                     (nameOf(r) + ": its vec_dot_type " + nameOf(a) + " cannot be quantized to").c_str());
            QCOMPARE(ggml::activationBytes(a.type, 256), size_t(*dtypeBytes(a.type, 256)));
        }
        QVERIFY(kernels >= 11);
        for (const TypeTraits& r : ggml::typeTraitsTable())
            if (r.fromFloatRef && !r.hasVecDotType())
                QVERIFY2(activationTypes.count(r.type), (nameOf(r) + ": quantized to, but neither weight nor activation type").c_str());
    }

    // The ggml family of the registry is the table's scheme rows: the weight types we quantize to (from_float
    // and a vec_dot_type) with their layout, block types first; names, block sizes and bytes from the table.
    void ggmlSchemes_areTheTableSchemeRows() {
        std::vector<std::string> fromTable;
        for (bool blocks : {true, false})
            for (const TypeTraits& r : ggml::typeTraitsTable()) {
                QCOMPARE(r.isScheme(), r.fromFloatRef != nullptr && r.hasVecDotType());
                if (r.isScheme() && (r.info().blockElems > 1) == blocks) fromTable.emplace_back(r.info().ggmlName);
            }
        // Then the importance-weighted variants of the rows with a weighted quantizer, in the same order.
        for (bool blocks : {true, false})
            for (const TypeTraits& r : ggml::typeTraitsTable())
                if (r.isScheme() && r.fromFloatWeighted && (r.info().blockElems > 1) == blocks)
                    fromTable.push_back(std::string(r.info().ggmlName) + "_im");
        std::vector<std::string> listed;
        for (const auto& s : listSchemes())
            if (s->family() == "ggml") listed.push_back(s->name());
        QCOMPARE(listed, fromTable);
        for (const std::string& name : listed) {
            const TypeTraits& r = *ggml::findSchemeStorage(name);
            const auto scheme = findScheme(name);
            const int64_t be = r.info().blockElems;
            QVERIFY(!scheme->accepts(1, be + 1) || be == 1);
            const ByteBreakdown b = scheme->packedBytes(3, 2 * be);
            QCOMPARE(b.total(), uint64_t(6 * r.blockBytes));
            QCOMPARE(b.payload, uint64_t(6 * r.scheme.payload));
            QVERIFY(r.scheme.scaleBlockElems >= 1 && be % r.scheme.scaleBlockElems == 0);
        }
    }
};

QTEST_GUILESS_MAIN(TestTypeTable)
#include "test_type_table.moc"
