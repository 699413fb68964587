// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli types`: the JSON parses, lists every GGUF type id ggml defines exactly once, and its facts agree
// with ggml's own type table (ggml-org/ggml d99724f2: include/ggml.h enum ggml_type for the ids, src/ggml.c
// type_traits for blck_size and type_size = sizeof(block_*) as src/ggml-common.h's static_asserts fix them,
// src/ggml-cpu/ggml-cpu.c type_traits_cpu for vec_dot_type). The read-only ggml types are refused by quant-raw
// naming them as readable and pointing at `types`; other unknown names stay "unknown quantization scheme".
#include <QTest>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"

using qstest::runCli;

namespace {

// GGUF ids ggml-org/ggml d99724f2 defines (include/ggml.h: 0..42 without the removed 4, 5, 31..33, 36..38).
const std::set<int> kGgmlIds = {0,  1,  2,  3,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 34, 35, 39, 40, 41, 42};

struct GgmlFacts {
    int id, blockElems, blockBytes;
    const char* vecDotType;  // type_traits_cpu[type].vec_dot_type; nullptr: ggml-cpu sets none
};

// ggml.c type_traits[] (blck_size, type_size) with ggml-common.h's block sizes; ggml-cpu.c's vec_dot_type.
const std::map<std::string, GgmlFacts> kGgml = {
    {"f32", {0, 1, 4, "f32"}},          {"f16", {1, 1, 2, "f16"}},         {"bf16", {30, 1, 2, "bf16"}},
    {"q4_0", {2, 32, 18, "q8_0"}},      {"q4_1", {3, 32, 20, "q8_1"}},     {"q5_0", {6, 32, 22, "q8_0"}},
    {"q5_1", {7, 32, 24, "q8_1"}},      {"q8_0", {8, 32, 34, "q8_0"}},     {"q8_1", {9, 32, 36, "q8_1"}},
    {"q2_K", {10, 256, 84, "q8_K"}},    {"q3_K", {11, 256, 110, "q8_K"}},  {"q4_K", {12, 256, 144, "q8_K"}},
    {"q5_K", {13, 256, 176, "q8_K"}},   {"q6_K", {14, 256, 210, "q8_K"}},  {"q8_K", {15, 256, 292, nullptr}},
    {"iq2_xxs", {16, 256, 66, "q8_K"}}, {"iq2_xs", {17, 256, 74, "q8_K"}}, {"iq3_xxs", {18, 256, 98, "q8_K"}},
    {"iq1_s", {19, 256, 50, "q8_K"}},   {"iq4_nl", {20, 32, 18, "q8_0"}},  {"iq3_s", {21, 256, 110, "q8_K"}},
    {"iq2_s", {22, 256, 82, "q8_K"}},   {"iq4_xs", {23, 256, 136, "q8_K"}}, {"iq1_m", {29, 256, 56, "q8_K"}},
    {"tq1_0", {34, 256, 54, "q8_K"}},   {"tq2_0", {35, 256, 66, "q8_K"}},  {"mxfp4", {39, 32, 17, "q8_0"}},
    {"nvfp4", {40, 64, 36, "q8_0"}},    {"q1_0", {41, 128, 18, "q8_0"}},   {"q2_0", {42, 64, 18, "q8_0"}},
    {"i8", {24, 1, 1, nullptr}},        {"i16", {25, 1, 2, nullptr}},      {"i32", {26, 1, 4, nullptr}},
    {"i64", {27, 1, 8, nullptr}},       {"f64", {28, 1, 8, nullptr}},
};

nlohmann::json typesJson(const QByteArray& simd = {}) {
    const QByteArray old = qgetenv("QS_SIMD");
    if (!simd.isEmpty()) qputenv("QS_SIMD", simd);
    auto r = runCli({"types", "--json"});
    if (!simd.isEmpty()) {
        if (old.isNull()) qunsetenv("QS_SIMD");
        else qputenv("QS_SIMD", old);
    }
    if (r.exitCode != 0 || r.crashed) return {};
    return nlohmann::json::parse(r.out.toStdString(), nullptr, false);
}

// The rows with a ggml name, by that name.
std::map<std::string, nlohmann::json> byGgmlName(const nlohmann::json& j) {
    std::map<std::string, nlohmann::json> out;
    for (const auto& t : j["types"])
        if (!t["ggml_name"].is_null()) out[t["ggml_name"].get<std::string>()] = t;
    return out;
}

}  // namespace

