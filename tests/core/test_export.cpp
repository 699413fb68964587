// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF export (core/export/gguf_export.h) and the map configs (core/export/map_configs.h). References: the
// bytes the quantizers produce for each (tensor, scheme); stories260K.gguf, made from the same weights by
// llama.cpp's converter (its tensor names, q/k row order and SentencePiece vocabulary); llama.h's LLAMA_FTYPE
// numbers; the GPTQModel / HQQ / torchao formats as their documentation gives them.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/test_arena.h"
#include "core/export/gguf_export.h"
#include "core/export/map_configs.h"
#include "core/export/session_h5.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"

#include <QDir>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include "common/assets.h"
#include "core/io_fixtures.h"

namespace {

struct Opened {
    std::unique_ptr<qs::Checkpoint> ckpt;
    qs::ModelInfo info;
};

Opened open(const QString& path) {
    auto c = qs::openCheckpoint(path.toStdString());
    if (!c) qFatal("%s", c.message().c_str());
    Opened o{std::move(*c), {}};
    o.info = qs::analyzeModel(*o.ckpt);
    return o;
}

qs::ResolvedMap resolve(const Opened& o, const std::vector<std::string>& rules) {
    qs::QuantMap map;
    for (const auto& r : rules) map.rules.push_back(qs::parseRuleSpec(r).value());
    return qs::resolveMap(map, o.ckpt->tensors, o.info).value();
}

std::vector<std::byte> bytesOf(const qs::Checkpoint& c, int i) {
    auto d = c.data(size_t(i)).value();
    return {d.bytes.begin(), d.bytes.end()};
}

}  // namespace

class TestExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void exportGguf_everyTensorIsTheQuantizersBytes();
    void exportGguf_keepsEveryKvWithItsType();
    void exportGguf_refusesNonGgmlSchemesUnlessFallback();
    void exportGguf_fromLlama2cAndSafetensorsMatchesLlamaCppConversion();
    void exportGguf_fromLlama2cVocabularyMatchesLlamaCppConversion();
    void llamaFileType_followsLlamaCppGuess();
    void exportGguf_failureLeavesDestinationWhole();
    void exportGguf_keepsNamesThatAreNotUtf8();
    void mapConfigs_writeDocumentedFormsAndRefuseTheRest();
    void sessionH5_roundTripIsExact();
    void sessionH5_refusesOtherHdf5Files();
};

// Every tensor read back from the export equals, byte for byte, what the scheme's quantizer gives for the
// source tensor (or the stored bytes of a kept tensor); the tied head is not stored.
void TestExport::exportGguf_everyTensorIsTheQuantizersBytes() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const Opened o = open(src);
    const auto resolved = resolve(o, {"body=q4_0", "attention=q5_K", "mlp=q8_0", "embedding=q6_K"});
    const std::string out = dir.filePath("out.gguf").toStdString();
    auto r = qs::exportGguf(*o.ckpt, o.info, resolved, out, qstest::testArena());
    QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
    const Opened e = open(QString::fromStdString(out));
    QCOMPARE(e.ckpt->tensors.size(), o.ckpt->tensors.size() - 1);  // output.weight (tied) left out
    QCOMPARE(e.ckpt->find("output.weight"), -1);
    std::set<std::string> schemes;
    for (size_t i = 0; i < o.ckpt->tensors.size(); ++i) {
        const qs::TensorInfo& t = o.ckpt->tensors[i];
        if (t.name == "output.weight") continue;
        const int j = e.ckpt->find(t.name);
        QVERIFY2(j >= 0, t.name.c_str());
        QCOMPARE(e.ckpt->tensors[size_t(j)].shape, t.shape);
        const qs::TensorPlan& p = resolved.tensors[i];
        std::vector<std::byte> expected;
        if (p.scheme.empty()) {
            expected = bytesOf(*o.ckpt, int(i));
            QCOMPARE(e.ckpt->tensors[size_t(j)].dtype, t.dtype);
        } else {
            const auto values = o.ckpt->toFloat(i).value();
            auto q = qs::findScheme(p.scheme)->quantize(values, p.rows, p.cols, t.name).value();
            expected = q.data;
            QCOMPARE(std::string(qs::dtypeInfo(e.ckpt->tensors[size_t(j)].dtype).ggmlName), p.scheme);
            schemes.insert(p.scheme);
        }
        QVERIFY2(bytesOf(*e.ckpt, j) == expected, t.name.c_str());
    }
    // The map really mixed types (k-quant fallbacks included): q5_K falls back to q5_1 on 64-value rows.
    QVERIFY(schemes.count("q8_0") && schemes.count("q5_1") && schemes.size() >= 3);
}

