// SPDX-License-Identifier: GPL-3.0-or-later
// Refusals: whatever a checkpoint declares that the engine does not implement makes analyzeModel() say
// runnable = false with one message naming the feature and the config/GGUF key, inspect reports it, and
// loadModelWeights() refuses with that message. One row per message, each on a tiny model that is runnable
// without the one change (checked first), so every row fails if its refusal disappears.
#include "core/infer/model_weights.h"
#include "core/io/checkpoint.h"
#include "core/model/inspect_report.h"
#include "core/model/model_info.h"

#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <functional>

#include "common/tiny_models.h"

using namespace qs;
using namespace qstest;
using nlohmann::json;

namespace {

struct HfCase {
    const char* name;
    std::function<void(json&, std::vector<TinyTensor>&)> change;
    const char* feature;
    const char* key;
};

struct GgufCase {
    const char* name;
    std::function<void(nlohmann::ordered_json&, std::vector<TinyTensor>&)> change;
    const char* feature;
    const char* key;
};

const std::vector<HfCase>& hfCases() {
    static const std::vector<HfCase> k = {
        {"unknown architecture", [](json& c, auto&) { c["model_type"] = "phi3"; }, "architecture 'phi3'",
         "config.json model_type"},
        {"rope type", [](json& c, auto&) { c["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 4.0}}; },
         "RoPE scaling type 'longrope'", "config.json rope_scaling.rope_type"},
        {"rope parameter", [](json& c, auto&) { c["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}, {"alpha", 3}}; },
         "rope_scaling parameter 'alpha'", "config.json rope_scaling.alpha"},
        {"mixture of experts", [](json& c, auto&) { c["num_local_experts"] = 8; }, "mixture-of-experts",
         "config.json num_local_experts"},
        {"per-layer embeddings", [](json& c, auto&) { c["vocab_size_per_layer_input"] = 262144; },
         "per-layer embeddings", "config.json vocab_size_per_layer_input"},
        {"activation", [](json& c, auto&) { c["hidden_act"] = "relu"; }, "MLP activation 'relu'", "config.json hidden_act"},
        {"per-layer kv heads", [](json& c, auto&) { c["num_key_value_heads"] = json::array({2, 2}); },
         "not implemented: per-layer values", "config.json num_key_value_heads = [2,2]"},
        {"partial rotary", [](json& c, auto&) { c["partial_rotary_factor"] = 0.5; }, "partial rotary embeddings",
         "config.json partial_rotary_factor"},
        {"unknown math key", [](json& c, auto&) { c["logit_scale"] = 0.25; }, "config key 'logit_scale'",
         "config.json logit_scale"},
        {"llama sliding window", [](json& c, auto&) { c["sliding_window"] = 16; }, "config key 'sliding_window'",
         "config.json sliding_window"},
        {"pre-quantized", [](json& c, auto&) { c["quantization_config"] = {{"quant_method", "gptq"}}; },
         "pre-quantized weights", "config.json quantization_config"},
        {"untied without head", [](json& c, auto&) { c["tie_word_embeddings"] = false; },
         "untied output head (tie_word_embeddings is false) but no head tensor", "config.json tie_word_embeddings"},
        {"bias not declared",
         [](json&, std::vector<TinyTensor>& t) { t.push_back({"model.layers.0.self_attn.q_proj.bias", {8}}); },
         "tensor 'model.layers.0.self_attn.q_proj.bias' (bq), which llama as declared does not use",
         "config.json model_type"},
        {"layer types", [](json& c, auto&) {
             c["model_type"] = "qwen2";
             c["use_sliding_window"] = true;
             c["sliding_window"] = 4;
             c["layer_types"] = {"chunked_attention"};
         }, "attention layer type 'chunked_attention'", "config.json layer_types"},
        // Declared values of the wrong type or range: refused instead of replaced by a default or ignored.
        {"rope_theta as a string", [](json& c, auto&) { c["rope_theta"] = "500000"; },
         "an invalid value (expected a positive finite number)", "config.json rope_theta = \"500000\""},
        {"fractional head count", [](json& c, auto&) { c["num_attention_heads"] = 4.5; },
         "an invalid value (expected a positive integer)", "config.json num_attention_heads = 4.5"},
        {"negative epsilon", [](json& c, auto&) { c["rms_norm_eps"] = -1; },
         "an invalid value (expected a positive finite number)", "config.json rms_norm_eps = -1"},
        {"tie flag as a string", [](json& c, auto&) { c["tie_word_embeddings"] = "yes"; },
         "an invalid value (expected true or false)", "config.json tie_word_embeddings = \"yes\""},
        {"activation as a number", [](json& c, auto&) { c["hidden_act"] = 3; },
         "an invalid value (expected a string)", "config.json hidden_act = 3"},
        {"more layers stored than declared",
         [](json&, std::vector<TinyTensor>& t) { t.push_back({"model.layers.1.input_layernorm.weight", {8}}); },
         "tensor 'model.layers.1.input_layernorm.weight' of layer 1 beyond the 1 declared layers",
         "config.json num_hidden_layers"},
    };
    return k;
}

const std::vector<GgufCase>& ggufCases() {
    static const std::vector<GgufCase> k = {
        {"unknown architecture", [](auto& m, auto&) { m["general.architecture"] = "phi3"; }, "architecture 'phi3'",
         "gguf general.architecture"},
        {"rope type", [](auto& m, auto&) { m["llama.rope.scaling.type"] = "longrope"; }, "RoPE scaling type 'longrope'",
         "gguf llama.rope.scaling.type"},
        {"mixture of experts", [](auto& m, auto&) { m["llama.expert_count"] = 8; }, "mixture-of-experts",
         "gguf llama.expert_count"},
        {"unknown math key", [](auto& m, auto&) { m["llama.logit_scale"] = 0.25; }, "GGUF key 'llama.logit_scale'",
         "gguf llama.logit_scale"},
        // llama.cpp ignores the key for llama (a window shorter than the context would be dropped silently).
        {"llama sliding window", [](auto& m, auto&) { m["llama.attention.sliding_window"] = 16; },
         "sliding-window attention on a llama model", "gguf llama.attention.sliding_window"},
        {"partial rotary", [](auto& m, auto&) { m["llama.rope.dimension_count"] = 2; }, "partial rotary embeddings",
         "gguf llama.rope.dimension_count"},
        {"per-layer embeddings", [](auto& m, auto&) { m["llama.embedding_length_per_layer_input"] = 256; },
         "GGUF key 'llama.embedding_length_per_layer_input'", "gguf llama.embedding_length_per_layer_input"},
        {"rope_freqs on qwen2", [](auto& m, std::vector<TinyTensor>& t) {
             nlohmann::ordered_json q = tinyGgufMetadata("qwen2");
             m = q;
             for (const char* b : {"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias"})
                 t.push_back({b, {std::string(b).find("attn_q") != std::string::npos ? 8 : 4}});
             t.push_back({"rope_freqs.weight", {2}});
         }, "RoPE frequency factors (rope_freqs.weight) for qwen2", "gguf general.architecture"},
        {"zero rope base", [](auto& m, auto&) { m["llama.rope.freq_base"] = 0.0; },
         "an invalid value (expected a positive finite number)", "gguf llama.rope.freq_base = 0.0"},
        {"rope factor as a string", [](auto& m, auto&) {
             m["llama.rope.scaling.type"] = "linear";
             m["llama.rope.scaling.factor"] = "4";
         }, "an invalid value (expected a positive finite number)", "gguf llama.rope.scaling.factor = \"4\""},
        {"more blocks stored than declared",
         [](auto&, std::vector<TinyTensor>& t) { t.push_back({"blk.1.attn_norm.weight", {8}}); },
         "tensor 'blk.1.attn_norm.weight' of layer 1 beyond the 1 declared layers", "gguf llama.block_count"},
    };
    return k;
}

ModelInfo analyze(const std::string& path, std::unique_ptr<Checkpoint>& keep) {
    auto c = openCheckpoint(path);
    if (!c) qFatal("%s", c.message().c_str());
    keep = std::move(c.value());
    return analyzeModel(*keep);
}

// The model must be refused with the feature and key named, by analysis, inspect and the weight loader.
void expectRefused(const std::string& path, const char* feature, const char* key) {
    std::unique_ptr<Checkpoint> ckpt;
    const ModelInfo info = analyze(path, ckpt);
    QVERIFY(!info.runnable);
    QVERIFY(!info.llamaFamily);
    const QString reason = QString::fromStdString(info.runnableReason);
    QVERIFY2(reason.contains(feature), qPrintable(reason));
    QVERIFY2(reason.contains(key), qPrintable(reason));
    const json j = inspectJson(*ckpt, info);
    QCOMPARE(j["runnable"].get<bool>(), false);
    QCOMPARE(QString::fromStdString(j["runnable_reason"].get<std::string>()), reason);
    auto w = loadModelWeights(*ckpt, info, nullptr, {}, nullptr);
    QVERIFY(!w.ok());
    QVERIFY2(QString::fromStdString(w.message()).contains(feature), w.message().c_str());
}

}  // namespace

class TestArchRefusals : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void tinyModels_areRunnableUnchanged() {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        writeTinyHf(d, tinyHfConfig(), tinyHfTensors());
        std::unique_ptr<Checkpoint> a, b;
        ModelInfo hf = analyze(d, a);
        QVERIFY2(hf.runnable, hf.runnableReason.c_str());
        QVERIFY(loadModelWeights(*a, hf, nullptr, {}, nullptr).ok());
        writeBytes(d + "/tiny.gguf", makeTinyGguf(tinyGgufMetadata(), tinyGgufTensors()));
        ModelInfo gg = analyze(d + "/tiny.gguf", b);
        QVERIFY2(gg.runnable, gg.runnableReason.c_str());
        QCOMPARE(inspectJson(*b, gg)["runnable"].get<bool>(), true);
        QCOMPARE(inspectJson(*b, gg)["runnable_reason"].get<std::string>(), std::string());
        QVERIFY(loadModelWeights(*b, gg, nullptr, {}, nullptr).ok());
    }

    // A shape the declaration contradicts (feed_forward_length 16 but a gate of 12 rows) passes the analysis of
    // names and keys; checkInferenceShapes runs the loader's checks without data, so that inspect and the GUI
    // say "not runnable" with the loader's own message instead of failing later at load time.
    void shapeMismatch_notRunnableBeforeLoading() {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/m.gguf";
        std::vector<TinyTensor> tensors = tinyGgufTensors();
        for (auto& t : tensors)
            if (t.name == "blk.0.ffn_gate.weight") t.shape = {12, 8};
        writeBytes(path, makeTinyGguf(tinyGgufMetadata(), tensors));
        std::unique_ptr<Checkpoint> c;
        ModelInfo info = analyze(path, c);
        QVERIFY(info.runnable);  // the names and keys are fine
        const auto load = loadModelWeights(*c, info, nullptr, {}, nullptr);
        QVERIFY(!load.ok());
        const Status checked = checkInferenceShapes(*c, info);
        QVERIFY(!checked.ok());
        QVERIFY(!info.runnable);
        QCOMPARE(info.runnableReason, load.message());
        QVERIFY(QString::fromStdString(info.runnableReason).contains("has shape [12, 8], expected [16, 8]"));
        QCOMPARE(inspectJson(*c, info)["runnable"].get<bool>(), false);
        // The unchanged model passes the check and stays runnable.
        writeBytes(path, makeTinyGguf(tinyGgufMetadata(), tinyGgufTensors()));
        ModelInfo good = analyze(path, c);
        QVERIFY(checkInferenceShapes(*c, good).ok());
        QVERIFY(good.runnable);
    }

    void hfDeclaration_refusedByName_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < hfCases().size(); ++i) QTest::newRow(hfCases()[i].name) << int(i);
    }
    void hfDeclaration_refusedByName() {
        QFETCH(int, index);
        const HfCase& c = hfCases()[size_t(index)];
        json config = tinyHfConfig();
        std::vector<TinyTensor> tensors = tinyHfTensors();
        c.change(config, tensors);
        QTemporaryDir dir;
        writeTinyHf(dir.path().toStdString(), config, tensors);
        expectRefused(dir.path().toStdString(), c.feature, c.key);
    }

    void ggufDeclaration_refusedByName_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < ggufCases().size(); ++i) QTest::newRow(ggufCases()[i].name) << int(i);
    }
    void ggufDeclaration_refusedByName() {
        QFETCH(int, index);
        const GgufCase& c = ggufCases()[size_t(index)];
        nlohmann::ordered_json md = tinyGgufMetadata();
        std::vector<TinyTensor> tensors = tinyGgufTensors();
        c.change(md, tensors);
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/m.gguf";
        writeBytes(path, makeTinyGguf(md, tensors));
        expectRefused(path, c.feature, c.key);
    }

    // Gemma (1) from its reference definition (transformers GemmaModel / llama.cpp gemma): embeddings scaled
    // by sqrt(hidden) rounded to the model dtype, (1 + w) norms, tanh-GELU gate even when hidden_act says
    // "gelu" (hidden_activation null), 1/sqrt(head_dim) with head_dim independent of hidden/heads.
    void gemma1_declarationReadAsTransformersDoes() {
        QCOMPARE(roundToDtype(std::sqrt(3072.0), "bfloat16"), 55.5);  // gemma-7b: 55.4256 in bf16
        QCOMPARE(roundToDtype(std::sqrt(2048.0), "bfloat16"), 45.25);
        QCOMPARE(roundToDtype(std::sqrt(2048.0), "float16"), 45.25);
        QCOMPARE(roundToDtype(std::sqrt(2048.0), "float32"), double(float(std::sqrt(2048.0))));
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        json config = tinyHfConfig();
        config["architectures"] = {"GemmaForCausalLM"};
        config["model_type"] = "gemma";
        config["head_dim"] = 4;
        config["hidden_act"] = "gelu";
        config["hidden_activation"] = nullptr;
        config["torch_dtype"] = "bfloat16";
        writeTinyHf(d, config, tinyHfTensors());
        std::unique_ptr<Checkpoint> ckpt;
        ModelInfo info = analyze(d, ckpt);
        QVERIFY2(info.runnable, info.runnableReason.c_str());
        QCOMPARE(info.arch.embedScale, 2.828125);  // sqrt(8) = 2.8284 in bf16
        QCOMPARE(info.arch.normOffset, 1.0);
        QVERIFY(info.arch.activation == Activation::GeluTanh);
        QVERIFY(!info.arch.postNorms && !info.arch.qkNorm && info.arch.attnSoftcap == 0.0);
        auto w = loadModelWeights(*ckpt, info, nullptr, {}, nullptr);
        QVERIFY2(w.ok(), w ? "" : w.message().c_str());
        auto raw = ckpt->toFloat(size_t(info.findKind(TensorKind::AttnNorm, 0)));
        QVERIFY(raw.ok());
        QCOMPARE((*w)->layers[0].attnNorm[3], (*raw)[3] + 1.0f);  // (1 + w) applied once, at load
    }

    // Gemma 3 multimodal (model_type gemma3 with text_config, the text model nested under
    // language_model.model.*): the text decoder runs; the vision tower is role other and not refused.
    void gemma3Multimodal_textModelRunnable() {
        json text = tinyHfConfig();
        text.erase("architectures");
        text["model_type"] = "gemma3_text";
        text["head_dim"] = 4;
        text["sliding_window"] = 4;
        text["layer_types"] = {"sliding_attention"};
        text["query_pre_attn_scalar"] = 4;
        const json config = {{"architectures", {"Gemma3ForConditionalGeneration"}}, {"model_type", "gemma3"},
                             {"text_config", text}, {"vision_config", {{"hidden_size", 8}}}, {"mm_tokens_per_image", 256},
                             {"torch_dtype", "bfloat16"}};
        std::vector<TinyTensor> tensors;
        for (TinyTensor t : tinyHfTensors()) {
            t.name = "language_model." + t.name;
            tensors.push_back(t);
        }
        const std::string p = "language_model.model.layers.0.";
        for (const char* n : {"pre_feedforward_layernorm.weight", "post_feedforward_layernorm.weight"})
            tensors.push_back({p + n, {8}});
        for (const char* n : {"self_attn.q_norm.weight", "self_attn.k_norm.weight"}) tensors.push_back({p + n, {4}});
        tensors.push_back({"vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", {8, 8}});
        QTemporaryDir dir;
        writeTinyHf(dir.path().toStdString(), config, tensors);
        std::unique_ptr<Checkpoint> ckpt;
        ModelInfo info = analyze(dir.path().toStdString(), ckpt);
        QVERIFY2(info.runnable, info.runnableReason.c_str());
        QCOMPARE(info.architecture, std::string("gemma3"));
        QVERIFY(info.arch.qkNorm && info.arch.postNorms);
        QCOMPARE(info.arch.slidingLayers, std::vector<bool>{true});
        QCOMPARE(info.arch.ropeThetaLocal, 10000.0);
        // post_attention_layernorm is Gemma's post-attention norm, pre_feedforward_layernorm the MLP input norm.
        const int post = info.findKind(TensorKind::PostAttnNorm, 0), ffn = info.findKind(TensorKind::FfnNorm, 0);
        QVERIFY(post >= 0 && ffn >= 0);
        QCOMPARE(ckpt->tensors[size_t(post)].name, p + "post_attention_layernorm.weight");
        QCOMPARE(ckpt->tensors[size_t(ffn)].name, p + "pre_feedforward_layernorm.weight");
        for (int i = 0; i < int(ckpt->tensors.size()); ++i)
            if (ckpt->tensors[size_t(i)].name.rfind("vision_tower", 0) == 0) QVERIFY(info.entries[size_t(i)].role == Role::Other);
        QVERIFY(loadModelWeights(*ckpt, info, nullptr, {}, nullptr).ok());
    }

    // A declared bias the file lacks counts as zero, as transformers initialises it; a declared weight that is
    // missing makes the model not runnable, naming the tensor kind and layer.
    void declaredButMissing_biasIsZeroWeightIsNamed() {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        json config = tinyHfConfig();
        config["model_type"] = "qwen3";
        config["head_dim"] = 4;
        std::vector<TinyTensor> tensors = tinyHfTensors();
        tensors.push_back({"model.layers.0.self_attn.q_norm.weight", {4}});
        writeTinyHf(d, config, tensors);
        std::unique_ptr<Checkpoint> ckpt;
        ModelInfo info = analyze(d, ckpt);
        QVERIFY(!info.runnable);
        QVERIFY2(QString::fromStdString(info.runnableReason).contains("k_norm[0]"), info.runnableReason.c_str());
    }
};

QTEST_GUILESS_MAIN(TestArchRefusals)
#include "test_arch_refusals.moc"