class TestCliTypes : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void json_oneRowPerGgufIdOfGgml() {
        const auto j = typesJson();
        QVERIFY(j.is_object() && j["types"].is_array());
        QVERIFY(j["simd"].is_string());
        std::multiset<int> ids;
        for (const auto& t : j["types"]) {
            for (const char* key : {"name", "ggml_name", "gguf_id", "block_elems", "block_bytes", "bits_per_weight",
                                    "decode", "quantize", "quantize_weighted", "vec_dot_type", "repacked"})
                QVERIFY2(t.contains(key), (t.dump() + " lacks " + key).c_str());
            QCOMPARE(t["gguf_id"].is_null(), t["ggml_name"].is_null());
            if (!t["gguf_id"].is_null()) ids.insert(t["gguf_id"].get<int>());
        }
        QCOMPARE(std::set<int>(ids.begin(), ids.end()), kGgmlIds);
        QCOMPARE(ids.size(), kGgmlIds.size());  // each id once
        QCOMPARE(byGgmlName(j).size(), kGgml.size());
    }

    // Ids, block elements and bytes, bits per weight as ggml defines them; every GGUF type decodes (README: every
    // ggml tensor type is read, the block types bit-exactly); the native dot's activation type, where the engine
    // has one, is ggml's vec_dot_type.
    void json_factsAgreeWithGgml() {
        const auto rows = byGgmlName(typesJson());
        QVERIFY(!rows.empty());
        for (const auto& [name, f] : kGgml) {
            QVERIFY2(rows.count(name), name.c_str());
            const auto& t = rows.at(name);
            const std::string ctx = name + ": " + t.dump();
            QVERIFY2(t["gguf_id"].get<int>() == f.id, ctx.c_str());
            QVERIFY2(t["block_elems"].get<int>() == f.blockElems, ctx.c_str());
            QVERIFY2(t["block_bytes"].get<double>() == f.blockBytes, ctx.c_str());
            QVERIFY2(t["bits_per_weight"].get<double>() == 8.0 * f.blockBytes / f.blockElems, ctx.c_str());
            QVERIFY2(t["decode"].get<bool>(), ctx.c_str());
            if (!t["vec_dot_type"].is_null())
                QVERIFY2(f.vecDotType && t["vec_dot_type"].get<std::string>() == f.vecDotType, ctx.c_str());
        }
        // Spot values from ggml-common.h: q4_K 144 bytes per 256 (4.5 bpw), iq2_xxs 66 (2.0625), tq1_0 54 (1.6875).
        QCOMPARE(rows.at("q4_K")["bits_per_weight"].get<double>(), 4.5);
        QCOMPARE(rows.at("iq2_xxs")["bits_per_weight"].get<double>(), 2.0625);
        QCOMPARE(rows.at("tq1_0")["bits_per_weight"].get<double>(), 1.6875);
    }

    // What is quantized to: ggml's weight schemes QuantScope writes byte-exactly, with the _im variant where
    // ggml's quantize_<type> uses quant_weights (q4_K yes; quantize_q8_0 ignores them); the i-quants below 4 bits,
    // ternary and FP4 types are read only, and q8_1/q8_K are activation formats, not schemes.
    void json_quantizeColumns() {
        const auto rows = byGgmlName(typesJson());
        QVERIFY(!rows.empty());
        for (const char* readOnly : {"iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m", "tq1_0",
                                     "tq2_0", "mxfp4", "q8_1", "q8_K", "f32"}) {
            QVERIFY2(!rows.at(readOnly)["quantize"].get<bool>(), readOnly);
            QVERIFY2(rows.at(readOnly)["quantize_weighted"].is_null(), readOnly);
        }
        for (const char* written : {"q4_0", "q8_0", "q4_K", "q6_K", "iq4_nl", "iq4_xs", "f16", "bf16"})
            QVERIFY2(rows.at(written)["quantize"].get<bool>(), written);
        QCOMPARE(rows.at("q4_K")["quantize_weighted"], nlohmann::json("q4_K_im"));
        QCOMPARE(rows.at("iq4_xs")["quantize_weighted"], nlohmann::json("iq4_xs_im"));
        QVERIFY(rows.at("q8_0")["quantize_weighted"].is_null());
        QVERIFY(rows.at("f16")["quantize_weighted"].is_null());
    }

    // Repacking is the AVX2-and-up GEMM of q8_0, q4_0, q4_K and q6_K (ggml_repack.h); QS_SIMD=scalar has none, and
    // no native dot pairs a type ggml-cpu gives no vec_dot_type.
    void json_repackedFollowsTheSimdLevel() {
        const auto scalar = typesJson("scalar");
        QVERIFY(scalar.is_object());
        QCOMPARE(scalar["simd"], nlohmann::json("scalar"));
        for (const auto& t : scalar["types"]) QVERIFY2(!t["repacked"].get<bool>(), t.dump().c_str());
        const auto rows = byGgmlName(scalar);
        QCOMPARE(rows.at("q4_K")["vec_dot_type"], nlohmann::json("q8_K"));
        QVERIFY(rows.at("iq2_xxs")["vec_dot_type"].is_null());  // dequantized by the engine
        // q8_1 and q8_K are written only as activations (ggml's from_float, no scheme).
        QCOMPARE(rows.at("q8_K")["activations_only"], nlohmann::json(true));
        QCOMPARE(rows.at("q8_1")["activations_only"], nlohmann::json(true));
        QCOMPARE(rows.at("q4_K")["activations_only"], nlohmann::json(false));
        QCOMPARE(rows.at("iq2_xxs")["activations_only"], nlohmann::json(false));
        const auto native = typesJson();
        std::set<std::string> repacked;
        for (const auto& t : native["types"])
            if (t["repacked"].get<bool>()) repacked.insert(t["ggml_name"].get<std::string>());
        const std::set<std::string> all = {"q4_0", "q8_0", "q4_K", "q6_K"};
        QVERIFY(repacked.empty() || repacked == all);
        QCOMPARE(repacked.empty(), native["simd"] == nlohmann::json("scalar"));
    }

    void text_listsTableAndParameterisedFamilies() {
        auto r = runCli({"types"});
        QCOMPARE(r.exitCode, 0);
        const QString out = QString::fromUtf8(r.out);
        for (const char* s : {"iq2_xxs", "tq1_0", "mxfp4", "q4_K q4_K_im", "int<2-8>", "hqq", "gptq", "awq"})
            QVERIFY2(out.contains(s), s);
        QCOMPARE(runCli({"types", "extra"}).exitCode, 2);
        QCOMPARE(runCli({"types", "--bogus"}).exitCode, 2);
        auto help = runCli({"types", "--help"});
        QCOMPARE(help.exitCode, 0);
        QVERIFY(help.out.contains("--json"));
        QVERIFY(runCli({"--help"}).out.contains("types [--json]"));
    }

    void quantRaw_readOnlyGgmlTypeNamedAsReadable_data() {
        QTest::addColumn<QString>("scheme");
        QTest::newRow("iq2_xxs") << "iq2_xxs";
        QTest::newRow("tq1_0") << "tq1_0";
    }
    void quantRaw_readOnlyGgmlTypeNamedAsReadable() {
        QFETCH(QString, scheme);
        auto r = runCli({"quant-raw", "--scheme", scheme, "--rows", "1", "--cols", "256", "/nonexistent/in.f32",
                         "/nonexistent/out.q"});
        QCOMPARE(r.exitCode, 2);  // a bad --scheme is a usage error
        const QString err = QString::fromUtf8(r.err);
        QVERIFY2(err.contains("'" + scheme + "' is a ggml type QuantScope reads and decodes but does not quantize to "
                              "(`quantscope-cli types` lists what each type supports); valid forms: "),
                 qPrintable(err));
        QVERIFY2(!err.contains("unknown quantization scheme"), qPrintable(err));
    }

    void quantRaw_otherNameStaysUnknown() {
        auto r = runCli({"quant-raw", "--scheme", "foo4", "--rows", "1", "--cols", "256", "/nonexistent/in.f32",
                         "/nonexistent/out.q"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("unknown quantization scheme 'foo4'; valid forms: "), r.err.constData());
        QVERIFY(!r.err.contains("is a ggml type"));
    }
};

QTEST_GUILESS_MAIN(TestCliTypes)
#include "test_cli_types.moc"