void TestExport::exportGguf_keepsEveryKvWithItsType() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const Opened o = open(src);
    const std::string out = dir.filePath("kv.gguf").toStdString();
    QVERIFY(qs::exportGguf(*o.ckpt, o.info, resolve(o, {"body=q4_0"}), out, qstest::testArena()).ok());
    const Opened e = open(QString::fromStdString(out));
    QVERIFY(o.ckpt->ggufKeys.size() >= 15);
    for (const auto& k : o.ckpt->ggufKeys) {
        auto it = std::find_if(e.ckpt->ggufKeys.begin(), e.ckpt->ggufKeys.end(),
                               [&](const auto& x) { return x.key == k.key; });
        QVERIFY2(it != e.ckpt->ggufKeys.end(), k.key.c_str());
        QCOMPARE(it->type, k.type);
        QCOMPARE(it->arrayType, k.arrayType);
        QVERIFY2(e.ckpt->metadata[k.key] == o.ckpt->metadata[k.key], k.key.c_str());
    }
    // 30 of the 46 tensors are q4_0 (q/k/v/o, gate, up); llama.h: LLAMA_FTYPE_MOSTLY_Q4_0 = 2.
    QCOMPARE(e.ckpt->metadata["general.file_type"].get<int>(), 2);
    // Written as llama-quantize writes it (uint32, GGML_QNT_VERSION), also when the source has none.
    QVERIFY(!o.ckpt->metadata.contains("general.quantization_version"));
    QCOMPARE(e.ckpt->metadata["general.quantization_version"].get<int>(), 2);
    auto qv = std::find_if(e.ckpt->ggufKeys.begin(), e.ckpt->ggufKeys.end(),
                           [](const auto& x) { return x.key == "general.quantization_version"; });
    QVERIFY(qv != e.ckpt->ggufKeys.end());
    QCOMPARE(qv->type, uint32_t(4));  // GGUF_TYPE_UINT32
}

void TestExport::exportGguf_refusesNonGgmlSchemesUnlessFallback() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const Opened o = open(src);
    const auto resolved = resolve(o, {"body=q8_0", "attention=int4_g32"});
    const std::string out = dir.filePath("r.gguf").toStdString();
    auto refused = qs::exportGguf(*o.ckpt, o.info, resolved, out, qstest::testArena());
    QVERIFY(!refused.ok());
    QVERIFY2(refused.message().find("blk.0.attn_q.weight") != std::string::npos &&
                 refused.message().find("int4_g32") != std::string::npos &&
                 refused.message().find("--fallback") != std::string::npos,
             refused.message().c_str());
    QVERIFY(!std::filesystem::exists(out));
    qs::GgufExportOptions opt;
    opt.fallback = "q8_0";
    auto r = qs::exportGguf(*o.ckpt, o.info, resolved, out, qstest::testArena(), opt);
    QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
    const Opened e = open(QString::fromStdString(out));
    QCOMPARE(e.ckpt->tensors[size_t(e.ckpt->find("blk.3.attn_v.weight"))].dtype, qs::DType::Q8_0);
    QVERIFY(std::any_of(r->warnings.begin(), r->warnings.end(),
                        [](const std::string& w) { return w.find("int4_g32") != std::string::npos; }));
}

// Exporting the llama2.c and Hugging Face encodings of stories260K unquantized gives llama.cpp's own
// conversion (stories260K.gguf) tensor for tensor: GGUF names, and Hugging Face q/k rows permuted back.
void TestExport::exportGguf_fromLlama2cAndSafetensorsMatchesLlamaCppConversion() {
    QS_REQUIRE_ASSET(ref, "models/stories260K-gguf/stories260K.gguf");
    QS_REQUIRE_ASSET(l2c, "models/stories260K-llama2c/stories260K.bin");
    QS_REQUIRE_ASSET(hf, "models/stories260K-hf/model.safetensors");
    const Opened r = open(ref);
    for (const QString& src : {l2c, QFileInfo(hf).path()}) {
        QTemporaryDir dir;
        const Opened o = open(src);
        const std::string out = dir.filePath("x.gguf").toStdString();
        auto res = qs::exportGguf(*o.ckpt, o.info, resolve(o, {}), out, qstest::testArena());
        QVERIFY2(res.ok(), res.ok() ? "" : res.message().c_str());
        const Opened e = open(QString::fromStdString(out));
        QCOMPARE(e.ckpt->tensors.size(), r.ckpt->tensors.size() - 1);
        for (size_t j = 0; j < e.ckpt->tensors.size(); ++j) {
            const int k = r.ckpt->find(e.ckpt->tensors[j].name);
            QVERIFY2(k >= 0, e.ckpt->tensors[j].name.c_str());
            QVERIFY2(bytesOf(*e.ckpt, int(j)) == bytesOf(*r.ckpt, k), e.ckpt->tensors[j].name.c_str());
        }
        for (const char* key :
             {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
              "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count"})
            QVERIFY2(e.ckpt->metadata[key] == r.ckpt->metadata[key], key);
        QCOMPARE(e.ckpt->metadata["general.file_type"].get<int>(), 0);  // LLAMA_FTYPE_ALL_F32
    }
}

// The vocabulary written from llama2.c's tok512.bin and from the SentencePiece tokenizer.model equals the one
// llama.cpp's converter wrote into stories260K.gguf: pieces (▁ restored), scores and token types.
void TestExport::exportGguf_fromLlama2cVocabularyMatchesLlamaCppConversion() {
    QS_REQUIRE_ASSET(ref, "models/stories260K-gguf/stories260K.gguf");
    QS_REQUIRE_ASSET(l2c, "models/stories260K-llama2c/stories260K.bin");
    QS_REQUIRE_ASSET(hf, "models/stories260K-hf/tokenizer.model");
    const Opened r = open(ref);
    for (const QString& src : {l2c, QFileInfo(hf).path()}) {
        const Opened o = open(src);
        auto kvs = qs::ggufExportKvs(*o.ckpt, o.info);
        QVERIFY2(kvs.ok(), kvs.ok() ? "" : kvs.message().c_str());
        int matched = 0;
        for (const auto& kv : *kvs)
            for (const char* key :
                 {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                  "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                  "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.model"})
                if (kv.key == key) {
                    QVERIFY2(kv.value == r.ckpt->metadata[key], (src.toStdString() + ": " + key).c_str());
                    ++matched;
                }
        QCOMPARE(matched, 7);
    }
}

void TestExport::llamaFileType_followsLlamaCppGuess() {
    using qs::DType;
    QCOMPARE(qs::llamaFileTypeFor({{"a", DType::F32}}), 0u);
    QCOMPARE(qs::llamaFileTypeFor({{"a", DType::Q4_K}, {"b", DType::Q4_K}, {"c", DType::Q6_K}}),
             15u);                                              // Q4_K_M
    QCOMPARE(qs::llamaFileTypeFor({{"a", DType::Q3_K}}), 12u);  // Q3_K_M
    QCOMPARE(qs::llamaFileTypeFor({{"a", DType::BF16}}), 32u);
    // A tie in counts: the first type to reach the count in name order wins ("a" < "b").
    QCOMPARE(qs::llamaFileTypeFor({{"b", DType::Q8_0}, {"a", DType::Q5_0}}), 8u);
    QCOMPARE(qs::llamaFileTypeFor({{"a", DType::Q8_0}, {"b", DType::Q5_0}}), 7u);

    // llama-quantize's Q4_K_M of stories260K (general.file_type 15; its most common type is q5_0 since rows of
    // 64 do not take q4_K) exported with every tensor kept: the file keeps 15 instead of the guess, 8.
    QS_REQUIRE_ASSET(q4km, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
    QTemporaryDir dir;
    const Opened o = open(q4km);
    QCOMPARE(o.ckpt->metadata["general.file_type"].get<int>(), 15);
    const std::string out = dir.filePath("kept.gguf").toStdString();
    auto kept = qs::exportGguf(*o.ckpt, o.info, resolve(o, {}), out, qstest::testArena());
    QVERIFY2(kept.ok(), kept ? "" : kept.message().c_str());
    QCOMPARE(kept->fileType, 15u);
    QCOMPARE(open(QString::fromStdString(out)).ckpt->metadata["general.file_type"].get<int>(), 15);
    // Re-quantizing any tensor makes it a new mix: the guess again (every body tensor q8_0: 7).
    auto requantized = qs::exportGguf(*o.ckpt, o.info, resolve(o, {"body=q8_0"}), out, qstest::testArena());
    QVERIFY2(requantized.ok(), requantized ? "" : requantized.message().c_str());
    QVERIFY(requantized->fileType != 15u);
}

// A failed export (here: cancelled midway) leaves the previous destination byte for byte and no other file.
void TestExport::exportGguf_failureLeavesDestinationWhole() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const Opened o = open(src);
    const std::string out = dir.filePath("old.gguf").toStdString();
    const std::string old = "previous contents";
    { std::ofstream(out, std::ios::binary) << old; }
    qs::GgufExportOptions opt;
    opt.progress = [](double fraction, std::string_view) { return fraction < 0.5; };
    auto r = qs::exportGguf(*o.ckpt, o.info, resolve(o, {"body=q8_0"}), out, qstest::testArena(), opt);
    QVERIFY(!r.ok());
    QCOMPARE(r.message(), std::string(qs::kCancelledMessage));
    std::ifstream f(out, std::ios::binary);
    QCOMPARE(std::string(std::istreambuf_iterator<char>(f), {}), old);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{"old.gguf"});
}

void TestExport::mapConfigs_writeDocumentedFormsAndRefuseTheRest() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    const Opened o = open(src);
    // ffn_down rows of 172 take no group of 8 or more: they fall back to f16, an unquantized module.
    const auto mixed = resolve(o, {"body=int4_g32", "attention=int8_g32_sym"});
    auto g = qs::mapConfigJson(qs::MapConfigFormat::GptqModel, mixed, o.ckpt->tensors, o.info);
    QVERIFY2(g.ok(), g.ok() ? "" : g.message().c_str());
    QCOMPARE((*g)["bits"].get<int>(), 8);  // 20 attention projections vs 10 gate/up
    QCOMPARE((*g)["group_size"].get<int>(), 32);
    QCOMPARE((*g)["sym"].get<bool>(), true);
    QCOMPARE((*g)["quant_method"].get<std::string>(), std::string("gptq"));
    const auto& dyn = (*g)["dynamic"];
    QCOMPARE(dyn.size(), size_t(15));  // 10 overrides + 5 kept down_proj
    QVERIFY(dyn.contains("+:^model\\.layers\\.2\\.mlp\\.up_proj$"));
    QVERIFY(dyn["+:^model\\.layers\\.2\\.mlp\\.up_proj$"] ==
            (nlohmann::json{{"bits", 4}, {"group_size", 32}, {"sym", false}}));
    QVERIFY(dyn["-:^model\\.layers\\.4\\.mlp\\.down_proj$"] == nlohmann::json::object());

    auto h = qs::mapConfigJson(qs::MapConfigFormat::Hqq, resolve(o, {"body=int4_g32", "attention=int2_g16"}),
                               o.ckpt->tensors, o.info);
    QVERIFY2(h.ok(), h.ok() ? "" : h.message().c_str());
    QVERIFY((*h)["dynamic_config"]["self_attn.v_proj"] == (nlohmann::json{{"nbits", 2}, {"group_size", 16}}));
    QVERIFY((*h)["dynamic_config"]["mlp.gate_proj"] == (nlohmann::json{{"nbits", 4}, {"group_size", 32}}));
    QVERIFY((*h)["skip_modules"] == (nlohmann::json{"mlp.down_proj", "lm_head"}));
    // Our HQQ schemes are HQQ's own layout: hqq<b>_g<G> -> {"nbits": b, "group_size": G}.
    auto hq = qs::mapConfigJson(qs::MapConfigFormat::Hqq,
                                resolve(o, {"body=hqq4_g64", "attention=hqq3_g32"}),
                                o.ckpt->tensors, o.info);
    QVERIFY2(hq.ok(), hq.ok() ? "" : hq.message().c_str());
    QVERIFY((*hq)["dynamic_config"]["self_attn.q_proj"] == (nlohmann::json{{"nbits", 3}, {"group_size", 32}}));
    QVERIFY((*hq)["dynamic_config"]["mlp.up_proj"] == (nlohmann::json{{"nbits", 4}, {"group_size", 64}}));
    // down_proj rows of 172, 64 x 172 elements: groups of 64 of the flattened tensor, as HQQ's reshape forms them
    // (only the element count must be a multiple of the group), so the same group_size.
    QVERIFY((*hq)["dynamic_config"]["mlp.down_proj"] == (nlohmann::json{{"nbits", 4}, {"group_size", 64}}));
    QVERIFY((*hq)["skip_modules"] == (nlohmann::json{"lm_head"}));

    auto t = qs::mapConfigJson(qs::MapConfigFormat::Torchao,
                               resolve(o, {"mlp=int4_g32", "attention=int8_sym"}), o.ckpt->tensors, o.info);
    QVERIFY2(t.ok(), t.ok() ? "" : t.message().c_str());
    const auto& fqn = (*t)["_data"]["fqn_to_config"];
    QCOMPARE((*t)["_type"].get<std::string>(), std::string("FqnToConfig"));
    QCOMPARE(fqn["model.layers.1.mlp.gate_proj"]["_type"].get<std::string>(),
             std::string("Int4WeightOnlyConfig"));
    QCOMPARE(fqn["model.layers.1.mlp.gate_proj"]["_data"]["group_size"].get<int>(), 32);
    QCOMPARE(fqn["model.layers.0.self_attn.o_proj"]["_type"].get<std::string>(),
             std::string("Int8WeightOnlyConfig"));
    QVERIFY(fqn["model.layers.0.mlp.down_proj"].is_null());

    // What a target cannot express is refused by name.
    struct Case {
        qs::MapConfigFormat format;
        const char* rule;
        const char* inMessage;
    };
    for (const Case& c : {Case{qs::MapConfigFormat::Hqq, "attention=q8_0", "q8_0"},
                          Case{qs::MapConfigFormat::Hqq, "attention=int4_g32_sym", "int4_g32_sym"},
                          Case{qs::MapConfigFormat::Hqq, "attention=hqq5_g32", "hqq5_g32"},
                          Case{qs::MapConfigFormat::Hqq, "attention=kmeans4_g32", "kmeans4_g32"},
                          Case{qs::MapConfigFormat::GptqModel, "mlp=hqq4_g32", "hqq4_g32"},
                          Case{qs::MapConfigFormat::GptqModel, "mlp=nf4", "nf4"},
                          Case{qs::MapConfigFormat::GptqModel, "embedding=int8", "embedding"},
                          Case{qs::MapConfigFormat::Torchao, "attention=int3_g32", "int3_g32"}}) {
        auto r = qs::mapConfigJson(c.format, resolve(o, {"body=int4_g32", c.rule}), o.ckpt->tensors, o.info);
        QVERIFY2(!r.ok(), c.rule);
        QVERIFY2(r.message().find(c.inMessage) != std::string::npos, r.message().c_str());
    }
}

// Written and read back: the map, every statistic bit for bit, the histograms and the packed tensors (which
// are the quantizer's bytes).
void TestExport::sessionH5_roundTripIsExact() {
    QS_REQUIRE_ASSET(src, "models/stories260K-gguf/stories260K.gguf");
    QTemporaryDir dir;
    const Opened o = open(src);
    const auto resolved = resolve(o, {"body=q4_K", "mlp=int4_g32", "embedding=nf4"});
    qs::SessionOptions opt;
    opt.histogramBins = 32;
    opt.tensors = true;
    auto built = qs::buildSession(*o.ckpt, o.info, resolved, qstest::testArena(), opt);
    QVERIFY2(built.ok(), built.ok() ? "" : built.message().c_str());
    const std::string path = dir.filePath("s.h5").toStdString();
    auto w = qs::writeSessionH5(path, *built);
    QVERIFY2(w.ok(), w.message().c_str());
    QVERIFY(qs::isSessionH5(path));
    auto back = qs::readSessionH5(path);
    QVERIFY2(back.ok(), back.ok() ? "" : back.message().c_str());
    QVERIFY(qs::quantMapToJson(back->map) == qs::quantMapToJson(resolved.map));
    QCOMPARE(back->model, o.ckpt->path);
    QCOMPARE(back->tensors.size(), o.ckpt->tensors.size());
    int stored = 0;
    for (size_t i = 0; i < back->tensors.size(); ++i) {
        const qs::SessionTensor& a = built->tensors[i];
        const qs::SessionTensor& b = back->tensors[i];
        QCOMPARE(b.name, o.ckpt->tensors[i].name);
        QCOMPARE(b.scheme, a.scheme);
        QCOMPARE(b.bytes, a.bytes);
        QCOMPARE(b.layer, a.layer);
        QCOMPARE(b.stats.count, a.stats.count);
        for (double qs::ErrorStats::*f :
             {&qs::ErrorStats::mse, &qs::ErrorStats::rmse, &qs::ErrorStats::maxAbsError,
              &qs::ErrorStats::sqnrDb, &qs::ErrorStats::cosine, &qs::ErrorStats::relFrobenius,
              &qs::ErrorStats::fractionClipped, &qs::ErrorStats::fractionZeroed})
            QVERIFY2(std::memcmp(&(b.stats.*f), &(a.stats.*f), sizeof(double)) == 0, b.name.c_str());
        QVERIFY(b.weightHistogram.counts == a.weightHistogram.counts &&
                b.errorHistogram.counts == a.errorHistogram.counts);
        QCOMPARE(b.weightHistogram.lo, a.weightHistogram.lo);
        QCOMPARE(b.errorHistogram.hi, a.errorHistogram.hi);
        QCOMPARE(b.quantized.has_value(), resolved.tensors[i].quantized());
        if (!b.quantized) continue;
        ++stored;
        QCOMPARE(b.weightHistogram.bins(), 32);
        const qs::TensorPlan& p = resolved.tensors[i];
        auto q =
            qs::findScheme(p.scheme)->quantize(o.ckpt->toFloat(i).value(), p.rows, p.cols, b.name).value();
        QVERIFY2(b.quantized->data == q.data, b.name.c_str());
        QCOMPARE(b.quantized->scheme, q.scheme);
        QCOMPARE(b.quantized->bytes.total(), q.bytes.total());
        QCOMPARE(b.quantized->bytes.scales, q.bytes.scales);
        QVERIFY(b.stats.rmse > 0);
    }
    QCOMPARE(stored, 36);  // 20 attention + 15 mlp (down: int4_g32 falls back to f16) + the embedding
}

void TestExport::sessionH5_refusesOtherHdf5Files() {
    QS_REQUIRE_ASSET(keras, "models/keras-h5-lstm/lstm.h5");
    QVERIFY(!qs::isSessionH5(keras.toStdString()));
    auto r = qs::readSessionH5(keras.toStdString());
    QVERIFY(!r.ok());
    QVERIFY2(r.message().find("not a QuantScope session") != std::string::npos, r.message().c_str());
    QVERIFY(!qs::readSessionH5("/nonexistent.h5").ok());
}


// GGUF names and keys are byte strings (ggml's gguf reader compares bytes): bytes that are not UTF-8 are shown as
// U+FFFD but written back as stored (the export used to write EF BF BD in their place), and two tensors whose
// names differ only in such bytes are distinct tensors (they used to be refused as a "duplicate tensor name"),
// while the same bytes twice are still a duplicate.
void TestExport::exportGguf_keepsNamesThatAreNotUtf8() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const auto f32 = [](const std::string& name) {
        const float v[4] = {0.5f, -1.0f, 2.0f, 0.25f};
        return qstest::GgufTensor{name, {4}, 0, std::string(reinterpret_cast<const char*>(v), sizeof v)};
    };
    const std::string badTensor = "blk.0.attn_q.\xff\xfe", badKey = "k\xff";
    nlohmann::ordered_json md;
    md["general.architecture"] = "llama";
    md[badKey] = 7;
    const std::string src = dir.filePath("names.gguf").toStdString();
    qstest::writeBytes(src, qstest::makeGguf(md, {f32(badTensor), f32("x\xff"), f32("x\xfe")}));
    const Opened o = open(QString::fromStdString(src));
    QCOMPARE(o.ckpt->tensors.size(), size_t(3));
    QCOMPARE(o.ckpt->tensors[0].name, std::string("blk.0.attn_q.\xEF\xBF\xBD\xEF\xBF\xBD"));  // shown
    QCOMPARE(o.ckpt->tensors[0].storedName.str(), badTensor);
    bool alike = false;
    for (const auto& w : o.ckpt->warnings) alike |= w.find("show alike, as 'x\xEF\xBF\xBD'") != std::string::npos;
    QVERIFY(alike);

    const std::string out = dir.filePath("e.gguf").toStdString();
    auto r = qs::exportGguf(*o.ckpt, o.info, resolve(o, {"all=f16"}), out, qstest::testArena());
    QVERIFY2(r.ok(), r ? "" : r.message().c_str());
    const std::string written = qstest::readBytes(out);
    const auto ggufString = [](const std::string& v) {  // as GGUF stores a string: u64 length, bytes
        std::string s;
        qstest::putGgufString(s, v);
        return s;
    };
    for (const std::string& name : {badTensor, std::string("x\xff"), std::string("x\xfe"), badKey})
        QVERIFY2(written.find(ggufString(name)) != std::string::npos, name.c_str());
    QVERIFY(written.find("\xEF\xBF\xBD") == std::string::npos);
    const Opened e = open(QString::fromStdString(out));
    QCOMPARE(e.ckpt->tensors.size(), size_t(3));
    QCOMPARE(e.ckpt->tensors[1].storedName.str(), std::string("x\xff"));
    QCOMPARE(e.ckpt->tensors[2].storedName.str(), std::string("x\xfe"));

    // The same bytes twice: a duplicate, named as shown. Two keys that show alike: refused by name.
    const std::string dup = dir.filePath("dup.gguf").toStdString();
    qstest::writeBytes(dup, qstest::makeGguf(md, {f32("x\xff"), f32("x\xff")}));
    auto d = qs::openCheckpoint(dup);
    QVERIFY(!d.ok());
    QCOMPARE(d.message(), dup + ": duplicate tensor name 'x\xEF\xBF\xBD'");
    nlohmann::ordered_json keys;
    keys["k\xff"] = 1;
    keys["k\xfe"] = 2;
    const std::string twoKeys = dir.filePath("keys.gguf").toStdString();
    qstest::writeBytes(twoKeys, qstest::makeGguf(keys, {f32("t")}));
    auto k = qs::openCheckpoint(twoKeys);
    QVERIFY(!k.ok());
    QVERIFY2(k.message().find("metadata keys shown as 'k\xEF\xBF\xBD' differ only in bytes that are not UTF-8") !=
                 std::string::npos,
             k.message().c_str());

    // A string value that is not UTF-8 (a name, or one token of tokenizer.ggml.tokens) is read with U+FFFD in
    // place of its bad bytes: the export wrote those replacements, changing the value silently. It refuses the
    // source naming the key, the array element and the offset of the string's bytes, and leaves no file.
    const std::pair<nlohmann::ordered_json, std::string> badValues[] = {
        {nlohmann::ordered_json("caf\xe9 model"), "caf\xe9"},
        {nlohmann::ordered_json::array({"a", "ok", "\xff\xfe", "\xfd", "b"}), "element 2, "}};
    for (const auto& [value, where] : badValues) {
        nlohmann::ordered_json bad;
        bad["general.architecture"] = "llama";
        bad["general.name"] = value;
        const std::string badValue = dir.filePath("value.gguf").toStdString();
        const auto bytes = qstest::makeGguf(bad, {f32("blk.0.attn_q.weight")});
        qstest::writeBytes(badValue, bytes);
        const std::string_view fileBytes = bytes;
        const size_t at = fileBytes.find(value.is_array() ? "\xff\xfe" : "caf\xe9");
        QVERIFY(at != std::string_view::npos);
        const std::string named = (value.is_array() ? where : std::string()) + "bytes at offset " + std::to_string(at) + ")";
        const Opened v = open(QString::fromStdString(badValue));
        const std::string vout = dir.filePath("v.gguf").toStdString();
        auto refused = qs::exportGguf(*v.ckpt, v.info, resolve(v, {}), vout, qstest::testArena());
        QVERIFY(!refused.ok());
        QVERIFY2(refused.message().find(badValue + ": the value of key general.name holds a string that is not UTF-8 (" +
                                        named) != std::string::npos,
                 refused.message().c_str());
        QVERIFY(!std::filesystem::exists(vout));
    }
}

QTEST_GUILESS_MAIN(TestExport)
#include "test_export.moc"
